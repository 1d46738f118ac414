-- Third countries' dependence on a supplier, for two suppliers: the Netherlands (NLD) and
-- the EU as one (EU27, its 27 member states summed), per source, importing country, HS6
-- product and year (methodology section 7). Two views side by side, both labelled:
--   partner view: the importer's own import report. supplier_share = imports from the
--     supplier / the importer's total imports (its World total, unallocated included);
--     the importer's HHI (all partners); the supplier's rank among its country suppliers
--     (EU members merged into one for EU27); depends = supplier_share >= {depends_share},
--     or the supplier is the top supplier and the importer's HHI > {depends_top_hhi};
--     null (unknown) where the importer's own report is missing.
--   mirror view: the supplier's own export report. mirror_share = exports to the importer
--     / the importer's total imports from the same source (null where the importer does
--     not report). NL's exports include re-exports (and quasi-transit in Comext): this
--     view reads "NL as hub", the partner view "NL as producer".
-- Member states are not importers of the EU27 supplier. Values never mix sources.
-- release and synthetic: the importer's import rows and the supplier's export rows behind the row.
-- supplier_world_export_share is the supplier's share of world exports (Comtrade only).
-- Unknown versus zero (section 7): where the supplier reports to the source that year (any row of NL;
-- for EU27 of any member state), a missing export row to the importer means supplier_exports = 0
-- (mirror_share 0 where the importer's imports are known; mirror_view_available stays "an export row
-- exists"); where world exports of the product are known and the supplier exports none, its world
-- export share is 0.
-- Look-through (section 8, one hop; see monitor.look_through_shares): lt_supplier_share is the
-- supplier's own look-through share of the importer's country suppliers (for EU27 the sum of the 27
-- members'), computed as one sum over the importer's direct suppliers k:
--   lt = sum_k s(r<-k) * ([k is the supplier] * (1 - pass_k) + pass_k * s(k<-supplier))
-- with pass_k = M_k / max(X_k, M_k) (0 without imports from a country) and s(k<-supplier) k's import
-- share from the supplier (members summed for EU27). Null without the partner view or without a
-- country supplier. hidden_dependence: depends is not true and lt_supplier_share >=
-- {depends_share}: depending on the supplier's goods without buying them from it (null where lt is null).
-- Products are on the target edition's axis (default HS 2022). converted_split: some of the
-- importer's imports or of the supplier's exports to it was shared out from a code split across
-- HS revisions; value_share_from_split: the part of importer_total_imports that was;
-- split_dependent: depends is true and rests partly on such value.
-- access: public
-- changes dependence_on_nl: keys source, importer, year, product_code; flag depends; top importer_top_partner; hhi importer_hhi; where supplier = 'NLD'
-- changes dependence_on_eu: keys source, importer, year, product_code; flag depends; top importer_top_partner; hhi importer_hhi; where supplier <> 'NLD'
-- methodology: 7 Third countries' dependence on the Netherlands and on the EU
-- partition: year
-- grain: supplier, source, importer, year, product_code
-- check share_bounds: supplier_share IS NULL OR supplier_share BETWEEN 0 AND 1 + 1e-9
-- check split_consistent: split_dependent = (coalesce(depends, false) AND converted_split)
-- check depends_known_only_with_partner_view: (depends IS NULL) = (NOT partner_view_available)
-- check lt_share_bounds: lt_supplier_share IS NULL OR lt_supplier_share BETWEEN -1e-9 AND 1 + 1e-9
-- check hidden_consistent: (hidden_dependence IS NULL) = (lt_supplier_share IS NULL OR NOT partner_view_available) AND (hidden_dependence IS NULL OR hidden_dependence = (NOT depends AND lt_supplier_share >= depends_share_threshold))
WITH members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
suppliers AS (
    SELECT * FROM (VALUES ('NLD'), ('EU27')) AS s(supplier)
),
imports AS (
    SELECT source, currency, reporter AS importer, year, product_code_target AS product_code, partner, partner_role,
           partner_in_eu, value, value_from_split, converted_split, releases, synthetic
    FROM staging.annual_flows
    WHERE flow = 'import' AND product_code_target IS NOT NULL AND reporter <> 'EU27'
      AND partner_role IN ('external', 'self', 'unallocated', 'world')
),
merged AS (
    -- the importer's partners, with the supplier taken as one partner
    SELECT
        s.supplier, i.source, i.currency, i.importer, i.year, i.product_code,
        -- member states merge into the EU (Comext's intra-EU codes are no EU27 supplier rows)
        CASE WHEN s.supplier = 'EU27' AND i.partner_in_eu AND i.partner_role = 'external' THEN 'EU27'
             ELSE i.partner END AS partner,
        i.partner_role,
        sum(i.value) AS v,
        sum(i.value_from_split) AS v_split,
        bool_or(i.converted_split) AS any_split,
        list_distinct(flatten(list(i.releases))) AS releases,
        bool_or(i.synthetic) AS synthetic
    FROM imports AS i
    CROSS JOIN suppliers AS s
    WHERE i.importer <> s.supplier
      AND NOT (s.supplier = 'EU27' AND i.importer IN (SELECT iso3 FROM members))
    GROUP BY ALL
),
partner_view AS (
    SELECT
        supplier, source, currency, importer, year, product_code,
        coalesce(sum(v) FILTER (WHERE partner = supplier AND partner_role = 'external'), 0) AS imports_from_supplier,
        coalesce(sum(v) FILTER (WHERE partner_role = 'world'),
                 sum(v) FILTER (WHERE partner_role <> 'world')) AS importer_total_imports,
        CASE WHEN sum(v) FILTER (WHERE partner_role = 'world') IS NOT NULL
             THEN sum(v_split) FILTER (WHERE partner_role = 'world')
             ELSE sum(v_split) FILTER (WHERE partner_role <> 'world') END AS imports_from_split,
        bool_or(any_split) AS imports_split,
        list_distinct(flatten(list(releases))) AS import_releases,
        bool_or(synthetic) AS import_synthetic
    FROM merged
    GROUP BY ALL
),
larger_suppliers AS (
    -- how many of the importer's country suppliers sold it more than the supplier did
    SELECT p.supplier, p.source, p.importer, p.year, p.product_code,
           count(*) FILTER (WHERE m.partner_role = 'external' AND m.partner <> p.supplier
                            AND m.v > p.imports_from_supplier) AS n_larger
    FROM partner_view AS p
    JOIN merged AS m USING (supplier, source, importer, year, product_code)
    GROUP BY ALL
),
ranked AS (
    SELECT p.*, CASE WHEN p.imports_from_supplier > 0 THEN 1 + l.n_larger END AS supplier_rank
    FROM partner_view AS p
    JOIN larger_suppliers AS l USING (supplier, source, importer, year, product_code)
),
mirror AS (
    SELECT
        CASE WHEN reporter = 'EU27' THEN 'EU27' ELSE 'NLD' END AS supplier,
        source, currency, partner AS importer, year, product_code_target AS product_code,
        sum(value) AS supplier_exports,
        bool_or(converted_split) AS exports_split,
        list_distinct(flatten(list(releases))) AS export_releases,
        bool_or(synthetic) AS export_synthetic
    FROM staging.annual_flows
    WHERE flow = 'export' AND product_code_target IS NOT NULL AND reporter IN ('NLD', 'EU27')
      AND partner_role = 'external'
    GROUP BY ALL
),
world_share AS (
    -- per product with known world exports; 0 where the supplier exports none of it
    SELECT w.source, s.supplier, w.year, w.product_code,
           coalesce(sum(w.export_value) FILTER (WHERE w.exporter = s.supplier
                                                OR s.supplier = 'EU27' AND w.exporter IN (SELECT iso3 FROM members)), 0)
               / any_value(w.world_export_value) AS supplier_world_export_share
    FROM staging.world_exports AS w
    CROSS JOIN suppliers AS s
    GROUP BY ALL
),
supplier_years AS (
    -- where the supplier reports to the source that year (NL itself; for EU27 the bloc of any member)
    SELECT CASE WHEN reporter = 'EU27' THEN 'EU27' ELSE 'NLD' END AS supplier, source, year
    FROM staging.reporter_years
    WHERE reporter IN ('NLD', 'EU27')
),
lt_rows AS NOT MATERIALIZED (
    -- every country's imports from its country partners, read again by each reader rather than held (the
    -- import rows with their release lists are what the partner view above needs, not these)
    SELECT source, reporter AS importer, year, product_code_target AS product_code, partner, partner_in_eu, value
    FROM staging.annual_flows
    WHERE flow = 'import' AND partner_role = 'external' AND product_code_target IS NOT NULL AND reporter <> 'EU27'
),
lt_pass AS (
    -- pass_k: the share of what k supplies that can be goods it imported (k has a country supplier);
    -- k's own import and export totals are staging.country_totals, shared with monitor.look_through_shares
    SELECT t.source, t.country AS k, t.year, t.product_code, c.allocated_value AS k_allocated,
           CASE WHEN t.imports > 0 THEN (t.imports / greatest(t.exports, t.imports))::DECIMAL(38, 18) ELSE 0 END AS pass
    FROM staging.country_totals AS t
    JOIN monitor.import_concentration AS c
        ON c.source = t.source AND c.reporter = t.country AND c.year = t.year AND c.product_level = 'HS6'
       AND c.product_code = t.product_code AND c.partner_scope = 'all' AND c.n_suppliers > 0
),
lt_from_supplier AS (
    -- s(k<-supplier): k's import share from the supplier among its country suppliers (members summed)
    SELECT s.supplier, i.source, i.importer AS k, i.year, i.product_code, sum(i.value) AS v
    FROM lt_rows AS i
    JOIN suppliers AS s ON i.partner = s.supplier OR s.supplier = 'EU27' AND i.partner_in_eu
    GROUP BY ALL
    HAVING sum(i.value) > 0
),
lt_weight AS (
    -- per intermediary k: the part of what k supplies that ends at the supplier; only the k where it is
    -- not 0 (the supplier itself, or a k that passes something on and buys from the supplier)
    SELECT s.supplier, p.source, p.k, p.year, p.product_code,
           (CASE WHEN p.k = s.supplier OR s.supplier = 'EU27' AND p.k IN (SELECT iso3 FROM members)
                 THEN 1 - p.pass ELSE 0 END
            + coalesce((p.pass * (f.v / p.k_allocated)::DECIMAL(38, 18))::DECIMAL(38, 18), 0))::DECIMAL(38, 18) AS w
    FROM lt_pass AS p
    CROSS JOIN suppliers AS s
    LEFT JOIN lt_from_supplier AS f
        ON f.supplier = s.supplier AND f.source = p.source AND f.k = p.k AND f.year = p.year
       AND f.product_code = p.product_code
    WHERE f.v IS NOT NULL OR p.k = s.supplier OR s.supplier = 'EU27' AND p.k IN (SELECT iso3 FROM members)
    UNION ALL
    -- a supplier that reports no imports of the product (no pass row) keeps all it supplies
    SELECT s.supplier, c.source, c.reporter, c.year, c.product_code, 1::DECIMAL(38, 18)
    FROM (SELECT DISTINCT i.source, i.partner AS reporter, i.year, i.product_code FROM lt_rows AS i
          WHERE i.partner = 'NLD' OR i.partner_in_eu) AS c
    JOIN suppliers AS s ON c.reporter = s.supplier OR s.supplier = 'EU27' AND c.reporter IN (SELECT iso3 FROM members)
    ANTI JOIN lt_pass AS p ON p.source = c.source AND p.k = c.reporter AND p.year = c.year AND p.product_code = c.product_code
),
lt_share AS (
    -- sum over the importer's direct suppliers k of s(r<-k) * w_k (the k with w_k = 0 add nothing)
    SELECT w.supplier, i.source, i.importer, i.year, i.product_code,
           sum((i.value * w.w)::DECIMAL(38, 18)) AS lt_value
    FROM lt_rows AS i
    JOIN lt_weight AS w
        ON w.source = i.source AND w.k = i.partner AND w.year = i.year AND w.product_code = i.product_code
    WHERE i.importer <> w.supplier
      AND NOT (w.supplier = 'EU27' AND i.importer IN (SELECT iso3 FROM members))
    GROUP BY ALL
),
both_views AS (
    SELECT
        supplier, source, coalesce(r.currency, x.currency) AS currency, importer, year, product_code,
        r.imports_from_supplier,
        r.importer_total_imports,
        r.imports_from_supplier / nullif(r.importer_total_imports, 0) AS supplier_share,
        r.supplier_rank,
        -- known wherever the importer reports: false when it buys nothing from the supplier
        CASE WHEN r.importer IS NOT NULL THEN coalesce(r.supplier_rank = 1, false) END AS supplier_is_top,
        -- 0, not unknown, where the supplier reports to the source that year
        coalesce(x.supplier_exports, CASE WHEN y.supplier IS NOT NULL THEN 0::DECIMAL(38, 3) END) AS supplier_exports,
        coalesce(x.supplier_exports, CASE WHEN y.supplier IS NOT NULL THEN 0::DECIMAL(38, 3) END)
            / nullif(r.importer_total_imports, 0) AS mirror_share,
        r.importer IS NOT NULL AS partner_view_available,
        x.importer IS NOT NULL AS mirror_view_available,
        coalesce(r.imports_split, false) OR coalesce(x.exports_split, false) AS converted_split,
        r.imports_from_split / nullif(r.importer_total_imports, 0) AS value_share_from_split,
        -- both sides: a mirror-only row rests on the supplier's report alone
        array_to_string(list_sort(list_distinct(list_concat(coalesce(r.import_releases, []),
                                                            coalesce(x.export_releases, [])))), '; ') AS release,
        coalesce(r.import_synthetic, false) OR coalesce(x.export_synthetic, false) AS synthetic
    FROM ranked AS r
    FULL JOIN mirror AS x USING (supplier, source, importer, year, product_code)
    LEFT JOIN supplier_years AS y USING (supplier, source, year)
),
judged AS (
    SELECT
        b.*,
        c.hhi AS importer_hhi,
        c.top1_partner AS importer_top_partner,
        -- unknown, not false, where the importer's own report is missing (mirror view only)
        CASE WHEN b.partner_view_available
             THEN coalesce(b.supplier_share >= getvariable('depends_share')
                           OR (b.supplier_is_top AND c.hhi > getvariable('depends_top_hhi')), false)
        END AS depends,
        getvariable('depends_share') AS depends_share_threshold,
        getvariable('depends_top_hhi') AS depends_top_hhi_threshold,
        -- known for the sources whose reporters make the world (staging.world_exports has only theirs)
        w.supplier_world_export_share,
        -- known wherever the importer reports a country supplier of the product: 0 when none of them
        -- is, or passes on, the supplier's goods
        CASE WHEN b.partner_view_available AND c.n_suppliers > 0
             THEN (coalesce(l.lt_value, 0) / c.allocated_value)::DOUBLE END AS lt_supplier_share,
        d.domain
    FROM both_views AS b
    LEFT JOIN monitor.import_concentration AS c
        ON c.source = b.source AND c.reporter = b.importer AND c.year = b.year
       AND c.product_level = 'HS6' AND c.product_code = b.product_code AND c.partner_scope = 'all'
    LEFT JOIN world_share AS w
        ON w.source = b.source AND w.supplier = b.supplier AND w.year = b.year AND w.product_code = b.product_code
    LEFT JOIN lt_share AS l
        ON l.supplier = b.supplier AND l.source = b.source AND l.importer = b.importer AND l.year = b.year
       AND l.product_code = b.product_code
    LEFT JOIN staging.product_domains AS d ON d.code = b.product_code AND d.domain_rank = 1
)
SELECT *,
       coalesce(depends, false) AND converted_split AS split_dependent,
       -- methodology section 8: depends on the supplier's goods without buying them from it
       CASE WHEN lt_supplier_share IS NOT NULL
            THEN NOT depends AND lt_supplier_share >= depends_share_threshold END AS hidden_dependence
FROM judged
