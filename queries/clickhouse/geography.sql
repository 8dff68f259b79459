-- Traffic by region pair: the Azure region of each side (topology, or the service tag of
-- a Microsoft address), '' where unknown (the internet, or nothing configured).
SELECT
    src_region,
    dst_region,
    count() AS flows,
    countIf(action = 'deny') AS denied,
    sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
GROUP BY src_region, dst_region
ORDER BY bytes DESC, flows DESC, src_region, dst_region
LIMIT 50
