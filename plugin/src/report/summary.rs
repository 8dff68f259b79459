//! From the model to the numbers the page shows: top N of each table, the time buckets
//! (5 minutes to an hour, aligned to the hour), the unusual-volume ratios. Plain owned
//! data, so the HTML writer only formats, and the tests check the numbers here.

use std::net::IpAddr;

use super::model::{ReportModel, Tally, TimeCell, Totals, BASE_BUCKET_MS};
use crate::detect::Alert;
use crate::stats::Stats;

/// Bucket widths the page may use, in base (5-minute) buckets: 5, 10, 15, 30, 60 minutes,
/// each dividing the hour, so buckets are aligned to the hour.
const WIDTHS: [u32; 5] = [1, 2, 3, 6, 12];
/// At most this many buckets in the time charts (the widest bucket, an hour, is used past it).
const MAX_BUCKETS: u64 = 96;

/// A host as the page names it: the address, and the NIC name and VNet/subnet when known,
/// and how many alerts name it (as subject, source or destination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub ip: IpAddr,
    pub name: Option<String>,
    pub site: Option<String>,
    pub alerts: u64,
}

/// One alert as the page lists it, with its subject named like every other host.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub alert: Alert,
    pub subject: Host,
}

/// The alerts view: counts by detector and the alerts, most severe first.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSummary {
    /// Every detector that ran, with its alerts (zero included), in detector order.
    pub by_detector: Vec<(&'static str, u64)>,
    /// Alerts in the period (the rows below, and those past the cap).
    pub total: u64,
    /// At most 10 x `top` rows: severity (high first), then window start, detector, subject.
    pub rows: Vec<AlertRow>,
    /// Alerts whose window lies outside `--from` / `--to` (not counted above).
    pub outside_range: u64,
    /// Tuples detection could not count: their window had closed (inputs out of time order).
    pub late: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row<K> {
    pub key: K,
    pub tally: Tally,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PortRow {
    pub host: Host,
    pub port: u16,
    pub protocol: String,
    pub tally: Tally,
    pub from_internal: u64,
    pub from_azure: u64,
    pub from_external: u64,
    pub public_allowed: u64,
    pub public_allowed_bytes: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleSeries {
    pub nsg: String,
    pub rule: String,
    pub total: u64,
    /// Flows per bucket of [`Summary::buckets`].
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MaliciousRow {
    pub ip: IpAddr,
    pub feeds: String,
    pub category: String,
    pub country: String,
    pub tally: Tally,
    pub inbound: u64,
    pub outbound: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GeoRow {
    /// ISO code, or `AS<n>`.
    pub key: String,
    /// The AS organisation.
    pub name: String,
    pub benign: Tally,
    pub malicious: Tally,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeRow {
    pub host: Host,
    pub port: u16,
    pub bytes: u64,
    pub busiest_bytes: u64,
    pub busiest_start_ms: u64,
    pub mean_bytes: f64,
    pub ratio: f64,
    pub active_buckets: usize,
}

/// Everything the page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub top: usize,
    pub totals: Totals,
    /// `None` when detection did not run.
    pub alerts: Option<AlertSummary>,
    pub inputs: u64,
    pub failed_inputs: u64,
    pub incomplete_inputs: u64,
    pub input_bytes: u64,
    pub records: u64,
    pub rejected: Vec<(String, u64)>,
    /// Bucket width in ms, and the start of each bucket (every bucket from the first to the
    /// last, empty ones included).
    pub bucket_ms: u64,
    pub buckets: Vec<u64>,
    pub time: Vec<TimeCell>,
    pub talkers: Vec<Row<Host>>,
    pub pairs: Vec<Row<(Host, Host)>>,
    pub l7: Vec<Row<String>>,
    /// Every receiving internal host's ports (top N hosts by flows, each with its ports).
    pub ports: Vec<PortRow>,
    pub open_ports: Vec<PortRow>,
    pub denied_sources: Vec<Row<Host>>,
    pub denied_ports: Vec<Row<(u16, String)>>,
    pub denied_rules: Vec<Row<(String, String)>>,
    pub rule_hits: Vec<RuleSeries>,
    pub feeds_configured: bool,
    pub malicious: Vec<MaliciousRow>,
    pub topology_configured: bool,
    pub flow_types: Vec<Row<String>>,
    pub geo_configured: bool,
    pub countries: Vec<GeoRow>,
    pub asns: Vec<GeoRow>,
    pub volume: Vec<VolumeRow>,
    pub dropped_keys: u64,
    pub max_keys: usize,
    pub model_bytes: usize,
}

fn proto_name(n: u8) -> String {
    crate::labels::Protocol(n)
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("ip-proto-{n}"))
}

/// The `n` largest by `key`, ties broken by `tie` (ascending), for stable output.
fn top_by<T, K: Ord, O: Ord>(
    mut v: Vec<T>,
    n: usize,
    key: impl Fn(&T) -> K,
    tie: impl Fn(&T) -> O,
) -> Vec<T> {
    v.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| tie(a).cmp(&tie(b))));
    v.truncate(n);
    v
}

/// What a "top" table is ranked by (then by the other, then by key).
#[derive(Debug, Clone, Copy)]
enum Rank {
    Bytes,
    Flows,
}

/// The `n` first rows of a table of tallies, ranked, with keys made presentable by `show`.
fn top_rows<K: Copy + Ord, O>(
    table: &super::model::Capped<K, Tally>,
    n: usize,
    rank: Rank,
    show: impl Fn(K) -> O,
) -> Vec<Row<O>> {
    top_by(
        table.map.iter().map(|(k, t)| (*k, *t)).collect(),
        n,
        |r| match rank {
            Rank::Bytes => (r.1.bytes, r.1.flows, r.1.tuples),
            Rank::Flows => (r.1.flows, r.1.bytes, r.1.tuples),
        },
        |r| r.0,
    )
    .into_iter()
    .map(|(k, tally)| Row {
        key: show(k),
        tally,
    })
    .collect()
}

impl Summary {
    pub fn new(m: &ReportModel, stats: &Stats) -> Summary {
        let n = m.config.top.max(1);
        let mut alerts_of: std::collections::HashMap<IpAddr, u64> = Default::default();
        for a in m.alerts.iter().flat_map(|x| &x.list) {
            let mut ips = vec![a.subject];
            ips.extend(a.src_ip);
            ips.extend(a.dst_ip);
            ips.sort();
            ips.dedup();
            for ip in ips {
                *alerts_of.entry(ip).or_default() += 1;
            }
        }
        let host = |ip: IpAddr| Host {
            ip,
            name: m.names.map.get(&ip).map(|&i| m.strings.get(i).to_string()),
            site: m.sites.map.get(&ip).map(|&i| m.strings.get(i).to_string()),
            alerts: alerts_of.get(&ip).copied().unwrap_or(0),
        };

        // Time buckets.
        let (first_b, last_b) = match (m.time.keys().next(), m.time.keys().next_back()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        };
        let span = (last_b - first_b + 1) as u64;
        let width = WIDTHS
            .into_iter()
            .find(|w| span.div_ceil(*w as u64) <= MAX_BUCKETS)
            .unwrap_or(12);
        let (b0, b1) = (first_b / width, last_b / width);
        let nb = if m.time.is_empty() {
            0
        } else {
            (b1 - b0 + 1) as usize
        };
        let bucket_ms = BASE_BUCKET_MS * width as u64;
        let buckets: Vec<u64> = (0..nb)
            .map(|i| (b0 as u64 + i as u64) * bucket_ms)
            .collect();
        let mut time = vec![TimeCell::default(); nb];
        for (&b, c) in &m.time {
            let t = &mut time[(b / width - b0) as usize];
            t.bytes_in += c.bytes_in;
            t.bytes_out += c.bytes_out;
            t.flows_in += c.flows_in;
            t.flows_out += c.flows_out;
            t.denied += c.denied;
        }

        let talkers = top_rows(&m.hosts, n, Rank::Bytes, host);
        let pairs = top_rows(&m.pairs, n, Rank::Bytes, |(a, b)| (host(a), host(b)));
        let l7 = top_rows(&m.l7, n, Rank::Flows, str::to_string);

        // Ports per receiving host: the top N hosts by flows received, all their ports
        // (up to 4N per host), busiest first.
        let mut per_host: std::collections::HashMap<IpAddr, u64> = Default::default();
        for ((ip, _, _), p) in &m.ports.map {
            *per_host.entry(*ip).or_default() += p.tally.flows.max(p.tally.tuples.min(1));
        }
        let hosts_ranked = top_by(per_host.into_iter().collect(), n, |r| r.1, |r| r.0);
        let mut ports = Vec::new();
        let port_row =
            |(ip, port, proto): (IpAddr, u16, u8), p: &super::model::PortTally| PortRow {
                host: host(ip),
                port,
                protocol: proto_name(proto),
                tally: p.tally,
                from_internal: p.from_internal,
                from_azure: p.from_azure,
                from_external: p.from_external,
                public_allowed: p.public_allowed,
                public_allowed_bytes: p.public_allowed_bytes,
            };
        for (ip, _) in &hosts_ranked {
            let mine: Vec<_> = m.ports.map.iter().filter(|(k, _)| k.0 == *ip).collect();
            let mine = top_by(
                mine,
                4 * n,
                |r| (r.1.tally.flows, r.1.tally.bytes),
                |r| *r.0,
            );
            ports.extend(mine.into_iter().map(|(k, p)| port_row(*k, p)));
        }
        let open: Vec<_> = m
            .ports
            .map
            .iter()
            .filter(|(_, p)| p.public_allowed > 0)
            .collect();
        let open_ports = top_by(
            open,
            n,
            |r| (r.1.public_allowed, r.1.public_allowed_bytes),
            |r| *r.0,
        )
        .into_iter()
        .map(|(k, p)| port_row(*k, p))
        .collect();

        let denied_sources = top_rows(&m.denied_sources, n, Rank::Flows, host);
        let denied_ports = top_rows(&m.denied_ports, n, Rank::Flows, |(port, proto)| {
            (port, proto_name(proto))
        });
        let denied_rules = top_rows(&m.denied_rules, n, Rank::Flows, |(o, r)| {
            (m.strings.get(o).to_string(), m.strings.get(r).to_string())
        });
        let rule_hits = top_by(
            m.rule_hits
                .map
                .iter()
                .map(|(k, s)| (*k, s.0.iter().map(|x| x.1).sum::<u64>(), s))
                .collect(),
            n,
            |r| r.1,
            |r| r.0,
        )
        .into_iter()
        .map(|((o, r), total, s)| {
            let mut counts = vec![0; nb];
            for (b, c) in s.regrouped(width) {
                if let Some(x) = counts.get_mut((b - b0) as usize) {
                    *x += c;
                }
            }
            RuleSeries {
                nsg: m.strings.get(o).to_string(),
                rule: m.strings.get(r).to_string(),
                total,
                counts,
            }
        })
        .collect();

        let malicious = top_by(
            m.malicious.map.iter().collect(),
            n,
            |r| (r.1.tally.flows, r.1.tally.bytes),
            |r| *r.0,
        )
        .into_iter()
        .map(|(ip, t)| MaliciousRow {
            ip: *ip,
            feeds: m.strings.get(t.feeds).to_string(),
            category: m.strings.get(t.category).to_string(),
            country: m.strings.get(t.country).to_string(),
            tally: t.tally,
            inbound: t.inbound,
            outbound: t.outbound,
        })
        .collect();
        let flow_types = top_by(
            m.flow_types.iter().map(|(k, t)| (*k, *t)).collect(),
            usize::MAX,
            |r| (r.1.flows, r.1.bytes),
            |r| r.0,
        )
        .into_iter()
        .map(|(k, tally)| Row {
            key: k.to_string(),
            tally,
        })
        .collect();
        let countries = top_by(
            m.countries.map.iter().collect(),
            2 * n,
            |r| {
                (
                    r.1.benign.flows + r.1.malicious.flows,
                    r.1.benign.bytes + r.1.malicious.bytes,
                )
            },
            |r| *r.0,
        )
        .into_iter()
        .map(|(k, g)| GeoRow {
            key: String::from_utf8_lossy(k).into_owned(),
            name: String::new(),
            benign: g.benign,
            malicious: g.malicious,
        })
        .collect();
        let asns = top_by(
            m.asns.map.iter().collect(),
            n,
            |r| {
                (
                    r.1.benign.flows + r.1.malicious.flows,
                    r.1.benign.bytes + r.1.malicious.bytes,
                )
            },
            |r| *r.0,
        )
        .into_iter()
        .map(|(k, g)| GeoRow {
            key: format!("AS{k}"),
            name: m.strings.get(g.name).to_string(),
            benign: g.benign,
            malicious: g.malicious,
        })
        .collect();

        // Unusual volume: busiest bucket / mean bytes per bucket over the whole period.
        let mut volume: Vec<VolumeRow> = m
            .volume
            .map
            .iter()
            .filter_map(|(&(ip, port), s)| {
                let buckets = s.regrouped(width);
                let bytes: u64 = buckets.iter().map(|b| b.1).sum();
                let &(busiest_b, busiest_bytes) = buckets
                    .iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))?;
                let mean_bytes = bytes as f64 / nb.max(1) as f64;
                Some(VolumeRow {
                    host: host(ip),
                    port,
                    bytes,
                    busiest_bytes,
                    busiest_start_ms: busiest_b as u64 * bucket_ms,
                    mean_bytes,
                    ratio: busiest_bytes as f64 / mean_bytes,
                    active_buckets: buckets.len(),
                })
            })
            .collect();
        volume.sort_by(|a, b| {
            b.ratio
                .total_cmp(&a.ratio)
                .then(b.busiest_bytes.cmp(&a.busiest_bytes))
                .then(a.host.ip.cmp(&b.host.ip))
                .then(a.port.cmp(&b.port))
        });
        volume.truncate(n);

        let alerts = m.alerts.as_ref().map(|x| {
            let mut rows: Vec<&Alert> = x.list.iter().collect();
            rows.sort_by(|a, b| {
                b.severity
                    .cmp(&a.severity)
                    .then(a.window_start_ms.cmp(&b.window_start_ms))
                    .then(a.detector.cmp(&b.detector))
                    .then(a.subject.cmp(&b.subject))
            });
            rows.truncate(10 * n);
            let mut detectors = x.detectors.clone();
            detectors.extend(x.by_detector.keys());
            detectors.sort();
            detectors.dedup();
            AlertSummary {
                by_detector: detectors
                    .into_iter()
                    .map(|d| (d.as_str(), x.by_detector.get(&d).copied().unwrap_or(0)))
                    .collect(),
                total: x.by_detector.values().sum(),
                rows: rows
                    .into_iter()
                    .map(|a| AlertRow {
                        alert: a.clone(),
                        subject: host(a.subject),
                    })
                    .collect(),
                outside_range: x.outside_range,
                late: stats.detection.as_ref().map_or(0, |d| d.late),
            }
        });

        Summary {
            top: n,
            totals: m.totals,
            alerts,
            inputs: stats.inputs,
            failed_inputs: stats.failed_inputs,
            incomplete_inputs: stats.incomplete_inputs,
            input_bytes: stats.bytes,
            records: stats.records,
            rejected: stats
                .rejected
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            bucket_ms,
            buckets,
            time,
            talkers,
            pairs,
            l7,
            ports,
            open_ports,
            denied_sources,
            denied_ports,
            denied_rules,
            rule_hits,
            feeds_configured: m.feeds_configured,
            malicious,
            topology_configured: m.topology_configured,
            flow_types,
            geo_configured: m.geo_configured,
            countries,
            asns,
            volume,
            dropped_keys: m.dropped_keys(),
            max_keys: m.config.max_keys,
            model_bytes: m.heap_bytes(),
        }
    }

    /// Flows in total (allowed + denied, both directions).
    pub fn flows(&self) -> u64 {
        self.totals.total.flows
    }
}
