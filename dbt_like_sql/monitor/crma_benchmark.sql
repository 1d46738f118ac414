-- The import side of the Critical Raw Materials Act benchmark (Regulation (EU) 2024/1252, Art. 5(1)(d):
-- by 2030 no more than 65% of the Union's annual consumption of each strategic raw material, at any
-- stage of processing, from a single third country), methodology section 8. Per strategic raw
-- material and processing stage (reference.crma_materials: each stage's HS 2022 codes, with
-- provenance in data/reference/PROVENANCE.md), source and year, for the EU27 bloc on its extra-EU
-- imports and for the Netherlands on its non-EU imports:
--   m_extra           the stage's codes summed: imports from non-EU country partners (M_extra of the EC
--                     screen, summed over the codes; unallocated partners are not in it)
--   top_supplier      the largest third country of those imports (ties to the highest code);
--   top_share         its share of them; top_supplier_value its value; n_suppliers_extra the third
--                     countries with a positive value
--   over_benchmark    top_share > {crma_benchmark}, and only for a complete year (a year of 12
--                     months; for EU27 a complete bloc, section 5): an incomplete year shows its share,
--                     never the flag
--   benchmark_gap     top_share - crma_benchmark (the distance to the benchmark; > 0 is over it)
--   top_share_3y_before, top_share_change_3y  the same key's top_share three calendar years before and
--                     the change since (null when that year has no row)
-- Import side only: the Act's benchmark is on consumption, which trade alone does not give. A code that
-- also covers other goods (shared_with in the mapping, e.g. 811292 gallium with germanium, indium,
-- niobium and vanadium) counts whole, so such a stage's figures are an upper bound: codes_shared
-- counts them. Products are on the target edition's axis (default HS 2022), like the mapping.
-- caveat: the quasi-transit warning on the Netherlands' Comext rows (section 10).
-- release and synthetic: the import rows behind the row.
-- access: restricted
-- sheet: CRMA benchmark; order 8
-- report: crma
-- methodology: 8 Beyond the single-step screen (CRMA benchmark)
-- grain: source, reporter, year, material, stage
-- check share_bounds: top_share > 0 AND top_share <= 1 + 1e-9 AND top_supplier_value <= m_extra
-- check benchmark_consistent: over_benchmark = (top_share > benchmark AND year_complete)
WITH mapping AS (
    SELECT material, stage, hs6, nullif(shared_with, '') IS NOT NULL AS shared
    FROM reference.crma_materials
),
rows AS (
    SELECT f.source, f.currency, f.reporter, f.year, m.material, m.stage, f.product_code_target AS hs6,
           m.shared, f.partner, f.value, f.releases, f.synthetic
    FROM staging.annual_flows AS f
    JOIN mapping AS m ON m.hs6 = f.product_code_target
    WHERE f.flow = 'import' AND f.partner_role = 'external' AND NOT f.partner_in_eu
      AND f.reporter IN ('EU27', 'NLD')
),
by_supplier AS (
    SELECT source, currency, reporter, year, material, stage, partner, sum(value) AS value
    FROM rows
    GROUP BY ALL
),
stage_totals AS (
    SELECT
        source, currency, reporter, year, material, stage,
        sum(value) FILTER (WHERE value > 0) AS m_extra,
        count(*) FILTER (WHERE value > 0) AS n_suppliers_extra,
        arg_max(partner, (value, partner)) AS top_supplier,
        max(value) AS top_supplier_value
    FROM by_supplier
    GROUP BY ALL
    HAVING sum(value) FILTER (WHERE value > 0) > 0
),
provenance AS (
    SELECT source, reporter, year, material, stage,
           count(DISTINCT hs6) AS codes_traded,
           count(DISTINCT hs6) FILTER (WHERE shared) AS codes_shared,
           array_to_string(list_sort(list_distinct(flatten(list(releases)))), '; ') AS release,
           bool_or(synthetic) AS synthetic
    FROM rows
    GROUP BY ALL
),
shares AS (
    SELECT
        t.*, p.codes_traded, p.codes_shared,
        t.top_supplier_value / t.m_extra AS top_share,
        getvariable('crma_benchmark') AS benchmark,
        y.months_covered, y.year_complete,
        source_caveat(t.source, t.reporter) AS caveat,
        p.release, p.synthetic
    FROM stage_totals AS t
    JOIN provenance AS p USING (source, reporter, year, material, stage)
    JOIN staging.reporter_years AS y USING (source, reporter, year)
)
SELECT
    s.source, s.currency, s.reporter, s.year, s.material, s.stage,
    s.m_extra, s.n_suppliers_extra, s.top_supplier, s.top_supplier_value, s.top_share, s.benchmark,
    s.top_share > s.benchmark AND s.year_complete AS over_benchmark,
    s.top_share - s.benchmark AS benchmark_gap,
    b.top_share AS top_share_3y_before,
    s.top_share - b.top_share AS top_share_change_3y,
    s.codes_traded, s.codes_shared, s.months_covered, s.year_complete, s.caveat, s.release, s.synthetic
FROM shares AS s
LEFT JOIN shares AS b
    ON b.source = s.source AND b.reporter = s.reporter AND b.year = s.year - 3
   AND b.material = s.material AND b.stage = s.stage
