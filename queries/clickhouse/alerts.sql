-- Alerts raised by nsgflow's detection (issue 9: `--detect`), newest first.
SELECT
    window_start,
    detector,
    severity,
    summary,
    src_ip,
    dst_ip,
    dst_port,
    observed,
    baseline,
    ratio,
    count
FROM nsgflow.alerts
WHERE window_start >= {from:DateTime64(3)} AND window_start < {to:DateTime64(3)}
  AND kind = 'alert'
ORDER BY window_start DESC, detector
LIMIT 200
