-- The EU as one bloc versus its 27 member states (methodology section 8, after MERICS 2024: the bloc
-- and its members give very different pictures), the EU's own side: per source, HS6 and year, the
-- EU27 row of monitor.ec_screen (bloc_dependent = its dependent) beside the member states' own rows:
--   members_dependent       how many member states are dependent on their own (their monitor.ec_screen
--                           row, EC criteria on their non-EU partners); members_dependent_list who,
--                           ISO3 codes sorted and '; '-separated (null when none)
--   members_screened        how many member states' rows are screened
--   top_member              the member state with the largest share of the bloc's extra-EU imports
--                           (m_extra of its own row / the bloc's m_extra; ties to the highest code), and
--                           top_member_share; top3_members the three largest, largest first, and
--                           top3_members_share their summed share (null where the bloc imports nothing
--                           from outside the EU)
--   dependence_pattern      'both', 'bloc_only' (the bloc dependent, no member on its own), 'members_only'
--                           (a member dependent, the bloc not) or 'neither'
-- Member shares use each member's own non-EU imports; where Comext gives EU27_2020 rows for the bloc
-- (bloc_basis 'eu27_rows') they need not sum to 1.
-- The third-country side is monitor.third_country_bloc_vs_members; yearly counts monitor.bloc_member_counts.
-- release and synthetic: the bloc's row.
-- access: restricted
-- methodology: 8 Beyond the single-step screen (bloc versus members); 6 Screens (EC 2021)
-- grain: source, year, product_code
-- check pattern_consistent: dependence_pattern = CASE WHEN bloc_dependent AND members_dependent > 0 THEN 'both' WHEN bloc_dependent THEN 'bloc_only' WHEN members_dependent > 0 THEN 'members_only' ELSE 'neither' END
-- check member_shares: top_member_share IS NULL OR top_member_share > 0 AND top_member_share <= top3_members_share + 1e-12
WITH members AS (
    SELECT e.*
    FROM monitor.ec_screen AS e
    JOIN reference.eu_members AS m ON m.iso3 = e.reporter AND m.in_eu27_2020
),
bloc AS (
    SELECT * FROM monitor.ec_screen WHERE reporter = 'EU27'
),
dependent AS (
    SELECT source, year, product_code,
           count(*) FILTER (WHERE dependent) AS members_dependent,
           array_to_string(list_sort(list(reporter) FILTER (WHERE dependent)), '; ') AS members_dependent_list,
           count(*) FILTER (WHERE screened) AS members_screened
    FROM members
    GROUP BY ALL
),
ranked AS (
    SELECT m.source, m.year, m.product_code, m.reporter, m.m_extra,
           row_number() OVER (PARTITION BY m.source, m.year, m.product_code
                              ORDER BY m.m_extra DESC, m.reporter DESC) AS member_rank
    FROM members AS m
    WHERE m.m_extra > 0
),
top AS (
    SELECT source, year, product_code,
           any_value(reporter) FILTER (WHERE member_rank = 1) AS top_member,
           any_value(m_extra) FILTER (WHERE member_rank = 1) AS top_member_value,
           array_to_string(list(reporter ORDER BY member_rank) FILTER (WHERE member_rank <= 3), '; ') AS top3_members,
           sum(m_extra) FILTER (WHERE member_rank <= 3) AS top3_value
    FROM ranked
    GROUP BY ALL
)
SELECT
    b.source, b.currency, b.year, b.product_code, b.domain,
    b.m_extra, b.hhi_extra, b.top_supplier, b.top_supplier_share, b.screened,
    b.dependent AS bloc_dependent, b.bloc_complete, b.year_complete,
    coalesce(d.members_dependent, 0) AS members_dependent,
    nullif(d.members_dependent_list, '') AS members_dependent_list,
    coalesce(d.members_screened, 0) AS members_screened,
    CASE WHEN b.m_extra > 0 THEN t.top_member END AS top_member,
    CASE WHEN b.m_extra > 0 THEN t.top_member_value / b.m_extra END AS top_member_share,
    CASE WHEN b.m_extra > 0 THEN t.top3_members END AS top3_members,
    CASE WHEN b.m_extra > 0 THEN t.top3_value / b.m_extra END AS top3_members_share,
    CASE WHEN b.dependent AND coalesce(d.members_dependent, 0) > 0 THEN 'both'
         WHEN b.dependent THEN 'bloc_only'
         WHEN coalesce(d.members_dependent, 0) > 0 THEN 'members_only'
         ELSE 'neither' END AS dependence_pattern,
    b.release, b.synthetic
FROM bloc AS b
LEFT JOIN dependent AS d USING (source, year, product_code)
LEFT JOIN top AS t USING (source, year, product_code)
