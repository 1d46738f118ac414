-- Changes since the last publication (methodology section 8): per screen key, what is newly
-- dependent, no longer dependent, has another top supplier, or whose HHI moved by more than
-- changes_hhi_move (default 0.1), with the previous and the new values and both snapshot ids.
-- Runs at publication on the warehouse, with the previously published file attached as `prev`
-- (its tables are the previous figures); the first publication gets no row. Both sides read the
-- screens through the same SELECTs (each screen's table declares them: '-- changes <screen>: ...'), on `monitor`
-- and `prev.monitor`. One row per key and
-- kind of change; a key that appears
-- or disappears counts as dependent or not as it is on its side ("absent" is not dependent).
-- Screens: ec_screen (EU27 and every member state), world_supply_screen (flagged),
-- dependence_on_nl and dependence_on_eu (depends_on_*, partner view).
-- access: restricted
-- sheet: Changes; order 7
-- report: changes
-- methodology: 6 Screens; 7 Dependence (changes since the previous publication)
WITH cur AS (
    {current}
),
old AS (
    {previous}
),
paired AS (
    SELECT screen, source, reporter, year, product_code,
           o.dependent AS dependent_before, c.dependent AS dependent_now,
           o.top_supplier AS top_supplier_before, c.top_supplier AS top_supplier_now,
           o.hhi AS hhi_before, c.hhi AS hhi_now
    FROM cur AS c
    FULL JOIN old AS o USING (screen, source, reporter, year, product_code)
),
changed AS (
    SELECT *, 'newly_dependent' AS change FROM paired
    WHERE coalesce(dependent_now, false) AND NOT coalesce(dependent_before, false)
    UNION ALL
    SELECT *, 'no_longer_dependent' FROM paired
    WHERE coalesce(dependent_before, false) AND NOT coalesce(dependent_now, false)
    UNION ALL
    SELECT *, 'top_supplier_changed' FROM paired
    WHERE top_supplier_before <> top_supplier_now
    UNION ALL
    SELECT *, 'hhi_moved' FROM paired
    WHERE abs(hhi_now - hhi_before) > getvariable('changes_hhi_move')
)
SELECT screen, source, reporter, year, product_code, change,
       dependent_before, dependent_now, top_supplier_before, top_supplier_now, hhi_before, hhi_now,
       ?::VARCHAR AS previous_snapshot_id, ?::VARCHAR AS snapshot_id
FROM changed
-- the first publication has nothing to compare with: no row, rather than everything "new"
WHERE ?::BOOLEAN
