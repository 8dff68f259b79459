//! The report's data model: counters per key, filled per event, with memory bounded by the
//! number of distinct keys (each table has a cap; past it, new keys are counted in the
//! totals and in `dropped_keys`, never silently lost).
//!
//! A **flow** is a tuple that starts one: NSG v2 / VNet state `B`, a denied tuple, or any
//! NSG v1 tuple (v1 has no state). `C` and `E` tuples add bytes and packets to the flow
//! they continue, so flows are not counted twice across a blob's minutes.
//! **In** and **out** are Azure's direction labels (inbound: initiated towards the NIC);
//! bytes **into** / **out of** Azure are the bytes received / sent by the Azure side.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use hashbrown::HashMap;
use serde::Deserialize;

use crate::classify::AddressClass;
use crate::detect::{Alert, Detector};
use crate::engine::EventHandler;
use crate::event::{Endpoint, FlowEvent, Origin};
use crate::labels::{Action, Direction, FlowState};

/// `report:` in the config (`--top`, `--from`, `--to` on the command line).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// Rows in each "top" table (default 10).
    pub top: usize,
    /// Distinct keys each table keeps (hosts, pairs, ports, ...); past it new keys are
    /// only counted in the totals and reported as dropped. Default 200,000.
    pub max_keys: usize,
    /// Only tuples at or after this time (epoch ms).
    #[serde(skip)]
    pub from_ms: Option<u64>,
    /// Only tuples before this time (epoch ms).
    #[serde(skip)]
    pub to_ms: Option<u64>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            top: 10,
            max_keys: 200_000,
            from_ms: None,
            to_ms: None,
        }
    }
}

/// The finest time bucket kept while reading (5 minutes); the page coarsens it to at most
/// an hour, always aligned to the hour.
pub const BASE_BUCKET_MS: u64 = 5 * 60 * 1000;

/// A fast hasher for small fixed keys (addresses, ports): one multiply-rotate per word.
#[derive(Debug, Clone, Copy, Default)]
pub struct FastHash;

impl BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64)
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(n as u64)
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64)
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_stays_sorted_and_merged_in_any_order() {
        let mut s = Series::default();
        for (b, v) in [
            (5, 1),
            (5, 1),
            (7, 1),
            (5, 1),
            (3, 1),
            (7, 1),
            (6, 1),
            (3, 1),
        ] {
            s.add(b, v);
        }
        assert_eq!(s.0, [(3, 2), (5, 3), (6, 1), (7, 2)]);
        assert_eq!(s.regrouped(2), [(1, 2), (2, 3), (3, 3)]);
    }

    /// Against a BTreeMap, over files that each run in time order and start over.
    #[test]
    fn series_agrees_with_a_map() {
        let mut s = Series::default();
        let mut m = BTreeMap::new();
        let mut x: u64 = 7;
        for file in 0..40u32 {
            let start = (file * 37) % 50;
            for step in 0..30u32 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let bucket = start + step / 3 + (x >> 60) as u32 % 2;
                s.add(bucket, x >> 58);
                *m.entry(bucket).or_insert(0) += x >> 58;
            }
        }
        assert_eq!(s.0, m.into_iter().collect::<Vec<_>>());
    }
}

/// A map that keeps at most `cap` keys.
#[derive(Debug, Clone)]
pub struct Capped<K, V> {
    pub map: HashMap<K, V, FastHash>,
    cap: usize,
    /// Updates for keys that did not fit.
    pub dropped: u64,
}

impl<K: Hash + Eq, V: Default> Capped<K, V> {
    pub fn new(cap: usize) -> Self {
        Capped {
            map: HashMap::with_hasher(FastHash),
            cap,
            dropped: 0,
        }
    }

    /// The value of `key`, inserted as default when there is room.
    #[inline]
    pub fn entry(&mut self, key: K) -> Option<&mut V> {
        let room = self.map.len() < self.cap;
        match self.map.entry(key) {
            hashbrown::hash_map::Entry::Occupied(e) => Some(e.into_mut()),
            hashbrown::hash_map::Entry::Vacant(e) if room => Some(e.insert(V::default())),
            hashbrown::hash_map::Entry::Vacant(_) => {
                self.dropped += 1;
                None
            }
        }
    }
}

/// Flows, tuples, allowed and denied flows, bytes and packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub flows: u64,
    pub allowed: u64,
    pub denied: u64,
    pub tuples: u64,
    pub bytes: u64,
    pub packets: u64,
}

