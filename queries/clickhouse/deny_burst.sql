-- Sources denied more than 1,000 times in 5 minutes (scanning or brute force).
SELECT
    toStartOfFiveMinutes(timestamp) AS window_start,
    src_addr,
    count() AS denied,
    uniqExact(dst_ip) AS targets,
    uniqExact(dst_port) AS ports
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
  AND action = 'deny'
GROUP BY window_start, src_addr
HAVING denied > 1000
ORDER BY denied DESC, window_start, src_addr
LIMIT 50
