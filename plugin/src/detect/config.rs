//! The `detect` section of the config (and `--detect`).
//!
//! Every detector is on by default once detection is enabled; `malicious_flow` needs
//! threat feeds (`--feeds`) and is skipped without them. The defaults and their sources are
//! in the user guide's Detection chapter (docs/src/detection.md).
//!
//! ```
//! use nsgflow::detect::DetectConfig;
//! let c: DetectConfig = serde_saphyr::from_str(
//!     "enabled: true\nport_scan: {ports: 20}\nvolume_anomaly: {enabled: false}\n").unwrap();
//! assert_eq!(c.port_scan.ports, 20);
//! assert_eq!(c.port_scan.window.as_secs(), 300);
//! assert!(!c.volume_anomaly.enabled);
//! assert!(c.validate().is_ok());
//! ```

use serde::Deserialize;

use crate::aggregate::Seconds;

/// How to detect. Runtime state lives in [`super::Detection`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Run the detection stage (`--detect`; default off).
    pub enabled: bool,
    /// How far behind the newest event time a tuple may be and still join its window
    /// (default `1h`). `process DIR` reads an hour of every resource before the next hour,
    /// so within an hour tuples arrive up to an hour out of order; windows stay open that
    /// long.
    pub allowed_lateness: Seconds,
    /// After an alert, the same detector stays quiet about the same subject this long
    /// (default `1h`).
    pub cooldown: Seconds,
    /// The most subjects (windows, keys) each detector tracks at once (default 100,000).
    /// Past it the subjects with the least evidence are evicted, and counted.
    pub max_subjects: usize,
    /// How many distinct ports or addresses an alert lists as evidence (default 10).
    pub evidence: usize,
    /// The `port_scan` detector (see below).
    pub port_scan: PortScanConfig,
    /// The `sweep` detector.
    pub sweep: SweepConfig,
    /// The `deny_burst` detector.
    pub deny_burst: DenyBurstConfig,
    /// The `fanout` detector.
    pub fanout: FanoutConfig,
    /// The `malicious_flow` detector (needs `reputation.feeds`).
    pub malicious_flow: MaliciousFlowConfig,
    /// The `new_exposure` detector.
    pub new_exposure: NewExposureConfig,
    /// The `volume_anomaly` detector.
    pub volume_anomaly: VolumeAnomalyConfig,
    /// The `beaconing` detector.
    pub beaconing: BeaconingConfig,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            enabled: false,
            allowed_lateness: Seconds(3600),
            cooldown: Seconds(3600),
            max_subjects: 100_000,
            evidence: 10,
            port_scan: PortScanConfig::default(),
            sweep: SweepConfig::default(),
            deny_burst: DenyBurstConfig::default(),
            fanout: FanoutConfig::default(),
            malicious_flow: MaliciousFlowConfig::default(),
            new_exposure: NewExposureConfig::default(),
            volume_anomaly: VolumeAnomalyConfig::default(),
            beaconing: BeaconingConfig::default(),
        }
    }
}

/// One source reaching `ports` distinct destination ports on one destination within
/// `window`, counting failed attempts (denied, or no packet back where counters exist).
/// Zeek `scan.zeek` (15 ports, 5 min).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortScanConfig {
    /// Raise `port_scan` alerts when detection is on (default true).
    pub enabled: bool,
    /// Distinct destination ports of one destination that make a scan (default 15).
    pub ports: usize,
    /// The tumbling window the ports are counted in (default `5m`).
    pub window: Seconds,
}

impl Default for PortScanConfig {
    fn default() -> Self {
        PortScanConfig {
            enabled: true,
            ports: 15,
            window: Seconds(300),
        }
    }
}

/// One source reaching `hosts` distinct destination addresses on one port within `window`.
/// Zeek `scan.zeek` address scan (25 hosts, 5 min); Sentinel NSE inbound sweep.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweepConfig {
    /// Raise `sweep` alerts when detection is on (default true).
    pub enabled: bool,
    /// Distinct destination addresses on one port that make a sweep (default 25).
    pub hosts: usize,
    /// The tumbling window the addresses are counted in (default `5m`).
    pub window: Seconds,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            enabled: true,
            hosts: 25,
            window: Seconds(300),
        }
    }
}

/// More than `denied` denied flows from one source within `window`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DenyBurstConfig {
    /// Raise `deny_burst` alerts when detection is on (default true).
    pub enabled: bool,
    /// Denied flows from one source above which it alerts (default 1000).
    pub denied: u64,
    /// The tumbling window the denials are counted in (default `5m`).
    pub window: Seconds,
}

impl Default for DenyBurstConfig {
    fn default() -> Self {
        DenyBurstConfig {
            enabled: true,
            denied: 1000,
            window: Seconds(300),
        }
    }
}

/// One internal source with allowed outbound flows to more than `destinations` distinct
/// public addresses within `window`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FanoutConfig {
    /// Raise `fanout` alerts when detection is on (default true).
    pub enabled: bool,
    /// Distinct public destinations above which it alerts (default 100).
    pub destinations: usize,
    /// The tumbling window the destinations are counted in (default `1h`).
    pub window: Seconds,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        FanoutConfig {
            enabled: true,
            destinations: 100,
            window: Seconds(3600),
        }
    }
}

/// An allowed flow with a feed-listed peer: one alert per (internal host, listed address,
/// window). Needs threat feeds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaliciousFlowConfig {
    /// Raise `malicious_flow` alerts when detection is on and feeds are configured (default true).
    pub enabled: bool,
    /// One alert per internal host and listed address in this window (default `1h`).
    pub window: Seconds,
}

