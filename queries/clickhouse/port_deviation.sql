-- Per VM (the NIC's side of the flow), destination port and direction: the bytes of each
-- 10-minute bucket against that key's own average over its other buckets in the range,
-- as a ratio ("7x its usual bytes on 1433"). Keys need 12 buckets of history; buckets
-- under 1 MB are not reported. From the 10-minute rollup.
SELECT
    replaceRegexpOne(toString(host_ip), '^::ffff:', '') AS host,
    dst_port,
    direction,
    window_start,
    bytes,
    (sum(bytes) OVER key - bytes) / (count() OVER key - 1) AS baseline,
    bytes / baseline AS ratio
FROM
(
    SELECT
        if(direction = 'outbound', src_ip, dst_ip) AS host_ip,
        dst_port,
        direction,
        window_start,
        sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes
    FROM nsgflow.flows_10m
    WHERE window_start >= {from:DateTime64(3)} AND window_start < {to:DateTime64(3)}
      AND action = 'allow'
    GROUP BY host_ip, dst_port, direction, window_start
)
WINDOW key AS (PARTITION BY host_ip, dst_port, direction)
QUALIFY count() OVER key > 12 AND bytes >= 1000000 AND baseline > 0
ORDER BY ratio DESC, host, dst_port, direction, window_start
LIMIT 20
