-- Top talkers: the addresses that move the most bytes, as source or destination.
SELECT
    replaceRegexpOne(toString(ip), '^::ffff:', '') AS addr,
    sum(bytes) AS bytes,
    sum(flows) AS flows
FROM
(
    SELECT src_ip AS ip, sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes, sum(tuples) AS flows
    FROM nsgflow.flows_10m
    WHERE window_start >= {from:DateTime64(3)} AND window_start < {to:DateTime64(3)}
    GROUP BY ip
    UNION ALL
    SELECT dst_ip AS ip, sum(bytes_src_to_dst + bytes_dst_to_src) AS bytes, sum(tuples) AS flows
    FROM nsgflow.flows_10m
    WHERE window_start >= {from:DateTime64(3)} AND window_start < {to:DateTime64(3)}
    GROUP BY ip
)
GROUP BY addr
ORDER BY bytes DESC, addr
LIMIT 10
