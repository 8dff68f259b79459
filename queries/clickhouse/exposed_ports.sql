-- Open ports reached from the internet: allowed inbound flows from public addresses.
SELECT
    dst_addr,
    dst_port,
    protocol,
    uniqExact(src_ip) AS sources,
    count() AS flows,
    min(timestamp) AS first_seen,
    max(timestamp) AS last_seen
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
  AND direction = 'inbound' AND action = 'allow' AND src_class = 'public'
GROUP BY dst_addr, dst_port, protocol
ORDER BY sources DESC, flows DESC, dst_addr, dst_port, protocol
LIMIT 100
