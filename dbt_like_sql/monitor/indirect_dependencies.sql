-- Dependencies hidden behind intermediaries (methodology section 8), per source, importer, year and
-- HS6 product of monitor.look_through_shares (NLD and the EU27 bloc, on extra-EU suppliers, for every
-- product; a third country for the products it depends on NL or the EU for, openly or hidden: see
-- monitor.look_through_shares): the direct concentration beside the look-through one.
-- direct_hhi and look_through_hhi are sums of squared shares (0..1); top_direct_supplier is the
-- largest direct supplier, top_ultimate_supplier the largest after looking through one hop.
-- hidden_dependency: the look-through HHI passes the concentration threshold of the EC screen
-- ({ec_c1_hhi}) while the direct HHI does not: a dependency the direct screen misses.
-- Look-through figures are an UPPER BOUND under the proportional re-export assumption (see
-- monitor.look_through_shares). domain as staging.product_domains. Squares are summed as exact
-- decimals (18 places), so reruns give the same bits.
-- access: public
-- methodology: 8 Beyond the single-step screen
-- partition: year
-- grain: source, importer, year, product_code
-- check hhi_bounds: direct_hhi BETWEEN 0 AND 1 + 1e-9 AND look_through_hhi BETWEEN 0 AND 1 + 1e-9
-- check hidden_consistent: hidden_dependency = (look_through_hhi > hhi_threshold AND NOT direct_hhi > hhi_threshold)
SELECT
    s.source, any_value(s.currency) AS currency, s.importer, s.year, s.product_code, any_value(d.domain) AS domain,
    sum((s.direct_share::DECIMAL(38, 18) * s.direct_share::DECIMAL(38, 18))::DECIMAL(38, 18))::DOUBLE AS direct_hhi,
    sum((s.look_through_share::DECIMAL(38, 18) * s.look_through_share::DECIMAL(38, 18))::DECIMAL(38, 18))::DOUBLE
        AS look_through_hhi,
    -- ties go to the highest country code, as everywhere
    arg_max(s.ultimate_supplier, (s.direct_share, s.ultimate_supplier)) AS top_direct_supplier,
    max(s.direct_share) AS top_direct_share,
    arg_max(s.ultimate_supplier, (s.look_through_share, s.ultimate_supplier)) AS top_ultimate_supplier,
    max(s.look_through_share) AS top_ultimate_share,
    getvariable('ec_c1_hhi') AS hhi_threshold,
    sum((s.look_through_share::DECIMAL(38, 18) * s.look_through_share::DECIMAL(38, 18))::DECIMAL(38, 18))::DOUBLE
        > getvariable('ec_c1_hhi')
        AND NOT sum((s.direct_share::DECIMAL(38, 18) * s.direct_share::DECIMAL(38, 18))::DECIMAL(38, 18))::DOUBLE
        > getvariable('ec_c1_hhi') AS hidden_dependency,
    array_to_string(list_sort(list_distinct(flatten(list(string_split(s.release, '; '))))), '; ') AS release,
    bool_or(s.synthetic) AS synthetic
FROM monitor.look_through_shares AS s
LEFT JOIN staging.product_domains AS d ON d.code = s.product_code AND d.domain_rank = 1
GROUP BY s.source, s.importer, s.year, s.product_code
