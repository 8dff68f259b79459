-- Top conversations: address pairs (either direction) by bytes.
SELECT
    replaceRegexpOne(toString(least(src_ip, dst_ip)), '^::ffff:', '') AS addr_a,
    replaceRegexpOne(toString(greatest(src_ip, dst_ip)), '^::ffff:', '') AS addr_b,
    sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes,
    sum(tuples) AS flows
FROM nsgflow.flows_10m
WHERE window_start >= {from:DateTime64(3)} AND window_start < {to:DateTime64(3)}
GROUP BY addr_a, addr_b
ORDER BY bytes DESC, addr_a, addr_b
LIMIT 10
