-- NSG rule hits over time (per hour), with the NSG or watched resource.
SELECT
    toStartOfHour(timestamp) AS time,
    if(nsg != '', nsg, target_resource) AS resource,
    rule,
    action,
    count() AS hits
FROM nsgflow.flows
WHERE timestamp >= {from:DateTime64(3)} AND timestamp < {to:DateTime64(3)}
GROUP BY time, resource, rule, action
ORDER BY time, hits DESC, resource, rule, action
