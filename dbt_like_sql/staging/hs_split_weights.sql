-- How the value of a code that splits across HS revisions (relationship 1:n or n:n in
-- staging.hs_conversion) is shared out over its target-edition codes: one row per series
-- (source, reporter, flow), split code the series reports, and target code that gets a part.
-- weight is the target's part; a code's weights add up to 1. The basis (split_basis), the first
-- that has data:
--   series  the series' own values of the target codes in its basis year: the first year the
--           series reports in the target edition (the last year when converting back to an older
--           edition), over all partners but aggregates (the World row where it reports only World)
--   source  the same from every reporter of the source together (not the EU27 rows, which would
--           count the member states twice) in the source's basis year (its reporters' earliest
--           first year; latest last year backwards), for a series without value in the targets
--   equal   1 / n_targets: no data for either, or hs_split_by_value is false
-- With hs_split_per_source (default true) each target's value is first divided by its n_sources,
-- the number of codes that map to it, so a target that collects from many codes (HS 2022's
-- e-waste heading 8549 takes in 1,019 HS 2017 codes) does not take a large part of each of them;
-- for a plain 1:n split this changes nothing. A target with no value gets no part, nor does
-- one whose part would be below hs_split_min_weight (default 0.01): its share goes to the
-- code's other targets, so a code whose value all but vanishes into many-to-many trickles (8549
-- again) maps whole to its main target. n_parts counts the parts made; with one part the code
-- is not a split in staging.annual_flows (converted_split false). A split too diffuse for any
-- part to reach the minimum (more than 100 equal parts: HS 2022's 8549 taken back to HS 2017
-- with no data to weight it) gets no row: the code stays as reported and annual_flows warns.
-- cum_weight_before and cum_weight bound the target's part on [0, 1] in target-code order; they
-- come from exact decimal sums, the last cum_weight is exactly 1, and staging.annual_flows cuts
-- each value at these points (rounded to 0.001), so the parts add up to the value exactly.
-- One basis year, not the nearest year that has a value: so adding or revising a later year
-- never changes the weights, and so the converted values, of earlier years (which is what lets
-- staging.annual_flows rebuild only the years whose files changed).
-- grain: source, reporter, flow, hs_edition, product_code, product_code_target
-- check weight_bounds: weight > 0 AND weight <= 1 AND cum_weight_before < cum_weight AND cum_weight <= 1
-- check known_basis: split_basis IN ('series', 'source', 'equal') AND (split_basis = 'equal') = (basis_year IS NULL)
-- assert weights_add_up: SELECT source, reporter, flow, hs_edition, product_code FROM staging.hs_split_weights GROUP BY ALL HAVING abs(sum(weight) - 1) > 1e-9 OR max(cum_weight) <> 1 OR min(cum_weight_before) <> 0
WITH split AS (
    SELECT * FROM staging.hs_conversion WHERE converted_split
),
reported AS (
    -- the split codes each series reports, among the rows staging.annual_flows converts
    SELECT DISTINCT t.source, t.reporter, t.flow, t.hs_edition, t.product_code
    FROM staging.trade_flows AS t
    SEMI JOIN split AS c ON c.hs_edition = t.hs_edition AND c.product_code = t.product_code
    WHERE t.flow IN ('import', 'export') AND t.is_detail
),
targets AS (
    SELECT r.*, c.product_code_target, c.n_targets, c.n_sources, c.relationship,
           -- forward (to a newer edition): the first year in the target edition; backward: the last
           CASE WHEN substr(r.hs_edition, 2)::INTEGER < getvariable('hs_target_edition') THEN 1 ELSE -1 END
               AS year_order
    FROM reported AS r
    JOIN split AS c USING (hs_edition, product_code)
),
target_rows AS (
    -- the target-edition rows of those targets (of every reporter of the source, for the pool);
    -- nothing at all when no series reports a split code
    SELECT t.source, t.reporter, t.year, t.freq, t.flow, t.partner, t.partner_kind, t.product_code_native,
           t.product_code, t.value
    FROM staging.trade_flows AS t
    SEMI JOIN (SELECT DISTINCT source, flow, product_code_target FROM targets) AS n
      ON n.source = t.source AND n.flow = t.flow AND n.product_code_target = t.product_code
    -- aggregate reporters (Comtrade 97 EU) would count their members twice in the pool
    WHERE t.is_detail AND t.hs_edition = 'H' || getvariable('hs_target_edition') AND getvariable('hs_split_by_value')
      AND t.reporter_kind IS DISTINCT FROM 'aggregate'
),
basis_years AS (
    SELECT source, reporter, min(year) AS first_year, max(year) AS last_year
    FROM staging.trade_flows
    WHERE is_detail AND flow IN ('import', 'export') AND hs_edition = 'H' || getvariable('hs_target_edition')
    GROUP BY source, reporter
),
source_basis_years AS (
    SELECT source, min(first_year) AS first_year, max(last_year) AS last_year
    FROM basis_years WHERE reporter <> 'EU27'
    GROUP BY source
),
target_values AS (
    -- each series' value of each target in each year, over all partners but aggregates; as in
    -- staging.annual_flows, a product's annual rows where it has them, else its months
    SELECT
        d.source, d.reporter, d.flow, d.year, d.product_code AS product_code_target,
        coalesce(nullif(sum(d.value) FILTER (WHERE d.partner_kind <> 'aggregate'), 0),
                 sum(d.value) FILTER (WHERE d.partner = 'WORLD'), 0) AS value
    FROM (
        SELECT *, bool_or(freq = 'A') OVER (PARTITION BY source, reporter, year, flow, product_code_native)
                  AS key_has_annual
        FROM target_rows
    ) AS d
    WHERE d.freq = CASE WHEN d.key_has_annual THEN 'A' ELSE 'M' END
    GROUP BY ALL
),
pooled_values AS (
    SELECT source, flow, year, product_code_target, sum(value) AS value
    FROM target_values
    WHERE reporter <> 'EU27'
    GROUP BY ALL
),
candidates AS (
    SELECT t.source, t.reporter, t.flow, t.hs_edition, t.product_code, t.product_code_target,
           1 AS basis_rank, v.year, v.value, t.n_sources, t.year_order
    FROM targets AS t
    JOIN target_values AS v
      ON v.source = t.source AND v.reporter = t.reporter AND v.flow = t.flow
     AND v.product_code_target = t.product_code_target
    JOIN basis_years AS b
      ON b.source = t.source AND b.reporter = t.reporter
     AND v.year = CASE WHEN t.year_order = 1 THEN b.first_year ELSE b.last_year END
    UNION ALL
    SELECT t.source, t.reporter, t.flow, t.hs_edition, t.product_code, t.product_code_target,
           2, p.year, p.value, t.n_sources, t.year_order
    FROM targets AS t
    JOIN pooled_values AS p
      ON p.source = t.source AND p.flow = t.flow AND p.product_code_target = t.product_code_target
    JOIN source_basis_years AS b
      ON b.source = t.source AND p.year = CASE WHEN t.year_order = 1 THEN b.first_year ELSE b.last_year END
),
scored AS (
    -- a fixed-point decimal, so the sums below are exact and the same on every run
    SELECT *,
           CASE WHEN getvariable('hs_split_per_source') THEN (value / n_sources)::DECIMAL(38, 9)
                ELSE value::DECIMAL(38, 9) END AS score
    FROM candidates
),
chosen AS (
    -- the best basis with any value in the targets (each has one year)
    SELECT source, reporter, flow, hs_edition, product_code, basis_rank, year, sum(score) AS total
    FROM scored
    GROUP BY source, reporter, flow, hs_edition, product_code, basis_rank, year, year_order
    HAVING sum(score) > 0
    QUALIFY row_number() OVER (PARTITION BY source, reporter, flow, hs_edition, product_code
                               ORDER BY basis_rank, year * year_order) = 1
),
parts AS (
    SELECT
        t.source, t.reporter, t.flow, t.hs_edition, t.product_code, t.product_code_target,
        t.relationship, t.n_targets, t.n_sources,
        CASE ch.basis_rank WHEN 1 THEN 'series' WHEN 2 THEN 'source' ELSE 'equal' END AS split_basis,
        ch.year AS basis_year,
        -- equal parts score 1 each
        CASE WHEN ch.total IS NULL THEN 1 ELSE coalesce(s.score, 0) END::DECIMAL(38, 9) AS score,
        coalesce(ch.total, t.n_targets)::DECIMAL(38, 9) AS total
    FROM targets AS t
    LEFT JOIN chosen AS ch USING (source, reporter, flow, hs_edition, product_code)
    LEFT JOIN scored AS s
      ON s.source = t.source AND s.reporter = t.reporter AND s.flow = t.flow AND s.hs_edition = t.hs_edition
     AND s.product_code = t.product_code AND s.product_code_target = t.product_code_target
     AND s.basis_rank = ch.basis_rank AND s.year = ch.year
),
kept AS (
    -- parts below hs_split_min_weight are not made: their value goes to the code's other targets,
    -- and a code left with one target maps to it whole; a code left with none keeps its code
    SELECT * FROM parts WHERE score > 0 AND score / total >= getvariable('hs_split_min_weight')
),
cumulated AS (
    SELECT
        *,
        sum(score) OVER code_parts AS kept_total,
        count(*) OVER code_parts AS n_parts,
        sum(score) OVER (code_parts ORDER BY product_code_target ROWS UNBOUNDED PRECEDING) AS cum_score
    FROM kept
    WINDOW code_parts AS (PARTITION BY source, reporter, flow, hs_edition, product_code)
)
SELECT
    source, reporter, flow, hs_edition, product_code, product_code_target, relationship,
    n_targets, n_sources, n_parts, split_basis, basis_year,
    score / kept_total AS weight,
    (cum_score - score) / kept_total AS cum_weight_before,
    cum_score / kept_total AS cum_weight
FROM cumulated
