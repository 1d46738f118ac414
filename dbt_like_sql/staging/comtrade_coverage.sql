-- How complete UN Comtrade's world is each year: reporters_in_year counts the Comtrade country
-- reporters with any detail flow that year (imports or exports; the EU27 bloc and aggregate
-- reporters are no Comtrade reporter here). One definition for staging.world_exports and
-- monitor.world_supply_screen, whose world export concentration (screen G2) needs
-- min_world_reporters of them.
-- partition: year
-- grain: source, year
SELECT source, year, count(DISTINCT reporter) AS reporters_in_year
FROM staging.annual_flows
-- per source whose reporters make the world (registry trait: Comtrade, BACI)
WHERE source_world(source) AND reporter <> 'EU27'
GROUP BY source, year
