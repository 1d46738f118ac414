-- Which non-EU countries depend on the EU (its 27 member states as one supplier), per source,
-- importing country, HS6 and year: partner view (eu_share, the EU's rank with members merged,
-- importer HHI, depends_on_eu) beside the mirror view (the bloc's reported exports), and the
-- EU's share of world exports. converted_split / value_share_from_split / split_dependent say how
-- much rests on codes split across HS revisions. lt_eu_share: the sum of the 27 members' look-through
-- shares of the importer's supply (one hop, methodology section 8); hidden_dependence_on_eu: depends_on_eu
-- is not true and lt_eu_share >= 0.5. See monitor.supplier_dependence for the definitions.
-- access: public
-- sheet: Dependence on EU; filter depends_on_eu; order 4
-- methodology: 7 Third countries' dependence on the Netherlands and on the EU
-- grain: source, importer, year, product_code
SELECT
    source, currency, importer, year, product_code, domain,
    imports_from_supplier AS imports_from_eu,
    importer_total_imports,
    supplier_share AS eu_share,
    supplier_rank AS eu_rank,
    supplier_is_top AS eu_is_top_supplier,
    importer_hhi,
    importer_top_partner,
    depends AS depends_on_eu,
    supplier_exports AS eu_reported_exports,
    mirror_share,
    partner_view_available,
    mirror_view_available,
    supplier_world_export_share AS eu_world_export_share,
    lt_supplier_share AS lt_eu_share,
    hidden_dependence AS hidden_dependence_on_eu,
    depends_share_threshold, depends_top_hhi_threshold,
    release, synthetic,
    converted_split, value_share_from_split, split_dependent
FROM monitor.supplier_dependence
WHERE supplier = 'EU27'
