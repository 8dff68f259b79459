-- The top denied flows: who was refused, where, on which port, by which rule.
SELECT
    src_addr,
    dst_addr,
    dst_port,
    protocol,
    rule,
    count() AS denied
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
  AND action = 'deny'
GROUP BY src_addr, dst_addr, dst_port, protocol, rule
ORDER BY denied DESC, src_addr, dst_addr, dst_port, protocol, rule
LIMIT 20
