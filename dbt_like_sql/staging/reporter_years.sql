-- One row per source, reporter and year with detail flows (imports or exports), the EU27 bloc
-- included: what a year's figures rest on, kept once here rather than on every flow.
-- months_covered: 12 when every row of the year is annual, else the months of its monthly rows
-- (annual rows do not say which months they cover, so a year mixing both counts its months).
-- For the EU27 bloc (methodology section 5): bloc_members is the number of member states with
-- data that year (27 when the bloc comes from Comext's own EU27_2020 rows), bloc_months_min the
-- fewest months any of them covers, and months_covered equals bloc_months_min, so a bloc built
-- from a few members or a few months never reads as a full year; bloc_complete is true only for
-- 27 members with 12 months each. All three are null for a country.
-- year_complete (methodology section 5, "Incomplete years"): a country's year covers 12 months
-- (typically false for the year in progress); for the bloc it equals bloc_complete. An incomplete
-- year's screen rows show their criteria but are never dependent or flagged.
-- Aggregate reporters (Comtrade 97 EU and the like) are no reporter of any screen: left out.
-- release and synthetic summarise the year; the marts carry their own, per row.
-- partition: year
-- grain: source, reporter, year
-- check bloc_consistent: (reporter = 'EU27') = (bloc_members IS NOT NULL) AND (bloc_complete IS NULL OR bloc_complete = (bloc_members = 27 AND bloc_months_min = 12))
-- check year_complete_consistent: year_complete = coalesce(bloc_complete, months_covered = 12)
WITH reporters AS (
    SELECT
        source, any_value(currency) AS currency, reporter, year,
        CASE WHEN bool_and(freq = 'A') THEN 12 ELSE count(DISTINCT month) END AS months_covered,
        string_agg(DISTINCT release, '; ' ORDER BY release) AS release,
        bool_or(synthetic) AS synthetic
    FROM staging.trade_flows
    WHERE flow IN ('import', 'export') AND is_detail AND reporter_kind IS DISTINCT FROM 'aggregate'
    GROUP BY source, reporter, year
),
members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
bloc AS (
    -- the bloc's year: Comext's own EU27_2020 rows where they exist (they stand for all 27), else
    -- the member reporters summed
    SELECT
        source, any_value(currency) AS currency, 'EU27' AS reporter, year,
        CASE WHEN bool_or(reporter = 'EU27') THEN 27 ELSE count(*) END AS bloc_members,
        CASE WHEN bool_or(reporter = 'EU27') THEN min(months_covered) FILTER (WHERE reporter = 'EU27')
             ELSE min(months_covered) END AS bloc_months_min,
        string_agg(DISTINCT release, '; ' ORDER BY release) AS release,
        bool_or(synthetic) AS synthetic
    FROM reporters
    WHERE reporter = 'EU27' OR reporter IN (SELECT iso3 FROM members)
    GROUP BY source, year
)
SELECT source, currency, reporter, year, months_covered, NULL::BIGINT AS bloc_members,
       NULL::BIGINT AS bloc_months_min, NULL::BOOLEAN AS bloc_complete, months_covered = 12 AS year_complete,
       release, synthetic
FROM reporters
WHERE reporter <> 'EU27'
UNION ALL
SELECT source, currency, reporter, year, bloc_months_min, bloc_members, bloc_months_min,
       bloc_members = 27 AND bloc_months_min = 12, bloc_members = 27 AND bloc_months_min = 12, release, synthetic
FROM bloc
