-- The floor: import concentration per (reporter, year, HS6) written by hand, straight from the
-- staged Parquet (bench/queries.py stage_parquet). Same rules as monitor.import_concentration
-- at product_level 'HS6', partner_scope 'all': partners are summed first (two partner codes
-- can name the same area), a supplier is a country other than the reporter with value > 0;
-- World, aggregates and unspecified/special partners never count.
-- $value is `value::DECIMAL(38, 3)` (the pipeline's arithmetic) or `value` (plain doubles).
WITH by_partner AS (
    SELECT reporter, year, product_code, partner, sum($value) AS v
    FROM read_parquet($parquet)
    WHERE partner_kind = 'country' AND partner <> reporter
    GROUP BY reporter, year, product_code, partner
)
SELECT
    reporter,
    year,
    product_code,
    count(*) AS n_suppliers,
    sum(v * v) / (sum(v) * sum(v)) AS hhi,
    max(v) / sum(v) AS top1_share,
    sum(v) AS allocated_value
FROM by_partner
WHERE v > 0
GROUP BY reporter, year, product_code
