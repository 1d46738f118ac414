-- Dutch dependencies: the EC 2021 screen for the Netherlands on its non-EU partners, per
-- HS6 and year, plus the all-partner HHI (EU partners included) for comparison.
-- Comext rows carry the quasi-transit caveat of monitor.ec_screen: goods cleared in Dutch ports
-- for other member states count as Dutch extra-EU imports, so NL import dependence from Comext
-- is overstated (methodology section 10); EU-level results are not affected.
-- access: restricted
-- sheet: NL dependencies; order 2
-- report: dependencies, product
-- methodology: 6 Screens (EC 2021 C1-C3); 10 Caveats (quasi-transit)
-- grain: source, year, product_code
SELECT
    s.* EXCLUDE (reporter, bloc_members, bloc_months_min, bloc_complete),
    a.hhi AS hhi_all_partners,
    a.top1_partner AS top_partner_all,
    a.top1_share AS top_partner_all_share
FROM monitor.ec_screen AS s
LEFT JOIN monitor.import_concentration AS a
    ON a.source = s.source AND a.reporter = s.reporter AND a.year = s.year
   AND a.product_level = 'HS6' AND a.product_code = s.product_code AND a.partner_scope = 'all'
WHERE s.reporter = 'NLD'
