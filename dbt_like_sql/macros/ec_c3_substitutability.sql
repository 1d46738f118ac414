-- The European Commission's criterion C3 (methodology section 6): imports from outside the EU exceed
-- extra-EU exports by more than the threshold ratio, so exports could not substitute. No extra-EU
-- exports at all: nothing could substitute, so C3 holds. Nothing traded outside the EU either way:
-- nothing to screen (NULL). Used by monitor.ec_screen (calendar years) and monitor.ec_screen_rolling.
CREATE MACRO ec_c3_substitutability(m_extra, x_extra, import_export_ratio, threshold) AS
    CASE WHEN m_extra = 0 AND x_extra = 0 THEN NULL
         ELSE m_extra > 0 AND (x_extra = 0 OR import_export_ratio > threshold) END