impl Default for MaliciousFlowConfig {
    fn default() -> Self {
        MaliciousFlowConfig {
            enabled: true,
            window: Seconds(3600),
        }
    }
}

/// The first allowed inbound flow from a public source to an (internal host, port,
/// protocol) not seen during the first `learning` of event time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewExposureConfig {
    /// Raise `new_exposure` alerts when detection is on (default true).
    pub enabled: bool,
    /// Event time spent learning what is already exposed before alerting (default `24h`).
    pub learning: Seconds,
}

impl Default for NewExposureConfig {
    fn default() -> Self {
        NewExposureConfig {
            enabled: true,
            learning: Seconds(86_400),
        }
    }
}

/// Bytes per (internal host, destination port, direction) in a `bucket` at least `ratio`
/// times the baseline and at least `min_bytes`, after `warmup` buckets with traffic. The
/// baseline is an EWMA (weight `alpha`) of the buckets in which the key had traffic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeAnomalyConfig {
    /// Raise `volume_anomaly` alerts when detection is on (default true).
    pub enabled: bool,
    /// The time bucket bytes are summed in (default `10m`).
    pub bucket: Seconds,
    /// How many times its baseline a bucket must reach (default 5).
    pub ratio: f64,
    /// The fewest bytes in a bucket that can alert (default 1000000).
    pub min_bytes: u64,
    /// Buckets with traffic a key needs before it can alert (default 12).
    pub warmup: u32,
    /// The EWMA weight of each new bucket, in (0, 1] (default 0.1: about the last ten buckets).
    pub alpha: f64,
}

impl Default for VolumeAnomalyConfig {
    fn default() -> Self {
        VolumeAnomalyConfig {
            enabled: true,
            bucket: Seconds(600),
            ratio: 5.0,
            min_bytes: 1_000_000,
            warmup: 12,
            alpha: 0.1,
        }
    }
}

/// One internal source with at least `connections` outbound connection starts to one
/// (public address, port, protocol) within `window`, where the most common gap between
/// starts (gaps within `tolerance` of it counting as the same) covers at least `share` of
/// the gaps. Sentinel Network Session Essentials' beaconing; RITA.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeaconingConfig {
    /// Raise `beaconing` alerts when detection is on (default true).
    pub enabled: bool,
    /// Connection starts in the window (default 15).
    pub connections: u32,
    /// The share of the gaps the most common gap must cover (default 0.8).
    pub share: f64,
    /// Gaps this close to the most common one count as the same (default `2s`: flow-log
    /// times are whole seconds).
    pub tolerance: Seconds,
    /// The window the connection starts are counted in (default `1h`).
    pub window: Seconds,
}

impl Default for BeaconingConfig {
    fn default() -> Self {
        BeaconingConfig {
            enabled: true,
            connections: 15,
            share: 0.8,
            tolerance: Seconds(2),
            window: Seconds(3600),
        }
    }
}

impl DetectConfig {
    /// Checks the values together; the error names the setting and says why.
    pub fn validate(&self) -> Result<(), String> {
        let windows = [
            ("detect.port_scan.window", self.port_scan.window),
            ("detect.sweep.window", self.sweep.window),
            ("detect.deny_burst.window", self.deny_burst.window),
            ("detect.fanout.window", self.fanout.window),
            ("detect.malicious_flow.window", self.malicious_flow.window),
            ("detect.volume_anomaly.bucket", self.volume_anomaly.bucket),
            ("detect.beaconing.window", self.beaconing.window),
        ];
        for (name, w) in windows {
            if w.0 == 0 || w.0 > 86_400 {
                return Err(format!("{name} {w} must be between 1s and 24h"));
            }
        }
        let at_least_one = [
            ("detect.port_scan.ports", self.port_scan.ports),
            ("detect.sweep.hosts", self.sweep.hosts),
            ("detect.max_subjects", self.max_subjects),
        ];
        for (name, n) in at_least_one {
            if n == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.port_scan.ports > 1024 || self.sweep.hosts > 1024 || self.fanout.destinations > 1024
        {
            return Err("detect.port_scan.ports, detect.sweep.hosts and detect.fanout.destinations must be at most 1024 (each subject keeps that many distinct values)".into());
        }
        let b = &self.beaconing;
        if b.connections < 3 {
            return Err(format!(
                "detect.beaconing.connections {} must be at least 3 (two gaps to compare)",
                b.connections
            ));
        }
        if !(b.share > 0.0 && b.share <= 1.0) {
            return Err(format!(
                "detect.beaconing.share {} must be in (0, 1] (0.8: the most common gap covers 80% of the gaps)",
                b.share
            ));
        }
        if b.tolerance.0 >= b.window.0 {
            return Err(format!(
                "detect.beaconing.tolerance {} must be shorter than detect.beaconing.window {}",
                b.tolerance, b.window
            ));
        }
        let v = &self.volume_anomaly;
        if !(v.ratio > 1.0 && v.ratio.is_finite()) {
            return Err(format!(
                "detect.volume_anomaly.ratio {} must be a number above 1 (5 means five times the baseline)",
                v.ratio
            ));
        }
        if !(v.alpha > 0.0 && v.alpha <= 1.0) {
            return Err(format!(
                "detect.volume_anomaly.alpha {} must be in (0, 1] (the weight of each new bucket)",
                v.alpha
            ));
        }
        Ok(())
    }
}