impl Tally {
    #[inline]
    fn add(&mut self, f: &Facts) {
        self.tuples += 1;
        self.flows += f.flow as u64;
        self.allowed += (f.flow && f.allowed) as u64;
        self.denied += (f.flow && !f.allowed) as u64;
        self.bytes += f.bytes;
        self.packets += f.packets;
    }
}

/// Counts per time bucket: `(bucket index, value)`, sorted, one entry per bucket, so its
/// size is bounded by the buckets of the period whatever order the input comes in.
///
/// Input comes as files in time order one after another (each NIC's hour, then the
/// next NIC's), so the bucket a tuple falls in is almost always the one the previous
/// tuple of the key used, or the next: the second field remembers that position, and the
/// binary search runs only when a new file starts over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series(pub Vec<(u32, u64)>, usize);

impl Series {
    #[inline]
    pub fn add(&mut self, bucket: u32, v: u64) {
        let v_ = &mut self.0;
        let h = self.1;
        if let Some((b, x)) = v_.get_mut(h) {
            if *b == bucket {
                *x += v;
                return;
            }
        }
        if let Some((b, x)) = v_.get_mut(h + 1) {
            if *b == bucket {
                *x += v;
                self.1 = h + 1;
                return;
            }
        }
        let i = match v_.last() {
            Some((b, _)) if *b < bucket => v_.len(),
            _ => v_.partition_point(|e| e.0 < bucket),
        };
        match v_.get_mut(i) {
            Some((b, x)) if *b == bucket => *x += v,
            _ => v_.insert(i, (bucket, v)),
        }
        self.1 = i;
    }

    /// Sorted, one entry per bucket, regrouped into buckets `factor` times wider.
    pub fn regrouped(&self, factor: u32) -> Vec<(u32, u64)> {
        let mut m: BTreeMap<u32, u64> = BTreeMap::new();
        for &(b, v) in &self.0 {
            *m.entry(b / factor.max(1)).or_default() += v;
        }
        m.into_iter().collect()
    }
}

/// One time bucket of the whole estate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeCell {
    /// Bytes received / sent by the Azure side.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Flows by direction.
    pub flows_in: u64,
    pub flows_out: u64,
    pub denied: u64,
}

/// Where the sources of a port's traffic are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortTally {
    pub tally: Tally,
    /// Flows from internal/private, Azure (platform or service tag) and other public sources.
    pub from_internal: u64,
    pub from_azure: u64,
    pub from_external: u64,
    /// Allowed flows from public (non-Azure) sources: an open port.
    pub public_allowed: u64,
    pub public_allowed_bytes: u64,
}

/// A public peer listed by a feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaliciousTally {
    pub tally: Tally,
    pub inbound: u64,
    pub outbound: u64,
    /// Interned `feeds` (comma-joined) and category.
    pub feeds: u32,
    pub category: u32,
    pub country: u32,
}

/// A country's (or AS's) benign and malicious flows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeoTally {
    pub benign: Tally,
    pub malicious: Tally,
    /// For an AS: its interned organisation.
    pub name: u32,
}

/// Strings kept once (rule and NSG names, feeds, NIC names), by index.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    ids: HashMap<Box<str>, u32, std::hash::RandomState>,
    pub strings: Vec<Box<str>>,
}

impl Interner {
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        self.strings.push(s.into());
        let id = (self.strings.len() - 1) as u32;
        self.ids.insert(s.into(), id);
        id
    }

    pub fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map(|s| &**s).unwrap_or("")
    }
}

/// What one event contributes, computed once.
#[derive(Debug, Clone, Copy)]
struct Facts {
    flow: bool,
    allowed: bool,
    bytes: u64,
    packets: u64,
}

/// The run's totals, as the Overview shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub total: Tally,
    /// Flows with a side listed by a feed.
    pub malicious_total: Tally,
    /// Flows by `[inbound, outbound][allowed, denied]`.
    pub flows_by_direction: [[u64; 2]; 2],
    /// Bytes received / sent by the Azure side.
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub first_ms: Option<u64>,
    pub last_ms: Option<u64>,
    /// Tuples outside `--from` / `--to`.
    pub outside_range: u64,
}

/// The detection stage's alerts, when it runs (`report --detect`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Alerts {
    /// The detectors that run.
    pub detectors: Vec<Detector>,
    /// Alerts whose window meets `--from` / `--to`, in the order raised (at most
    /// `max_keys`; past it they are only counted).
    pub list: Vec<Alert>,
    /// Those alerts by detector (every one, kept in `list` or not).
    pub by_detector: BTreeMap<Detector, u64>,
    /// Alerts past the `max_keys` cap of `list`.
    pub dropped: u64,
    /// Alerts whose window lies outside `--from` / `--to`.
    pub outside_range: u64,
}

