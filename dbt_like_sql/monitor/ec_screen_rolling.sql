-- The EC 2021 screen of monitor.ec_screen on rolling 12-month windows (methodology section 8,
-- "Rolling 12 months"), so the monitor moves every month, not once a year: per Comext reporter
-- (each member state on its non-EU partners, and the EU27 bloc), HS6 product and window, the
-- window being the 12 months ending at period_end ('YYYY-MM'; period_start is its first month).
-- Monthly Comext rows only: a window has no place for a year that came as one annual row, and
-- Comtrade is annual here, so neither has rolling rows. C1-C3, their thresholds, screened and
-- the bloc columns mean what they mean in monitor.ec_screen, on the window's sums:
--   C1 hhi_extra > c1_threshold, C2 M_extra / (M_extra + M_intra) > c2_threshold,
--   C3 M_extra / X_extra > c3_threshold (X_extra = 0 with M_extra > 0 passes, ratio null;
--   M_extra = X_extra = 0: not screened, C3 null).
-- A reporter's windows end at each month it has data for (any product, imports or exports); for the
-- bloc at each month any member state (or Comext's own EU27_2020 rows) has data for.
-- months_in_window: how many of the 12 months the reporter has data for (for the bloc,
-- bloc_months_min: the fewest of any member state with data in the window; with Comext's own
-- EU27_2020 rows in the window, their months and bloc_members 27, as staging.reporter_years does
-- for a year). A month without data is not a month without trade, so a window short of months is
-- kept with its criteria shown but is never flagged: dependent needs window_complete (12 months)
-- and, for the bloc, bloc_complete (27 members, 12 months each), like a partial bloc year in
-- monitor.ec_screen. The first 11 windows of a series are such partial windows.
-- The window ending in December of a year with only monthly rows is that calendar year: the same
-- M_extra, M_intra, X_extra and HHI as monitor.ec_screen's row of the year.
-- Products are on the target edition's axis (hs_target_edition, default HS 2022) through
-- staging.hs_conversion and staging.hs_split_weights, month by month as staging.annual_flows does
-- for a year, so a window across an HS revision (2021-07..2022-06) adds like to like. A member
-- state's months are converted before they are summed into the bloc; the bloc takes Comext's
-- own EU27_2020 rows for a month, flow and product code where they exist, else its members.
-- Rows: every product the reporter imports in the window (any partner but the aggregates other
-- than World). release and synthetic: those import rows and the export rows behind X_extra.
-- caveat: the quasi-transit warning on the Netherlands' rows (section 10). converted_split: some of
-- the window's value was shared out from a code split across HS revisions; split_dependent: the
-- flag rests partly on such value.
-- Built per year of period_end; a year's windows read the year before it too (lookback 1), so a new
-- month rebuilds the windows of its own year only, never the history (pipeline/incremental.py).
-- access: restricted
-- report: rolling
-- methodology: 8 Beyond the single-step screen (rolling 12 months); 6 Screens (EC 2021 C1-C3)
-- partition: year, lookback 1
-- grain: source, reporter, period_end, product_code
-- check criteria_consistent: dependent = (coalesce(c1_concentration AND c2_importance AND c3_substitutability, false) AND window_complete AND coalesce(bloc_complete, true)) AND (screened = (c3_substitutability IS NOT NULL))
-- check window_consistent: months_in_window BETWEEN 1 AND 12 AND window_complete = (months_in_window = 12) AND year = left(period_end, 4)::INTEGER AND period_start < period_end
-- check bloc_columns: (reporter = 'EU27') = (bloc_complete IS NOT NULL) AND (reporter <> 'EU27' OR months_in_window = bloc_months_min)
-- check split_consistent: split_dependent = (dependent AND converted_split)
WITH members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
release_names AS (
    -- each release text once, numbered in its sort order: rows carry the number (each month's
    -- sums go to 12 windows, so the text would be copied 12 times), lists of numbers sort as the texts
    SELECT release, row_number() OVER (ORDER BY release)::INTEGER AS release_id
    FROM (SELECT DISTINCT release FROM staging.trade_flows WHERE source_frequency(source) = 'M' AND release IS NOT NULL)
),
release_list AS (
    SELECT coalesce(list(release ORDER BY release_id), []) AS names FROM release_names
),
monthly AS (
    -- months counted from year 0, so a window is a range of 12 consecutive numbers across years; the
    -- monthly sources only (registry trait: Comext)
    SELECT
        t.source, t.reporter, t.year * 12 + t.month - 1 AS month_index, t.flow, t.partner, t.partner_kind,
        t.product_code_native, t.product_code, t.hs_edition, t.value, r.release_id AS release, t.synthetic
    FROM staging.trade_flows AS t
    LEFT JOIN release_names AS r ON r.release = t.release
    WHERE source_frequency(t.source) = 'M' AND t.freq = 'M' AND t.is_detail AND t.flow IN ('import', 'export')
      AND (t.reporter = 'EU27' OR t.reporter IN (SELECT iso3 FROM members))
),
reporter_months AS (
    SELECT DISTINCT source, reporter, month_index FROM monthly
),
on_target AS (
    -- the target edition's code: an exact mapping, or a split's part of the month's value cut as
    -- staging.annual_flows cuts a year's (codes without six digits have no HS6 row: left out)
    SELECT
        m.source, m.reporter, m.month_index, m.flow, m.partner, m.partner_kind, m.product_code_native, m.release, m.synthetic,
        coalesce(c.product_code_target, w.product_code_target, m.product_code) AS product_code,
        coalesce(w.n_parts > 1, false) AS converted_split,
        hs_split_part(m.value, w.product_code_target, w.cum_weight_before, w.cum_weight) AS value
    FROM monthly AS m
    LEFT JOIN staging.hs_conversion AS c
        ON c.hs_edition = m.hs_edition AND c.product_code = m.product_code AND NOT c.converted_split
    LEFT JOIN staging.hs_split_weights AS w
        ON w.source = m.source AND w.reporter = m.reporter AND w.flow = m.flow
       AND w.hs_edition = m.hs_edition AND w.product_code = m.product_code
    WHERE m.product_code IS NOT NULL
),
direct_bloc AS (
    SELECT DISTINCT source, month_index, flow, product_code_native FROM on_target WHERE reporter = 'EU27'
),
units AS (
    -- every reporter as itself, and each member state once more as a unit of the bloc
    SELECT o.*, o.reporter AS unit FROM on_target AS o
    UNION ALL
    SELECT o.* REPLACE ('EU27' AS reporter), o.reporter AS unit
    FROM on_target AS o
    ANTI JOIN direct_bloc AS d USING (source, month_index, flow, product_code_native)
    WHERE o.reporter <> 'EU27'
),
roles AS (
    -- a unit's trade with itself counts nowhere; a source's intra-EU partner codes (Comext's QR, QV, QY) are
    -- intra-EU trade
    SELECT
        source, reporter, month_index, product_code, partner, value, release, synthetic, converted_split,
        flow = 'import' AND partner_kind = 'country' AND partner <> unit
            AND partner NOT IN (SELECT iso3 FROM members) AS is_supplier,
        flow = 'import' AND (partner_kind = 'country' AND partner <> unit AND partner IN (SELECT iso3 FROM members)
                             OR partner_kind <> 'country' AND source_intra_eu_partner(source, partner)) AS is_intra,
        flow = 'export' AND partner_kind = 'country' AND partner <> unit
            AND partner NOT IN (SELECT iso3 FROM members) AS is_extra_export,
        flow = 'import' AND (partner_kind <> 'aggregate' OR partner = 'WORLD') AS is_import_row
    FROM units
),
month_products AS (
    SELECT
        source, reporter, month_index, product_code,
        sum(value) FILTER (WHERE is_intra) AS m_intra,
        sum(value) FILTER (WHERE is_extra_export) AS x_extra,
        bool_or(is_import_row) AS imported,
        list_distinct(list(release) FILTER (WHERE is_import_row OR is_extra_export)) AS releases,
        bool_or(synthetic) FILTER (WHERE is_import_row OR is_extra_export) AS synthetic,
        bool_or(converted_split) FILTER (WHERE is_import_row OR is_extra_export) AS converted_split
    FROM roles
    WHERE is_import_row OR is_extra_export
    GROUP BY ALL
),
month_suppliers AS (
    SELECT source, reporter, month_index, product_code, partner, sum(value) AS value
    FROM roles WHERE is_supplier
    GROUP BY ALL
),
window_ends AS (
    -- a member state's windows end at its months; the bloc's at any of its units' months
    SELECT source, reporter, month_index AS end_index FROM reporter_months
    UNION
    SELECT source, 'EU27', month_index FROM reporter_months
),
window_units AS (
    -- per window, the months each unit has data for (for a member state: itself)
    SELECT e.source, e.reporter, e.end_index, m.reporter AS unit, count(*) AS months
    FROM window_ends AS e
    JOIN reporter_months AS m
      ON m.source = e.source AND (m.reporter = e.reporter OR e.reporter = 'EU27') AND m.month_index BETWEEN e.end_index - 11 AND e.end_index
    GROUP BY ALL
),
windows AS (
    SELECT
        source, reporter, end_index,
        CASE WHEN reporter <> 'EU27' THEN NULL
             WHEN bool_or(unit = 'EU27') THEN 27 ELSE count(*) END::BIGINT AS bloc_members,
        CASE WHEN reporter <> 'EU27' THEN max(months)
             WHEN bool_or(unit = 'EU27') THEN max(months) FILTER (WHERE unit = 'EU27')
             ELSE min(months) END::BIGINT AS months_in_window
    FROM window_units
    GROUP BY source, reporter, end_index
),
window_products AS (
    -- each month's sums go to the 12 windows it belongs to, where the reporter has one; a product the reporter
    -- never imports has no window (HAVING below), so its months (45% of them on the embedded default) are left
    -- out before the 12-fold spread
    SELECT
        p.source, p.reporter, e.end_index, p.product_code,
        coalesce(sum(p.m_intra), 0) AS m_intra,
        coalesce(sum(p.x_extra), 0) AS x_extra,
        list_sort(list_distinct(flatten(list(p.releases)))) AS releases,
        coalesce(bool_or(p.synthetic), false) AS synthetic,
        coalesce(bool_or(p.converted_split), false) AS converted_split
    FROM (SELECT *, unnest(generate_series(month_index, month_index + 11)) AS end_index FROM month_products
          SEMI JOIN (SELECT DISTINCT source, reporter, product_code FROM month_products WHERE imported) AS i
          USING (source, reporter, product_code)) AS p
    JOIN windows AS e ON e.source = p.source AND e.reporter = p.reporter AND e.end_index = p.end_index
    GROUP BY p.source, p.reporter, e.end_index, p.product_code
    HAVING bool_or(p.imported)
),
window_suppliers AS (
    SELECT s.source, s.reporter, s.end_index, s.product_code, s.partner, sum(s.value) AS v
    FROM (SELECT *, unnest(generate_series(month_index, month_index + 11)) AS end_index FROM month_suppliers) AS s
    SEMI JOIN windows AS e ON e.source = s.source AND e.reporter = s.reporter AND e.end_index = s.end_index
    GROUP BY ALL
),
concentration AS (
    SELECT
        source, reporter, end_index, product_code,
        count(*) FILTER (WHERE v > 0) AS n_suppliers,
        coalesce(sum(v) FILTER (WHERE v > 0), 0) AS allocated_value,
        sum(v * v) FILTER (WHERE v > 0) AS sum_sq,
        -- ties broken by partner code so reruns give the same top supplier
        arg_max(partner, (v, partner)) FILTER (WHERE v > 0) AS top1_partner,
        max(v) FILTER (WHERE v > 0) AS top1_value
    FROM window_suppliers
    GROUP BY ALL
),
criteria AS (
    SELECT
        p.source, source_currency(p.source) AS currency, p.reporter,
        p.end_index // 12 AS year,
        printf('%04d-%02d', p.end_index // 12, p.end_index % 12 + 1) AS period_end,
        printf('%04d-%02d', (p.end_index - 11) // 12, (p.end_index - 11) % 12 + 1) AS period_start,
        w.months_in_window,
        p.product_code,
        d.domain,
        c.sum_sq / (c.allocated_value * c.allocated_value) AS hhi_extra,
        coalesce(c.n_suppliers, 0) AS n_suppliers_extra,
        c.top1_partner AS top_supplier,
        c.top1_value / nullif(c.allocated_value, 0) AS top_supplier_share,
        c.top1_value AS top_supplier_value,
        coalesce(c.allocated_value, 0) AS m_extra,
        p.m_intra,
        p.x_extra,
        coalesce(c.allocated_value, 0) / nullif(coalesce(c.allocated_value, 0) + p.m_intra, 0) AS extra_eu_import_share,
        coalesce(c.allocated_value, 0) / nullif(p.x_extra, 0) AS import_export_ratio,
        getvariable('ec_c1_hhi') AS c1_threshold,
        getvariable('ec_c2_extra_share') AS c2_threshold,
        getvariable('ec_c3_import_export_ratio') AS c3_threshold,
        w.bloc_members,
        CASE WHEN p.reporter = 'EU27' THEN w.months_in_window END AS bloc_months_min,
        CASE WHEN p.reporter = 'EU27' THEN w.bloc_members = 27 AND w.months_in_window = 12 END AS bloc_complete,
        source_caveat(p.source, p.reporter) AS caveat,
        array_to_string(list_transform(p.releases, lambda i: n.names[i]), '; ') AS release,
        p.synthetic,
        p.converted_split
    FROM window_products AS p
    JOIN windows AS w USING (source, reporter, end_index)
    LEFT JOIN concentration AS c USING (source, reporter, end_index, product_code)
    LEFT JOIN staging.product_domains AS d ON d.code = p.product_code AND d.domain_rank = 1
    CROSS JOIN release_list AS n
),
flagged AS (
    SELECT
        *,
        ec_screened(m_extra, x_extra) AS screened,
        ec_c1_concentration(hhi_extra, c1_threshold) AS c1_concentration,
        ec_c2_importance(extra_eu_import_share, c2_threshold) AS c2_importance,
        ec_c3_substitutability(m_extra, x_extra, import_export_ratio, c3_threshold) AS c3_substitutability,
        months_in_window = 12 AS window_complete
    FROM criteria
)
SELECT
    *,
    ec_dependent(c1_concentration, c2_importance, c3_substitutability, bloc_complete) AND window_complete
        AS dependent,
    ec_dependent(c1_concentration, c2_importance, c3_substitutability, bloc_complete) AND window_complete
        AND converted_split AS split_dependent
FROM flagged
