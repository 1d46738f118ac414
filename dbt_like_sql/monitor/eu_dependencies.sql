-- EU27 dependencies: the EC 2021 screen for the EU as one bloc, per HS6 and year, on
-- extra-EU suppliers (Comext in EUR; Comtrade-based rows in USD where members report there).
-- Columns as monitor.ec_screen; see that model for the criteria and thresholds.
-- access: restricted
-- sheet: EU27 dependencies; order 1
-- report: dependencies, product
-- methodology: 6 Screens (EC 2021 C1-C3); 5 The EU as one bloc
-- grain: source, year, product_code
SELECT * EXCLUDE (reporter)
FROM monitor.ec_screen
WHERE reporter = 'EU27'
