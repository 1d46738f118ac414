-- Every trade flow from both sources in one normalised shape: one row per source,
-- reporter, partner, flow, native product code and period, in the source's own
-- currency (Comtrade USD, Comext EUR; never mixed in one figure).
-- Comtrade: only the totals over customs procedure (C00), mode of transport (0) and
-- second partner (0) are kept, because Comtrade ships those breakdowns beside the
-- totals and adding them would count the same trade twice.
-- Comext: statistical procedures are summed; quantities in 100 kg become kg.
-- Values and masses are DECIMAL(38,3) (Comtrade reports at most three decimals): sums of
-- decimals are exact, so every figure built on them is the same on every rerun, whatever
-- order DuckDB's threads add them in.
-- Product rows at coarser levels than the source's detail (TOTAL, HS2, HS4) are kept
-- but marked is_detail = false, so no mart adds them to their own detail rows.
-- hs_edition is the HS edition (H0 = HS 1992 .. H6 = HS 2022) of the code's first six digits:
-- Comtrade's classificationCode, or for Comext the edition in force in the CN8's year. Codes
-- stay as reported here; staging.annual_flows puts them on the target edition's axis.
-- Codes are mapped through reference.area_codes; an unknown code stays visible as
-- 'UNKNOWN:<code>' with a null kind and fails the known_codes check.
-- A key present twice means two input files overlap or a file repeats a record: the grain check
-- fails and names them, rather than adding the values up.
-- partition: year
-- grain: source, freq, year, month, reporter, partner, flow, product_code_native
-- check known_codes: reporter_kind IS NOT NULL AND partner_kind IS NOT NULL
-- check known_flow: flow IS NOT NULL
-- check valid_period: year BETWEEN 1950 AND 2100 AND (freq = 'A' AND month IS NULL OR freq = 'M' AND month BETWEEN 1 AND 12)
-- check non_negative_value: value IS NULL OR value >= 0
WITH comtrade AS (
    SELECT
        'comtrade' AS source,
        'USD' AS currency,
        r.freqCode AS freq,
        r.refYear AS year,
        CASE WHEN r.freqCode = 'M' THEN r.refMonth END AS month,
        coalesce(rep.area, 'UNKNOWN:' || r.reporterCode) AS reporter,
        rep.kind AS reporter_kind,
        coalesce(par.area, 'UNKNOWN:' || r.partnerCode) AS partner,
        par.kind AS partner_kind,
        CASE r.flowCode WHEN 'M' THEN 'import' WHEN 'X' THEN 'export'
                        WHEN 'RM' THEN 're-import' WHEN 'RX' THEN 're-export' END AS flow,
        r.cmdCode AS product_code_native,
        r.classificationCode AS classification,
        -- the HS edition Comtrade says the reporter-year is in (SITC and others have none)
        CASE WHEN regexp_full_match(r.classificationCode, 'H[0-6]') THEN r.classificationCode END AS hs_edition,
        r.primaryValue::DECIMAL(38, 3) AS value,
        -- free/preview calls report weight 0 flagged as estimated: that is "unknown", not zero
        CASE WHEN r.isNetWgtEstimated AND r.netWgt = 0 THEN NULL ELSE r.netWgt::DECIMAL(38, 3) END AS net_mass_kg,
        r.release,
        r.synthetic,
        r._file AS source_file,
        r._line AS source_line
    FROM raw.comtrade_records AS r
    LEFT JOIN reference.area_codes AS rep ON rep.source = 'comtrade' AND rep.code = r.reporterCode::VARCHAR
    LEFT JOIN reference.area_codes AS par ON par.source = 'comtrade' AND par.code = r.partnerCode::VARCHAR
    WHERE r.customsCode = 'C00' AND r.motCode = 0 AND r.partner2Code = 0
      AND r.flowCode IN ('M', 'X', 'RM', 'RX')
),
comext_rows AS (
    -- SDMX observations (one indicator per row) and bulk lines side by side, not yet summed:
    -- one aggregation below sums statistical procedures, indicators and GB's two parts at once.
    -- Row values as DECIMAL(18, 3) (int64, ample for one flow); their sums are DECIMAL(38, 3).
    SELECT
        s.freq,
        left(s.time_period, 4)::INTEGER AS year,
        CASE WHEN s.freq = 'M' THEN right(s.time_period, 2)::INTEGER END AS month,
        s.reporter, s.partner, s.flow, s.product,
        CASE WHEN s.indicators = 'VALUE_IN_EUROS' THEN s.obs_value::DECIMAL(18, 3) END AS value,
        CASE WHEN s.indicators = 'QUANTITY_IN_100KG' THEN s.obs_value::DECIMAL(18, 3) * 100 END AS net_mass_kg,
        s.release, s.synthetic, s._file, s._line
    FROM raw.comext_sdmx AS s
    UNION ALL
    SELECT
        -- PERIOD YYYY52 is the annual total file; YYYYMM a month
        CASE WHEN b.period % 100 = 52 THEN 'A' ELSE 'M' END,
        b.period // 100,
        CASE WHEN b.period % 100 <> 52 THEN b.period % 100 END,
        b.reporter, b.partner, b.flow, b.product_nc,
        b.value_eur::DECIMAL(18, 3),
        b.quantity_kg::DECIMAL(18, 3),
        b.release, b.synthetic, b._file, b._line
    FROM raw.comext_bulk AS b
),
comext AS (
    SELECT
        'comext' AS source,
        'EUR' AS currency,
        c.freq, c.year, c.month,
        -- the EU27_2020 reporter is the bloc itself
        CASE WHEN c.reporter = 'EU27_2020' THEN 'EU27' ELSE coalesce(rep.area, 'UNKNOWN:' || c.reporter) END AS reporter,
        CASE WHEN c.reporter = 'EU27_2020' THEN 'bloc' ELSE rep.kind END AS reporter_kind,
        coalesce(par.area, 'UNKNOWN:' || c.partner) AS partner,
        par.kind AS partner_kind,
        CASE c.flow WHEN 1 THEN 'import' WHEN 2 THEN 'export' END AS flow,
        c.product AS product_code_native,
        -- CN8 of the year; its first six digits are the HS edition in force that year
        'CN' || c.year AS classification,
        -- ... and the HS edition in force that year (HS 2022 from 2022, HS 2017 from 2017, ...)
        CASE WHEN c.year >= 2022 THEN 'H6' WHEN c.year >= 2017 THEN 'H5' WHEN c.year >= 2012 THEN 'H4'
             WHEN c.year >= 2007 THEN 'H3' WHEN c.year >= 2002 THEN 'H2' WHEN c.year >= 1996 THEN 'H1'
             ELSE 'H0' END AS hs_edition,
        -- statistical procedures, the SDMX indicators, and GB's parts XI and XU (from 2021, both GBR)
        sum(c.value) AS value,
        sum(c.net_mass_kg) AS net_mass_kg,
        c.release, c.synthetic, c._file AS source_file, min(c._line) AS source_line
    FROM comext_rows AS c
    LEFT JOIN reference.area_codes AS rep ON rep.source = 'comext' AND rep.code = c.reporter
    LEFT JOIN reference.area_codes AS par ON par.source = 'comext' AND par.code = c.partner
    GROUP BY ALL
),
baci_sides AS (
    -- CEPII BACI, USD (pipeline/sources/baci): its reconciled matrix gives one value per exporter i,
    -- importer j, HS6 and year, so a line i -> j is both j's import from i and i's export to j. It
    -- enters once on each side (reporter j / partner i / import, reporter i / partner j / export)
    -- with the same value: each side holds every flow once, so the import screens and world
    -- exports count it once. No World row: BACI's world is the sum of its rows.
    SELECT b.t AS year, b.j AS reporter_code, b.i AS partner_code, 'import' AS flow, b.k, b.hs_edition, b.v, b.q,
           b.release, b.synthetic, b._file, b._line
    FROM raw.baci_flows AS b
    UNION ALL
    SELECT b.t, b.i, b.j, 'export', b.k, b.hs_edition, b.v, b.q, b.release, b.synthetic, b._file, b._line
    FROM raw.baci_flows AS b
),
baci AS (
    SELECT
        'baci' AS source,
        'USD' AS currency,
        'A' AS freq,
        s.year,
        NULL::INTEGER AS month,
        coalesce(rep.area, 'UNKNOWN:' || s.reporter_code) AS reporter,
        rep.kind AS reporter_kind,
        coalesce(par.area, 'UNKNOWN:' || s.partner_code) AS partner,
        par.kind AS partner_kind,
        s.flow,
        s.k AS product_code_native,
        s.hs_edition AS classification,
        s.hs_edition,
        -- thousand USD and tonnes (six decimals at most, checked by the reader) to exact USD and kg
        (s.v * 1000)::DECIMAL(38, 3) AS value,
        (s.q * 1000)::DECIMAL(38, 3) AS net_mass_kg,
        s.release,
        s.synthetic,
        s._file AS source_file,
        s._line AS source_line
    FROM baci_sides AS s
    -- BACI's codes are Comtrade's: its dictionary is one of the sources of area_codes' comtrade rows
    LEFT JOIN reference.area_codes AS rep ON rep.source = 'comtrade' AND rep.code = s.reporter_code::VARCHAR
    LEFT JOIN reference.area_codes AS par ON par.source = 'comtrade' AND par.code = s.partner_code::VARCHAR
),
unioned AS (
    SELECT * FROM comtrade
    UNION ALL BY NAME
    SELECT * FROM comext
    UNION ALL BY NAME
    SELECT * FROM baci
)
SELECT
    source, currency, freq, year, month, reporter, reporter_kind, partner, partner_kind, flow,
    product_code_native,
    CASE
        WHEN product_code_native = 'TOTAL' THEN 'TOTAL'
        WHEN length(product_code_native) = 8 THEN 'CN8'
        WHEN length(product_code_native) IN (2, 4, 6) THEN 'HS' || length(product_code_native)
    END AS product_level,
    -- the finest level each source reports; coarser rows are totals of these
    (source IN ('comtrade', 'baci') AND length(product_code_native) = 6)
        OR (source = 'comext' AND length(product_code_native) = 8) AS is_detail,
    -- confidential codes such as 39XXXXXX reach only the level their leading digits allow
    CASE WHEN length(regexp_extract(product_code_native, '^[0-9]+')) >= 6 THEN left(product_code_native, 6) END AS product_code,
    CASE WHEN length(regexp_extract(product_code_native, '^[0-9]+')) >= 4 THEN left(product_code_native, 4) END AS hs4,
    CASE WHEN length(regexp_extract(product_code_native, '^[0-9]+')) >= 2 THEN left(product_code_native, 2) END AS hs2,
    classification, hs_edition, value, net_mass_kg, release, synthetic, source_file, source_line
FROM unioned