/// The model: every table the page shows, filled while reading.
#[derive(Debug, Clone)]
pub struct ReportModel {
    pub config: ReportConfig,
    pub totals: Totals,
    /// `None` when detection does not run.
    pub alerts: Option<Alerts>,
    pub time: BTreeMap<u32, TimeCell>,
    pub hosts: Capped<IpAddr, Tally>,
    pub pairs: Capped<(IpAddr, IpAddr), Tally>,
    pub l7: Capped<&'static str, Tally>,
    /// Per receiving non-public host, port and IANA protocol.
    pub ports: Capped<(IpAddr, u16, u8), PortTally>,
    pub denied_sources: Capped<IpAddr, Tally>,
    pub denied_ports: Capped<(u16, u8), Tally>,
    /// Per interned NSG (or watched resource) and rule.
    pub denied_rules: Capped<(u32, u32), Tally>,
    pub rule_hits: Capped<(u32, u32), Series>,
    pub malicious: Capped<IpAddr, MaliciousTally>,
    pub flow_types: BTreeMap<&'static str, Tally>,
    pub countries: Capped<[u8; 2], GeoTally>,
    pub asns: Capped<u32, GeoTally>,
    /// Bytes per bucket for each internal host and destination port.
    pub volume: Capped<(IpAddr, u16), Series>,
    /// NIC names, from VNet flow logs that watch a NIC.
    pub names: Capped<IpAddr, u32>,
    /// VNet / subnet of internal hosts from the topology (interned `vnet/subnet`).
    pub sites: Capped<IpAddr, u32>,
    pub strings: Interner,
    pub feeds_configured: bool,
    pub topology_configured: bool,
    pub geo_configured: bool,
    /// The last flow group's interned observer, rule and NIC name (a group shares them).
    group: Option<(u64, u32, u32, Option<u32>)>,
}

impl ReportModel {
    pub fn new(config: ReportConfig) -> Self {
        let cap = config.max_keys.max(1);
        ReportModel {
            config,
            totals: Totals::default(),
            alerts: None,
            time: BTreeMap::new(),
            hosts: Capped::new(cap),
            pairs: Capped::new(cap),
            l7: Capped::new(cap),
            ports: Capped::new(cap),
            denied_sources: Capped::new(cap),
            denied_ports: Capped::new(cap),
            denied_rules: Capped::new(cap),
            rule_hits: Capped::new(cap),
            malicious: Capped::new(cap),
            flow_types: BTreeMap::new(),
            countries: Capped::new(cap),
            asns: Capped::new(cap),
            volume: Capped::new(cap),
            names: Capped::new(cap),
            sites: Capped::new(cap),
            strings: Interner::default(),
            feeds_configured: false,
            topology_configured: false,
            geo_configured: false,
            group: None,
        }
    }

    /// Detection runs with these detectors: the page gets an alerts view.
    pub fn detect_with(&mut self, detectors: Vec<Detector>) {
        self.alerts = Some(Alerts {
            detectors,
            ..Alerts::default()
        });
    }

    /// One alert of the detection stage: kept when its window meets `--from` / `--to`.
    pub fn alert(&mut self, a: &Alert) {
        let cap = self.config.max_keys.max(1);
        let (from, to) = (self.config.from_ms, self.config.to_ms);
        let alerts = self.alerts.get_or_insert_with(Alerts::default);
        if from.is_some_and(|f| a.window_end_ms <= f) || to.is_some_and(|t| a.window_start_ms >= t)
        {
            alerts.outside_range += 1;
            return;
        }
        *alerts.by_detector.entry(a.detector).or_default() += 1;
        if alerts.list.len() < cap {
            alerts.list.push(a.clone());
        } else {
            alerts.dropped += 1;
        }
    }

    /// Keys that did not fit under `max_keys`, over all tables.
    pub fn dropped_keys(&self) -> u64 {
        self.hosts.dropped
            + self.pairs.dropped
            + self.l7.dropped
            + self.ports.dropped
            + self.denied_sources.dropped
            + self.denied_ports.dropped
            + self.denied_rules.dropped
            + self.rule_hits.dropped
            + self.malicious.dropped
            + self.countries.dropped
            + self.asns.dropped
            + self.volume.dropped
            + self.names.dropped
            + self.sites.dropped
    }

