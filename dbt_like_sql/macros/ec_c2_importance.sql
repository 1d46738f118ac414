-- The European Commission's criterion C2 (methodology section 6): extra-EU imports an important part of
-- all imports, their share above the threshold (no share: not met). Used by monitor.ec_screen and
-- monitor.ec_screen_rolling.
CREATE MACRO ec_c2_importance(extra_eu_import_share, threshold) AS
    coalesce(extra_eu_import_share > threshold, false)
