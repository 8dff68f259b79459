//! Detection: an event handler next to aggregation that sees every enriched event and
//! raises alerts for scans, sweeps, deny bursts, outbound fan-out, malicious flows, new
//! internet exposure, volume anomalies and beaconing.
//!
//! Windows and baselines run on event time (the tuple's own timestamp), never the wall
//! clock: replaying a week of blobs raises the same alerts as running live, and a run split
//! in many (with `--detect-state`) raises the same alerts as one.
//!
//! ```
//! use nsgflow::config::Config;
//! use nsgflow::output::DeadLetterWriter;
//! // 20 ports of one host tried in 20 seconds, all denied.
//! let tuples: Vec<String> = (0..20).map(|i| format!("\"{},203.0.113.9,10.0.0.4,{},{},T,I,D,B,,,,\"", 1772445600 + i, 40000 + i, 20 + i)).collect();
//! let blob = format!(r#"{{"records":[{{"time":"2026-03-02T10:01:00Z","category":"NetworkSecurityGroupFlowEvent",
//!   "resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG",
//!   "properties":{{"Version":2,"flows":[{{"rule":"DefaultRule_DenyAllInBound","flows":[{{"mac":"000D3AF87856",
//!   "flowTuples":[{}]}}]}}]}}}}]}}"#, tuples.join(","));
//! // Detection is one stage of the pipeline; its alerts join the events unless `--alerts`.
//! let config = Config::from_yaml("detect: {enabled: true}").unwrap();
//! let mut p = config.pipeline(Vec::new(), DeadLetterWriter::new(None)).unwrap();
//! p.process("blob", &blob);
//! p.finish(nsgflow::aggregate::FlushReason::EndOfInput);
//! let text = String::from_utf8(p.into_writer().unwrap()).unwrap();
//! let alerts: Vec<&str> = text.lines().filter(|l| l.starts_with(r#"{"kind":"alert""#)).collect();
//! assert_eq!(alerts.len(), 1, "{text}");
//! assert!(alerts[0].starts_with(r#"{"kind":"alert","detector":"port_scan""#), "{text}");
//! assert_eq!(text.lines().count(), 21);
//! ```

pub mod alert;
pub mod beaconing;
pub mod config;
pub mod deny_burst;
pub mod fanout;
pub mod malicious_flow;
pub mod new_exposure;
pub mod port_scan;
pub mod state;
pub mod subject;
pub mod sweep;
pub mod table;
pub mod volume_anomaly;

use std::collections::BTreeMap;
use std::net::IpAddr;

pub use alert::{Alert, AlertContext, Detector, EvidenceKind, Severity};
pub use config::DetectConfig;

use crate::classify::AddressClass;
use crate::event::{Enricher, FlowEvent};
use crate::labels::{Action, FlowState};
use crate::tuple::FlowTuple;

use subject::{word_ip, Hashes, Subject};
use table::{Snapshot, Table};

/// What the detectors share while handling one event.
pub struct Ctx<'a> {
    pub watermark_ms: u64,
    /// The earliest event time seen (the learning period starts there).
    pub first_ms: u64,
    pub lateness_ms: u64,
    pub cooldown_ms: u64,
    pub evidence: usize,
    pub late: u64,
    pub out: &'a mut Vec<Alert>,
}

impl<'a> Ctx<'a> {
    fn new(
        config: &DetectConfig,
        watermark_ms: u64,
        first_ms: u64,
        out: &'a mut Vec<Alert>,
    ) -> Self {
        Ctx {
            watermark_ms,
            first_ms,
            lateness_ms: config.allowed_lateness.as_millis(),
            cooldown_ms: config.cooldown.as_millis(),
            evidence: config.evidence,
            late: 0,
            out,
        }
    }

    pub fn alert(&mut self, alert: Alert) {
        self.out.push(alert);
    }

    /// The fields every alert fills the same way.
    pub fn base(
        &self,
        detector: Detector,
        severity: Severity,
        subject: IpAddr,
        window_start_ms: u64,
        window_ms: u64,
        slot: &Snapshot,
    ) -> Alert {
        Alert {
            detector,
            severity,
            summary: String::new(),
            window_start_ms,
            window_end_ms: window_start_ms + window_ms,
            subject,
            src_ip: None,
            dst_ip: None,
            dst_port: None,
            protocol: None,
            direction: None,
            observed: None,
            threshold: None,
            baseline: None,
            ratio: None,
            score: None,
            count: slot.hits,
            first_seen_ms: slot.first_ms,
            last_seen_ms: slot.last_ms,
            evidence: slot
                .values
                .iter()
                .take(self.evidence)
                .map(|&v| {
                    if v <= u128::from(u16::MAX) {
                        v.to_string()
                    } else {
                        word_ip(v).to_string()
                    }
                })
                .collect(),
            evidence_kind: None,
            context: AlertContext::default(),
        }
    }
}

