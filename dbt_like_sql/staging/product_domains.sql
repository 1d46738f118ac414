-- The strategic domain of every product code the monitor meets (HS 2022 codes and the
-- known-digit prefixes of codes in the data, on the target edition's axis): the longest matching prefix of
-- reference.strategic_domains wins, so a 6-digit entry overrides its 4- and 2-digit parents.
-- Codes in no domain are absent. One place for this rule, so every mart agrees.
-- grain: code
WITH codes AS (
    SELECT code FROM reference.hs_products
    UNION
    SELECT DISTINCT coalesce(product_code_target, hs4, hs2) FROM staging.annual_flows
    WHERE coalesce(product_code_target, hs4, hs2) IS NOT NULL
)
SELECT
    c.code,
    arg_max(s.domain, length(s.hs_prefix)) AS domain,
    arg_max(s.hs_prefix, length(s.hs_prefix)) AS domain_prefix,
    arg_max(s.label, length(s.hs_prefix)) AS domain_label
FROM codes AS c
JOIN reference.strategic_domains AS s ON starts_with(c.code, s.hs_prefix)
GROUP BY c.code
