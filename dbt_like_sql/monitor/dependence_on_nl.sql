-- Which countries depend on the Netherlands, per source, importing country, HS6 and year:
-- the partner view (the importer's own imports from NL: nl_share, NL's rank, importer HHI,
-- depends_on_nl) beside the mirror view (NL's reported exports: mirror_share), and NL's
-- share of world exports. converted_split / value_share_from_split / split_dependent say how much
-- rests on codes split across HS revisions. lt_nl_share: the Netherlands' share of the importer's supply once
-- each supplier's own imports are looked through (one hop, methodology section 8); hidden_dependence_on_nl:
-- depends_on_nl is not true and lt_nl_share >= 0.5. See monitor.supplier_dependence for the definitions.
-- access: public
-- sheet: Dependence on NL; filter depends_on_nl; order 3
-- methodology: 7 Third countries' dependence on the Netherlands and on the EU
-- grain: source, importer, year, product_code
SELECT
    source, currency, importer, year, product_code, domain,
    imports_from_supplier AS imports_from_nl,
    importer_total_imports,
    supplier_share AS nl_share,
    supplier_rank AS nl_rank,
    supplier_is_top AS nl_is_top_supplier,
    importer_hhi,
    importer_top_partner,
    depends AS depends_on_nl,
    supplier_exports AS nl_reported_exports,
    mirror_share,
    partner_view_available,
    mirror_view_available,
    supplier_world_export_share AS nl_world_export_share,
    lt_supplier_share AS lt_nl_share,
    hidden_dependence AS hidden_dependence_on_nl,
    depends_share_threshold, depends_top_hhi_threshold,
    release, synthetic,
    converted_split, value_share_from_split, split_dependent
FROM monitor.supplier_dependence
WHERE supplier = 'NLD'
