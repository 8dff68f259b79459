-- nsgflow flat events in ClickHouse: the table, the 10-minute rollup and the alerts table.
-- Load with `clickhouse-client --multiquery < schema.sql`; Vector's `clickhouse` sink
-- (pipelines/vector/native-clickhouse.yaml) then inserts `nsgflow process --format flat`
-- lines as JSONEachRow. CI runs this file and every query beside it in chdb
-- (tests/queries_clickhouse.rs).
--
-- Choices:
-- * Addresses are IPv6: one 16-byte column holds both families; IPv4 is stored mapped
--   (::ffff:10.1.2.3), which is what ClickHouse makes of an IPv4 text inserted into IPv6.
--   Compare with toIPv6('10.1.2.3'); `src_addr` / `dst_addr` give the address as written.
-- * Every string with a small set of values (labels, classes, names, resource IDs) is
--   LowCardinality: a dictionary per part, so GROUP BY and filters run on integers.
--   Only `community_id` and `record_time` are plain strings.
-- * A field nsgflow leaves out (no counters on NSG v1 and `B` tuples, no enrichment when
--   not configured) gets the column default: 0, '' or false. Sums are therefore right.
-- * ORDER BY (toStartOfHour(timestamp), dst_ip, src_ip, timestamp): every query has a time
--   range, and the questions are about hosts ("ports of vm03", "between two servers");
--   the hour prefix keeps the primary index small and lets the address columns prune
--   granules inside each hour. PARTITION BY day so that the TTL drops whole parts.
-- * TTL: raw events 30 days, the 10-minute rollup 400 days (Traffic Analytics keeps its
--   aggregates, not the tuples). Change both to your retention.

CREATE DATABASE IF NOT EXISTS nsgflow;

CREATE TABLE IF NOT EXISTS nsgflow.flows
(
    timestamp DateTime64(3, 'UTC'),
    src_ip IPv6,
    src_port UInt16,
    dst_ip IPv6,
    dst_port UInt16,
    protocol LowCardinality(String),
    iana_number UInt8,
    direction LowCardinality(String),
    action LowCardinality(String),
    flow_state LowCardinality(String),
    encryption LowCardinality(String),
    encrypted Bool,
    packets_src_to_dst UInt64,
    bytes_src_to_dst UInt64,
    packets_dst_to_src UInt64,
    bytes_dst_to_src UInt64,
    src_class LowCardinality(String),
    src_network LowCardinality(String),
    dst_class LowCardinality(String),
    dst_network LowCardinality(String),
    l7_protocol LowCardinality(String),
    community_id String,
    src_listed Bool,
    src_feeds Array(LowCardinality(String)),
    src_threat_category LowCardinality(String),
    src_threat_score UInt32,
    dst_listed Bool,
    dst_feeds Array(LowCardinality(String)),
    dst_threat_category LowCardinality(String),
    dst_threat_score UInt32,
    malicious Bool,
    src_vnet LowCardinality(String),
    src_subnet LowCardinality(String),
    src_region LowCardinality(String),
    src_gateway LowCardinality(String),
    src_gateway_type LowCardinality(String),
    src_service_tag LowCardinality(String),
    dst_vnet LowCardinality(String),
    dst_subnet LowCardinality(String),
    dst_region LowCardinality(String),
    dst_gateway LowCardinality(String),
    dst_gateway_type LowCardinality(String),
    dst_service_tag LowCardinality(String),
    flow_type LowCardinality(String),
    rule LowCardinality(String),
    acl_id LowCardinality(String),
    mac LowCardinality(String),
    flow_log_kind LowCardinality(String),
    flow_log_version UInt8,
    record_time String,
    subscription_id LowCardinality(String),
    resource_group LowCardinality(String),
    nsg LowCardinality(String),
    flow_log LowCardinality(String),
    target_resource LowCardinality(String),
    target_resource_type LowCardinality(String),
    resource_id LowCardinality(String),
    flow_log_resource_id LowCardinality(String),
    target_resource_id LowCardinality(String),
    system_id LowCardinality(String),
    flow_log_guid LowCardinality(String),
    -- The addresses as written (IPv4 without the ::ffff: prefix), computed when read.
    src_addr String ALIAS replaceRegexpOne(toString(src_ip), '^::ffff:', ''),
    dst_addr String ALIAS replaceRegexpOne(toString(dst_ip), '^::ffff:', ''),
    -- The NIC's own side: the VM an NSG or VNet flow log record belongs to.
    host_ip IPv6 ALIAS if(direction = 'outbound', src_ip, dst_ip)
)
ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (toStartOfHour(timestamp), dst_ip, src_ip, timestamp)
TTL toDateTime(timestamp) + INTERVAL 30 DAY DELETE
SETTINGS ttl_only_drop_parts = 1;

-- Traffic-Analytics-style rollup: one row per 10 minutes and (src, dst, dst port,
-- protocol, direction, action), with sums. The address classes are functions of the
-- addresses (for one config), so keeping them in the key splits nothing and saves a join.
-- SummingMergeTree folds rows of the same key when parts merge; always read it with
-- sum() ... GROUP BY, as the queries here do, because unmerged parts hold several rows.
CREATE TABLE IF NOT EXISTS nsgflow.flows_10m
(
    window_start DateTime('UTC'),
    src_ip IPv6,
    dst_ip IPv6,
    dst_port UInt16,
    protocol LowCardinality(String),
    direction LowCardinality(String),
    action LowCardinality(String),
    src_class LowCardinality(String),
    dst_class LowCardinality(String),
    tuples UInt64,
    flows_begun UInt64,
    packets_src_to_dst UInt64,
    bytes_src_to_dst UInt64,
    packets_dst_to_src UInt64,
    bytes_dst_to_src UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_start, src_ip, dst_ip, dst_port, protocol, direction, action, src_class, dst_class)
TTL window_start + INTERVAL 400 DAY DELETE;

CREATE MATERIALIZED VIEW IF NOT EXISTS nsgflow.flows_10m_mv TO nsgflow.flows_10m AS
SELECT
    toStartOfInterval(timestamp, INTERVAL 10 MINUTE) AS window_start,
    src_ip, dst_ip, dst_port, protocol, direction, action, src_class, dst_class,
    count() AS tuples,
    countIf(flow_state = 'begin') AS flows_begun,
    sum(packets_src_to_dst) AS packets_src_to_dst,
    sum(bytes_src_to_dst) AS bytes_src_to_dst,
    sum(packets_dst_to_src) AS packets_dst_to_src,
    sum(bytes_dst_to_src) AS bytes_dst_to_src
FROM nsgflow.flows
GROUP BY window_start, src_ip, dst_ip, dst_port, protocol, direction, action, src_class, dst_class;

-- Alerts (`nsgflow process --detect`, issue 9): lines with "kind":"alert", routed here by
-- the Vector pipeline. Fields that do not apply to a detector stay at their defaults.
CREATE TABLE IF NOT EXISTS nsgflow.alerts
(
    kind LowCardinality(String),
    detector LowCardinality(String),
    severity LowCardinality(String),
    summary String,
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    src_ip Nullable(IPv6),
    dst_ip Nullable(IPv6),
    dst_port Nullable(UInt16),
    protocol LowCardinality(String),
    observed Nullable(Float64),
    threshold Nullable(Float64),
    baseline Nullable(Float64),
    ratio Nullable(Float64),
    count UInt64,
    first_seen DateTime64(3, 'UTC'),
    last_seen DateTime64(3, 'UTC'),
    evidence Array(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_start, detector)
TTL toDateTime(window_start) + INTERVAL 400 DAY DELETE;
