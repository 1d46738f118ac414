-- Import concentration (HHI) per reporter, year and product group, exactly as
-- methodology section 4: shares over allocated country suppliers with value > 0.
-- partner_scope 'all' counts every country but the reporter itself; 'extra_eu' counts
-- only non-EU countries and exists for EU member states and for the EU27 bloc, whose
-- HHI uses extra-EU partners only (section 5).
-- Product groups: HS6, HS4, HS2 and strategic domain (staging.product_domains); a
-- group's HHI is computed on partner values summed over the group, never as an average
-- of member HHIs. Confidential codes such as 39XXXXXX count only at the levels their
-- leading digits reach.
-- unallocated_value is the value with unspecified/confidential/special partners plus,
-- where a World total exists, whatever of it no partner row accounts for (never < 0).
-- internal_value is what the scope leaves out: re-imports, and EU partners for 'extra_eu'.
-- hhi is on the 0..1 scale (presentation may multiply by 10,000); it is null when a
-- group has no supplier, e.g. an EU product imported only from member states.
-- Product codes are on the target edition's axis (hs_target_edition, default HS 2022; see
-- staging.annual_flows), so a product is the same product in every year. converted_split says
-- whether any of the group's value (any partner, World included) was shared out from a code split
-- across HS revisions; value_share_from_split is the part of allocated_value that was, the
-- measure of how much the HHI and shares rest on estimated split weights.
-- partition: year
-- grain: source, reporter, year, product_level, product_code, partner_scope
-- check hhi_bounds: n_suppliers = 0 AND hhi IS NULL OR hhi BETWEEN 1.0 / n_suppliers - 1e-9 AND 1 + 1e-9
-- check shares_ordered: n_suppliers = 0 OR top1_share <= top3_share + 1e-12 AND top3_share <= 1 + 1e-9 AND top1_share >= hhi - 1e-9
-- check unallocated_not_negative: unallocated_value >= 0
-- warn world_total_accounted: world_value IS NULL OR abs(allocated_value + unallocated_value + internal_value - world_value) <= 0.005 * world_value + 1
-- check split_share_bounds: value_share_from_split IS NULL OR value_share_from_split BETWEEN 0 AND 1 AND (converted_split OR value_share_from_split = 0)
-- assert shares_sum_to_one: SELECT s.* FROM (SELECT source, reporter, year, product_code_target AS product_code, sum(value) AS v FROM staging.annual_flows WHERE flow = 'import' AND partner_role = 'external' AND value > 0 AND product_code_target IS NOT NULL AND reporter <> 'EU27' GROUP BY ALL) AS s JOIN monitor.import_concentration AS c ON c.source = s.source AND c.reporter = s.reporter AND c.year = s.year AND c.product_code = s.product_code AND c.product_level = 'HS6' AND c.partner_scope = 'all' WHERE abs(s.v / c.allocated_value - 1) > 1e-9
-- assert eu27_equals_member_sum: SELECT b.* FROM monitor.import_concentration AS b JOIN (SELECT c.source, c.year, c.product_level, c.product_code, sum(c.allocated_value) AS v FROM monitor.import_concentration AS c JOIN reference.eu_members AS m ON m.iso3 = c.reporter AND m.in_eu27_2020 WHERE c.partner_scope = 'extra_eu' GROUP BY ALL) AS s USING (source, year, product_level, product_code) WHERE b.reporter = 'EU27' AND b.bloc_basis = 'members' AND abs(b.allocated_value - s.v) > 1e-6 * greatest(s.v, 1)
WITH flows AS (
    -- only what varies within a reporter-year: its currency, months, bloc members, release and
    -- synthetic flag are joined once per output row (staging.reporter_years), not carried
    -- through both aggregations
    SELECT
        source, reporter, year, partner, partner_role, partner_in_eu, value, value_from_split,
        converted_split, bloc_basis,
        -- the target edition's code, heading and chapter (codes without six digits keep theirs)
        product_code_target AS product_code,
        coalesce(left(product_code_target, 4), hs4) AS hs4,
        coalesce(left(product_code_target, 2), hs2) AS hs2
    FROM staging.annual_flows
    WHERE flow = 'import' AND partner_role IN ('external', 'internal', 'unallocated', 'world')
),
year_info AS (
    SELECT source, reporter, year, currency, months_covered, bloc_members, release, synthetic
    FROM staging.reporter_years
),
levels AS (
    SELECT f.*, 'HS6' AS product_level, f.product_code AS group_code FROM flows AS f WHERE f.product_code IS NOT NULL
    UNION ALL
    SELECT f.*, 'HS4', f.hs4 FROM flows AS f WHERE f.hs4 IS NOT NULL
    UNION ALL
    SELECT f.*, 'HS2', f.hs2 FROM flows AS f WHERE f.hs2 IS NOT NULL
    UNION ALL
    SELECT f.*, 'domain', pd.domain
    FROM flows AS f JOIN staging.product_domains AS pd ON pd.code = coalesce(f.product_code, f.hs4, f.hs2)
),
by_partner AS (
    SELECT source, reporter, year, product_level, group_code, partner, partner_role, partner_in_eu,
           sum(value) AS v,
           sum(value_from_split) AS v_split,
           bool_or(converted_split) AS any_split,
           any_value(bloc_basis) AS bloc_basis
    FROM levels
    GROUP BY source, reporter, year, product_level, group_code, partner, partner_role, partner_in_eu
),
scoped AS (
    -- 'all': every country but the reporter; the bloc has no 'all' (its members are internal)
    SELECT *, 'all' AS partner_scope, partner_role = 'external' AS is_supplier
    FROM by_partner WHERE reporter <> 'EU27'
    UNION ALL
    SELECT *, 'extra_eu', partner_role = 'external' AND NOT partner_in_eu
    FROM by_partner
    WHERE reporter = 'EU27' OR reporter IN (SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020)
),
aggregated AS (
    SELECT
        source, reporter, year, product_level, group_code AS product_code, partner_scope,
        count(*) FILTER (WHERE is_supplier AND v > 0) AS n_suppliers,
        coalesce(sum(v) FILTER (WHERE is_supplier AND v > 0), 0) AS allocated_value,
        sum(v * v) FILTER (WHERE is_supplier AND v > 0) AS sum_sq,
        -- ties broken by partner code so reruns give the same top supplier
        arg_max(partner, (v, partner)) FILTER (WHERE is_supplier AND v > 0) AS top1_partner,
        max(v) FILTER (WHERE is_supplier AND v > 0) AS top1_value,
        list_sum(max(v, 3) FILTER (WHERE is_supplier AND v > 0)) AS top3_value,
        coalesce(sum(v) FILTER (WHERE partner_role = 'unallocated'), 0) AS explicit_unallocated,
        coalesce(sum(v) FILTER (WHERE partner_role IN ('external', 'internal') AND NOT is_supplier), 0)
            AS internal_value,
        sum(v) FILTER (WHERE partner_role = 'world') AS world_value,
        coalesce(sum(v) FILTER (WHERE partner_role <> 'world'), 0) AS partner_rows_value,
        coalesce(sum(v_split) FILTER (WHERE is_supplier AND v > 0), 0) AS allocated_from_split,
        bool_or(any_split) AS converted_split,
        any_value(bloc_basis) AS bloc_basis
    FROM scoped
    GROUP BY ALL
),
groups AS (
    SELECT a.*, y.currency, y.months_covered, y.bloc_members, y.release, y.synthetic
    FROM aggregated AS a JOIN year_info AS y USING (source, reporter, year)
),
measured AS (
    SELECT
        *,
        sum_sq / (allocated_value * allocated_value) AS hhi,
        explicit_unallocated + greatest(coalesce(world_value - partner_rows_value, 0), 0) AS unallocated_value
    FROM groups
)
SELECT
    source, currency, reporter, year, product_level, product_code, partner_scope,
    n_suppliers,
    hhi,
    1 / hhi AS equivalent_suppliers,
    CASE WHEN n_suppliers > 1 THEN (hhi - 1.0 / n_suppliers) / (1 - 1.0 / n_suppliers) END AS hhi_normalized,
    top1_partner,
    top1_value,
    top1_value / nullif(allocated_value, 0) AS top1_share,
    top3_value / nullif(allocated_value, 0) AS top3_share,
    allocated_value,
    unallocated_value,
    unallocated_value / nullif(allocated_value + unallocated_value, 0) AS unallocated_share,
    unallocated_value / nullif(allocated_value + unallocated_value, 0)
        > getvariable('low_confidence_unallocated_share') AS low_confidence,
    internal_value,
    world_value,
    months_covered,
    bloc_members,
    bloc_basis,
    release,
    synthetic,
    converted_split,
    CASE WHEN allocated_value > 0 THEN allocated_from_split / allocated_value END AS value_share_from_split
FROM measured
