-- Traffic by application protocol (guessed from the destination port, as Traffic
-- Analytics does; '' when the port has no label).
SELECT
    l7_protocol,
    count() AS flows,
    countIf(action = 'deny') AS denied,
    sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
GROUP BY l7_protocol
ORDER BY bytes DESC, flows DESC, l7_protocol
LIMIT 50
