-- Every HS6 code of every HS edition but the target one, with the code(s) it corresponds to in
-- the target edition (parameter hs_target_edition, default H6 = HS 2022): the revisions of
-- reference.hs_correlations chained one edition at a time (H3 -> H4 -> H5 -> H6, or backwards
-- when the target is the older edition). One row per code and target code. relationship is the
-- pair's, read from the code to the target over the whole chain:
--   1:1  one target, and no other code of the edition maps to it      exact
--   n:1  one target that other codes map to as well (a merge)         exact
--   1:n  several targets that only this code maps to (a split)        shared out, see below
--   n:n  several targets, some shared with other codes                shared out, see below
-- converted_split marks 1:n and n:n: their value is shared out over the targets by the weights
-- of staging.hs_split_weights. n_targets counts the code's targets; n_sources counts the codes
-- of the same edition that map to the target. A code missing from the correlations (three dead
-- ends, see data/reference/PROVENANCE.md) has no row: staging.annual_flows keeps it as it is.
-- grain: hs_edition, product_code, product_code_target
-- check split_flag: converted_split = (n_targets > 1) AND relationship IN ('1:1', 'n:1', '1:n', 'n:n')
WITH RECURSIVE steps AS (
    -- each revision in both directions, editions as numbers (H5 -> 5)
    SELECT substr(from_edition, 2)::INTEGER AS edition_from, from_code AS code_from,
           substr(to_edition, 2)::INTEGER AS edition_to, to_code AS code_to
    FROM reference.hs_correlations
    UNION ALL
    SELECT substr(to_edition, 2)::INTEGER, to_code, substr(from_edition, 2)::INTEGER, from_code
    FROM reference.hs_correlations
),
walk AS (
    -- from each code one edition at a time towards the target, and no further
    SELECT DISTINCT edition_from AS start_edition, code_from AS start_code, edition_from AS edition, code_from AS code
    FROM steps
    WHERE edition_from <> getvariable('hs_target_edition')
    UNION
    SELECT w.start_edition, w.start_code, s.edition_to, s.code_to
    FROM walk AS w
    JOIN steps AS s ON s.edition_from = w.edition AND s.code_from = w.code
    WHERE s.edition_to - s.edition_from = sign(getvariable('hs_target_edition') - w.edition)
),
pairs AS (
    SELECT 'H' || start_edition AS hs_edition, start_code AS product_code, code AS product_code_target
    FROM walk
    WHERE edition = getvariable('hs_target_edition')
),
counted AS (
    SELECT
        *,
        count(*) OVER (PARTITION BY hs_edition, product_code) AS n_targets,
        count(*) OVER (PARTITION BY hs_edition, product_code_target) AS n_sources
    FROM pairs
)
SELECT
    hs_edition,
    product_code,
    'H' || getvariable('hs_target_edition') AS target_edition,
    product_code_target,
    CASE WHEN n_sources > 1 THEN 'n' ELSE '1' END || ':' || CASE WHEN n_targets > 1 THEN 'n' ELSE '1' END
        AS relationship,
    n_targets > 1 AS converted_split,
    n_targets,
    n_sources
FROM counted
