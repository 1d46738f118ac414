-- The EC 2021 screen (methodology section 6) on Comext's native CN8 codes (section 8, after IW Koeln's
-- China monitor), for the EU27 bloc and the Netherlands, per CN8 code and year. The CN changes every
-- year, so a row is always within one CN edition (cn_edition, the year's CN) and no figure here compares
-- years: a code's meaning may change from one year to the next.
--   m_extra, m_intra, x_extra, hhi_extra, extra_eu_import_share, import_export_ratio, c1..c3, screened,
--   dependent: exactly as monitor.ec_screen, on the CN8 code's rows (non-EU country suppliers in the HHI;
--   dependent only for a complete year: 12 months, for EU27 a complete bloc)
--   annual_imports  m_extra + m_intra: the imports the screen sees; a code is screened here only where
--                   they reach {cn8_min_value} (EUR): smaller codes have no row
--   product_code    the HS6 row the code belongs to: its first six digits (the edition's HS); product_code_target
--                   the same trade's code on the target HS edition (monitor.ec_screen's axis), or null where the
--                   code is shared out over several (converted_split)
-- Confidential codes that are not eight digits (39XXXXXX) have no CN8 row.
-- caveat: the quasi-transit warning on the Netherlands' rows (section 10).
-- release and synthetic: the rows behind M_extra, M_intra and X_extra.
-- access: restricted
-- report: cn8
-- methodology: 8 Beyond the single-step screen (CN8 screen); 6 Screens (EC 2021 C1-C3)
-- grain: reporter, year, cn8
-- check criteria_consistent: dependent = (coalesce(c1_concentration AND c2_importance AND c3_substitutability, false) AND year_complete) AND (screened = (c3_substitutability IS NOT NULL))
-- check above_minimum: annual_imports >= min_value
WITH flows AS (
    SELECT *
    FROM staging.annual_flows
    -- the source whose detail is CN8 (registry trait: Comext)
    WHERE source_native_level(source) = 'CN8' AND reporter IN ('EU27', 'NLD')
      AND regexp_full_match(product_code_native, '[0-9]{8}')
),
by_partner AS (
    -- extra-EU country suppliers, summed over a split code's targets
    SELECT source, reporter, year, product_code_native AS cn8, partner, sum(value) AS value
    FROM flows
    WHERE flow = 'import' AND partner_role = 'external' AND NOT partner_in_eu
    GROUP BY ALL
),
conc AS (
    SELECT source, reporter, year, cn8,
           sum(value) FILTER (WHERE value > 0) AS m_extra,
           count(*) FILTER (WHERE value > 0) AS n_suppliers_extra,
           sum(value * value) FILTER (WHERE value > 0) AS sum_sq,
           arg_max(partner, (value, partner)) FILTER (WHERE value > 0) AS top_supplier,
           max(value) FILTER (WHERE value > 0) AS top_supplier_value
    FROM by_partner
    GROUP BY ALL
),
trade AS (
    SELECT
        source, currency, reporter, year, product_code_native AS cn8,
        any_value(product_code) AS product_code,
        CASE WHEN count(DISTINCT product_code_target) = 1 THEN any_value(product_code_target) END AS product_code_target,
        count(DISTINCT product_code_target) > 1 AS converted_split,
        coalesce(sum(value) FILTER (WHERE flow = 'import' AND partner_in_eu
                                    AND partner_role IN ('external', 'internal', 'unallocated')), 0) AS m_intra,
        coalesce(sum(value) FILTER (WHERE flow = 'export' AND partner_role = 'external' AND NOT partner_in_eu), 0)
            AS x_extra,
        list_distinct(flatten(list(releases) FILTER (
            WHERE flow = 'import' AND partner_in_eu AND partner_role IN ('external', 'internal', 'unallocated')
               OR flow = 'import' AND partner_role = 'external' AND NOT partner_in_eu
               OR flow = 'export' AND partner_role = 'external' AND NOT partner_in_eu))) AS releases,
        coalesce(bool_or(synthetic) FILTER (
            WHERE flow = 'import' AND partner_in_eu AND partner_role IN ('external', 'internal', 'unallocated')
               OR flow = 'import' AND partner_role = 'external' AND NOT partner_in_eu
               OR flow = 'export' AND partner_role = 'external' AND NOT partner_in_eu), false) AS synthetic
    FROM flows
    GROUP BY ALL
),
criteria AS (
    SELECT
        t.source, t.currency, t.reporter, t.year, t.cn8, 'CN' || t.year AS cn_edition,
        t.product_code, t.product_code_target, t.converted_split,
        coalesce(c.m_extra, 0) AS m_extra, t.m_intra, t.x_extra,
        coalesce(c.m_extra, 0) + t.m_intra AS annual_imports,
        getvariable('cn8_min_value') AS min_value,
        c.sum_sq / (c.m_extra * c.m_extra) AS hhi_extra,
        coalesce(c.n_suppliers_extra, 0) AS n_suppliers_extra,
        c.top_supplier, c.top_supplier_value, c.top_supplier_value / c.m_extra AS top_supplier_share,
        coalesce(c.m_extra, 0) / nullif(coalesce(c.m_extra, 0) + t.m_intra, 0) AS extra_eu_import_share,
        coalesce(c.m_extra, 0) / nullif(t.x_extra, 0) AS import_export_ratio,
        getvariable('ec_c1_hhi') AS c1_threshold,
        getvariable('ec_c2_extra_share') AS c2_threshold,
        getvariable('ec_c3_import_export_ratio') AS c3_threshold,
        y.months_covered, y.year_complete,
        source_caveat(t.source, t.reporter) AS caveat,
        array_to_string(list_sort(t.releases), '; ') AS release, t.synthetic
    FROM trade AS t
    LEFT JOIN conc AS c USING (source, reporter, year, cn8)
    JOIN staging.reporter_years AS y ON y.source = t.source AND y.reporter = t.reporter AND y.year = t.year
),
flagged AS (
    SELECT
        *,
        ec_screened(m_extra, x_extra) AS screened,
        ec_c1_concentration(hhi_extra, c1_threshold) AS c1_concentration,
        ec_c2_importance(extra_eu_import_share, c2_threshold) AS c2_importance,
        ec_c3_substitutability(m_extra, x_extra, import_export_ratio, c3_threshold) AS c3_substitutability
    FROM criteria
    WHERE annual_imports >= getvariable('cn8_min_value')
)
SELECT
    *,
    ec_dependent(c1_concentration, c2_importance, c3_substitutability, year_complete) AS dependent
FROM flagged
