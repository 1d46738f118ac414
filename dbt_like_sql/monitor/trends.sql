-- Year-over-year change of the EC screen for every screened reporter (EU27 and member
-- states, NL included) and HS6: HHI and top-supplier share against the previous calendar
-- year, whether the top supplier changed, and the dependency's status:
--   new         dependent now, not dependent the year before (a product the reporter did not
--               import that year was not dependent: no imports, no dependency)
--   dropped     dependent the year before, screened and not dependent now
--   no_data     dependent the year before, but no imports of it reported this year (a gap in
--               the data is not evidence that the dependency ended)
--   continuing  dependent in both years
--   none        dependent in neither year
--   no_previous_year  the reporter has no data for the year before
-- Products are on the target edition's axis (default HS 2022), so an HS revision between the two
-- years does not invent new or dropped dependencies. converted_split: either year's screen used
-- value shared out from a code split across revisions; split_dependent: that, and the product is
-- dependent in either year, so its status rests partly on estimated split weights.
-- release and synthetic: both years' screen rows (section 10).
-- access: restricted
-- methodology: 6 Screens (year over year)
-- grain: source, reporter, year, product_code
WITH years AS (
    SELECT DISTINCT source, reporter, year FROM monitor.ec_screen
),
cur AS (SELECT * FROM monitor.ec_screen),
pairs AS (
    -- every product screened this year or last year, for each year the reporter has
    SELECT y.source, y.reporter, y.year, k.product_code
    FROM years AS y
    JOIN (SELECT source, reporter, year, product_code FROM cur
          UNION SELECT source, reporter, year + 1, product_code FROM cur) AS k
      USING (source, reporter, year)
)
SELECT
    p.source, coalesce(c.currency, prev.currency) AS currency, p.reporter, p.year, p.product_code,
    coalesce(c.domain, prev.domain) AS domain,
    c.hhi_extra, prev.hhi_extra AS hhi_extra_previous,
    c.hhi_extra - prev.hhi_extra AS hhi_extra_change,
    c.top_supplier, prev.top_supplier AS top_supplier_previous,
    c.top_supplier_share, prev.top_supplier_share AS top_supplier_share_previous,
    c.top_supplier_share - prev.top_supplier_share AS top_supplier_share_change,
    -- unknown, not false, when either year has no top supplier
    c.top_supplier <> prev.top_supplier AS top_supplier_changed,
    -- unknown when the product has no screen row this year (status no_data or none)
    c.dependent,
    prev.dependent AS dependent_previous,
    CASE
        WHEN NOT EXISTS (SELECT 1 FROM years AS y2 WHERE y2.source = p.source AND y2.reporter = p.reporter
                         AND y2.year = p.year - 1) THEN 'no_previous_year'
        WHEN coalesce(c.dependent, false) AND coalesce(prev.dependent, false) THEN 'continuing'
        WHEN coalesce(c.dependent, false) THEN 'new'
        WHEN coalesce(prev.dependent, false) AND c.product_code IS NULL THEN 'no_data'
        WHEN coalesce(prev.dependent, false) THEN 'dropped'
        ELSE 'none'
    END AS dependency_status,
    array_to_string(list_sort(list_distinct(list_concat(coalesce(string_split(c.release, '; '), []),
                                                        coalesce(string_split(prev.release, '; '), [])))), '; ')
        AS release,
    coalesce(c.synthetic, false) OR coalesce(prev.synthetic, false) AS synthetic,
    coalesce(c.converted_split, false) OR coalesce(prev.converted_split, false) AS converted_split,
    (coalesce(c.converted_split, false) OR coalesce(prev.converted_split, false))
        AND (coalesce(c.dependent, false) OR coalesce(prev.dependent, false)) AS split_dependent
FROM pairs AS p
LEFT JOIN cur AS c USING (source, reporter, year, product_code)
LEFT JOIN cur AS prev ON prev.source = p.source AND prev.reporter = p.reporter
    AND prev.year = p.year - 1 AND prev.product_code = p.product_code