/// A failed attempt: denied, or ended with no packet back where counters exist.
#[inline]
fn failed(t: &FlowTuple<'_>) -> bool {
    t.action == Action::Deny
        || t.state == Some(FlowState::Deny)
        || (t.state == Some(FlowState::End) && t.packets_dst_to_src == Some(0))
}

/// A flow's first sighting: a begin tuple, a denied one, or a v1 tuple (no state). Continue
/// and end tuples of the same flow are not counted again as attempts.
#[inline]
fn attempt(t: &FlowTuple<'_>) -> bool {
    matches!(
        t.state,
        None | Some(FlowState::Begin) | Some(FlowState::Deny)
    ) || t.action == Action::Deny
}

/// Azure's own platform addresses (load-balancer probes, DNS, metadata) and loopback never
/// count as a scanning source.
#[inline]
fn not_a_peer(class: AddressClass) -> bool {
    matches!(class, AddressClass::AzurePlatform | AddressClass::Loopback)
}

/// `5 min`, `1 h`, `90 s`.
fn span(ms: u64) -> String {
    let s = ms / 1000;
    if s % 3600 == 0 {
        format!("{} h", s / 3600)
    } else if s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// Run counters: alerts and evictions per detector, late tuples, tracked subjects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectStats {
    pub alerts: BTreeMap<&'static str, u64>,
    pub evictions: BTreeMap<&'static str, u64>,
    /// Tuples whose window had closed (older than `allowed_lateness`).
    pub late: u64,
    /// Subjects (windows, keys, learned exposures) held at the end.
    pub tracked: usize,
    /// Their memory, roughly.
    pub bytes: usize,
}

impl std::fmt::Display for DetectStats {
    /// `3 alerts (port_scan: 1, sweep: 2; 120 subjects tracked, 0.1 MB; evicted sweep: 5)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total: u64 = self.alerts.values().sum();
        write!(f, "{total} alerts (")?;
        for (i, (name, n)) in self.alerts.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}: {n}")?;
        }
        write!(
            f,
            "; {} subjects tracked, {:.1} MB",
            self.tracked,
            self.bytes as f64 / 1e6
        )?;
        if self.evictions.values().any(|n| *n > 0) {
            f.write_str("; evicted")?;
            for (name, n) in self.evictions.iter().filter(|(_, n)| **n > 0) {
                write!(f, " {name}: {n}")?;
            }
        }
        if self.late > 0 {
            write!(f, "; {} tuples too late for their window", self.late)?;
        }
        f.write_str(")")
    }
}

/// The detection stage: every enabled detector, its state, and the alerts not yet written.
pub struct Detection {
    pub config: DetectConfig,
    port_scan: Option<port_scan::PortScan>,
    sweep: Option<sweep::Sweep>,
    deny_burst: Option<deny_burst::DenyBurst>,
    fanout: Option<fanout::Fanout>,
    malicious_flow: Option<malicious_flow::MaliciousFlow>,
    new_exposure: Option<new_exposure::NewExposure>,
    volume_anomaly: Option<volume_anomaly::VolumeAnomaly>,
    beaconing: Option<beaconing::Beaconing>,
    watermark_ms: u64,
    first_ms: u64,
    late: u64,
    pending: Vec<Alert>,
    alerts: BTreeMap<&'static str, u64>,
    /// Enriches alert subjects when they are written (a view on the engine's feeds and
    /// topology).
    enricher: Enricher,
    /// Every table's hash: each event's addresses are hashed once for all detectors.
    hashes: Hashes,
}

