-- Whether the European Commission's screen looks at a row at all (methodology section 6): something
-- traded outside the EU, imports or exports. Used by monitor.ec_screen and monitor.ec_screen_rolling.
CREATE MACRO ec_screened(m_extra, x_extra) AS
    NOT (m_extra = 0 AND x_extra = 0)
