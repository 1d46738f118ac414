-- The European Commission's verdict on a screened row: dependent when C1, C2 and C3 all hold and the
-- row's year is complete: 12 months for a country, all 27 members with 12 months each for the EU bloc
-- (a partial bloc or an incomplete year keeps its criteria but is never dependent: methodology
-- sections 5 and 6). Used by monitor.ec_screen (year_complete) and monitor.ec_screen_rolling
-- (bloc_complete, null for a member state), which adds its own condition (a complete 12-month window).
CREATE MACRO ec_dependent(c1_concentration, c2_importance, c3_substitutability, complete) AS
    coalesce(c1_concentration AND c2_importance AND c3_substitutability, false) AND coalesce(complete, true)
