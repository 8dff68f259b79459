-- Which ports does a VM receive traffic on, and from whom (internal, Azure, external)?
SELECT
    dst_port,
    protocol,
    src_class,
    count() AS flows,
    uniqExact(src_ip) AS sources,
    sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
  AND dst_ip = toIPv6({vm:String}) AND direction = 'inbound'
GROUP BY dst_port, protocol, src_class
ORDER BY flows DESC, dst_port, protocol, src_class
LIMIT 50
