-- Annual imports and exports by partner, for every reporter and for the EU27 bloc: the
-- single input of every concentration and dependence figure (methodology sections 4-7).
-- Detail rows only (HS6 for Comtrade, CN8 for Comext), so no total is added to its parts.
-- Where a reporter-year has an annual row, months are not added on top of it.
-- The EU27 bloc sums the 27 member states (EU27_2020 composition for every year) or
-- takes Comext's EU27_2020 reporter rows where those exist for the flow, product and
-- year, never both (bloc_basis says which). partner_role says how each partner counts:
--   external    a country outside the reporter (outside the EU for the bloc): in the HHI
--   internal    the reporter itself (re-imports) or, for the bloc, a member state
--   unallocated unspecified, confidential or special partners
--   world       the World total, used to find value not allocated to any partner
--   aggregate   other partner groups, never used (they would double count)
-- partner_in_eu marks EU27 member partners, for the screens that count non-EU partners only.
-- grain: source, reporter, year, flow, partner, product_code_native
-- check known_role: partner_role IS NOT NULL
-- check non_negative_value: value IS NULL OR value >= 0
WITH detail AS (
    SELECT * FROM staging.trade_flows WHERE flow IN ('import', 'export') AND is_detail
),
reporter_years AS (
    SELECT
        source, reporter, year,
        bool_or(freq = 'A') AS has_annual,
        CASE WHEN bool_or(freq = 'A') THEN 12 ELSE count(DISTINCT month) END AS months_covered,
        string_agg(DISTINCT release, '; ' ORDER BY release) AS release,
        bool_or(synthetic) AS synthetic
    FROM detail
    GROUP BY ALL
),
annual AS (
    SELECT
        d.source, d.currency, d.reporter, d.year, d.flow, d.partner, d.partner_kind,
        d.product_code_native, d.product_code, d.hs4, d.hs2,
        sum(d.value) AS value
    FROM detail AS d
    JOIN reporter_years AS ry USING (source, reporter, year)
    WHERE d.freq = CASE WHEN ry.has_annual THEN 'A' ELSE 'M' END
    GROUP BY ALL
),
members AS (
    SELECT iso3 FROM reference.eu_members WHERE in_eu27_2020
),
direct_bloc AS (
    SELECT DISTINCT source, year, flow, product_code_native FROM annual WHERE reporter = 'EU27'
),
bloc_from_members AS (
    SELECT
        a.source, a.currency, 'EU27' AS reporter, a.year, a.flow, a.partner, a.partner_kind,
        a.product_code_native, a.product_code, a.hs4, a.hs2,
        sum(a.value) AS value
    FROM annual AS a
    JOIN members AS m ON a.reporter = m.iso3
    ANTI JOIN direct_bloc AS d USING (source, year, flow, product_code_native)
    GROUP BY ALL
),
year_info AS (
    SELECT source, reporter, year, NULL::BIGINT AS bloc_members, months_covered, release, synthetic
    FROM reporter_years
    WHERE reporter <> 'EU27'
    UNION ALL
    -- the bloc's year: member reporters summed, or Comext's own EU27_2020 rows (all 27)
    SELECT
        source, 'EU27', year,
        CASE WHEN bool_or(ry.reporter = 'EU27') THEN 27 ELSE count(*) END,
        max(ry.months_covered),
        string_agg(DISTINCT ry.release, '; ' ORDER BY ry.release),
        bool_or(ry.synthetic)
    FROM reporter_years AS ry
    WHERE ry.reporter = 'EU27' OR ry.reporter IN (SELECT iso3 FROM members)
    GROUP BY source, year
),
all_rows AS (
    SELECT *, CASE WHEN reporter = 'EU27' THEN 'eu27_rows' END AS bloc_basis FROM annual
    UNION ALL
    SELECT *, 'members' FROM bloc_from_members
)
SELECT
    r.source, r.currency, r.reporter, r.year, r.flow, r.partner, r.partner_kind,
    CASE
        WHEN r.partner_kind IS NULL THEN NULL
        WHEN r.partner_kind = 'country' AND (r.partner = r.reporter
             OR (r.reporter = 'EU27' AND r.partner IN (SELECT iso3 FROM members))) THEN 'internal'
        WHEN r.partner_kind = 'country' THEN 'external'
        WHEN r.partner = 'WORLD' THEN 'world'
        WHEN r.partner_kind = 'aggregate' THEN 'aggregate'
        ELSE 'unallocated'
    END AS partner_role,
    r.partner IN (SELECT iso3 FROM members) AS partner_in_eu,
    r.product_code_native, r.product_code, r.hs4, r.hs2, r.value,
    r.bloc_basis, y.months_covered, y.bloc_members, y.release, y.synthetic
FROM all_rows AS r
JOIN year_info AS y USING (source, reporter, year)
