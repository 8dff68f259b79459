-- Traffic Analytics FlowType (needs --topology or --service-tags; '' without them).
SELECT
    flow_type,
    count() AS flows,
    countIf(action = 'deny') AS denied,
    sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
GROUP BY flow_type
ORDER BY flows DESC, flow_type
