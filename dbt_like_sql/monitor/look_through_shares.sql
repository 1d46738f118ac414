-- Look-through (one hop) supplier shares (methodology section 8): where an importer's goods come
-- from once each direct supplier's own imports are looked through. Per source, importer, year, HS6
-- product and ultimate supplier, for the Netherlands (all its country partners) and the EU27 bloc
-- (its extra-EU partners) on every product, and for a third country on the products where
-- monitor.supplier_dependence (partner view) says it depends on the Netherlands or on the EU
-- (depends), or depends on their goods without buying them from them (hidden_dependence: the
-- supplier's look-through share >= 0.5): is it NL it depends on, or whoever stands behind NL?
-- Every country reporter can be an intermediary. (All importers on all products would be about
-- 50 rows per importer and product: 441k rows on the embedded default, hundreds of millions of
-- intermediate rows at one world year; the supplier's own look-through share on every row is in
-- monitor.supplier_dependence.)
-- Each direct supplier k passes on pass_k = M_k / max(X_k, M_k) of what it supplies (its imports
-- against its exports of the product, from k's own reports in the same source: World totals, else
-- the sum of its partner rows; 0 when k reports no imports from a country), spread over k's own
-- country suppliers by their shares s(k<-u); k keeps s(r<-k) * (1 - pass_k) as its own. So
--   look_through_share(u) = s(r<-u) * (1 - pass_u) + sum over k <> u of s(r<-k) * pass_k * s(k<-u)
-- and the shares add up to 1. (Methodology section 8 writes the first term as s(r<-u); with k
-- keeping only (1 - pass_k) of its own share the shares would then add up to more than 1, so the
-- supplier's own term is what it keeps.) A supplier of the bloc that is a member state, or of a
-- country that is the importer itself, is its own goods coming back: ultimate_supplier is then the
-- importer (EU27 for the bloc).
-- It is an UPPER BOUND under the proportional re-export assumption: every unit k imports could
-- be re-exported, in proportion to its suppliers, up to what k exports. hidden_share =
-- look_through_share - direct_share: positive for suppliers hidden behind others, negative for
-- the intermediaries whose share is passed on. via: the intermediaries that pass most of u's
-- indirect share, largest first, with their contribution. One source at a time: never mixed.
-- release and synthetic: the importer's and every intermediary's import and export rows used.
-- Shares are carried as DECIMAL(38, 18) from each row's division on, so every sum is exact and a
-- rerun gives the same bits whatever order DuckDB's threads add in; published as DOUBLE.
-- access: public
-- methodology: 8 Beyond the single-step screen
-- partition: year
-- grain: source, importer, year, product_code, ultimate_supplier
-- check share_bounds: look_through_share BETWEEN -1e-9 AND 1 + 1e-9 AND direct_share BETWEEN 0 AND 1 + 1e-9
-- assert shares_sum_to_one: SELECT source, importer, year, product_code, sum(look_through_share) AS total FROM monitor.look_through_shares GROUP BY ALL HAVING abs(sum(look_through_share) - 1) > 1e-9
WITH members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
supplied AS (
    -- every importer's country suppliers with a positive value: all partners for a country, the
    -- partners outside the EU for the bloc (the scope of the HHI, methodology sections 4-5)
    SELECT source, currency, reporter AS importer, year, product_code_target AS product_code, partner AS supplier,
           sum(value) AS value,
           bool_or(synthetic) AS synthetic
    FROM staging.annual_flows
    WHERE flow = 'import' AND partner_role = 'external' AND product_code_target IS NOT NULL
      AND (reporter <> 'EU27' OR NOT partner_in_eu)
    GROUP BY ALL
    HAVING sum(value) > 0
),
direct AS (
    SELECT *, (value / sum(value) OVER (PARTITION BY source, importer, year, product_code))::DECIMAL(38, 18) AS share
    FROM supplied
),
scope AS (
    -- the importers and products looked through (every country stays an intermediary k)
    SELECT DISTINCT source, importer, year, product_code FROM supplied WHERE importer IN ('NLD', 'EU27')
    UNION
    SELECT source, importer, year, product_code FROM monitor.supplier_dependence WHERE depends OR hidden_dependence
),
looked AS (
    SELECT d.* FROM direct AS d SEMI JOIN scope USING (source, importer, year, product_code)
),
needed AS (
    -- the countries and products whose releases a row can rest on: the importers looked through and
    -- their direct suppliers (release lists for every country and product ran a world year out of
    -- DuckDB's 2 GB memory limit)
    SELECT source, importer AS country, year, product_code FROM looked
    UNION
    SELECT source, supplier, year, product_code FROM looked
),
release_hashes AS (
    -- the parts below carry each release as its 64-bit hash (lists of numbers are far cheaper to gather
    -- than lists of texts: 36 -> 29 s at one world year); two texts with one hash stop the build
    SELECT release,
           CASE WHEN count(*) OVER (PARTITION BY hash(release)) > 1
                THEN error('look_through_shares: two release texts share a hash: ' || release)
                ELSE hash(release) END AS release_hash
    FROM (SELECT DISTINCT unnest(releases) AS release FROM staging.annual_flows)
),
supplied_releases AS (
    SELECT f.source, f.reporter AS importer, f.year, f.product_code_target AS product_code, f.partner AS supplier,
           list_distinct(flatten(list(list_transform(f.releases, lambda r: hash(r))))) AS releases
    FROM staging.annual_flows AS f
    SEMI JOIN needed AS n
        ON n.source = f.source AND n.country = f.reporter AND n.year = f.year AND n.product_code = f.product_code_target
    WHERE f.flow = 'import' AND f.partner_role = 'external' AND f.product_code_target IS NOT NULL
      AND (f.reporter <> 'EU27' OR NOT f.partner_in_eu)
    GROUP BY ALL
),
totals_releases AS (
    SELECT f.source, f.reporter AS country, f.year, f.product_code_target AS product_code,
           list_distinct(flatten(list(list_transform(f.releases, lambda r: hash(r))))) AS releases
    FROM staging.annual_flows AS f
    SEMI JOIN needed AS n
        ON n.source = f.source AND n.country = f.reporter AND n.year = f.year AND n.product_code = f.product_code_target
    WHERE f.reporter <> 'EU27' AND f.product_code_target IS NOT NULL
      AND f.partner_role IN ('world', 'external', 'self', 'unallocated')
    GROUP BY ALL
),
passing AS (
    -- the share of what k supplies that can be goods k imported itself; 0 without imports from a country
    SELECT t.source, t.country, t.year, t.product_code, t.synthetic,
           CASE WHEN t.imports > 0 AND EXISTS (
                    SELECT 1 FROM supplied AS s WHERE s.source = t.source AND s.importer = t.country
                       AND s.year = t.year AND s.product_code = t.product_code)
                THEN (t.imports / greatest(t.exports, t.imports))::DECIMAL(38, 18) ELSE 0 END AS pass
    FROM staging.country_totals AS t  -- each country's own import and export totals (World, else partner rows)
),
own AS (
    -- what each direct supplier keeps as its own
    SELECT d.source, d.currency, d.importer, d.year, d.product_code, d.supplier AS ultimate_supplier,
           d.share AS direct_share,
           (d.share * (1 - coalesce(p.pass, 0)))::DECIMAL(38, 18) AS share_part,
           NULL::VARCHAR AS via_country,
           -- the supplier's own reports count only where they pass something on
           list_concat(coalesce(sr.releases, []), CASE WHEN p.pass > 0 THEN coalesce(tr.releases, []) ELSE [] END)
               AS releases,
           d.synthetic OR (p.pass > 0 AND p.synthetic) IS TRUE AS synthetic
    FROM looked AS d
    LEFT JOIN passing AS p
        ON p.source = d.source AND p.country = d.supplier AND p.year = d.year AND p.product_code = d.product_code
    LEFT JOIN supplied_releases AS sr
        ON sr.source = d.source AND sr.importer = d.importer AND sr.year = d.year AND sr.product_code = d.product_code
       AND sr.supplier = d.supplier
    LEFT JOIN totals_releases AS tr
        ON tr.source = d.source AND tr.country = d.supplier AND tr.year = d.year AND tr.product_code = d.product_code
),
passed AS (
    -- what each direct supplier k passes on to its own suppliers u
    SELECT d.source, d.currency, d.importer, d.year, d.product_code,
           CASE WHEN k.supplier = d.importer OR (d.importer = 'EU27' AND k.supplier IN (SELECT iso3 FROM members))
                THEN d.importer ELSE k.supplier END AS ultimate_supplier,
           0::DECIMAL(38, 18) AS direct_share,
           ((d.share * p.pass)::DECIMAL(38, 18) * k.share)::DECIMAL(38, 18) AS share_part,
           d.supplier AS via_country,
           list_concat(coalesce(kr.releases, []), coalesce(tr.releases, [])) AS releases,
           k.synthetic OR p.synthetic AS synthetic
    FROM looked AS d
    JOIN passing AS p
        ON p.source = d.source AND p.country = d.supplier AND p.year = d.year AND p.product_code = d.product_code
    JOIN direct AS k
        ON k.source = d.source AND k.importer = d.supplier AND k.year = d.year AND k.product_code = d.product_code
    LEFT JOIN supplied_releases AS kr
        ON kr.source = k.source AND kr.importer = k.importer AND kr.year = k.year AND kr.product_code = k.product_code
       AND kr.supplier = k.supplier
    LEFT JOIN totals_releases AS tr
        ON tr.source = d.source AND tr.country = d.supplier AND tr.year = d.year AND tr.product_code = d.product_code
    WHERE p.pass > 0
),
parts AS (
    SELECT * FROM own
    UNION ALL
    SELECT * FROM passed
),
via_ranked AS (
    SELECT source, importer, year, product_code, ultimate_supplier, via_country, sum(share_part) AS part
    FROM passed
    GROUP BY ALL
),
via AS (
    SELECT source, importer, year, product_code, ultimate_supplier,
           string_agg(via_country || ' ' || round(100 * part, 1) || '%', ', ' ORDER BY part DESC, via_country)
               FILTER (WHERE rn <= 3) AS via
    FROM (SELECT *, row_number() OVER (PARTITION BY source, importer, year, product_code, ultimate_supplier
                                       ORDER BY part DESC, via_country) AS rn
          FROM via_ranked)
    GROUP BY ALL
),
shares AS (
    SELECT source, any_value(currency) AS currency, importer, year, product_code, ultimate_supplier,
           sum(direct_share) AS direct_share, sum(share_part) AS share_part, bool_or(synthetic) AS synthetic
    FROM parts
    GROUP BY source, importer, year, product_code, ultimate_supplier
),
release_pairs AS (
    -- (row, release) pairs rather than a list state per row: at one world year the lists of every
    -- part ran DuckDB out of its 2 GB memory limit
    SELECT DISTINCT source, importer, year, product_code, ultimate_supplier, unnest(releases) AS release_hash FROM parts
),
release_text AS (
    SELECT p.source, p.importer, p.year, p.product_code, p.ultimate_supplier,
           string_agg(h.release, '; ' ORDER BY h.release) AS release
    FROM release_pairs AS p
    JOIN release_hashes AS h USING (release_hash)
    GROUP BY ALL
)
SELECT
    s.source, s.currency, s.importer, s.year, s.product_code, s.ultimate_supplier,
    s.direct_share::DOUBLE AS direct_share,
    s.share_part::DOUBLE AS look_through_share,
    (s.share_part - s.direct_share)::DOUBLE AS hidden_share,
    v.via,
    coalesce(r.release, '') AS release,
    s.synthetic
FROM shares AS s
LEFT JOIN via AS v USING (source, importer, year, product_code, ultimate_supplier)
LEFT JOIN release_text AS r USING (source, importer, year, product_code, ultimate_supplier)
