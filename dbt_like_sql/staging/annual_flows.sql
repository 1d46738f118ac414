-- Annual imports and exports by partner, for every reporter and for the EU27 bloc: the
-- single input of every concentration and dependence figure (methodology sections 4-7).
-- Detail rows only (HS6 for Comtrade, CN8 for Comext), so no total is added to its parts.
-- Where a reporter-year has an annual row, months are not added on top of it.
-- The EU27 bloc sums the 27 member states (EU27_2020 composition for every year) or
-- takes Comext's EU27_2020 reporter rows where those exist for the flow, product and
-- year, never both (bloc_basis says which). partner_role says how each partner counts:
--   external    a country outside the reporter (outside the EU for the bloc): in the HHI
--   internal    the reporter itself (re-imports) or, for the bloc, a member state
--   unallocated unspecified, confidential or special partners
--   world       the World total, used to find value not allocated to any partner
--   aggregate   other partner groups, never used (they would double count)
-- partner_in_eu marks EU27 member partners, for the screens that count non-EU partners only.
-- What each reporter-year rests on (months covered, bloc members, release, synthetic) is in
-- staging.reporter_years, once per year rather than on every flow.
-- One product axis across years: product_code, hs4, hs2 and hs_edition are the code as reported
-- (HS 2017 for a reporter in H5, the CN8's first six digits for Comext); product_code_target is
-- the same trade's HS6 code in the target edition (hs_target_edition, default H6 = HS 2022),
-- which every mart uses (its heading and chapter: coalesce(left(product_code_target, 4), hs4),
-- likewise for hs2). A code that maps to one target (1:1 or n:1 in staging.hs_conversion, which
-- says which for each code and target) keeps its whole value. A code that splits (1:n, n:n) gives
-- one row per target, value cut by staging.hs_split_weights, converted_split true and the part
-- also in value_from_split (for the bloc: the member states' split parts summed); a split whose
-- parts but one are negligible (below hs_split_min_weight) maps whole to that one, not flagged.
-- Values stay exact decimals and a code's parts add up to its value exactly. Codes already in
-- the target edition, without six known digits (kept at the heading or chapter they reach),
-- without an HS edition, missing from the correlations, or split too thinly to share out (see
-- staging.hs_split_weights) stay as they are; the last two are off the axis (warning on_target_axis).
-- hs_edition reads 'mixed' for a bloc row whose member states reported different editions.
-- One row per source, reporter, year, flow, partner, product_code_native and product_code_target
-- (null for codes without six digits), checked by the assert unique_key.
-- partition: year
-- check key_not_null: source IS NOT NULL AND reporter IS NOT NULL AND year IS NOT NULL AND flow IS NOT NULL AND partner IS NOT NULL AND product_code_native IS NOT NULL
-- assert unique_key: SELECT source, reporter, year, flow, partner, product_code_native, product_code_target, count(*) AS n FROM staging.annual_flows GROUP BY ALL HAVING count(*) > 1
-- check known_role: partner_role IS NOT NULL
-- check non_negative_value: value IS NULL OR value >= 0
-- check split_part: (converted_split OR value_from_split = 0) AND (value_from_split IS NULL OR value_from_split BETWEEN 0 AND value)
-- warn on_target_axis: hs_edition IS NULL OR hs_edition IN ('mixed', 'H' || getvariable('hs_target_edition')) OR product_code IS NULL OR EXISTS (SELECT 1 FROM staging.hs_conversion AS c WHERE c.hs_edition = annual_flows.hs_edition AND c.product_code = annual_flows.product_code AND c.product_code_target = annual_flows.product_code_target)
WITH by_frequency AS (
    -- annual and monthly rows summed side by side in one pass over the flows
    SELECT
        d.source, d.currency, d.reporter, d.year, d.flow, d.partner, d.partner_kind,
        d.product_code_native, d.product_code, d.hs4, d.hs2, d.hs_edition,
        sum(d.value) FILTER (WHERE d.freq = 'A') AS value_annual,
        count(*) FILTER (WHERE d.freq = 'A') AS n_annual,
        sum(d.value) FILTER (WHERE d.freq = 'M') AS value_monthly,
        count(*) FILTER (WHERE d.freq = 'M') AS n_monthly
    FROM staging.trade_flows AS d
    WHERE d.flow IN ('import', 'export') AND d.is_detail
    GROUP BY ALL
),
annual_reported AS (
    -- a reporter-year's annual rows where it has any, else its months (never both); joined after
    -- the sums, on far fewer rows than the flows
    SELECT
        b.* EXCLUDE (value_annual, n_annual, value_monthly, n_monthly),
        CASE WHEN ry.has_annual THEN b.value_annual ELSE b.value_monthly END AS value
    FROM by_frequency AS b
    JOIN staging.reporter_years AS ry USING (source, reporter, year)
    WHERE CASE WHEN ry.has_annual THEN b.n_annual > 0 ELSE b.n_monthly > 0 END
),
annual AS (
    -- on the target axis: an exact mapping (at most one row of hs_conversion once splits are
    -- left out) or a split (its weighted targets), never both; otherwise the code stays
    SELECT
        a.source, a.currency, a.reporter, a.year, a.flow, a.partner, a.partner_kind,
        a.product_code_native, a.product_code, a.hs4, a.hs2, a.hs_edition,
        coalesce(c.product_code_target, w.product_code_target, a.product_code) AS product_code_target,
        coalesce(w.n_parts > 1, false) AS converted_split,
        -- the part between the cut points, each rounded to 0.001: the parts telescope to the value
        CASE WHEN w.product_code_target IS NULL THEN a.value
             ELSE CASE WHEN w.cum_weight >= 1 THEN a.value
                       ELSE round(a.value * w.cum_weight, 3)::DECIMAL(38, 3) END
                  - CASE WHEN w.cum_weight_before <= 0 THEN 0::DECIMAL(38, 3)
                         ELSE round(a.value * w.cum_weight_before, 3)::DECIMAL(38, 3) END
        END AS value
    FROM annual_reported AS a
    LEFT JOIN staging.hs_conversion AS c
        ON c.hs_edition = a.hs_edition AND c.product_code = a.product_code AND NOT c.converted_split
    LEFT JOIN staging.hs_split_weights AS w
        ON w.source = a.source AND w.reporter = a.reporter AND w.flow = a.flow
       AND w.hs_edition = a.hs_edition AND w.product_code = a.product_code
),
members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
direct_bloc AS (
    SELECT DISTINCT source, year, flow, product_code_native FROM annual WHERE reporter = 'EU27'
),
bloc_from_members AS (
    SELECT
        a.source, a.currency, 'EU27' AS reporter, a.year, a.flow, a.partner, a.partner_kind,
        a.product_code_native, a.product_code, a.hs4, a.hs2, a.product_code_target,
        -- Comtrade's member states may report a year in different editions
        CASE WHEN min(a.hs_edition) = max(a.hs_edition) THEN min(a.hs_edition)
             WHEN max(a.hs_edition) IS NOT NULL THEN 'mixed' END AS hs_edition,
        bool_or(a.converted_split) AS converted_split,
        sum(a.value) AS value,
        coalesce(sum(a.value) FILTER (WHERE a.converted_split), 0) AS value_from_split
    FROM annual AS a
    JOIN members AS m ON a.reporter = m.iso3
    ANTI JOIN direct_bloc AS d USING (source, year, flow, product_code_native)
    GROUP BY a.source, a.currency, a.year, a.flow, a.partner, a.partner_kind, a.product_code_native,
             a.product_code, a.hs4, a.hs2, a.product_code_target
),
all_rows AS (
    SELECT *, CASE WHEN converted_split THEN value ELSE 0 END AS value_from_split,
           CASE WHEN reporter = 'EU27' THEN 'eu27_rows' END AS bloc_basis
    FROM annual
    UNION ALL BY NAME
    SELECT *, 'members' AS bloc_basis FROM bloc_from_members
)
SELECT
    r.source, r.currency, r.reporter, r.year, r.flow, r.partner, r.partner_kind,
    CASE
        WHEN r.partner_kind IS NULL THEN NULL
        WHEN r.partner_kind = 'country' AND (r.partner = r.reporter
             OR (r.reporter = 'EU27' AND r.partner IN (SELECT iso3 FROM members))) THEN 'internal'
        WHEN r.partner_kind = 'country' THEN 'external'
        WHEN r.partner = 'WORLD' THEN 'world'
        WHEN r.partner_kind = 'aggregate' THEN 'aggregate'
        ELSE 'unallocated'
    END AS partner_role,
    r.partner IN (SELECT iso3 FROM members) AS partner_in_eu,
    r.product_code_native, r.product_code, r.hs4, r.hs2, r.value,
    r.bloc_basis, r.hs_edition, r.product_code_target, r.converted_split, r.value_from_split
FROM all_rows AS r
