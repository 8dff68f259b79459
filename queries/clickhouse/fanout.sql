-- VMs reaching more than 100 distinct external (public) addresses in an hour, from the
-- 10-minute rollup (allowed outbound flows only).
SELECT
    toStartOfHour(window_start) AS hour,
    replaceRegexpOne(toString(src_ip), '^::ffff:', '') AS src_addr,
    uniqExact(dst_ip) AS public_destinations,
    sum(tuples) AS flows
FROM nsgflow.flows_10m
WHERE window_start >= {from:DateTime64(3)} AND window_start < {to:DateTime64(3)}
  AND direction = 'outbound' AND action = 'allow' AND dst_class = 'public'
GROUP BY hour, src_ip
HAVING public_destinations > 100
ORDER BY public_destinations DESC, hour, src_addr
LIMIT 50
