-- Supplier headroom (methodology section 8, after the OECD Supply Chain Resilience Review: a country
-- is concentrated on a product when it buys from fewer than half of the suppliers that exist), per
-- importer (every Comtrade country reporter, and the EU27 bloc on its extra-EU suppliers), HS6 and
-- year, from UN Comtrade only (USD), on the rows of monitor.import_concentration (HS6; scope 'all'
-- for a country, 'extra_eu' for the bloc):
--   potential_suppliers  exporters of the product whose share of world exports (staging.world_exports:
--                        G2's denominator, every Comtrade country reporter with exports > 0) is at least
--                        {potential_min_share}; the importer itself (for the bloc: its 27
--                        member states) is never a potential supplier of its own imports, since its
--                        trade with itself is not an import (section 3)
--   actual_suppliers     those potential suppliers the importer buys from (country partner value > 0)
--   concentrated_oecd    actual_suppliers < potential_suppliers / 2
--   unused_potential_suppliers  the three largest potential suppliers (by world exports, ties to the
--                        highest code) the importer does not buy from, largest first, '; '-separated;
--                        null when every potential supplier supplies it
-- n_suppliers counts every country supplier (also those below the share). Where the importer
-- reports no country supplier of the product (only a World total or unallocated partners), who it
-- buys from is unknown: actual_suppliers and concentrated_oecd are null, never 0 and true.
-- world_covered says whether min_world_reporters Comtrade reporters reported that year (as the
-- world-supply screen's G2); headroom is shown either way, and judged on the world that reported.
-- release and synthetic: the importer's import rows behind the row (as monitor.import_concentration).
-- monitor.supplier_headroom_by_year holds the yearly world count of concentrated cases.
-- access: public
-- methodology: 8 Beyond the single-step screen (supplier headroom)
-- partition: year
-- grain: source, importer, year, product_code
-- check actual_within_potential: actual_suppliers IS NULL OR actual_suppliers BETWEEN 0 AND potential_suppliers
-- check concentrated_consistent: concentrated_oecd IS NOT DISTINCT FROM (actual_suppliers < potential_suppliers / 2)
WITH members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
conc AS (
    -- the sources whose reporters make the world (registry trait: Comtrade, BACI)
    SELECT * FROM monitor.import_concentration
    WHERE source_world(source) AND product_level = 'HS6'
      AND partner_scope = CASE WHEN reporter = 'EU27' THEN 'extra_eu' ELSE 'all' END
),
supplied AS (
    -- the importer's country suppliers with a positive value: extra-EU ones for the bloc
    SELECT source, reporter AS importer, year, product_code_target AS product_code, partner AS supplier
    FROM staging.annual_flows
    WHERE source_world(source) AND flow = 'import' AND partner_role = 'external'
      AND product_code_target IS NOT NULL AND (reporter <> 'EU27' OR NOT partner_in_eu)
    GROUP BY ALL
    HAVING sum(value) > 0
),
potential AS (
    -- every (importer, product, year) with each potential supplier that is not the importer itself
    SELECT c.source, c.reporter AS importer, c.year, c.product_code, w.exporter, w.export_value,
           s.supplier IS NOT NULL AS supplies
    FROM conc AS c
    JOIN staging.world_exports AS w
        ON w.source = c.source AND w.year = c.year AND w.product_code = c.product_code
       AND w.world_share >= getvariable('potential_min_share')
    LEFT JOIN supplied AS s
        ON s.source = c.source AND s.importer = c.reporter AND s.year = c.year AND s.product_code = c.product_code AND s.supplier = w.exporter
    WHERE w.exporter <> c.reporter AND NOT (c.reporter = 'EU27' AND w.exporter IN (SELECT iso3 FROM members))
),
headroom AS (
    SELECT
        source, importer, year, product_code,
        count(*) AS potential_suppliers,
        count(*) FILTER (WHERE supplies) AS potential_used,
        array_to_string(list_slice(
            list(exporter ORDER BY export_value DESC, exporter DESC) FILTER (WHERE NOT supplies), 1, 3), '; ')
            AS unused
    FROM potential
    GROUP BY ALL
),
world AS (
    SELECT source, year, product_code, any_value(n_exporters) AS n_exporters
    FROM staging.world_exports
    GROUP BY ALL
)
SELECT
    c.source, c.currency, c.reporter AS importer, c.year, c.product_code, d.domain,
    coalesce(w.n_exporters, 0) AS n_exporters,
    getvariable('potential_min_share') AS potential_min_share,
    coalesce(h.potential_suppliers, 0) AS potential_suppliers,
    CASE WHEN c.n_suppliers > 0 THEN coalesce(h.potential_used, 0) END AS actual_suppliers,
    c.n_suppliers,
    CASE WHEN c.n_suppliers > 0
         THEN coalesce(h.potential_used, 0) < coalesce(h.potential_suppliers, 0) / 2 END AS concentrated_oecd,
    nullif(h.unused, '') AS unused_potential_suppliers,
    c.top1_partner AS top_supplier,
    c.top1_share AS top_supplier_share,
    cv.reporters_in_year,
    cv.reporters_in_year >= getvariable('min_world_reporters') AS world_covered,
    c.months_covered, c.year_complete,
    c.release, c.synthetic
FROM conc AS c
JOIN staging.comtrade_coverage AS cv USING (source, year)
LEFT JOIN headroom AS h
    ON h.source = c.source AND h.importer = c.reporter AND h.year = c.year AND h.product_code = c.product_code
LEFT JOIN world AS w ON w.source = c.source AND w.year = c.year AND w.product_code = c.product_code
LEFT JOIN staging.product_domains AS d ON d.code = c.product_code AND d.domain_rank = 1
