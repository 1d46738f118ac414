-- One row per source, reporter and year with detail flows (imports or exports), the EU27 bloc
-- included: what a year's figures rest on, kept once here rather than on every flow.
-- has_annual: the year has annual rows, so its months are not added on top of them (see
-- staging.annual_flows); months_covered: 12 for annual data, else the months present;
-- bloc_members: for the EU27 bloc, the member states whose rows are summed (27 = complete;
-- Comext's own EU27_2020 rows count as 27), null for a country; release: the releases of the
-- year's rows; synthetic: whether any of them is demo data.
-- partition: year
-- grain: source, reporter, year
WITH reporters AS (
    SELECT
        source, any_value(currency) AS currency, reporter, year,
        bool_or(freq = 'A') AS has_annual,
        CASE WHEN bool_or(freq = 'A') THEN 12 ELSE count(DISTINCT month) END AS months_covered,
        string_agg(DISTINCT release, '; ' ORDER BY release) AS release,
        bool_or(synthetic) AS synthetic
    FROM staging.trade_flows
    WHERE flow IN ('import', 'export') AND is_detail
    GROUP BY source, reporter, year
),
members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
)
SELECT source, currency, reporter, year, has_annual, months_covered, NULL::BIGINT AS bloc_members, release, synthetic
FROM reporters
WHERE reporter <> 'EU27'
UNION ALL
-- the bloc's year: member reporters summed, or Comext's own EU27_2020 rows (all 27)
SELECT
    source, any_value(currency), 'EU27', year,
    coalesce(bool_or(has_annual) FILTER (WHERE reporter = 'EU27'), false),
    max(months_covered),
    CASE WHEN bool_or(reporter = 'EU27') THEN 27 ELSE count(*) END,
    string_agg(DISTINCT release, '; ' ORDER BY release),
    bool_or(synthetic)
FROM reporters
WHERE reporter = 'EU27' OR reporter IN (SELECT iso3 FROM members)
GROUP BY source, year
