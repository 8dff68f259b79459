//! The alert record: what a detector raised, about whom, when, and on what evidence.
//! Every encoder renders it (`Encode::encode_alert`).

use std::fmt;
use std::net::IpAddr;

use crate::labels::{Direction, Protocol};

/// The detectors; [`Detector::as_str`] is the alert's `detector` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detector {
    PortScan,
    Sweep,
    DenyBurst,
    Fanout,
    MaliciousFlow,
    NewExposure,
    VolumeAnomaly,
    Beaconing,
}

impl Detector {
    pub const ALL: [Detector; 8] = [
        Detector::PortScan,
        Detector::Sweep,
        Detector::DenyBurst,
        Detector::Fanout,
        Detector::MaliciousFlow,
        Detector::NewExposure,
        Detector::VolumeAnomaly,
        Detector::Beaconing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Detector::PortScan => "port_scan",
            Detector::Sweep => "sweep",
            Detector::DenyBurst => "deny_burst",
            Detector::Fanout => "fanout",
            Detector::MaliciousFlow => "malicious_flow",
            Detector::NewExposure => "new_exposure",
            Detector::VolumeAnomaly => "volume_anomaly",
            Detector::Beaconing => "beaconing",
        }
    }

    /// A one-line description (OCSF `finding_info.desc`, ECS `rule.description`).
    pub fn description(self) -> &'static str {
        match self {
            Detector::PortScan => {
                "One source tried many destination ports of one host (failed attempts)"
            }
            Detector::Sweep => "One source reached many hosts on one port",
            Detector::DenyBurst => "One source was denied many times in a short window",
            Detector::Fanout => "One internal host reached many distinct public addresses",
            Detector::MaliciousFlow => {
                "An allowed flow to or from an address listed by a threat feed"
            }
            Detector::NewExposure => {
                "A host port received allowed traffic from the internet for the first time"
            }
            Detector::VolumeAnomaly => "Bytes of a host port far above its own baseline",
            Detector::Beaconing => {
                "One internal host connected to one public address and port at a regular interval"
            }
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// OCSF `severity_id` (2 low, 3 medium, 4 high) and ECS `event.severity` alike.
    pub fn id(self) -> u8 {
        match self {
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
        }
    }
}

/// The enrichment of an alert's subject (and the feeds of its listed peer), added when the
/// alert is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertContext {
    /// The subject's address class (`internal`, `public`, ...).
    pub class: Option<&'static str>,
    pub network: Option<String>,
    pub vnet: Option<String>,
    pub subnet: Option<String>,
    /// The feeds listing the subject or its peer.
    pub feeds: Vec<String>,
    pub feed_category: Option<String>,
    /// The listed address (`malicious_flow`).
    pub indicator: Option<IpAddr>,
}

/// What [`Alert::evidence`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceKind {
    Ports,
    Addresses,
    /// Gaps between connection starts, in seconds, most common first (`beaconing`).
    Intervals,
}

/// One alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub detector: Detector,
    pub severity: Severity,
    /// One readable sentence.
    pub summary: String,
    pub window_start_ms: u64,
    pub window_end_ms: u64,
    /// The address the alert is about (the scanner, the internal host).
    pub subject: IpAddr,
    pub src_ip: Option<IpAddr>,
    pub dst_ip: Option<IpAddr>,
    pub dst_port: Option<u16>,
    pub protocol: Option<Protocol>,
    pub direction: Option<Direction>,
    pub observed: Option<f64>,
    pub threshold: Option<f64>,
    pub baseline: Option<f64>,
    /// Observed over baseline.
    pub ratio: Option<f64>,
    /// How many baseline standard deviations above the baseline (`volume_anomaly`).
    pub score: Option<f64>,
    /// The hits (tuples) the alert stands for, up to when it was raised.
    pub count: u64,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// A bounded sample of the distinct ports or addresses.
    pub evidence: Vec<String>,
    pub evidence_kind: Option<EvidenceKind>,
    pub context: AlertContext,
}

impl Alert {
    /// A stable identifier: the same alert gets the same ID in every run and format.
    pub fn id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.detector.as_str());
        h.update(self.subject.to_string());
        h.update(self.window_start_ms.to_be_bytes());
        for ip in [self.src_ip, self.dst_ip].into_iter().flatten() {
            h.update(ip.to_string());
        }
        h.update(self.dst_port.unwrap_or(0).to_be_bytes());
        let d = h.finalize();
        d[..12].iter().map(|b| format!("{b:02x}")).collect()
    }
}
