-- Supplier-loss stress test (methodology section 8): if supplier u stopped supplying product p to
-- importer r, how much is at risk and could the rest of the world make up for it? Per importer (NLD
-- on all its country partners; the EU27 bloc on its extra-EU partners), year, HS6 product and each
-- of its country suppliers, from UN Comtrade only (USD): world exports come from Comtrade, and a
-- ratio of EUR to USD is never formed.
--   value_at_risk   r's imports of p from u;  share_at_risk  its share of r's imports from countries
--   spare_capacity  what the other exporters e (not u, not r, not a member state for the bloc)
--                   export of p to anyone but r: sum of X_{e->all} - X_{e->r}, from e's own reports
--   coverage        spare_capacity / value_at_risk
--   single_point_of_failure  u's share of world exports > 0.5, or coverage < 1
-- supplier_rank orders the suppliers of the product (1 = largest; ties to the highest code).
-- supplier_world_export_share is null where u reports no exports of p to Comtrade.
-- access: restricted
-- report: supplier-loss
-- methodology: 8 Beyond the single-step screen (supplier loss)
-- partition: year
-- grain: source, importer, year, product_code, supplier
-- check share_bounds: share_at_risk > 0 AND share_at_risk <= 1 + 1e-9 AND spare_capacity >= 0
-- check spof_consistent: single_point_of_failure = (coalesce(supplier_world_export_share > 0.5, false) OR coverage < 1)
WITH members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
importers AS (
    SELECT * FROM (VALUES ('NLD'), ('EU27')) AS i(importer)
),
supplied AS (
    SELECT f.source, f.currency, f.reporter AS importer, f.year, f.product_code_target AS product_code,
           f.partner AS supplier, sum(f.value) AS value,
           list_distinct(flatten(list(f.releases))) AS releases, bool_or(f.synthetic) AS synthetic
    FROM staging.annual_flows AS f
    JOIN importers AS i ON i.importer = f.reporter
    -- the sources whose reporters make the world (registry trait: Comtrade, BACI)
    WHERE source_world(f.source) AND f.flow = 'import' AND f.partner_role = 'external'
      AND f.product_code_target IS NOT NULL AND (f.reporter <> 'EU27' OR NOT f.partner_in_eu)
    GROUP BY ALL
    HAVING sum(f.value) > 0
),
exports_to_importer AS (
    -- each exporter's own report of what it shipped to the importer (to any member for the bloc)
    SELECT f.source, f.reporter AS exporter, i.importer, f.year, f.product_code_target AS product_code,
           sum(f.value) AS value
    FROM staging.annual_flows AS f
    JOIN importers AS i
        ON f.partner = i.importer OR (i.importer = 'EU27' AND f.partner IN (SELECT iso3 FROM members))
    WHERE source_world(f.source) AND f.flow = 'export' AND f.partner_role = 'external'
      AND f.reporter <> 'EU27' AND f.product_code_target IS NOT NULL
    GROUP BY ALL
),
others AS (
    -- per importer: every exporter but the importer itself (its member states for the bloc)
    SELECT w.source, i.importer, w.year, w.product_code, w.exporter, w.export_value, w.world_share,
           coalesce(x.value, 0) AS to_importer
    FROM staging.world_exports AS w
    CROSS JOIN importers AS i
    LEFT JOIN exports_to_importer AS x
        ON x.source = w.source AND x.exporter = w.exporter AND x.importer = i.importer AND x.year = w.year AND x.product_code = w.product_code
    WHERE w.exporter <> i.importer AND NOT (i.importer = 'EU27' AND w.exporter IN (SELECT iso3 FROM members))
),
capacity AS (
    SELECT source, importer, year, product_code, sum(export_value - least(to_importer, export_value)) AS spare_all
    FROM others
    GROUP BY ALL
),
judged AS (
    SELECT
        s.source, s.currency, s.importer, s.year, s.product_code, s.supplier,
        s.value AS value_at_risk,
        s.value / sum(s.value) OVER (PARTITION BY s.source, s.importer, s.year, s.product_code) AS share_at_risk,
        row_number() OVER (PARTITION BY s.source, s.importer, s.year, s.product_code
                           ORDER BY s.value DESC, s.supplier DESC) AS supplier_rank,
        -- u's own spare exports leave the sum; nobody else's change
        greatest(coalesce(c.spare_all, 0)
                 - coalesce(o.export_value - least(o.to_importer, o.export_value), 0), 0) AS spare_capacity,
        o.world_share AS supplier_world_export_share,
        s.releases, s.synthetic
    FROM supplied AS s
    LEFT JOIN capacity AS c USING (source, importer, year, product_code)
    LEFT JOIN others AS o
        ON o.source = s.source AND o.importer = s.importer AND o.year = s.year AND o.product_code = s.product_code AND o.exporter = s.supplier
)
SELECT
    source, currency, importer, year, product_code, supplier, supplier_rank,
    value_at_risk, share_at_risk, spare_capacity,
    spare_capacity / value_at_risk AS coverage,
    supplier_world_export_share,
    coalesce(supplier_world_export_share > 0.5, false) OR spare_capacity / value_at_risk < 1
        AS single_point_of_failure,
    array_to_string(list_sort(releases), '; ') AS release,
    synthetic
FROM judged
