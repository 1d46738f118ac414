-- The EU as one bloc versus its 27 member states (methodology section 8), the third countries' side:
-- per source, importing third country, HS6 and year with the partner view (the importer's own import
-- report), its dependence on the EU bloc (monitor.dependence_on_eu: section 7 with the 27 members as one
-- supplier) beside its dependence on any single member state m, by the same rule on m alone:
--   depends on m  m's share of the importer's total imports (its World total, as eu_share) >= {depends_share},
--                 or m is its largest country supplier (no country partner larger; a tie counts,
--                 as nl_rank) and the importer's HHI > {depends_top_hhi}
--   members_depended_on   how many member states it depends on; members_depended_on_list who (sorted ISO3,
--                         '; '-separated, null when none)
--   top_member_supplier, top_member_supplier_share  the member state it imports most from (ties to the
--                         highest code) and its share of the importer's total imports
--   dependence_pattern    'both', 'bloc_only' (on the bloc, on no single member), 'members_only' or 'neither'
-- release and synthetic: those of the monitor.dependence_on_eu row.
-- access: public
-- methodology: 8 Beyond the single-step screen (bloc versus members); 7 Dependence on the EU
-- grain: source, importer, year, product_code
-- check pattern_consistent: dependence_pattern = CASE WHEN depends_on_eu AND members_depended_on > 0 THEN 'both' WHEN depends_on_eu THEN 'bloc_only' WHEN members_depended_on > 0 THEN 'members_only' ELSE 'neither' END
WITH dep AS (
    SELECT * FROM monitor.dependence_on_eu WHERE partner_view_available
),
partners AS (
    -- the importer's own report, per country partner (members of the EU among them)
    SELECT f.source, f.reporter AS importer, f.year, f.product_code_target AS product_code, f.partner,
           sum(f.value) AS value
    FROM staging.annual_flows AS f
    WHERE f.flow = 'import' AND f.partner_role = 'external' AND f.reporter <> 'EU27'
      AND f.product_code_target IS NOT NULL
    GROUP BY ALL
),
largest AS (
    SELECT source, importer, year, product_code, max(value) AS largest_value
    FROM partners
    GROUP BY ALL
),
per_member AS (
    SELECT d.source, d.importer, d.year, d.product_code, p.partner AS member, p.value,
           p.value / nullif(d.importer_total_imports, 0) AS share,
           p.value >= l.largest_value AS is_top,
           d.importer_hhi
    FROM dep AS d
    JOIN partners AS p USING (source, importer, year, product_code)
    JOIN largest AS l USING (source, importer, year, product_code)
    JOIN reference.eu_members AS m ON m.iso3 = p.partner AND m.in_eu27_2020
    WHERE p.value > 0
),
judged AS (
    SELECT *,
           coalesce(share >= getvariable('depends_share'), false)
               OR is_top AND coalesce(importer_hhi > getvariable('depends_top_hhi'), false) AS depends
    FROM per_member
),
summed AS (
    SELECT source, importer, year, product_code,
           count(*) FILTER (WHERE depends) AS members_depended_on,
           array_to_string(list_sort(list(member) FILTER (WHERE depends)), '; ') AS members_depended_on_list,
           arg_max(member, (value, member)) AS top_member_supplier,
           arg_max(share, (value, member)) AS top_member_supplier_share
    FROM judged
    GROUP BY ALL
)
SELECT
    d.source, d.currency, d.importer, d.year, d.product_code, d.domain,
    d.importer_total_imports, d.importer_hhi, d.eu_share, d.depends_on_eu,
    coalesce(s.members_depended_on, 0) AS members_depended_on,
    nullif(s.members_depended_on_list, '') AS members_depended_on_list,
    s.top_member_supplier, s.top_member_supplier_share,
    CASE WHEN d.depends_on_eu AND coalesce(s.members_depended_on, 0) > 0 THEN 'both'
         WHEN d.depends_on_eu THEN 'bloc_only'
         WHEN coalesce(s.members_depended_on, 0) > 0 THEN 'members_only'
         ELSE 'neither' END AS dependence_pattern,
    d.depends_share_threshold, d.depends_top_hhi_threshold,
    d.release, d.synthetic
FROM dep AS d
LEFT JOIN summed AS s USING (source, importer, year, product_code)
