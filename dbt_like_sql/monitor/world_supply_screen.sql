-- The world-supply screen (CEPII GeoDep form, methodology section 6) per importer (every
-- Comtrade reporter and the EU27 bloc) , HS6 and year, in USD from UN Comtrade:
--   G1 importer concentration   importer_hhi > g1_threshold ({world_g1_hhi}); extra-EU suppliers for EU27
--   G2 world supply concentration hhi_world_exports > g2_threshold ({world_g2_hhi}): HHI of all
--      exporters' shares in world exports of the product (staging.world_exports)
--   G3 net importer             import_export_ratio = imports / exports > g3_threshold ({world_g3_import_export_ratio});
--      no exports passes and leaves the ratio null. A country's imports and exports are its
--      World totals; the bloc's are both extra-EU and both over country partners (M_extra,
--      X_extra of the EC screen), so the ratio never compares two scopes
--   flagged = G1 and G2 and G3, never for an incomplete year (year_complete, section 5: fewer
--   than 12 months for a country, an incomplete bloc for EU27; such a year counts as not flagged
--   in persistence); persistent when flagged in at least {persistence_min_years}
--   of the {persistence_window_years} calendar years up to this one with data.
-- G2 needs the whole world: where fewer than min_world_reporters Comtrade reporters
-- reported that year, hhi_world_exports, G2, flagged and persistent are null and
-- world_coverage_note says why.
-- Products are on the target edition's axis (default HS 2022): Comtrade reporters switch HS
-- editions in different years, so without it persistence would compare different codes.
-- converted_split: some of the importer's imports, its exports or (with world coverage) world
-- exports of the product were shared out from a code split across HS revisions;
-- value_share_from_split: the part of the importer's allocated imports that was; split_dependent:
-- flagged this year on such value, or persistent with such value in a flagged year of the window.
-- release and synthetic: the importer's import and export rows behind the row.
-- access: public
-- sheet: World supply screen; filter flagged; order 6
-- changes world_supply_screen: keys source, importer, year, product_code; flag flagged; top top_supplier; hhi importer_hhi
-- methodology: 6 Screens (world supply G1-G3)
-- grain: source, importer, year, product_code
-- check bloc_complete_when_flagged: NOT coalesce(flagged, false) OR importer <> 'EU27' OR bloc_complete
-- check year_complete_when_flagged: NOT coalesce(flagged, false) OR year_complete
-- check split_consistent: NOT split_dependent OR converted_split OR persistent
WITH conc AS (
    -- the sources whose reporters make the world (registry trait: Comtrade, BACI)
    SELECT * FROM monitor.import_concentration
    WHERE source_world(source) AND product_level = 'HS6'
      AND partner_scope = CASE WHEN reporter = 'EU27' THEN 'extra_eu' ELSE 'all' END
),
world AS (
    SELECT
        source, year, product_code,
        any_value(world_export_sum_sq) / (any_value(world_export_value) * any_value(world_export_value))
            AS hhi_world_exports,
        arg_max(exporter, (world_share, exporter)) AS top_world_exporter,
        max(world_share) AS top_world_exporter_share,
        any_value(n_exporters) AS n_exporters,
        any_value(reporters_in_year) AS reporters_in_year,
        bool_or(converted_split) AS world_split
    FROM staging.world_exports
    GROUP BY ALL
),
own_exports AS (
    -- what the importer itself exports of the product: to the world for a country,
    -- outside the EU for the bloc (like its imports)
    SELECT source, reporter AS importer, year, product_code_target AS product_code,
           coalesce(sum(value) FILTER (WHERE reporter <> 'EU27' AND partner_role = 'world'),
                    sum(value) FILTER (WHERE reporter <> 'EU27' AND partner_role IN ('external', 'internal', 'self', 'unallocated')),
                    sum(value) FILTER (WHERE reporter = 'EU27' AND partner_role = 'external' AND NOT partner_in_eu))
               AS exports,
           bool_or(converted_split) FILTER (WHERE partner_role IN ('world', 'external', 'internal', 'self', 'unallocated'))
               AS exports_split,
           list_distinct(flatten(list(releases) FILTER (WHERE partner_role IN ('world', 'external', 'internal', 'self', 'unallocated')))) AS export_releases,
           bool_or(synthetic) FILTER (WHERE partner_role IN ('world', 'external', 'internal', 'self', 'unallocated')) AS export_synthetic
    FROM staging.annual_flows
    WHERE source_world(source) AND flow = 'export' AND product_code_target IS NOT NULL
    GROUP BY ALL
),
criteria AS (
    SELECT
        c.source, c.reporter AS importer, c.year, c.product_code, d.domain, c.currency,
        c.hhi AS importer_hhi,
        c.top1_partner AS top_supplier,
        c.top1_share AS top_supplier_share,
        -- imports: extra-EU country suppliers for the bloc (like its exports), the World total for a country
        CASE WHEN c.reporter = 'EU27' THEN c.allocated_value
             ELSE coalesce(c.world_value, c.allocated_value + c.unallocated_value + c.internal_value) END AS imports,
        coalesce(e.exports, 0) AS exports,
        cv.reporters_in_year,
        cv.reporters_in_year >= getvariable('min_world_reporters') AS world_covered,
        w.hhi_world_exports AS hhi_world_exports_raw,
        w.top_world_exporter, w.top_world_exporter_share, w.n_exporters,
        getvariable('world_g1_hhi') AS g1_threshold,
        getvariable('world_g2_hhi') AS g2_threshold,
        getvariable('world_g3_import_export_ratio') AS g3_threshold,
        c.low_confidence, c.months_covered, c.bloc_members, c.bloc_months_min, c.bloc_complete, c.year_complete,
        array_to_string(list_sort(list_distinct(
            list_concat(string_split(c.release, '; '), coalesce(e.export_releases, [])))), '; ') AS release,
        c.synthetic OR coalesce(e.export_synthetic, false) AS synthetic,
        c.converted_split OR coalesce(e.exports_split, false)
            OR (cv.reporters_in_year >= getvariable('min_world_reporters') AND coalesce(w.world_split, false))
            AS converted_split,
        c.value_share_from_split
    FROM conc AS c
    JOIN staging.comtrade_coverage AS cv USING (source, year)
    LEFT JOIN world AS w USING (source, year, product_code)
    LEFT JOIN own_exports AS e
        ON e.source = c.source AND e.importer = c.reporter AND e.year = c.year AND e.product_code = c.product_code
    LEFT JOIN staging.product_domains AS d ON d.code = c.product_code AND d.domain_rank = 1
),
flagged AS (
    SELECT
        * EXCLUDE (hhi_world_exports_raw),
        CASE WHEN world_covered THEN hhi_world_exports_raw END AS hhi_world_exports,
        CASE WHEN NOT world_covered
             THEN 'only ' || reporters_in_year || ' Comtrade reporters in ' || year
                  || ' (fewer than ' || getvariable('min_world_reporters') || '): world export concentration unknown'
             WHEN hhi_world_exports_raw IS NULL THEN 'no exporter reported this product'
        END AS world_coverage_note,
        imports / nullif(exports, 0) AS import_export_ratio,
        coalesce(importer_hhi > g1_threshold, false) AS g1_importer_concentration,
        CASE WHEN world_covered THEN coalesce(hhi_world_exports_raw > g2_threshold, false) END
            AS g2_world_concentration,
        imports > 0 AND (exports = 0 OR imports / exports > g3_threshold) AS g3_net_importer
    FROM criteria
),
screened AS (
    SELECT *, CASE WHEN NOT year_complete THEN false
                   ELSE g1_importer_concentration AND g2_world_concentration AND g3_net_importer END AS flagged
    FROM flagged
),
persisted AS (
    SELECT
        *,
        CASE WHEN flagged IS NOT NULL THEN
            count(*) FILTER (WHERE flagged) OVER win >= getvariable('persistence_min_years')
        END AS persistent,
        count(*) FILTER (WHERE flagged) OVER win AS years_flagged_in_window,
        count(*) OVER win AS years_in_window,
        count(*) FILTER (WHERE flagged) OVER (PARTITION BY source, importer, product_code) AS years_flagged,
        coalesce(bool_or(flagged AND converted_split) OVER win, false) AS split_in_window
    FROM screened
    WINDOW win AS (PARTITION BY source, importer, product_code ORDER BY year
                   RANGE BETWEEN getvariable('persistence_window_years') - 1 PRECEDING AND CURRENT ROW)
)
SELECT
    * EXCLUDE (split_in_window),
    coalesce(flagged, false) AND converted_split OR coalesce(persistent, false) AND split_in_window
        AS split_dependent
FROM persisted
