-- Each country reporter's own total imports and exports of a product, per source and year: its
-- World row where it reports one, else the sum of its partner rows (external, self and
-- unallocated; 0 where it reports neither). The pass-through of the look-through (methodology
-- section 8: pass_k = imports / max(exports, imports) of intermediary k) reads it, in
-- monitor.supplier_dependence and monitor.look_through_shares: one pass over the flows for both
-- instead of one each. The EU27 bloc is not an intermediary and has no row. Products are on the
-- target edition's axis (staging.annual_flows); synthetic: any row behind the totals is synthetic.
-- partition: year
-- grain: source, country, year, product_code
-- check totals_known: imports IS NOT NULL AND exports IS NOT NULL
SELECT source, reporter AS country, year, product_code_target AS product_code,
       coalesce(sum(value) FILTER (WHERE flow = 'import' AND partner_role = 'world'),
                sum(value) FILTER (WHERE flow = 'import' AND partner_role IN ('external', 'self', 'unallocated')), 0)
           AS imports,
       coalesce(sum(value) FILTER (WHERE flow = 'export' AND partner_role = 'world'),
                sum(value) FILTER (WHERE flow = 'export' AND partner_role IN ('external', 'self', 'unallocated')), 0)
           AS exports,
       bool_or(synthetic) AS synthetic
FROM staging.annual_flows
WHERE reporter <> 'EU27' AND product_code_target IS NOT NULL
  AND partner_role IN ('world', 'external', 'self', 'unallocated')
GROUP BY ALL