    /// Approximate heap bytes of the tables (for the bench and the page's footer).
    pub fn heap_bytes(&self) -> usize {
        fn m<K, V>(c: &Capped<K, V>) -> usize {
            c.map.capacity() * (std::mem::size_of::<K>() + std::mem::size_of::<V>() + 1)
        }
        fn series<K>(c: &Capped<K, Series>) -> usize {
            c.map.values().map(|s| s.0.capacity() * 16).sum::<usize>()
        }
        m(&self.hosts)
            + m(&self.pairs)
            + m(&self.l7)
            + m(&self.ports)
            + m(&self.denied_sources)
            + m(&self.denied_ports)
            + m(&self.denied_rules)
            + m(&self.rule_hits)
            + series(&self.rule_hits)
            + m(&self.malicious)
            + m(&self.countries)
            + m(&self.asns)
            + m(&self.volume)
            + series(&self.volume)
            + m(&self.names)
            + m(&self.sites)
            + self.time.len() * 64
            + self
                .strings
                .strings
                .iter()
                .map(|s| s.len() * 2 + 48)
                .sum::<usize>()
    }

    fn group_ids(&mut self, e: &FlowEvent<'_>) -> (u32, u32, Option<u32>) {
        match self.group {
            Some((g, o, r, n)) if g == e.group.group_id && g != 0 => (o, r, n),
            _ => {
                let origin = Origin::of(e.record, e.group);
                let observer = self.strings.id(origin.observer().unwrap_or("(unknown)"));
                let rule = self.strings.id(e.group.rule);
                let nic = (origin.target_resource_type == Some("nic"))
                    .then(|| origin.target_resource.map(|n| self.strings.id(n)))
                    .flatten();
                self.group = Some((e.group.group_id, observer, rule, nic));
                (observer, rule, nic)
            }
        }
    }
}

/// Internal from the report's point of view: not public (your networks, private space,
/// CGNAT, ULA, ...), and not the Azure platform addresses.
pub fn is_internal(e: &Endpoint<'_>) -> bool {
    is_internal_class(e.class)
}

pub fn is_internal_class(class: AddressClass) -> bool {
    !matches!(class, AddressClass::Public | AddressClass::AzurePlatform)
}

/// Public and Microsoft's: the Azure platform addresses or a service-tag address.
pub fn is_azure(e: &Endpoint<'_>) -> bool {
    e.class == AddressClass::AzurePlatform || e.service_tag.is_some()
}

fn country_key(c: &str) -> Option<[u8; 2]> {
    match c.as_bytes() {
        [a, b] => Some([*a, *b]),
        _ => None,
    }
}