impl Detection {
    /// Builds the stage; the config is validated here. `malicious_flow` runs only when
    /// the enricher has threat feeds.
    pub fn new(config: &DetectConfig, enricher: Enricher) -> Result<Detection, String> {
        config.validate()?;
        let late = config.allowed_lateness.as_millis();
        let cap = config.max_subjects;
        let hashes = Hashes::default();
        fn table<P: table::Payload>(
            w: crate::aggregate::Seconds,
            keep: usize,
            late: u64,
            cap: usize,
            hashes: Hashes,
        ) -> Table<P> {
            Table::new(w.as_millis(), late, cap, keep, hashes)
        }
        let c = config;
        Ok(Detection {
            port_scan: c.port_scan.enabled.then(|| port_scan::PortScan {
                config: c.port_scan.clone(),
                table: table(c.port_scan.window, c.port_scan.ports, late, cap, hashes),
            }),
            sweep: c.sweep.enabled.then(|| sweep::Sweep {
                config: c.sweep.clone(),
                table: table(c.sweep.window, c.sweep.hosts, late, cap, hashes),
            }),
            deny_burst: c.deny_burst.enabled.then(|| deny_burst::DenyBurst {
                config: c.deny_burst.clone(),
                table: table(c.deny_burst.window, 0, late, cap, hashes),
            }),
            fanout: c.fanout.enabled.then(|| fanout::Fanout {
                config: c.fanout.clone(),
                table: table(
                    c.fanout.window,
                    c.fanout.destinations + 1,
                    late,
                    cap,
                    hashes,
                ),
            }),
            malicious_flow: (c.malicious_flow.enabled && enricher.reputation.is_some()).then(
                || malicious_flow::MaliciousFlow {
                    config: c.malicious_flow.clone(),
                    table: table(c.malicious_flow.window, 0, late, cap, hashes),
                },
            ),
            new_exposure: c.new_exposure.enabled.then(|| new_exposure::NewExposure {
                config: c.new_exposure.clone(),
                seen: table::KeyMap::new(hashes),
                cap,
                evictions: 0,
                hashes,
            }),
            volume_anomaly: c
                .volume_anomaly
                .enabled
                .then(|| volume_anomaly::VolumeAnomaly {
                    config: c.volume_anomaly.clone(),
                    keys: table::KeyMap::new(hashes),
                    quiet_until: Default::default(),
                    cap,
                    evictions: 0,
                    next_sweep_ms: 0,
                    hashes,
                    open: Default::default(),
                    spare: Vec::new(),
                }),
            beaconing: c.beaconing.enabled.then(|| beaconing::Beaconing {
                config: c.beaconing.clone(),
                table: table(c.beaconing.window, 0, late, cap, hashes),
            }),
            config: config.clone(),
            watermark_ms: 0,
            first_ms: u64::MAX,
            late: 0,
            pending: Vec::new(),
            alerts: BTreeMap::new(),
            enricher,
            hashes,
        })
    }

    /// Which detectors run.
    pub fn detectors(&self) -> Vec<Detector> {
        let on = [
            self.port_scan.is_some(),
            self.sweep.is_some(),
            self.deny_burst.is_some(),
            self.fanout.is_some(),
            self.malicious_flow.is_some(),
            self.new_exposure.is_some(),
            self.volume_anomaly.is_some(),
            self.beaconing.is_some(),
        ];
        Detector::ALL
            .into_iter()
            .zip(on)
            .filter_map(|(d, on)| on.then_some(d))
            .collect()
    }

    /// Handles one event.
    #[inline]
    pub fn event(&mut self, e: &FlowEvent<'_>) {
        let t = e.tuple.timestamp_ms;
        if t > self.watermark_ms {
            self.watermark_ms = t;
        }
        if t < self.first_ms {
            self.first_ms = t;
        }
        let mut ctx = Ctx::new(
            &self.config,
            self.watermark_ms,
            self.first_ms,
            &mut self.pending,
        );
        // The addresses, hashed once for every detector.
        let s = Subject::new(&self.hashes, e.tuple.src_ip, e.tuple.dst_ip);
        if let Some(d) = self.port_scan.as_mut() {
            d.event(e, &s, &mut ctx);
        }
        if let Some(d) = self.sweep.as_mut() {
            d.event(e, &s, &mut ctx);
        }
        if let Some(d) = self.deny_burst.as_mut() {
            d.event(e, &s, &mut ctx);
        }
        if let Some(d) = self.fanout.as_mut() {
            d.event(e, &s, &mut ctx);
        }
        if let Some(d) = self.malicious_flow.as_mut() {
            d.event(e, &s, &mut ctx);
        }
        if let Some(d) = self.new_exposure.as_mut() {
            d.event(e, &s, &mut ctx);
        }
        if let Some(d) = self.volume_anomaly.as_mut() {
            d.event(e, &s, &mut ctx);
        }
        if let Some(d) = self.beaconing.as_mut() {
            d.event(e, &s, &mut ctx);
        }
        self.late += ctx.late;
    }

