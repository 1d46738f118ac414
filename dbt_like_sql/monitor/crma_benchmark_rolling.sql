-- The CRMA benchmark of monitor.crma_benchmark (methodology section 8) on rolling 12-month windows from
-- monthly Comext ("and rolling 12 months from Comext"), so the distance to the 65% line moves every month:
-- per strategic raw material and processing stage (reference.crma_materials), for the EU27 bloc on its
-- extra-EU imports and for the Netherlands on its non-EU imports, and per window, the 12 months ending at
-- period_end ('YYYY-MM'; period_start its first month):
--   m_extra, n_suppliers_extra, top_supplier, top_supplier_value, top_share, benchmark, benchmark_gap,
--   codes_traded, codes_shared   as in monitor.crma_benchmark, on the window's sums of the stage's codes
--   over_benchmark   top_share > {crma_benchmark}, only for a complete window: 12 months, and
--                    for EU27 a complete bloc (27 member states, 12 months each); a partial window shows its
--                    share, never the flag
-- The windows are monitor.ec_screen_rolling's: a reporter's windows end at the months it has data for
-- (the bloc's at any member state's month), with the same months_in_window, window_complete,
-- bloc_members and bloc_complete; the rows behind them are that model's too (monthly rows only, products
-- on the target HS edition month by month, the bloc from Comext's own EU27_2020 rows for a month and
-- product code where they exist, else from the member states; a member state's trade with itself
-- counts nowhere). So the window ending in December of a year with only monthly rows is that calendar
-- year: the same figures as monitor.crma_benchmark's Comext row of the year.
-- Import side only: the Act's benchmark is on consumption, which trade alone does not give.
-- caveat: the quasi-transit warning on the Netherlands' rows (section 10).
-- release and synthetic: the import rows behind the row.
-- Built per year of period_end; a year's windows read the year before it too (lookback 1).
-- access: restricted
-- sheet: CRMA rolling 12 months; order 9
-- report: crma
-- methodology: 8 Beyond the single-step screen (CRMA benchmark; rolling 12 months)
-- partition: year, lookback 1
-- grain: source, reporter, period_end, material, stage
-- check share_bounds: top_share > 0 AND top_share <= 1 + 1e-9 AND top_supplier_value <= m_extra
-- check benchmark_consistent: over_benchmark = (top_share > benchmark AND window_complete AND coalesce(bloc_complete, true))
-- check window_consistent: months_in_window BETWEEN 1 AND 12 AND window_complete = (months_in_window = 12) AND year = left(period_end, 4)::INTEGER AND (reporter = 'EU27') = (bloc_complete IS NOT NULL)
WITH members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
mapping AS (
    SELECT material, stage, hs6, nullif(shared_with, '') IS NOT NULL AS shared
    FROM reference.crma_materials
),
candidates AS (
    -- the codes that can reach a material's code on the target edition (as themselves, converted or shared
    -- out): only their rows are read, a fifth of the time at SF 0.1 (the join on mapping below stays exact)
    SELECT hs6 AS product_code FROM mapping
    UNION SELECT product_code FROM staging.hs_conversion WHERE product_code_target IN (SELECT hs6 FROM mapping)
    UNION SELECT product_code FROM staging.hs_split_weights WHERE product_code_target IN (SELECT hs6 FROM mapping)
),
detail AS (
    SELECT
        source, reporter, year * 12 + month - 1 AS month_index, partner, partner_kind, product_code_native, product_code,
        hs_edition, value, release, synthetic
    FROM staging.trade_flows
    -- monthly sources only (registry trait: Comext)
    WHERE source_frequency(source) = 'M' AND freq = 'M' AND is_detail AND flow = 'import' AND product_code IS NOT NULL
      AND (reporter = 'EU27' OR reporter IN (SELECT iso3 FROM members))
      AND product_code IN (SELECT product_code FROM candidates)
),
direct_bloc AS (
    -- where the source's own EU27 rows (Comext's EU27_2020) hold a month and code (any partner), the bloc is those rows
    SELECT DISTINCT source, month_index, product_code_native FROM detail WHERE reporter = 'EU27'
),
on_target AS (
    -- non-EU country suppliers only, on the target edition's code (a split's part cut as
    -- monitor.ec_screen_rolling cuts a month's value), and only the codes of a material
    SELECT
        d.source, d.reporter, d.month_index, d.partner, d.product_code_native, d.release, d.synthetic,
        coalesce(c.product_code_target, w.product_code_target, d.product_code) AS product_code,
        hs_split_part(d.value, w.product_code_target, w.cum_weight_before, w.cum_weight) AS value
    FROM detail AS d
    LEFT JOIN staging.hs_conversion AS c
        ON c.hs_edition = d.hs_edition AND c.product_code = d.product_code AND NOT c.converted_split
    LEFT JOIN staging.hs_split_weights AS w
        ON w.source = d.source AND w.reporter = d.reporter AND w.flow = 'import'
       AND w.hs_edition = d.hs_edition AND w.product_code = d.product_code
    WHERE d.partner_kind = 'country' AND d.partner <> d.reporter AND d.partner NOT IN (SELECT iso3 FROM members)
),
units AS (
    -- the EU27 and NL as themselves, and each member state once more as a unit of the bloc
    SELECT o.* FROM on_target AS o WHERE o.reporter IN ('EU27', 'NLD')
    UNION ALL
    SELECT o.* REPLACE ('EU27' AS reporter)
    FROM on_target AS o
    ANTI JOIN direct_bloc AS b USING (source, month_index, product_code_native)
    WHERE o.reporter <> 'EU27'
),
stage_rows AS (
    SELECT u.source, u.reporter, u.month_index, m.material, m.stage, u.product_code, m.shared, u.partner, u.value,
           u.release, u.synthetic
    FROM units AS u
    JOIN mapping AS m ON m.hs6 = u.product_code
),
month_suppliers AS (
    SELECT source, reporter, month_index, material, stage, partner, sum(value) AS value
    FROM stage_rows
    GROUP BY ALL
),
month_codes AS (
    SELECT source, reporter, month_index, material, stage, product_code, bool_or(shared) AS shared,
           list_distinct(list(release)) AS releases, bool_or(synthetic) AS synthetic
    FROM stage_rows
    GROUP BY ALL
),
windows AS (
    -- monitor.ec_screen_rolling's windows of the two reporters; every window holding imports of a
    -- material's code has a row there for that code
    SELECT DISTINCT
        source, reporter, period_end, period_start, year,
        year * 12 + right(period_end, 2)::INTEGER - 1 AS end_index,
        months_in_window, window_complete, bloc_members, bloc_complete
    FROM monitor.ec_screen_rolling
    WHERE reporter IN ('EU27', 'NLD') AND product_code IN (SELECT hs6 FROM mapping)
),
window_suppliers AS (
    -- each month's sums go to the 12 windows it belongs to, where the reporter has one
    SELECT s.source, s.reporter, s.end_index, s.material, s.stage, s.partner, sum(s.value) AS value
    FROM (SELECT *, unnest(generate_series(month_index, month_index + 11)) AS end_index FROM month_suppliers) AS s
    SEMI JOIN windows AS w ON w.source = s.source AND w.reporter = s.reporter AND w.end_index = s.end_index
    GROUP BY ALL
),
totals AS (
    SELECT
        source, reporter, end_index, material, stage,
        sum(value) FILTER (WHERE value > 0) AS m_extra,
        count(*) FILTER (WHERE value > 0) AS n_suppliers_extra,
        -- ties broken by partner code so reruns give the same top supplier
        arg_max(partner, (value, partner)) AS top_supplier,
        max(value) AS top_supplier_value
    FROM window_suppliers
    GROUP BY ALL
    HAVING sum(value) FILTER (WHERE value > 0) > 0
),
provenance AS (
    SELECT
        c.source, c.reporter, c.end_index, c.material, c.stage,
        count(DISTINCT c.product_code) AS codes_traded,
        count(DISTINCT c.product_code) FILTER (WHERE c.shared) AS codes_shared,
        array_to_string(list_sort(list_distinct(flatten(list(c.releases)))), '; ') AS release,
        bool_or(c.synthetic) AS synthetic
    FROM (SELECT *, unnest(generate_series(month_index, month_index + 11)) AS end_index FROM month_codes) AS c
    SEMI JOIN windows AS w ON w.source = c.source AND w.reporter = c.reporter AND w.end_index = c.end_index
    GROUP BY ALL
)
SELECT
    t.source, source_currency(t.source) AS currency, t.reporter, w.year, w.period_end, w.period_start, t.material, t.stage,
    t.m_extra, t.n_suppliers_extra, t.top_supplier, t.top_supplier_value,
    t.top_supplier_value / t.m_extra AS top_share,
    getvariable('crma_benchmark') AS benchmark,
    t.top_supplier_value / t.m_extra > getvariable('crma_benchmark') AND w.window_complete
        AND coalesce(w.bloc_complete, true) AS over_benchmark,
    t.top_supplier_value / t.m_extra - getvariable('crma_benchmark') AS benchmark_gap,
    p.codes_traded, p.codes_shared, w.months_in_window, w.window_complete, w.bloc_members, w.bloc_complete,
    source_caveat(t.source, t.reporter) AS caveat,
    p.release, p.synthetic
FROM totals AS t
JOIN windows AS w USING (source, reporter, end_index)
JOIN provenance AS p USING (source, reporter, end_index, material, stage)
