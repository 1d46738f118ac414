-- Import concentration (HHI) per reporter, year and product group, exactly as
-- methodology section 4: shares over allocated country suppliers with value > 0;
-- for the EU27 bloc only extra-EU suppliers count (section 5).
-- Product groups: HS6, HS4, HS2 and strategic domain (longest matching prefix of
-- reference.strategic_domains); a group's HHI is computed on partner values summed
-- over the group, never as an average of member HHIs. Confidential codes such as
-- 39XXXXXX count only at the levels their leading digits reach.
-- unallocated_value is the value with unspecified/confidential/special partners plus,
-- where a World total exists, whatever of it no partner row accounts for (never < 0).
-- hhi is on the 0..1 scale (presentation may multiply by 10,000); it is null when a
-- group has no supplier, e.g. an EU product imported only from member states.
-- grain: source, reporter, year, product_level, product_code
-- check hhi_bounds: n_suppliers = 0 AND hhi IS NULL OR hhi BETWEEN 1.0 / n_suppliers - 1e-9 AND 1 + 1e-9
-- check shares_ordered: n_suppliers = 0 OR top1_share <= top3_share + 1e-12 AND top3_share <= 1 + 1e-9 AND top1_share >= hhi - 1e-9
-- check unallocated_not_negative: unallocated_value >= 0
WITH flows AS (
    SELECT * FROM staging.annual_imports WHERE partner_role IN ('supplier', 'internal', 'unallocated', 'world')
),
product_digits AS (
    SELECT DISTINCT coalesce(product_code, hs4, hs2) AS digits FROM flows
),
product_domain AS (
    -- longest prefix wins: a 6-digit entry overrides its 4- and 2-digit parents
    SELECT d.digits, arg_max(s.domain, length(s.hs_prefix)) AS domain
    FROM product_digits AS d
    JOIN reference.strategic_domains AS s ON starts_with(d.digits, s.hs_prefix)
    GROUP BY d.digits
),
levels AS (
    SELECT f.*, 'HS6' AS product_level, f.product_code AS group_code FROM flows AS f WHERE f.product_code IS NOT NULL
    UNION ALL
    SELECT f.*, 'HS4', f.hs4 FROM flows AS f WHERE f.hs4 IS NOT NULL
    UNION ALL
    SELECT f.*, 'HS2', f.hs2 FROM flows AS f WHERE f.hs2 IS NOT NULL
    UNION ALL
    SELECT f.*, 'domain', pd.domain
    FROM flows AS f JOIN product_domain AS pd ON pd.digits = coalesce(f.product_code, f.hs4, f.hs2)
),
by_partner AS (
    SELECT source, currency, reporter, year, product_level, group_code, partner, partner_role,
           sum(value) AS v,
           any_value(months_covered) AS months_covered, any_value(bloc_members) AS bloc_members,
           any_value(release) AS release, any_value(synthetic) AS synthetic
    FROM levels
    GROUP BY source, currency, reporter, year, product_level, group_code, partner, partner_role
),
groups AS (
    SELECT
        source, currency, reporter, year, product_level, group_code AS product_code,
        count(*) FILTER (WHERE partner_role = 'supplier' AND v > 0) AS n_suppliers,
        coalesce(sum(v) FILTER (WHERE partner_role = 'supplier' AND v > 0), 0) AS allocated_value,
        sum(v * v) FILTER (WHERE partner_role = 'supplier' AND v > 0) AS sum_sq,
        -- ties broken by partner code so reruns give the same top supplier
        arg_max(partner, (v, partner)) FILTER (WHERE partner_role = 'supplier' AND v > 0) AS top1_partner,
        max(v) FILTER (WHERE partner_role = 'supplier' AND v > 0) AS top1_value,
        list_sum(max(v, 3) FILTER (WHERE partner_role = 'supplier' AND v > 0)) AS top3_value,
        coalesce(sum(v) FILTER (WHERE partner_role = 'unallocated'), 0) AS explicit_unallocated,
        coalesce(sum(v) FILTER (WHERE partner_role = 'internal'), 0) AS internal_value,
        sum(v) FILTER (WHERE partner_role = 'world') AS world_value,
        coalesce(sum(v) FILTER (WHERE partner_role <> 'world'), 0) AS partner_rows_value,
        any_value(months_covered) AS months_covered,
        any_value(bloc_members) AS bloc_members,
        any_value(release) AS release,
        bool_or(synthetic) AS synthetic
    FROM by_partner
    GROUP BY ALL
),
measured AS (
    SELECT
        *,
        sum_sq / (allocated_value * allocated_value) AS hhi,
        explicit_unallocated
            + greatest(coalesce(world_value - partner_rows_value, 0), 0) AS unallocated_value
    FROM groups
)
SELECT
    source, currency, reporter, year, product_level, product_code,
    n_suppliers,
    hhi,
    1 / hhi AS equivalent_suppliers,
    CASE WHEN n_suppliers > 1 THEN (hhi - 1.0 / n_suppliers) / (1 - 1.0 / n_suppliers) END AS hhi_normalized,
    top1_partner,
    top1_value / nullif(allocated_value, 0) AS top1_share,
    top3_value / nullif(allocated_value, 0) AS top3_share,
    allocated_value,
    unallocated_value,
    unallocated_value / nullif(allocated_value + unallocated_value, 0) AS unallocated_share,
    unallocated_value / nullif(allocated_value + unallocated_value, 0)
        > getvariable('low_confidence_unallocated_share') AS low_confidence,
    internal_value,
    months_covered,
    bloc_members,
    release,
    synthetic
FROM measured
