-- Yearly counts of monitor.bloc_vs_members and monitor.third_country_bloc_vs_members (methodology section 8),
-- like MERICS's headline figures (China dependent on the EU bloc for 120 products, on single member
-- states for 33), per source and year:
--   side 'eu'       importer EU27: products where the bloc is dependent (EC screen) and where a member
--                   state is dependent on its own
--   side 'partner'  one row per third country: products for which it depends on the EU bloc, and on a
--                   single member state
--   bloc_dependent, members_dependent  products with each; bloc_only, members_only, bloc_and_members: the patterns
-- access: public
-- methodology: 8 Beyond the single-step screen (bloc versus members)
-- grain: source, year, side, importer
-- check counts_add_up: bloc_dependent = bloc_only + bloc_and_members AND members_dependent = members_only + bloc_and_members
SELECT source, year, 'eu' AS side, 'EU27' AS importer,
       count(*) AS products,
       count(*) FILTER (WHERE bloc_dependent) AS bloc_dependent,
       count(*) FILTER (WHERE members_dependent > 0) AS members_dependent,
       count(*) FILTER (WHERE dependence_pattern = 'bloc_only') AS bloc_only,
       count(*) FILTER (WHERE dependence_pattern = 'members_only') AS members_only,
       count(*) FILTER (WHERE dependence_pattern = 'both') AS bloc_and_members,
       bool_or(synthetic) AS synthetic
FROM monitor.bloc_vs_members
GROUP BY source, year
UNION ALL
SELECT source, year, 'partner' AS side, importer,
       count(*) AS products,
       count(*) FILTER (WHERE depends_on_eu) AS bloc_dependent,
       count(*) FILTER (WHERE members_depended_on > 0) AS members_dependent,
       count(*) FILTER (WHERE dependence_pattern = 'bloc_only') AS bloc_only,
       count(*) FILTER (WHERE dependence_pattern = 'members_only') AS members_only,
       count(*) FILTER (WHERE dependence_pattern = 'both') AS bloc_and_members,
       bool_or(synthetic) AS synthetic
FROM monitor.third_country_bloc_vs_members
GROUP BY source, year, importer
