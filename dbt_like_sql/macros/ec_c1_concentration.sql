-- The European Commission's criterion C1 (methodology section 6): extra-EU suppliers concentrated, the
-- HHI above the threshold (no HHI: not met). Used by monitor.ec_screen and monitor.ec_screen_rolling.
CREATE MACRO ec_c1_concentration(hhi_extra, threshold) AS
    coalesce(hhi_extra > threshold, false)
