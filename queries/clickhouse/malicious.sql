-- Flows to or from addresses a threat feed lists (needs --feeds), allowed ones first.
SELECT
    src_addr,
    dst_addr,
    dst_port,
    protocol,
    direction,
    action,
    arrayStringConcat(arrayDistinct(arrayConcat(src_feeds, dst_feeds)), ',') AS feeds,
    count() AS flows,
    sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes,
    min(timestamp) AS first_seen,
    max(timestamp) AS last_seen
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
  AND malicious
GROUP BY src_addr, dst_addr, dst_port, protocol, direction, action, feeds
ORDER BY action = 'allow' DESC, flows DESC, src_addr, dst_addr, dst_port
LIMIT 100