impl EventHandler for ReportModel {
    fn event(&mut self, e: &FlowEvent<'_>) {
        let t = e.tuple;
        let ms = t.timestamp_ms;
        if self.config.from_ms.is_some_and(|f| ms < f) || self.config.to_ms.is_some_and(|x| ms >= x)
        {
            self.totals.outside_range += 1;
            return;
        }
        self.totals.first_ms = Some(self.totals.first_ms.map_or(ms, |f| f.min(ms)));
        self.totals.last_ms = Some(self.totals.last_ms.map_or(ms, |l| l.max(ms)));
        self.feeds_configured |= e.malicious.is_some();
        self.topology_configured |= e.flow_type.is_some();
        self.geo_configured |= e.src.country.is_some()
            || e.dst.country.is_some()
            || e.src.asn.is_some()
            || e.dst.asn.is_some();

        let allowed = t.action == Action::Allow;
        let f = Facts {
            flow: matches!(
                t.state,
                None | Some(FlowState::Begin) | Some(FlowState::Deny)
            ),
            allowed,
            bytes: t.bytes_src_to_dst.unwrap_or(0) + t.bytes_dst_to_src.unwrap_or(0),
            packets: t.packets_src_to_dst.unwrap_or(0) + t.packets_dst_to_src.unwrap_or(0),
        };
        let inbound = t.direction == Direction::Inbound;
        // Inbound: the destination is the Azure side, so src->dst bytes come in.
        let (b_in, b_out) = if inbound {
            (
                t.bytes_src_to_dst.unwrap_or(0),
                t.bytes_dst_to_src.unwrap_or(0),
            )
        } else {
            (
                t.bytes_dst_to_src.unwrap_or(0),
                t.bytes_src_to_dst.unwrap_or(0),
            )
        };
        self.totals.total.add(&f);
        if f.flow {
            self.totals.flows_by_direction[!inbound as usize][!allowed as usize] += 1;
        }
        self.totals.bytes_in += b_in;
        self.totals.bytes_out += b_out;

        let bucket = (ms / BASE_BUCKET_MS) as u32;
        let cell = self.time.entry(bucket).or_default();
        cell.bytes_in += b_in;
        cell.bytes_out += b_out;
        if f.flow {
            if inbound {
                cell.flows_in += 1;
            } else {
                cell.flows_out += 1;
            }
            cell.denied += !allowed as u64;
        }

        let (observer, rule, nic) = self.group_ids(e);
        if let Some(nic) = nic {
            let ip = if inbound { t.dst_ip } else { t.src_ip };
            if let Some(n) = self.names.entry(ip) {
                *n = nic;
            }
        }
        for side in [&e.src, &e.dst] {
            if let Some(h) = self.hosts.entry(side.ip) {
                h.add(&f);
            }
            if let (true, Some(site)) = (is_internal(side), side.site) {
                if !self.sites.map.contains_key(&side.ip) {
                    let name = match (&site.vnet, &site.subnet, &site.gateway) {
                        (Some(v), Some(s), _) => format!("{v}/{s}"),
                        (Some(v), None, _) => v.clone(),
                        (None, _, Some((_, g))) => g.clone(),
                        _ => String::new(),
                    };
                    if !name.is_empty() {
                        let id = self.strings.id(&name);
                        if let Some(s) = self.sites.entry(side.ip) {
                            *s = id;
                        }
                    }
                }
            }
        }
        if let Some(p) = self.pairs.entry((t.src_ip, t.dst_ip)) {
            p.add(&f);
        }
        if let Some(l) = self.l7.entry(e.l7_protocol.unwrap_or("other")) {
            l.add(&f);
        }
        let proto = t.protocol.iana_number();
        if is_internal(&e.dst) {
            if let Some(p) = self.ports.entry((t.dst_ip, t.dst_port, proto)) {
                p.tally.add(&f);
                if f.flow {
                    if is_internal(&e.src) {
                        p.from_internal += 1;
                    } else if is_azure(&e.src) {
                        p.from_azure += 1;
                    } else {
                        p.from_external += 1;
                    }
                }
                if allowed && e.src.class == AddressClass::Public && !is_azure(&e.src) {
                    p.public_allowed += f.flow as u64;
                    p.public_allowed_bytes += f.bytes;
                }
            }
        }
        if !allowed {
            if let Some(d) = self.denied_sources.entry(t.src_ip) {
                d.add(&f);
            }
            if let Some(d) = self.denied_ports.entry((t.dst_port, proto)) {
                d.add(&f);
            }
            if let Some(d) = self.denied_rules.entry((observer, rule)) {
                d.add(&f);
            }
        }
        if f.flow {
            if let Some(s) = self.rule_hits.entry((observer, rule)) {
                s.add(bucket, 1);
            }
        }
        let malicious = e.malicious == Some(true);
        if malicious {
            self.totals.malicious_total.add(&f);
        }
        for side in [&e.src, &e.dst] {
            if let Some(l) = side.reputation {
                // Names are interned once per listed address, not per tuple.
                let ids = (!self.malicious.map.contains_key(&side.ip)).then(|| {
                    let feeds = l.feeds().collect::<Vec<_>>().join(", ");
                    (
                        self.strings.id(&feeds),
                        self.strings.id(l.category()),
                        self.strings.id(side.country.unwrap_or("")),
                    )
                });
                if let Some(m) = self.malicious.entry(side.ip) {
                    m.tally.add(&f);
                    m.inbound += (f.flow && inbound) as u64;
                    m.outbound += (f.flow && !inbound) as u64;
                    if let Some((feeds, category, country)) = ids {
                        (m.feeds, m.category, m.country) = (feeds, category, country);
                    }
                }
            }
            if side.class != AddressClass::Public {
                continue;
            }
            if let Some(key) = side.country.and_then(country_key) {
                if let Some(g) = self.countries.entry(key) {
                    if malicious {
                        &mut g.malicious
                    } else {
                        &mut g.benign
                    }
                    .add(&f);
                }
            }
            if let Some(a) = side.asn {
                let name = self.strings.id(&a.organisation);
                if let Some(g) = self.asns.entry(a.number) {
                    g.name = name;
                    if malicious {
                        &mut g.malicious
                    } else {
                        &mut g.benign
                    }
                    .add(&f);
                }
            }
        }
        if let Some(ft) = e.flow_type {
            self.flow_types.entry(ft.as_str()).or_default().add(&f);
        }
        if f.bytes > 0 {
            for side in [&e.src, &e.dst] {
                if is_internal(side) {
                    if let Some(s) = self.volume.entry((side.ip, t.dst_port)) {
                        s.add(bucket, f.bytes);
                    }
                }
            }
        }
    }
}
