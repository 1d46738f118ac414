-- Each exporter's exports of each HS6 product to the world, from UN Comtrade (USD): the
-- basis of world export concentration (screen G2) and of NL's and the EU's shares of
-- world exports. An exporter's total is its World row where it reports one, else the
-- sum of its partner rows. Every Comtrade country reporter counts on its own (the EU27 bloc is
-- not an exporter here, and aggregate reporters such as Comtrade's 97 EU never reach
-- staging.annual_flows), so the world is only as complete as that year's reporting:
-- reporters_in_year says how many reported anything at all that year (staging.comtrade_coverage).
-- Products are on the target edition's axis (staging.annual_flows); value_from_split is the part
-- of export_value shared out from a code split across HS revisions, converted_split whether any.
-- partition: year
-- grain: source, year, product_code, exporter
-- check positive_share: world_share >= 0 AND world_share <= 1 + 1e-9
-- assert exporters_are_countries: SELECT w.year, w.product_code, w.exporter FROM staging.world_exports AS w LEFT JOIN (SELECT DISTINCT area FROM reference.area_codes WHERE source = 'comtrade' AND kind = 'country') AS c ON c.area = w.exporter WHERE c.area IS NULL
WITH exports AS (
    -- per source whose reporters make the world (registry trait: Comtrade, BACI)
    SELECT source, reporter AS exporter, year, product_code_target AS product_code, partner_role, value,
           value_from_split, converted_split
    FROM staging.annual_flows
    WHERE source_world(source) AND flow = 'export' AND product_code_target IS NOT NULL AND reporter <> 'EU27'
),
by_exporter AS (
    SELECT
        source, exporter, year, product_code,
        coalesce(sum(value) FILTER (WHERE partner_role = 'world'),
                 sum(value) FILTER (WHERE partner_role IN ('external', 'internal', 'self', 'unallocated'))) AS export_value,
        CASE WHEN sum(value) FILTER (WHERE partner_role = 'world') IS NOT NULL
             THEN sum(value_from_split) FILTER (WHERE partner_role = 'world')
             ELSE sum(value_from_split) FILTER (WHERE partner_role IN ('external', 'internal', 'self', 'unallocated'))
        END AS value_from_split,
        bool_or(converted_split) FILTER (WHERE partner_role IN ('world', 'external', 'internal', 'unallocated'))
            AS converted_split
    FROM exports
    GROUP BY ALL
)
SELECT
    e.source, e.year, e.product_code, e.exporter, e.export_value, e.value_from_split, e.converted_split,
    e.export_value / sum(e.export_value) OVER w AS world_share,
    sum(e.export_value) OVER w AS world_export_value,
    -- exact decimal sums: the world HHI is sum_sq / total^2, identical on every rerun
    sum(e.export_value * e.export_value) OVER w AS world_export_sum_sq,
    count(*) OVER w AS n_exporters,
    r.reporters_in_year
FROM by_exporter AS e
JOIN staging.comtrade_coverage AS r USING (source, year)
WHERE e.export_value > 0
WINDOW w AS (PARTITION BY e.source, e.year, e.product_code)
