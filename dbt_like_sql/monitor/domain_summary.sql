-- Headline figures per strategic domain, source and year: how many HS6 products the EU27
-- and NL screens covered, how many came out dependent, the extra-EU import value at stake
-- in the dependent ones (source currency), their main suppliers (top supplier of the most
-- dependent import value first), and how many countries depend on NL and on the EU for at
-- least one product of the domain. Products in no domain are not summarised. Products screened
-- count the rows with something traded outside the EU (monitor.ec_screen.screened).
-- release and synthetic: every screen and dependence row summarised.
-- eu_/nl_split_dependent_products count the dependent products whose flag rests partly on value
-- shared out from codes split across HS revisions (monitor.ec_screen.split_dependent).
-- A product in several domains counts in each (staging.product_domains, not the screens' one-domain column).
-- access: public
-- sheet: Domain summary; order 5
-- methodology: 9 Strategic domains; 6 Screens
-- grain: source, domain, year
WITH screen AS (
    SELECT e.* REPLACE (d.domain AS domain)
    FROM monitor.ec_screen AS e JOIN staging.product_domains AS d ON d.code = e.product_code
),
dependence AS (
    SELECT s.* REPLACE (d.domain AS domain)
    FROM monitor.supplier_dependence AS s JOIN staging.product_domains AS d ON d.code = s.product_code
),
eu AS (
    SELECT source, currency, domain, year,
           count(*) FILTER (WHERE screened) AS eu_products_screened,
           count(*) FILTER (WHERE dependent) AS eu_dependent_products,
           count(*) FILTER (WHERE split_dependent) AS eu_split_dependent_products,
           coalesce(sum(m_extra) FILTER (WHERE dependent), 0) AS eu_import_value_at_stake,
           coalesce(sum(m_extra), 0) AS eu_extra_imports,
           list_distinct(flatten(list(string_split(release, '; ')))) AS rel, bool_or(synthetic) AS syn
    FROM screen WHERE reporter = 'EU27' AND domain IS NOT NULL
    GROUP BY ALL
),
eu_suppliers AS (
    SELECT source, domain, year,
           string_agg(top_supplier, ', ' ORDER BY value DESC, top_supplier) AS eu_main_suppliers
    FROM (
        SELECT source, domain, year, top_supplier, sum(top_supplier_value) AS value,
               row_number() OVER (PARTITION BY source, domain, year
                                  ORDER BY sum(top_supplier_value) DESC, top_supplier) AS rn
        FROM screen
        WHERE reporter = 'EU27' AND dependent AND domain IS NOT NULL
        GROUP BY source, domain, year, top_supplier
    )
    WHERE rn <= 3
    GROUP BY ALL
),
nl AS (
    SELECT source, currency, domain, year,
           count(*) FILTER (WHERE screened) AS nl_products_screened,
           count(*) FILTER (WHERE dependent) AS nl_dependent_products,
           count(*) FILTER (WHERE split_dependent) AS nl_split_dependent_products,
           coalesce(sum(m_extra) FILTER (WHERE dependent), 0) AS nl_import_value_at_stake,
           list_distinct(flatten(list(string_split(release, '; ')))) AS rel, bool_or(synthetic) AS syn
    FROM screen WHERE reporter = 'NLD' AND domain IS NOT NULL
    GROUP BY ALL
),
on_nl AS (
    SELECT source, domain, year, count(DISTINCT importer) FILTER (WHERE depends) AS partners_depending_on_nl,
           list_distinct(flatten(list(string_split(release, '; ')))) AS rel, bool_or(synthetic) AS syn
    FROM dependence WHERE supplier = 'NLD' AND domain IS NOT NULL
    GROUP BY ALL
),
on_eu AS (
    SELECT source, domain, year, count(DISTINCT importer) FILTER (WHERE depends) AS partners_depending_on_eu,
           list_distinct(flatten(list(string_split(release, '; ')))) AS rel, bool_or(synthetic) AS syn
    FROM dependence WHERE supplier = 'EU27' AND domain IS NOT NULL
    GROUP BY ALL
),
keys AS (
    SELECT source, currency, domain, year FROM eu
    UNION SELECT source, currency, domain, year FROM nl
    UNION SELECT source, currency, domain, year FROM dependence WHERE domain IS NOT NULL
)
SELECT
    k.source, k.currency, k.domain, k.year,
    coalesce(eu.eu_products_screened, 0) AS eu_products_screened,
    coalesce(eu.eu_dependent_products, 0) AS eu_dependent_products,
    coalesce(eu.eu_import_value_at_stake, 0) AS eu_import_value_at_stake,
    eu.eu_import_value_at_stake / nullif(eu.eu_extra_imports, 0) AS eu_share_of_domain_imports_at_stake,
    s.eu_main_suppliers,
    coalesce(nl.nl_products_screened, 0) AS nl_products_screened,
    coalesce(nl.nl_dependent_products, 0) AS nl_dependent_products,
    coalesce(nl.nl_import_value_at_stake, 0) AS nl_import_value_at_stake,
    coalesce(on_nl.partners_depending_on_nl, 0) AS partners_depending_on_nl,
    coalesce(on_eu.partners_depending_on_eu, 0) AS partners_depending_on_eu,
    coalesce(eu.eu_split_dependent_products, 0) AS eu_split_dependent_products,
    coalesce(nl.nl_split_dependent_products, 0) AS nl_split_dependent_products,
    array_to_string(list_sort(list_distinct(list_concat(
        list_concat(coalesce(eu.rel, []), coalesce(nl.rel, [])),
        list_concat(coalesce(on_nl.rel, []), coalesce(on_eu.rel, []))))), '; ')
        AS release,
    coalesce(eu.syn, false) OR coalesce(nl.syn, false) OR coalesce(on_nl.syn, false) OR coalesce(on_eu.syn, false)
        AS synthetic
FROM keys AS k
LEFT JOIN eu USING (source, domain, year)
LEFT JOIN eu_suppliers AS s USING (source, domain, year)
LEFT JOIN nl USING (source, domain, year)
LEFT JOIN on_nl USING (source, domain, year)
LEFT JOIN on_eu USING (source, domain, year)
