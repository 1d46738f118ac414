-- Annual imports by supplier, for every reporter and for the EU27 bloc: the single
-- input of every import-concentration figure (methodology sections 4-5).
-- Detail rows only (HS6 for Comtrade, CN8 for Comext), so no total is added to its parts.
-- Where a reporter-year has an annual row, months are not added on top of it.
-- The EU27 bloc sums the 27 member states (EU27_2020 composition for every year) or
-- takes Comext's EU27_2020 reporter rows where those exist for the product and year,
-- never both. partner_role says how each partner counts:
--   supplier    a country outside the reporter (outside the EU for the bloc): in the HHI
--   internal    the reporter itself (re-imports) or, for the bloc, a member state
--   unallocated unspecified, confidential or special partners
--   world       the World total, used to find value not allocated to any partner
--   aggregate   other partner groups, never used (they would double count)
-- grain: source, reporter, year, partner, product_code_native
-- check known_role: partner_role IS NOT NULL
WITH imports AS (
    SELECT * FROM staging.trade_flows WHERE flow = 'import' AND is_detail
),
reporter_years AS (
    SELECT
        source, reporter, year,
        bool_or(freq = 'A') AS has_annual,
        CASE WHEN bool_or(freq = 'A') THEN 12 ELSE count(DISTINCT month) END AS months_covered,
        string_agg(DISTINCT release, '; ' ORDER BY release) AS release,
        bool_or(synthetic) AS synthetic
    FROM imports
    GROUP BY ALL
),
annual AS (
    SELECT
        i.source, i.currency, i.reporter, i.year, i.partner, i.partner_kind,
        i.product_code_native, i.product_code, i.hs4, i.hs2,
        sum(i.value) AS value
    FROM imports AS i
    JOIN reporter_years AS ry USING (source, reporter, year)
    WHERE i.freq = CASE WHEN ry.has_annual THEN 'A' ELSE 'M' END
    GROUP BY ALL
),
members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
direct_bloc AS (
    SELECT DISTINCT source, year, product_code_native FROM annual WHERE reporter = 'EU27'
),
bloc_from_members AS (
    SELECT
        a.source, a.currency, 'EU27' AS reporter, a.year, a.partner, a.partner_kind,
        a.product_code_native, a.product_code, a.hs4, a.hs2,
        sum(a.value) AS value
    FROM annual AS a
    JOIN members AS m ON a.reporter = m.iso3
    ANTI JOIN direct_bloc AS d USING (source, year, product_code_native)
    GROUP BY ALL
),
bloc_years AS (
    SELECT
        ry.source, 'EU27' AS reporter, ry.year,
        count(*) AS bloc_members,
        max(ry.months_covered) AS months_covered,
        string_agg(DISTINCT ry.release, '; ' ORDER BY ry.release) AS release,
        bool_or(ry.synthetic) AS synthetic
    FROM reporter_years AS ry
    JOIN members AS m ON ry.reporter = m.iso3
    GROUP BY ALL
),
year_info AS (
    SELECT source, reporter, year, NULL::BIGINT AS bloc_members, months_covered, release, synthetic
    FROM reporter_years
    WHERE reporter <> 'EU27'
    UNION ALL
    -- direct EU27_2020 rows count as all 27 members
    SELECT b.source, b.reporter, b.year, coalesce(b.bloc_members, 27), coalesce(b.months_covered, d.months_covered),
           coalesce(b.release, d.release), coalesce(b.synthetic, d.synthetic)
    FROM bloc_years AS b
    FULL JOIN (SELECT * FROM reporter_years WHERE reporter = 'EU27') AS d USING (source, reporter, year)
),
all_rows AS (
    SELECT * FROM annual
    UNION ALL
    SELECT * FROM bloc_from_members
)
SELECT
    r.source, r.currency, r.reporter, r.year, r.partner, r.partner_kind,
    CASE
        WHEN r.partner_kind IS NULL THEN NULL
        WHEN r.partner_kind = 'country' AND (r.partner = r.reporter
             OR (r.reporter = 'EU27' AND r.partner IN (SELECT iso3 FROM members))) THEN 'internal'
        WHEN r.partner_kind = 'country' THEN 'supplier'
        WHEN r.partner = 'WORLD' THEN 'world'
        WHEN r.partner_kind = 'aggregate' THEN 'aggregate'
        ELSE 'unallocated'
    END AS partner_role,
    r.product_code_native, r.product_code, r.hs4, r.hs2, r.value,
    y.months_covered, y.bloc_members, y.release, y.synthetic
FROM all_rows AS r
JOIN year_info AS y USING (source, reporter, year)
