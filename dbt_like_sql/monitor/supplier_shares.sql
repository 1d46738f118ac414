-- Each non-EU supplier's value and share of imports, per source, reporter (the EU27 bloc and NL),
-- year and HS6 product: the partner rows behind the extra-EU HHI of monitor.import_concentration
-- (their squared shares add up to its hhi). Only products the EC screen flagged for the EU27 or NL
-- in at least one year; the report's supplier charts read them. release and synthetic: the rows summed.
-- access: public
-- methodology: 4 Import concentration (supplier shares)
-- grain: source, reporter, year, product_code, partner
-- check share_bounds: partner_share > 0 AND partner_share <= 1 + 1e-9
-- assert shares_give_hhi: SELECT s.source, s.reporter, s.year, s.product_code, sum(s.partner_share * s.partner_share) AS squares, any_value(c.hhi) AS hhi FROM monitor.supplier_shares AS s JOIN monitor.import_concentration AS c ON c.source = s.source AND c.reporter = s.reporter AND c.year = s.year AND c.product_code = s.product_code AND c.product_level = 'HS6' AND c.partner_scope = 'extra_eu' GROUP BY ALL HAVING abs(sum(s.partner_share * s.partner_share) - any_value(c.hhi)) > 1e-9
WITH wanted AS (
    SELECT DISTINCT source, reporter, product_code FROM monitor.ec_screen
    WHERE reporter IN ('EU27', 'NLD') AND years_flagged > 0
),
partners AS (
    -- on the target edition's axis, like the HHI (see staging.annual_flows)
    SELECT f.source, f.currency, f.reporter, f.year, f.product_code_target AS product_code, f.partner,
           sum(f.value) AS value,
           array_to_string(list_sort(list_distinct(flatten(list(f.releases)))), '; ') AS release,
           bool_or(f.synthetic) AS synthetic
    FROM staging.annual_flows AS f
    JOIN wanted AS w ON w.source = f.source AND w.reporter = f.reporter AND w.product_code = f.product_code_target
    WHERE f.flow = 'import' AND f.partner_role = 'external' AND NOT f.partner_in_eu
    GROUP BY ALL
    HAVING sum(f.value) > 0
)
SELECT
    *,
    value / sum(value) OVER (PARTITION BY source, reporter, year, product_code) AS partner_share,
    row_number() OVER (PARTITION BY source, reporter, year, product_code ORDER BY value DESC, partner DESC)
        AS partner_rank
FROM partners
