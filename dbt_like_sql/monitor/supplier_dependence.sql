-- Third countries' dependence on a supplier, for two suppliers: the Netherlands (NLD) and
-- the EU as one (EU27, its 27 member states summed), per source, importing country, HS6
-- product and year (methodology section 7). Two views side by side, both labelled:
--   partner view: the importer's own import report. supplier_share = imports from the
--     supplier / the importer's total imports (its World total, unallocated included);
--     the importer's HHI (all partners); the supplier's rank among its country suppliers
--     (EU members merged into one for EU27); depends = supplier_share >= depends_share
--     (0.5), or the supplier is the top supplier and the importer's HHI > depends_top_hhi (0.4);
--     null (unknown) where the importer's own report is missing.
--   mirror view: the supplier's own export report. mirror_share = exports to the importer
--     / the importer's total imports from the same source (null where the importer does
--     not report). NL's exports include re-exports (and quasi-transit in Comext): this
--     view reads "NL as hub", the partner view "NL as producer".
-- Member states are not importers of the EU27 supplier. Values never mix sources.
-- release and synthetic: the importer's import rows and the supplier's export rows behind the row.
-- supplier_world_export_share is the supplier's share of world exports (Comtrade only).
-- Products are on the target edition's axis (default HS 2022). converted_split: some of the
-- importer's imports or of the supplier's exports to it was shared out from a code split across
-- HS revisions; value_share_from_split: the part of importer_total_imports that was;
-- split_dependent: depends is true and rests partly on such value.
-- partition: year
-- grain: supplier, source, importer, year, product_code
-- check share_bounds: supplier_share IS NULL OR supplier_share BETWEEN 0 AND 1 + 1e-9
-- check split_consistent: split_dependent = (coalesce(depends, false) AND converted_split)
-- check depends_known_only_with_partner_view: (depends IS NULL) = (NOT partner_view_available)
WITH members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
suppliers AS (
    SELECT * FROM (VALUES ('NLD'), ('EU27')) AS s(supplier)
),
imports AS (
    SELECT source, currency, reporter AS importer, year, product_code_target AS product_code, partner, partner_role,
           partner_in_eu, value, value_from_split, converted_split, releases, synthetic
    FROM staging.annual_flows
    WHERE flow = 'import' AND product_code_target IS NOT NULL AND reporter <> 'EU27'
      AND partner_role IN ('external', 'self', 'unallocated', 'world')
),
merged AS (
    -- the importer's partners, with the supplier taken as one partner
    SELECT
        s.supplier, i.source, i.currency, i.importer, i.year, i.product_code,
        -- member states merge into the EU (Comext's intra-EU codes are no EU27 supplier rows)
        CASE WHEN s.supplier = 'EU27' AND i.partner_in_eu AND i.partner_role = 'external' THEN 'EU27'
             ELSE i.partner END AS partner,
        i.partner_role,
        sum(i.value) AS v,
        sum(i.value_from_split) AS v_split,
        bool_or(i.converted_split) AS any_split,
        list_distinct(flatten(list(i.releases))) AS releases,
        bool_or(i.synthetic) AS synthetic
    FROM imports AS i
    CROSS JOIN suppliers AS s
    WHERE i.importer <> s.supplier
      AND NOT (s.supplier = 'EU27' AND i.importer IN (SELECT iso3 FROM members))
    GROUP BY ALL
),
partner_view AS (
    SELECT
        supplier, source, currency, importer, year, product_code,
        coalesce(sum(v) FILTER (WHERE partner = supplier AND partner_role = 'external'), 0) AS imports_from_supplier,
        coalesce(sum(v) FILTER (WHERE partner_role = 'world'),
                 sum(v) FILTER (WHERE partner_role <> 'world')) AS importer_total_imports,
        CASE WHEN sum(v) FILTER (WHERE partner_role = 'world') IS NOT NULL
             THEN sum(v_split) FILTER (WHERE partner_role = 'world')
             ELSE sum(v_split) FILTER (WHERE partner_role <> 'world') END AS imports_from_split,
        bool_or(any_split) AS imports_split,
        list_distinct(flatten(list(releases))) AS import_releases,
        bool_or(synthetic) AS import_synthetic
    FROM merged
    GROUP BY ALL
),
larger_suppliers AS (
    -- how many of the importer's country suppliers sold it more than the supplier did
    SELECT p.supplier, p.source, p.importer, p.year, p.product_code,
           count(*) FILTER (WHERE m.partner_role = 'external' AND m.partner <> p.supplier
                            AND m.v > p.imports_from_supplier) AS n_larger
    FROM partner_view AS p
    JOIN merged AS m USING (supplier, source, importer, year, product_code)
    GROUP BY ALL
),
ranked AS (
    SELECT p.*, CASE WHEN p.imports_from_supplier > 0 THEN 1 + l.n_larger END AS supplier_rank
    FROM partner_view AS p
    JOIN larger_suppliers AS l USING (supplier, source, importer, year, product_code)
),
mirror AS (
    SELECT
        CASE WHEN reporter = 'EU27' THEN 'EU27' ELSE 'NLD' END AS supplier,
        source, currency, partner AS importer, year, product_code_target AS product_code,
        sum(value) AS supplier_exports,
        bool_or(converted_split) AS exports_split,
        list_distinct(flatten(list(releases))) AS export_releases,
        bool_or(synthetic) AS export_synthetic
    FROM staging.annual_flows
    WHERE flow = 'export' AND product_code_target IS NOT NULL AND reporter IN ('NLD', 'EU27')
      AND partner_role = 'external'
    GROUP BY ALL
),
world_share AS (
    SELECT 'NLD' AS supplier, year, product_code, world_share AS supplier_world_export_share
    FROM staging.world_exports WHERE exporter = 'NLD'
    UNION ALL
    SELECT 'EU27', year, product_code, sum(export_value) / any_value(world_export_value)
    FROM staging.world_exports WHERE exporter IN (SELECT iso3 FROM members)
    GROUP BY ALL
),
both_views AS (
    SELECT
        supplier, source, coalesce(r.currency, x.currency) AS currency, importer, year, product_code,
        r.imports_from_supplier,
        r.importer_total_imports,
        r.imports_from_supplier / nullif(r.importer_total_imports, 0) AS supplier_share,
        r.supplier_rank,
        -- known wherever the importer reports: false when it buys nothing from the supplier
        CASE WHEN r.importer IS NOT NULL THEN coalesce(r.supplier_rank = 1, false) END AS supplier_is_top,
        x.supplier_exports,
        x.supplier_exports / nullif(r.importer_total_imports, 0) AS mirror_share,
        r.importer IS NOT NULL AS partner_view_available,
        x.importer IS NOT NULL AS mirror_view_available,
        coalesce(r.imports_split, false) OR coalesce(x.exports_split, false) AS converted_split,
        r.imports_from_split / nullif(r.importer_total_imports, 0) AS value_share_from_split,
        -- both sides: a mirror-only row rests on the supplier's report alone
        array_to_string(list_sort(list_distinct(list_concat(coalesce(r.import_releases, []),
                                                            coalesce(x.export_releases, [])))), '; ') AS release,
        coalesce(r.import_synthetic, false) OR coalesce(x.export_synthetic, false) AS synthetic
    FROM ranked AS r
    FULL JOIN mirror AS x USING (supplier, source, importer, year, product_code)
),
judged AS (
    SELECT
        b.*,
        c.hhi AS importer_hhi,
        c.top1_partner AS importer_top_partner,
        -- unknown, not false, where the importer's own report is missing (mirror view only)
        CASE WHEN b.partner_view_available
             THEN coalesce(b.supplier_share >= getvariable('depends_share')
                           OR (b.supplier_is_top AND c.hhi > getvariable('depends_top_hhi')), false)
        END AS depends,
        getvariable('depends_share') AS depends_share_threshold,
        getvariable('depends_top_hhi') AS depends_top_hhi_threshold,
        CASE WHEN b.source = 'comtrade' THEN w.supplier_world_export_share END AS supplier_world_export_share,
        d.domain
    FROM both_views AS b
    LEFT JOIN monitor.import_concentration AS c
        ON c.source = b.source AND c.reporter = b.importer AND c.year = b.year
       AND c.product_level = 'HS6' AND c.product_code = b.product_code AND c.partner_scope = 'all'
    LEFT JOIN world_share AS w
        ON w.supplier = b.supplier AND w.year = b.year AND w.product_code = b.product_code
    LEFT JOIN staging.product_domains AS d ON d.code = b.product_code AND d.domain_rank = 1
)
SELECT *, coalesce(depends, false) AND converted_split AS split_dependent
FROM judged
