-- If supplier u stopped supplying the importer everything (methodology section 8): per source,
-- importer (NLD, EU27), year, supplier and strategic domain, the import value and the number of
-- HS6 products at risk and how many of them u is a single point of failure for
-- (monitor.supplier_loss). domain 'all_products' sums every product, in a domain or not, once; a product in several domains
-- counts in each of them (staging.product_domains).
-- access: restricted
-- report: supplier-loss
-- methodology: 8 Beyond the single-step screen (supplier loss)
-- grain: source, importer, year, supplier, domain
SELECT
    l.source, any_value(l.currency) AS currency, l.importer, l.year, l.supplier, l.domain,
    sum(l.value_at_risk) AS value_at_risk,
    count(*) AS products_at_risk,
    count(*) FILTER (WHERE l.single_point_of_failure) AS single_points_of_failure,
    count(*) FILTER (WHERE l.supplier_rank = 1) AS products_as_top_supplier,
    array_to_string(list_sort(list_distinct(flatten(list(string_split(l.release, '; '))))), '; ') AS release,
    bool_or(l.synthetic) AS synthetic
FROM (
    SELECT s.*, d.domain FROM monitor.supplier_loss AS s JOIN staging.product_domains AS d ON d.code = s.product_code
    UNION ALL
    SELECT s.*, 'all_products' FROM monitor.supplier_loss AS s
) AS l
GROUP BY l.source, l.importer, l.year, l.supplier, l.domain
