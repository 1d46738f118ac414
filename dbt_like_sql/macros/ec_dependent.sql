-- The European Commission's verdict on a screened row: dependent when C1, C2 and C3 all hold and the
-- row's EU bloc, if it is one, has every member (a partial bloc keeps its criteria but is never
-- dependent: methodology sections 5 and 6). Used by monitor.ec_screen and monitor.ec_screen_rolling, which adds
-- its own condition (a complete 12-month window).
CREATE MACRO ec_dependent(c1_concentration, c2_importance, c3_substitutability, bloc_complete) AS
    coalesce(c1_concentration AND c2_importance AND c3_substitutability, false) AND coalesce(bloc_complete, true)
