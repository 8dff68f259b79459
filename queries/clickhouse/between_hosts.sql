-- All traffic between two servers, both ways, with the rule that decided it.
SELECT
    src_addr,
    dst_addr,
    dst_port,
    protocol,
    action,
    rule,
    count() AS flows,
    sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
  AND ((src_ip = toIPv6({host_a:String}) AND dst_ip = toIPv6({host_b:String}))
    OR (src_ip = toIPv6({host_b:String}) AND dst_ip = toIPv6({host_a:String})))
GROUP BY src_addr, dst_addr, dst_port, protocol, action, rule
ORDER BY flows DESC, src_addr, dst_addr, dst_port, protocol, action, rule
LIMIT 100
