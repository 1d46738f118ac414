-- The world count per year of monitor.supplier_headroom (methodology section 8), like the OECD's
-- figure (share of importer-product cases that are concentrated, and China's part of them), over the
-- Comtrade country importers only: the EU27 bloc is left out, its members already count.
--   cases                  importer-product pairs where who the importer buys from is known
--                          (concentrated_oecd not null)
--   concentrated_cases     of them, concentrated_oecd
--   concentrated_share     concentrated_cases / cases
--   china_top_cases        concentrated cases whose largest supplier is China (CHN)
--   china_share_of_concentrated  china_top_cases / concentrated_cases
-- reporters_in_year and world_covered as in monitor.supplier_headroom.
-- access: public
-- methodology: 8 Beyond the single-step screen (supplier headroom)
-- grain: source, year
-- check counts_ordered: china_top_cases <= concentrated_cases AND concentrated_cases <= cases
SELECT
    source, currency, year,
    count(DISTINCT importer) AS importers,
    count(*) FILTER (WHERE concentrated_oecd IS NOT NULL) AS cases,
    count(*) FILTER (WHERE concentrated_oecd) AS concentrated_cases,
    count(*) FILTER (WHERE concentrated_oecd)
        / nullif(count(*) FILTER (WHERE concentrated_oecd IS NOT NULL), 0) AS concentrated_share,
    count(*) FILTER (WHERE concentrated_oecd AND top_supplier = 'CHN') AS china_top_cases,
    count(*) FILTER (WHERE concentrated_oecd AND top_supplier = 'CHN')
        / nullif(count(*) FILTER (WHERE concentrated_oecd), 0) AS china_share_of_concentrated,
    any_value(potential_min_share) AS potential_min_share,
    any_value(reporters_in_year) AS reporters_in_year,
    any_value(world_covered) AS world_covered,
    bool_or(synthetic) AS synthetic
FROM monitor.supplier_headroom
WHERE importer <> 'EU27'
GROUP BY source, currency, year
