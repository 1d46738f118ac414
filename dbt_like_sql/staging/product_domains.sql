-- The strategic domains of every product code the monitor meets (HS 2022 codes and the
-- known-digit prefixes of codes in the data, on the target edition's axis). A product sits in every domain
-- one of whose reference.strategic_domains prefixes it starts with (the CRMA's lists overlap, a lithium
-- salt is a battery material too); within a domain the longest matching prefix gives domain_prefix and
-- domain_label. domain_rank 1 is the domain a one-domain column shows (the longest prefix over all
-- domains, then alphabetical): joins that must keep one row per product take domain_rank = 1, the
-- domain-level aggregates take every row. Codes in no domain are absent. One place for this rule.
-- grain: code, domain
WITH codes AS (
    SELECT code FROM reference.hs_products
    UNION
    SELECT DISTINCT coalesce(product_code_target, hs4, hs2) FROM staging.annual_flows
    WHERE coalesce(product_code_target, hs4, hs2) IS NOT NULL
), per_domain AS (
    SELECT
        c.code,
        s.domain,
        arg_max(s.hs_prefix, length(s.hs_prefix)) AS domain_prefix,
        arg_max(s.label, length(s.hs_prefix)) AS domain_label
    FROM codes AS c
    JOIN reference.strategic_domains AS s ON starts_with(c.code, s.hs_prefix)
    GROUP BY c.code, s.domain
)
SELECT *, row_number() OVER (PARTITION BY code ORDER BY length(domain_prefix) DESC, domain) AS domain_rank
FROM per_domain
