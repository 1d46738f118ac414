-- The EC 2021 bottom-up dependency screen (methodology section 6) for the EU27 bloc and
-- for every member state, per HS6 and year, counting non-EU partners only:
--   C1 concentration     hhi_extra > c1_threshold ({ec_c1_hhi})
--   C2 importance        extra_eu_import_share = M_extra / (M_extra + M_intra) > c2_threshold ({ec_c2_extra_share})
--   C3 substitutability  import_export_ratio = M_extra / X_extra > c3_threshold ({ec_c3_import_export_ratio}); X_extra = 0
--                        with M_extra > 0 passes and leaves the ratio null; with M_extra = X_extra
--                        = 0 the product is not screened (screened false, C3 null)
--   dependent = C1 and C2 and C3, and only when year_complete (section 5): a member state's year
--   of 12 months, for the EU27 bloc bloc_complete; a year built from fewer months (the year in
--   progress) or a bloc row built from some member states shows its criteria, never the flag
-- M_extra are imports from non-EU countries, M_intra imports from other member states and the
-- intra-EU non-country codes (never a member's imports from itself), X_extra exports to non-EU
-- countries. Every criterion keeps its value, its boolean and the threshold used, so an analyst
-- can apply another threshold without recomputing.
-- years_flagged counts the years a product is dependent, years_screened the years it was screened.
-- bloc_members, bloc_months_min, bloc_complete: EU27 rows only (staging.reporter_years);
-- months_covered and year_complete on every row (for EU27: bloc_months_min and bloc_complete).
-- caveat: the quasi-transit warning on the Netherlands' Comext rows (section 10).
-- release and synthetic: the import rows behind M_extra and M_intra and the export rows behind X_extra.
-- monitor.eu_dependencies and monitor.nl_dependencies are views of this one screen.
-- Products are on the target edition's axis (default HS 2022), so years compare like with like.
-- converted_split: some of M_extra, M_intra or X_extra was shared out from a code split across HS
-- revisions (value_share_from_split: the part of M_extra); split_dependent: the product came out
-- dependent on such value, so the flag rests partly on estimated split weights.
-- access: restricted
-- changes ec_screen: keys source, reporter, year, product_code; flag dependent; top top_supplier; hhi hhi_extra
-- report: headline
-- methodology: 6 Screens (EC 2021 C1-C3); 5 The EU as one bloc
-- grain: source, reporter, year, product_code
-- check criteria_consistent: dependent = (coalesce(c1_concentration AND c2_importance AND c3_substitutability, false) AND year_complete) AND (screened = (c3_substitutability IS NOT NULL))
-- check bloc_complete_when_dependent: NOT dependent OR reporter <> 'EU27' OR bloc_complete
-- check year_complete_when_dependent: NOT dependent OR (year_complete AND months_covered = 12)
-- check split_consistent: split_dependent = (dependent AND converted_split)
WITH conc AS (
    SELECT * FROM monitor.import_concentration WHERE product_level = 'HS6' AND partner_scope = 'extra_eu'
),
trade AS (
    SELECT
        source, reporter, year, product_code_target AS product_code,
        -- partner_role 'self' (re-imports, a member's trade with itself) is neither
        coalesce(sum(value) FILTER (WHERE flow = 'import' AND partner_in_eu
                                    AND partner_role IN ('external', 'internal', 'unallocated')), 0) AS m_intra,
        coalesce(sum(value) FILTER (WHERE flow = 'export' AND partner_role = 'external' AND NOT partner_in_eu), 0)
            AS x_extra,
        coalesce(bool_or(converted_split) FILTER (
            WHERE flow = 'import' AND partner_in_eu AND partner_role IN ('external', 'internal', 'unallocated')
               OR flow = 'export' AND partner_role = 'external' AND NOT partner_in_eu), false) AS trade_split,
        list_distinct(flatten(list(releases) FILTER (WHERE flow = 'export' AND partner_role = 'external'
                                                     AND NOT partner_in_eu))) AS export_releases,
        bool_or(synthetic) FILTER (WHERE flow = 'export' AND partner_role = 'external' AND NOT partner_in_eu)
            AS export_synthetic
    FROM staging.annual_flows
    WHERE product_code_target IS NOT NULL
      AND (reporter = 'EU27' OR reporter IN (SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020))
    GROUP BY ALL
),
criteria AS (
    SELECT
        c.source, c.currency, c.reporter, c.year, c.product_code,
        d.domain,
        c.hhi AS hhi_extra,
        c.n_suppliers AS n_suppliers_extra,
        c.top1_partner AS top_supplier,
        c.top1_share AS top_supplier_share,
        c.top1_value AS top_supplier_value,
        c.allocated_value AS m_extra,
        coalesce(t.m_intra, 0) AS m_intra,
        coalesce(t.x_extra, 0) AS x_extra,
        c.allocated_value / nullif(c.allocated_value + coalesce(t.m_intra, 0), 0) AS extra_eu_import_share,
        c.allocated_value / nullif(t.x_extra, 0) AS import_export_ratio,
        getvariable('ec_c1_hhi') AS c1_threshold,
        getvariable('ec_c2_extra_share') AS c2_threshold,
        getvariable('ec_c3_import_export_ratio') AS c3_threshold,
        c.low_confidence, c.unallocated_share, c.months_covered,
        c.bloc_members, c.bloc_months_min, c.bloc_complete, c.year_complete, c.caveat,
        array_to_string(list_sort(list_distinct(
            list_concat(string_split(c.release, '; '), coalesce(t.export_releases, [])))), '; ') AS release,
        c.synthetic OR coalesce(t.export_synthetic, false) AS synthetic,
        c.converted_split OR coalesce(t.trade_split, false) AS converted_split,
        c.value_share_from_split
    FROM conc AS c
    LEFT JOIN trade AS t USING (source, reporter, year, product_code)
    LEFT JOIN staging.product_domains AS d ON d.code = c.product_code AND d.domain_rank = 1
),
flagged AS (
    SELECT
        *,
        ec_screened(m_extra, x_extra) AS screened,
        ec_c1_concentration(hhi_extra, c1_threshold) AS c1_concentration,
        ec_c2_importance(extra_eu_import_share, c2_threshold) AS c2_importance,
        ec_c3_substitutability(m_extra, x_extra, import_export_ratio, c3_threshold) AS c3_substitutability
    FROM criteria
),
judged AS (
    SELECT
        *,
        ec_dependent(c1_concentration, c2_importance, c3_substitutability, year_complete) AS dependent
    FROM flagged
)
SELECT
    *,
    count(*) FILTER (WHERE dependent) OVER (PARTITION BY source, reporter, product_code) AS years_flagged,
    count(*) FILTER (WHERE screened) OVER (PARTITION BY source, reporter, product_code) AS years_screened,
    dependent AND converted_split AS split_dependent
FROM judged