    /// End of input when no state is kept: closes the open volume buckets.
    pub fn finish(&mut self) {
        let mut ctx = Ctx::new(
            &self.config,
            self.watermark_ms,
            self.first_ms,
            &mut self.pending,
        );
        if let Some(v) = self.volume_anomaly.as_mut() {
            v.finish(&mut ctx);
        }
    }

    /// The alerts raised and not yet written.
    pub fn pending(&self) -> &[Alert] {
        &self.pending
    }

    /// Takes the pending alerts, enriched.
    pub fn take_alerts(&mut self) -> Vec<Alert> {
        let mut alerts = std::mem::take(&mut self.pending);
        for a in &mut alerts {
            *self.alerts.entry(a.detector.as_str()).or_default() += 1;
            a.context = self.context(a);
        }
        alerts
    }

    fn context(&mut self, a: &Alert) -> AlertContext {
        self.enricher.refresh();
        let peer = match a.detector {
            Detector::MaliciousFlow => [a.src_ip, a.dst_ip]
                .into_iter()
                .flatten()
                .find(|&ip| ip != a.subject),
            _ => None,
        };
        let subject_listing = self.enricher.lookup(a.subject);
        let peer_listing = peer.and_then(|p| self.enricher.lookup(p));
        let text = a.subject.to_string();
        let enricher: &Enricher = &self.enricher;
        let s = enricher.endpoint(a.subject, &text, 0, subject_listing);
        let peer_text = peer.map(|p| p.to_string()).unwrap_or_default();
        let p = peer.map(|ip| enricher.endpoint(ip, &peer_text, 0, peer_listing));
        let listing = p.and_then(|p| p.reputation).or(s.reputation);
        AlertContext {
            class: Some(s.class.as_str()),
            network: s.network.map(str::to_string),
            vnet: s.site.and_then(|x| x.vnet.clone()),
            subnet: s.site.and_then(|x| x.subnet.clone()),
            feeds: listing
                .map(|l| l.feeds().map(str::to_string).collect())
                .unwrap_or_default(),
            feed_category: listing.map(|l| l.category().to_string()),
            indicator: peer
                .filter(|_| listing.is_some())
                .or_else(|| s.reputation.map(|_| a.subject)),
        }
    }

    /// Counters for the run summary.
    pub fn stats(&self) -> DetectStats {
        let mut evictions = BTreeMap::new();
        let mut tracked = 0;
        let mut bytes = 0;
        fn table<P: table::Payload>(t: &Table<P>) -> (usize, usize, u64) {
            (t.len(), t.bytes(), t.evictions)
        }
        let rows = [
            (
                Detector::PortScan,
                self.port_scan.as_ref().map(|x| table(&x.table)),
            ),
            (
                Detector::Sweep,
                self.sweep.as_ref().map(|x| table(&x.table)),
            ),
            (
                Detector::DenyBurst,
                self.deny_burst.as_ref().map(|x| table(&x.table)),
            ),
            (
                Detector::Fanout,
                self.fanout.as_ref().map(|x| table(&x.table)),
            ),
            (
                Detector::MaliciousFlow,
                self.malicious_flow.as_ref().map(|x| table(&x.table)),
            ),
            (
                Detector::NewExposure,
                self.new_exposure
                    .as_ref()
                    .map(|x| (x.seen.len(), x.seen.bytes(), x.evictions)),
            ),
            (
                Detector::VolumeAnomaly,
                self.volume_anomaly.as_ref().map(|v| {
                    let quiet =
                        v.quiet_until.capacity() * (std::mem::size_of::<(table::Key, u64)>() + 8);
                    (v.keys.len(), v.keys.bytes() + quiet, v.evictions)
                }),
            ),
            (
                Detector::Beaconing,
                self.beaconing.as_ref().map(|x| table(&x.table)),
            ),
        ];
        for (d, row) in rows {
            if let Some((n, b, evicted)) = row {
                evictions.insert(d.as_str(), evicted);
                tracked += n;
                bytes += b;
            }
        }
        let mut alerts = self.alerts.clone();
        for d in self.detectors() {
            alerts.entry(d.as_str()).or_insert(0);
        }
        DetectStats {
            alerts,
            evictions,
            late: self.late,
            tracked,
            bytes,
        }
    }
}
