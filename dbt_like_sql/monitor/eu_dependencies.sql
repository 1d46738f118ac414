-- EU27 dependencies: the EC 2021 screen for the EU as one bloc, per HS6 and year, on
-- extra-EU suppliers (Comext in EUR; Comtrade-based rows in USD where members report there).
-- Columns as monitor.ec_screen; see that model for the criteria and thresholds.
-- grain: source, year, product_code
SELECT * EXCLUDE (reporter)
FROM monitor.ec_screen
WHERE reporter = 'EU27'
