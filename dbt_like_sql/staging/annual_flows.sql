-- Annual imports and exports by partner, for every reporter and for the EU27 bloc: the
-- single input of every concentration and dependence figure (methodology sections 4-7).
-- Detail rows only (HS6 for Comtrade, CN8 for Comext), so no total is added to its parts.
-- Annual or monthly (methodology section 5): a reporter-year-flow-product (product_code_native)
-- takes its annual rows where the source gives them, else the sum of its months; one key never
-- mixes the two, and another key's annual rows never drop this key's months.
-- Aggregate reporters (Comtrade 97 EU and the like) are left out: they are no importer or
-- exporter in any screen, and summing them would count their members twice.
-- The EU27 bloc sums the 27 member states (EU27_2020 composition for every year) or
-- takes Comext's EU27_2020 reporter rows where those exist for the flow, product and
-- year, never both (bloc_basis says which). partner_role says how each partner counts:
--   external    a country outside the reporter (outside the EU for the bloc): in the HHI
--   internal    for the bloc, a member state partner (intra-EU trade)
--   self        the reporter itself (re-imports), or for the bloc a member state's trade with
--               itself: neither a supplier nor intra-EU trade (section 3)
--   unallocated unspecified, confidential or special partners
--   world       the World total, used to find value not allocated to any partner
--   aggregate   other partner groups, never used (they would double count)
--   leftover    partner LEFTOVER: per reporter (per member state for the bloc), import flow and
--               product (its target HS6 code, else its native code), what of the World total no
--               partner row accounts for, floored at 0 there (section 4); the part by which the
--               partner rows exceed World is in leftover_above_world, and world_missing is 1 where
--               the product has import rows but no World total. Summed over members for the bloc,
--               so the floor applies per member and never nets one product against another.
-- partner_in_eu marks partners inside the EU: EU27 member states, and Comext's intra-EU
-- non-country codes QR, QV and QY (section 3), which count as intra-EU imports, not as
-- unallocated value of an extra-EU figure.
-- releases (sorted, distinct) and synthetic say what each row rests on (section 10).
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
-- One row per source, reporter, year, flow, partner, partner_role (a bloc member's trade with
-- itself is 'self', another member's imports from it 'internal'), product_code_native and product_code_target
-- (null for codes without six digits), checked by the assert unique_key.
-- partition: year
-- check key_not_null: source IS NOT NULL AND reporter IS NOT NULL AND year IS NOT NULL AND flow IS NOT NULL AND partner IS NOT NULL AND product_code_native IS NOT NULL
-- assert unique_key: SELECT source, reporter, year, flow, partner, partner_role, product_code_native, product_code_target, count(*) AS n FROM staging.annual_flows GROUP BY ALL HAVING count(*) > 1
-- check known_role: partner_role IS NOT NULL
-- check non_negative_value: value IS NULL OR value >= 0
-- check split_part: (converted_split OR value_from_split = 0) AND (value_from_split IS NULL OR value_from_split BETWEEN 0 AND value)
-- warn on_target_axis: partner_role = 'leftover' OR hs_edition IS NULL OR hs_edition IN ('mixed', 'H' || getvariable('hs_target_edition')) OR product_code IS NULL OR EXISTS (SELECT 1 FROM staging.hs_conversion AS c WHERE c.hs_edition = annual_flows.hs_edition AND c.product_code = annual_flows.product_code AND c.product_code_target = annual_flows.product_code_target)
WITH release_names AS (
    -- each release text once, numbered in its sort order: the rows below carry the number, so the
    -- long text is not held in every intermediate row, and lists of numbers sort as the texts do
    SELECT release, row_number() OVER (ORDER BY release)::INTEGER AS release_id
    FROM (SELECT DISTINCT release FROM staging.trade_flows WHERE release IS NOT NULL)
),
release_list AS (
    SELECT coalesce(list(release ORDER BY release_id), []) AS names FROM release_names
),
detail AS NOT MATERIALIZED (
    -- read again by each of its readers rather than held: at one world year it is 24M rows
    SELECT t.source, t.currency, t.reporter, t.year, t.flow, t.partner, t.partner_kind, t.product_code_native,
           t.product_code, t.hs4, t.hs2, t.hs_edition, t.freq, r.release_id AS release, t.value, t.synthetic
    FROM staging.trade_flows AS t
    LEFT JOIN release_names AS r ON r.release = t.release
    WHERE t.flow IN ('import', 'export') AND t.is_detail AND t.reporter_kind IS DISTINCT FROM 'aggregate'
),
annual_keys AS (
    SELECT DISTINCT source, reporter, year, flow, product_code_native FROM detail WHERE freq = 'A'
),
monthly_by_release AS (
    -- the months of keys without annual rows, one row per release first: a DISTINCT list
    -- aggregate keeps a set per group, which took minutes at one world year (SF1)
    SELECT
        d.source, d.currency, d.reporter, d.year, d.flow, d.partner, d.partner_kind,
        d.product_code_native, d.product_code, d.hs4, d.hs2, d.hs_edition, d.release,
        sum(d.value) AS value, bool_or(d.synthetic) AS synthetic
    FROM detail AS d
    ANTI JOIN annual_keys AS k USING (source, reporter, year, flow, product_code_native)
    WHERE d.freq = 'M'
    GROUP BY ALL
),
annual_reported AS (
    -- per reporter-year-flow-product: its annual rows where it has any (one row per partner: the
    -- grain of staging.trade_flows), else the sum of its months
    SELECT
        source, currency, reporter, year, flow, partner, partner_kind,
        product_code_native, product_code, hs4, hs2, hs_edition,
        value, [release] AS releases, synthetic
    FROM detail
    WHERE freq = 'A'
    UNION ALL
    SELECT
        source, currency, reporter, year, flow, partner, partner_kind,
        product_code_native, product_code, hs4, hs2, hs_edition,
        sum(value) AS value, list_sort(list(release)) AS releases, bool_or(synthetic) AS synthetic
    FROM monthly_by_release
    GROUP BY ALL
),
annual AS (
    -- on the target axis: an exact mapping (at most one row of hs_conversion once splits are
    -- left out) or a split (its weighted targets), never both; otherwise the code stays
    SELECT
        a.source, a.currency, a.reporter, a.year, a.flow, a.partner, a.partner_kind,
        a.product_code_native, a.product_code, a.hs4, a.hs2, a.hs_edition, a.releases, a.synthetic,
        coalesce(c.product_code_target, w.product_code_target, a.product_code) AS product_code_target,
        coalesce(w.n_parts > 1, false) AS converted_split,
        -- the part between the cut points, each rounded to 0.001: the parts telescope to the value
        hs_split_part(a.value, w.product_code_target, w.cum_weight_before, w.cum_weight) AS value
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
units AS NOT MATERIALIZED (
    -- every reporter as itself (Comext's own EU27 rows included), and each member state once more as
    -- a unit of the EU27 bloc where Comext's own EU27 rows do not cover the flow and product. Read again
    -- by each reader below rather than held (holding it cost 13 s and 5.7 GB of spill at SF1): the
    -- plain rows and the bloc sums each read one of the two parts, the leftovers both
    SELECT a.*, a.reporter AS unit, CASE WHEN a.reporter = 'EU27' THEN 'eu27_rows' END AS bloc_basis
    FROM annual AS a
    UNION ALL
    SELECT a.* REPLACE ('EU27' AS reporter), a.reporter AS unit, 'members' AS bloc_basis
    FROM annual AS a
    JOIN members AS m ON a.reporter = m.iso3
    ANTI JOIN direct_bloc AS d USING (source, year, flow, product_code_native)
),
classified AS NOT MATERIALIZED (
    SELECT
        u.*,
        CASE
            WHEN u.partner_kind IS NULL THEN NULL
            WHEN u.partner_kind = 'country' AND u.partner = u.unit THEN 'self'
            WHEN u.partner_kind = 'country' AND u.reporter = 'EU27' AND u.partner IN (SELECT iso3 FROM members)
                THEN 'internal'
            WHEN u.partner_kind = 'country' THEN 'external'
            WHEN u.partner = 'WORLD' THEN 'world'
            WHEN u.partner_kind = 'aggregate' THEN 'aggregate'
            ELSE 'unallocated'
        END AS partner_role,
        u.partner IN (SELECT iso3 FROM members)
            OR source_intra_eu_partner(u.source, u.partner) AS partner_in_eu
    FROM units AS u
),
bloc_rows AS (
    -- the member states summed per partner (a member's trade with itself stays apart, as 'self')
    SELECT
        source, currency, 'EU27' AS reporter, year, flow, partner, partner_kind, partner_role, partner_in_eu,
        product_code_native, product_code, hs4, hs2, product_code_target,
        -- Comtrade's member states may report a year in different editions
        CASE WHEN min(hs_edition) = max(hs_edition) THEN min(hs_edition)
             WHEN max(hs_edition) IS NOT NULL THEN 'mixed' END AS hs_edition,
        bool_or(converted_split) AS converted_split,
        sum(value) AS value,
        coalesce(sum(value) FILTER (WHERE converted_split), 0) AS value_from_split,
        list_sort(list_distinct(flatten(list(releases)))) AS releases,
        bool_or(synthetic) AS synthetic,
        'members' AS bloc_basis
    FROM classified
    WHERE bloc_basis = 'members'
    GROUP BY source, currency, year, flow, partner, partner_kind, partner_role, partner_in_eu,
             product_code_native, product_code, hs4, hs2, product_code_target
),
unit_leftovers AS (
    -- per unit (a reporter, or a member state within the bloc), year and imported product: World
    -- against every partner row that is not an aggregate
    SELECT
        source, currency, reporter, unit, year, product_code_target,
        CASE WHEN product_code_target IS NULL THEN product_code_native END AS code_without_hs6,
        sum(value) FILTER (WHERE partner_role = 'world') AS world,
        coalesce(sum(value) FILTER (WHERE partner_role <> 'world'), 0) AS partner_rows,
        any_value(product_code) AS product_code, any_value(hs4) AS hs4, any_value(hs2) AS hs2,
        CASE WHEN min(hs_edition) = max(hs_edition) THEN min(hs_edition)
             WHEN max(hs_edition) IS NOT NULL THEN 'mixed' END AS hs_edition,
        bool_or(converted_split) AS converted_split,
        list_sort(list_distinct(flatten(list(releases)))) AS releases,
        bool_or(synthetic) AS synthetic,
        min(bloc_basis) AS bloc_basis_min, max(bloc_basis) AS bloc_basis_max
    FROM classified
    WHERE flow = 'import' AND partner_role IN ('external', 'internal', 'self', 'unallocated', 'world')
    GROUP BY ALL
),
leftovers AS (
    SELECT
        source, currency, reporter, year, 'import' AS flow, 'LEFTOVER' AS partner, 'leftover' AS partner_kind,
        'leftover' AS partner_role, false AS partner_in_eu,
        coalesce(product_code_target, code_without_hs6) AS product_code_native,
        any_value(product_code) AS product_code, any_value(hs4) AS hs4, any_value(hs2) AS hs2,
        product_code_target,
        CASE WHEN min(hs_edition) = max(hs_edition) THEN min(hs_edition)
             WHEN max(hs_edition) IS NOT NULL THEN 'mixed' END AS hs_edition,
        bool_or(converted_split) AS converted_split,
        coalesce(sum(greatest(world - partner_rows, 0)), 0)::DECIMAL(38, 3) AS value,
        0::DECIMAL(38, 3) AS value_from_split,
        list_sort(list_distinct(flatten(list(releases)))) AS releases,
        bool_or(synthetic) AS synthetic,
        CASE WHEN reporter <> 'EU27' THEN NULL
             WHEN min(bloc_basis_min) = max(bloc_basis_max) THEN min(bloc_basis_min) ELSE 'mixed' END AS bloc_basis,
        coalesce(sum(greatest(partner_rows - world, 0)), 0)::DECIMAL(38, 3) AS leftover_above_world,
        count(*) FILTER (WHERE world IS NULL) AS world_missing
    FROM unit_leftovers
    GROUP BY source, currency, reporter, year, product_code_target, code_without_hs6
)
SELECT
    source, currency, reporter, year, flow, partner, partner_kind, partner_role, partner_in_eu,
    product_code_native, product_code, hs4, hs2, value, bloc_basis, hs_edition, product_code_target,
    converted_split, CASE WHEN converted_split THEN value ELSE 0 END AS value_from_split,
    list_transform(releases, lambda i: names[i]) AS releases, synthetic,
    NULL::DECIMAL(38, 3) AS leftover_above_world, NULL::BIGINT AS world_missing
FROM classified, release_list
WHERE bloc_basis IS DISTINCT FROM 'members'
UNION ALL
SELECT
    source, currency, reporter, year, flow, partner, partner_kind, partner_role, partner_in_eu,
    product_code_native, product_code, hs4, hs2, value, bloc_basis, hs_edition, product_code_target,
    converted_split, value_from_split, list_transform(releases, lambda i: names[i]), synthetic, NULL, NULL
FROM bloc_rows, release_list
UNION ALL
SELECT
    source, currency, reporter, year, flow, partner, partner_kind, partner_role, partner_in_eu,
    product_code_native, product_code, hs4, hs2, value, bloc_basis, hs_edition, product_code_target,
    converted_split, value_from_split, list_transform(releases, lambda i: names[i]), synthetic,
    leftover_above_world, world_missing
FROM leftovers, release_list
