-- Import concentration (HHI) per reporter, year and product group, exactly as
-- methodology section 4: shares over allocated country suppliers with value > 0.
-- partner_scope 'all' counts every country but the reporter itself; 'extra_eu' counts
-- only non-EU countries and exists for EU member states and for the EU27 bloc, whose
-- HHI uses extra-EU partners only (section 5).
-- Product groups: HS6, HS4, HS2 and strategic domain (staging.product_domains); a
-- group's HHI is computed on partner values summed over the group, never as an average
-- of member HHIs. Confidential codes such as 39XXXXXX count only at the levels their
-- leading digits reach.
-- unallocated_value is the value with unspecified/confidential/special partners (in 'extra_eu'
-- only the extra-EU and scope-free codes: Comext's intra-EU QR/QV/QY are intra-EU imports) plus
-- the World leftover of staging.annual_flows, floored per reporter and product (per member state
-- for the bloc) before it is summed, so it is additive over products and members (section 4).
-- partner_rows_above_world is the other side of that leftover: by how much partner rows exceed
-- the World total, summed the same way; it is a discrepancy in the source, never netted.
-- world_value is the sum of the group's World totals, null when any of its products (of any
-- member for the bloc) has import rows but no World total; where it is known,
-- allocated + unallocated + internal = world_value + partner_rows_above_world exactly.
-- internal_value is what the scope leaves out: re-imports (a member's trade with itself for the
-- bloc), and EU partners and intra-EU codes for 'extra_eu'.
-- months_covered, bloc_members, bloc_months_min, bloc_complete, year_complete (12 months; for the bloc
-- bloc_complete): see staging.reporter_years.
-- bloc_basis: for EU27, 'members', 'eu27_rows' or 'mixed' (Comext's own EU27 rows for some codes).
-- release and synthetic: every input row behind the group (section 10). caveat: the
-- quasi-transit warning on the Netherlands' Comext rows (section 10).
-- hhi is on the 0..1 scale (presentation may multiply by 10,000); it is null when a
-- group has no supplier, e.g. an EU product imported only from member states.
-- Product codes are on the target edition's axis (hs_target_edition, default HS 2022; see
-- staging.annual_flows), so a product is the same product in every year. converted_split says
-- whether any of the group's value (any partner, World included) was shared out from a code split
-- across HS revisions; value_share_from_split is the part of allocated_value that was, the
-- measure of how much the HHI and shares rest on estimated split weights.
-- access: public
-- methodology: 4 Import concentration; 5 The EU as one bloc
-- partition: year
-- grain: source, reporter, year, product_level, product_code, partner_scope
-- check hhi_bounds: n_suppliers = 0 AND hhi IS NULL OR hhi BETWEEN 1.0 / n_suppliers - 1e-9 AND 1 + 1e-9
-- check shares_ordered: n_suppliers = 0 OR top1_share <= top3_share + 1e-12 AND top3_share <= 1 + 1e-9 AND top1_share >= hhi - 1e-9
-- check unallocated_not_negative: unallocated_value >= 0
-- check world_total_accounted: world_value IS NULL OR allocated_value + unallocated_value + internal_value = world_value + partner_rows_above_world
-- check bloc_columns: (reporter = 'EU27') = (bloc_complete IS NOT NULL)
-- check split_share_bounds: value_share_from_split IS NULL OR value_share_from_split BETWEEN 0 AND 1 AND (converted_split OR value_share_from_split = 0)
-- assert shares_sum_to_one: SELECT s.* FROM (SELECT source, reporter, year, product_code_target AS product_code, sum(value) AS v FROM staging.annual_flows WHERE flow = 'import' AND partner_role = 'external' AND value > 0 AND product_code_target IS NOT NULL AND reporter <> 'EU27' GROUP BY ALL) AS s JOIN monitor.import_concentration AS c ON c.source = s.source AND c.reporter = s.reporter AND c.year = s.year AND c.product_code = s.product_code AND c.product_level = 'HS6' AND c.partner_scope = 'all' WHERE abs(s.v / c.allocated_value - 1) > 1e-9
-- assert eu27_equals_member_sum: SELECT b.* FROM monitor.import_concentration AS b JOIN (SELECT c.source, c.year, c.product_level, c.product_code, sum(c.allocated_value) AS v FROM monitor.import_concentration AS c JOIN reference.eu_members AS m ON m.iso3 = c.reporter AND m.in_eu27_2020 WHERE c.partner_scope = 'extra_eu' GROUP BY ALL) AS s USING (source, year, product_level, product_code) WHERE b.reporter = 'EU27' AND b.bloc_basis = 'members' AND abs(b.allocated_value - s.v) > 1e-6 * greatest(s.v, 1)
-- assert unallocated_additive_over_products: SELECT g.source, g.reporter, g.year, g.product_code, g.partner_scope FROM monitor.import_concentration AS g JOIN (SELECT source, reporter, year, left(product_code, 4) AS hs4, partner_scope, sum(unallocated_value) AS u, sum(partner_rows_above_world) AS a FROM monitor.import_concentration WHERE product_level = 'HS6' GROUP BY ALL) AS s ON s.source = g.source AND s.reporter = g.reporter AND s.year = g.year AND s.hs4 = g.product_code AND s.partner_scope = g.partner_scope WHERE g.product_level = 'HS4' AND (g.unallocated_value < s.u OR g.partner_rows_above_world < s.a)
-- assert unallocated_additive_over_members: SELECT b.source, b.year, b.product_level, b.product_code FROM monitor.import_concentration AS b JOIN (SELECT c.source, c.year, c.product_level, c.product_code, sum(c.unallocated_value) AS u, sum(c.partner_rows_above_world) AS a FROM monitor.import_concentration AS c JOIN reference.eu_members AS m ON m.iso3 = c.reporter AND m.in_eu27_2020 WHERE c.partner_scope = 'extra_eu' GROUP BY ALL) AS s USING (source, year, product_level, product_code) WHERE b.reporter = 'EU27' AND b.bloc_basis = 'members' AND (b.unallocated_value <> s.u OR b.partner_rows_above_world <> s.a)
WITH flows AS NOT MATERIALIZED (
    -- read again by each level and by the release pairs rather than held: a copy of every import row
    -- with its release list cost 6 GB of spill at one world year (SF1 build 16.2 -> 12.8 s)
    SELECT
        source, reporter, year, partner, partner_role, partner_in_eu, value, value_from_split,
        converted_split, bloc_basis, releases, synthetic, leftover_above_world, world_missing,
        -- the target edition's code, heading and chapter (codes without six digits keep theirs)
        product_code_target AS product_code,
        coalesce(left(product_code_target, 4), hs4) AS hs4,
        coalesce(left(product_code_target, 2), hs2) AS hs2
    FROM staging.annual_flows
    WHERE flow = 'import' AND partner_role IN ('external', 'internal', 'self', 'unallocated', 'world', 'leftover')
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
           min(bloc_basis) AS bloc_basis_min,
           max(bloc_basis) AS bloc_basis_max,
           bool_or(synthetic) AS synthetic,
           sum(leftover_above_world) AS above_world,
           sum(world_missing) AS world_missing
    FROM levels
    GROUP BY source, reporter, year, product_level, group_code, partner, partner_role, partner_in_eu
),
scoped AS (
    -- 'all': every country but the reporter; the bloc has no 'all' (its members are internal).
    -- 'extra_eu': countries outside the EU; intra-EU codes are intra-EU trade, not unallocated
    SELECT *, 'all' AS partner_scope, partner_role = 'external' AS is_supplier,
           partner_role IN ('unallocated', 'leftover') AS is_unallocated
    FROM by_partner WHERE reporter <> 'EU27'
    UNION ALL
    SELECT *, 'extra_eu', partner_role = 'external' AND NOT partner_in_eu,
           partner_role = 'leftover' OR partner_role = 'unallocated' AND NOT partner_in_eu
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
        coalesce(sum(v) FILTER (WHERE is_unallocated), 0) AS unallocated_value,
        coalesce(sum(v) FILTER (WHERE partner_role IN ('external', 'internal', 'self', 'unallocated')
                                  AND NOT is_supplier AND NOT is_unallocated), 0) AS internal_value,
        CASE WHEN coalesce(sum(world_missing), 0) = 0 THEN sum(v) FILTER (WHERE partner_role = 'world') END
            AS world_value,
        coalesce(sum(above_world), 0) AS partner_rows_above_world,
        coalesce(sum(v_split) FILTER (WHERE is_supplier AND v > 0), 0) AS allocated_from_split,
        bool_or(any_split) AS converted_split,
        CASE WHEN min(bloc_basis_min) = max(bloc_basis_max) THEN min(bloc_basis_min)
             WHEN max(bloc_basis_max) IS NOT NULL THEN 'mixed' END AS bloc_basis,
        bool_or(synthetic) AS synthetic
    FROM scoped
    GROUP BY ALL
),
release_pairs AS (
    -- the releases of a group's flows, as (group, release) pairs rather than a list per partner row:
    -- list states in the aggregations above ran a world year out of a 2 GB memory limit
    SELECT DISTINCT source, reporter, year, product_code, hs4, hs2, unnest(releases) AS release FROM flows
),
release_levels AS (
    SELECT DISTINCT source, reporter, year, product_level, group_code, release
    FROM (
        SELECT r.*, 'HS6' AS product_level, r.product_code AS group_code FROM release_pairs AS r
        WHERE r.product_code IS NOT NULL
        UNION ALL
        SELECT r.*, 'HS4', r.hs4 FROM release_pairs AS r WHERE r.hs4 IS NOT NULL
        UNION ALL
        SELECT r.*, 'HS2', r.hs2 FROM release_pairs AS r WHERE r.hs2 IS NOT NULL
        UNION ALL
        SELECT r.*, 'domain', pd.domain
        FROM release_pairs AS r JOIN staging.product_domains AS pd ON pd.code = coalesce(r.product_code, r.hs4, r.hs2)
    )
    WHERE release IS NOT NULL
),
releases AS (
    SELECT source, reporter, year, product_level, group_code AS product_code,
           string_agg(release, '; ' ORDER BY release) AS release
    FROM release_levels
    GROUP BY ALL
)
SELECT
    a.source, y.currency, a.reporter, a.year, a.product_level, a.product_code, a.partner_scope,
    a.n_suppliers,
    a.sum_sq / (a.allocated_value * a.allocated_value) AS hhi,
    1 / (a.sum_sq / (a.allocated_value * a.allocated_value)) AS equivalent_suppliers,
    CASE WHEN a.n_suppliers > 1
         THEN (a.sum_sq / (a.allocated_value * a.allocated_value) - 1.0 / a.n_suppliers) / (1 - 1.0 / a.n_suppliers)
    END AS hhi_normalized,
    a.top1_partner,
    a.top1_value,
    a.top1_value / nullif(a.allocated_value, 0) AS top1_share,
    a.top3_value / nullif(a.allocated_value, 0) AS top3_share,
    a.allocated_value,
    a.unallocated_value,
    a.unallocated_value / nullif(a.allocated_value + a.unallocated_value, 0) AS unallocated_share,
    a.unallocated_value / nullif(a.allocated_value + a.unallocated_value, 0)
        > getvariable('low_confidence_unallocated_share') AS low_confidence,
    a.internal_value,
    a.world_value,
    a.partner_rows_above_world,
    y.months_covered,
    y.bloc_members,
    y.bloc_months_min,
    y.bloc_complete,
    y.year_complete,
    a.bloc_basis,
    coalesce(r.release, '') AS release,
    a.synthetic,
    -- the source's note on this reporter's rows (registry trait: Comext's NLD quasi-transit)
    source_caveat(a.source, a.reporter) AS caveat,
    a.converted_split,
    CASE WHEN a.allocated_value > 0 THEN a.allocated_from_split / a.allocated_value END AS value_share_from_split
FROM aggregated AS a
JOIN staging.reporter_years AS y USING (source, reporter, year)
LEFT JOIN releases AS r USING (source, reporter, year, product_level, product_code)
