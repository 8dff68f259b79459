//! A scenario generator: a small, realistic Azure estate with several days of normal
//! traffic, written as NSG flow logs (`Version: 2`) in the real blob layout, with attacks
//! injected at known times and a ground-truth list of what a detector should (and should
//! not) raise.
//!
//! The estate (see [`Estate::topology_yaml`]):
//!
//! | VNet | subnet | VMs | role |
//! |---|---|---|---|
//! | `vnet-retail-prod-weu` 10.40.0.0/16 | `snet-web` 10.40.1.0/24 | web01..06 (.4..) | HTTPS from the internet behind a load balancer (probes from 168.63.129.16) |
//! | | `snet-app` 10.40.2.0/24 | app01..06, report01 | web -> app :8080, app -> SQL :1433, Storage, a payment API |
//! | | `snet-db` 10.40.3.0/24 | sql01..02 | sql01 serves the app tier, sql02 the reporting VM; nightly backup to files01 :445 |
//! | | `snet-mgmt` 10.40.9.0/24 | jump01, mon01 | RDP sessions from two admin desktops on weekdays; mon01 scrapes :9100 every 15 min |
//! | `vnet-corp-neu` 10.50.0.0/16 | `snet-avd` 10.50.1.0/24 | avd01..10 | browsing, SMB to files01 |
//! | | `snet-files` 10.50.2.0/24 | files01..02 | SMB (files02 only receives the nightly backups) |
//! | | `snet-build` 10.50.3.0/24 | build01..02 | package downloads around the clock |
//!
//! Every subnet has its own NSG (`NSG-RETAIL-WEB`, ...), logging one `PT1H.json` per NIC
//! and hour, one record per minute. Internal flows are logged by both NICs (outbound at the
//! source, inbound at the destination), as Azure does. Traffic follows a daily rhythm
//! ([`rhythm`]): night at 20%, a ramp from 06:00, a plateau 09:00-17:00, down by 22:00.
//! Internet background noise (scanners, each trying a few ports, denied; some of them
//! listed in the feed) reaches the web VMs all day.
//!
//! Everything is deterministic from [`ScenarioConfig::seed`]; no `rand` crate.
//!
//! ```
//! use nsgflow_tests::estate::{Scenario, ScenarioConfig};
//! let s = Scenario::generate(&ScenarioConfig { days: 1, inject: false, ..ScenarioConfig::default() });
//! assert_eq!(s.estate.vms.len(), 31);
//! assert_eq!(s.blobs.len(), 31 * 24);
//! assert!(s.tuple_count() > 10_000);
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::Ipv4Addr;
use std::path::Path;

/// Midnight UTC, Monday 2026-03-09: the default first day.
pub const DEFAULT_START: u64 = 1_773_014_400;
const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
const MIN: u64 = 60;

/// What to generate.
#[derive(Debug, Clone)]
pub struct ScenarioConfig {
    pub seed: u64,
    /// Midnight UTC of the first day (epoch seconds).
    pub start: u64,
    /// Days of traffic (at least 4 when `inject` is on: the cases sit on days 2 and 3).
    pub days: u32,
    /// Inject the attack cases (and the near misses) of [`Scenario::truth`].
    pub inject: bool,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            seed: 9,
            start: DEFAULT_START,
            days: 4,
            inject: true,
        }
    }
}

/// What a VM does (which traffic the generator gives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Web,
    App,
    Report,
    Sql,
    Jump,
    Monitor,
    Desktop,
    FileServer,
    Build,
}

#[derive(Debug, Clone)]
pub struct Vm {
    pub name: String,
    pub ip: Ipv4Addr,
    /// 12 upper-case hex digits, as Azure writes `macAddress`.
    pub mac: String,
    pub role: Role,
    /// Index into [`Estate::nsgs`].
    pub nsg: usize,
    pub vnet: &'static str,
    pub subnet: &'static str,
}

#[derive(Debug, Clone)]
pub struct Nsg {
    pub name: String,
    pub resource_group: String,
    pub system_id: String,
}

impl Nsg {
    /// The NSG's `resourceId`, upper case as flow logs write it.
    pub fn resource_id(&self, subscription: &str) -> String {
        format!(
            "/SUBSCRIPTIONS/{subscription}/RESOURCEGROUPS/{}/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/{}",
            self.resource_group, self.name
        )
    }
}

/// The VNets, subnets, NSGs and VMs.
#[derive(Debug, Clone)]
pub struct Estate {
    pub subscription: String,
    pub nsgs: Vec<Nsg>,
    pub vms: Vec<Vm>,
}

/// A VNet of the estate: (name, region, address space, [(subnet, prefix)]).
pub type VnetSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The estate's two VNets.
pub const VNETS: [VnetSpec; 2] = [
    (
        "vnet-retail-prod-weu",
        "westeurope",
        "10.40.0.0/16",
        &[
            ("snet-web", "10.40.1.0/24"),
            ("snet-app", "10.40.2.0/24"),
            ("snet-db", "10.40.3.0/24"),
            ("snet-mgmt", "10.40.9.0/24"),
        ],
    ),
    (
        "vnet-corp-neu",
        "northeurope",
        "10.50.0.0/16",
        &[
            ("snet-avd", "10.50.1.0/24"),
            ("snet-files", "10.50.2.0/24"),
            ("snet-build", "10.50.3.0/24"),
        ],
    ),
];

impl Estate {
    pub fn new() -> Estate {
        let subscription = "3F2A9C1E-7B4D-4E8A-9C06-1D5E8B2F4A73".to_string();
        // (NSG, resource group, vnet, subnet, third octet, [(name prefix, count, role)])
        type NsgSpec<'a> = (
            &'a str,
            &'a str,
            &'static str,
            &'static str,
            u8,
            &'a [(&'a str, usize, Role)],
        );
        let layout: [NsgSpec; 7] = [
            (
                "NSG-RETAIL-WEB",
                "RG-RETAIL-PROD",
                "vnet-retail-prod-weu",
                "snet-web",
                1,
                &[("web", 6, Role::Web)],
            ),
            (
                "NSG-RETAIL-APP",
                "RG-RETAIL-PROD",
                "vnet-retail-prod-weu",
                "snet-app",
                2,
                &[("app", 6, Role::App), ("report", 1, Role::Report)],
            ),
            (
                "NSG-RETAIL-DB",
                "RG-RETAIL-PROD",
                "vnet-retail-prod-weu",
                "snet-db",
                3,
                &[("sql", 2, Role::Sql)],
            ),
            (
                "NSG-RETAIL-MGMT",
                "RG-RETAIL-PROD",
                "vnet-retail-prod-weu",
                "snet-mgmt",
                9,
                &[("jump", 1, Role::Jump), ("mon", 1, Role::Monitor)],
            ),
            (
                "NSG-CORP-AVD",
                "RG-CORP-NEU",
                "vnet-corp-neu",
                "snet-avd",
                1,
                &[("avd", 10, Role::Desktop)],
            ),
            (
                "NSG-CORP-FILES",
                "RG-CORP-NEU",
                "vnet-corp-neu",
                "snet-files",
                2,
                &[("files", 2, Role::FileServer)],
            ),
            (
                "NSG-CORP-BUILD",
                "RG-CORP-NEU",
                "vnet-corp-neu",
                "snet-build",
                3,
                &[("build", 2, Role::Build)],
            ),
        ];
        let mut nsgs = Vec::new();
        let mut vms = Vec::new();
        for (i, (nsg, rg, vnet, subnet, octet, roles)) in layout.into_iter().enumerate() {
            nsgs.push(Nsg {
                name: nsg.to_string(),
                resource_group: rg.to_string(),
                system_id: format!("6d1f{i:04x}-2c8e-4a7b-9f30-5e1b7d9c{:04x}", 0x3a00 + i),
            });
            let second = if vnet.starts_with("vnet-retail") {
                40
            } else {
                50
            };
            let mut host = 4u8;
            for (prefix, count, role) in roles {
                for n in 1..=*count {
                    vms.push(Vm {
                        name: format!("{prefix}{n:02}"),
                        ip: Ipv4Addr::new(10, second, octet, host),
                        mac: format!("000D3A{:02X}{:02X}{:02X}", second, octet, host),
                        role: *role,
                        nsg: i,
                        vnet,
                        subnet,
                    });
                    host += 1;
                }
            }
        }
        Estate {
            subscription,
            nsgs,
            vms,
        }
    }

    pub fn vm(&self, name: &str) -> &Vm {
        self.vms
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no VM {name}"))
    }

    fn index(&self, name: &str) -> usize {
        self.vms.iter().position(|v| v.name == name).expect("VM")
    }

    fn with_role(&self, role: Role) -> Vec<usize> {
        (0..self.vms.len())
            .filter(|&i| self.vms[i].role == role)
            .collect()
    }

    /// The VM owning `ip`, when it is one of the estate's.
    pub fn vm_at(&self, ip: Ipv4Addr) -> Option<usize> {
        self.vms.iter().position(|v| v.ip == ip)
    }

    /// The topology file nsgflow's `topology:` setting reads (VNets with region and subnets).
    pub fn topology_yaml(&self) -> String {
        let mut y = String::from("# The generated estate (tests/estate.rs).\nvnets:\n");
        for (name, region, cidr, subnets) in VNETS {
            let _ = writeln!(
                y,
                "  - name: {name}\n    region: {region}\n    cidrs: [{cidr}]\n    subnets:"
            );
            for (s, c) in subnets {
                let _ = writeln!(y, "      - {{name: {s}, cidrs: [{c}]}}");
            }
        }
        y
    }
}

impl Default for Estate {
    fn default() -> Self {
        Estate::new()
    }
}

/// The share of peak traffic at a time of day: 0.2 at night, a ramp 06:00-09:00, 1.0 from
/// 09:00 to 17:00, down to 0.2 by 22:00.
pub fn rhythm(t: u64) -> f64 {
    let h = (t % DAY) as f64 / HOUR as f64;
    let night = 0.2;
    if !(6.0..22.0).contains(&h) {
        night
    } else if h < 9.0 {
        night + (1.0 - night) * (h - 6.0) / 3.0
    } else if h < 17.0 {
        1.0
    } else {
        1.0 - (1.0 - night) * (h - 17.0) / 5.0
    }
}

/// A small deterministic PRNG (SplitMix64).
#[derive(Debug, Clone)]
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Prng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// A Poisson-ish count with mean `mean` (sum of Bernoulli trials; fine for small means).
    pub fn count(&mut self, mean: f64) -> u64 {
        let whole = mean.floor() as u64;
        whole + u64::from(self.chance(mean - whole as f64))
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn ephemeral_port(&mut self) -> u16 {
        49_152 + self.below(16_000) as u16
    }
}

/// One flow, as the generator plans it before the NICs log it.
#[derive(Debug, Clone)]
pub struct Flow {
    pub start: u64,
    /// Seconds from the first to the last packet (0 for denied attempts).
    pub duration: u64,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    /// `T` or `U`.
    pub protocol: char,
    pub allowed: bool,
    /// The rule that matched at the source NIC (outbound) and at the destination NIC (inbound).
    pub out_rule: &'static str,
    pub in_rule: &'static str,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
}

/// An injected case: what a detector should raise (or, for a near miss, must not).
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The `detector` value of the alert (`port_scan`, `sweep`, `deny_burst`, `fanout`,
    /// `malicious_flow`, `new_exposure`, `volume_anomaly`, `beaconing`).
    pub detector: &'static str,
    /// Whether an alert is expected (`false`: a near miss, just under the default).
    pub fires: bool,
    pub src_ip: Option<Ipv4Addr>,
    pub dst_ip: Option<Ipv4Addr>,
    pub dst_port: Option<u16>,
    /// The internal host the alert is about, when that is not `src_ip`/`dst_ip` alone
    /// (`malicious_flow`, `new_exposure`, `volume_anomaly`).
    pub host: Option<Ipv4Addr>,
    /// `inbound` / `outbound`, for `volume_anomaly`.
    pub direction: Option<&'static str>,
    /// When the injected activity starts and ends (epoch seconds, end exclusive).
    pub start: u64,
    pub end: u64,
    /// The size of the case: distinct ports/addresses, denied flows, or the byte ratio.
    pub magnitude: f64,
    pub description: String,
}

/// One `PT1H.json` blob.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The path under the container root (`resourceId=/SUBSCRIPTIONS/.../PT1H.json`).
    pub path: String,
    /// The hour it covers (epoch seconds).
    pub hour: u64,
    pub vm: usize,
    pub text: String,
}

/// The generated scenario: the estate, its blobs and the ground truth.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub config: ScenarioConfig,
    pub estate: Estate,
    /// Every planned flow (benign and injected), in start order.
    pub flows: Vec<Flow>,
    /// Blobs in path order.
    pub blobs: Vec<Blob>,
    /// The injected cases and near misses (empty without `inject`).
    pub truth: Vec<Case>,
}

// Rule names, as Azure and users write them.
const ALLOW_HTTPS_IN: &str = "UserRule_allow-https-internet-in";
const ALLOW_LB_IN: &str = "DefaultRule_AllowAzureLoadBalancerInBound";
const ALLOW_VNET_IN: &str = "DefaultRule_AllowVnetInBound";
const ALLOW_VNET_OUT: &str = "DefaultRule_AllowVnetOutBound";
const ALLOW_INTERNET_OUT: &str = "DefaultRule_AllowInternetOutBound";
const DENY_ALL_IN: &str = "DefaultRule_DenyAllInBound";
const ALLOW_SQL_IN: &str = "UserRule_allow-sql-from-app";
const ALLOW_RDP_TEMP: &str = "UserRule_allow-rdp-vendor-temp";
/// No NSG log for this side (the peer is outside the estate).
const NONE: &str = "";

/// The threat feed (a plain list, one address per line, as `firehol_level1.netset` style
/// feeds are): scanners that appear, denied, in the background noise, plus the C2 address
/// of the `malicious_flow` case.
pub const FEED: &str = "# nsgflow test feed: generated estate (tests/estate.rs)\n\
45.155.205.233\n89.248.165.83\n162.142.125.221\n185.220.101.47\n45.9.148.108\n193.32.162.77\n";

/// The C2 address of the `malicious_flow` case (listed in [`FEED`]).
pub const C2: Ipv4Addr = Ipv4Addr::new(45, 9, 148, 108);

/// Residential and business ISP prefixes the estate's customers come from.
const CLIENT_PREFIXES: [[u8; 2]; 8] = [
    [81, 2],
    [86, 147],
    [91, 64],
    [176, 31],
    [84, 17],
    [77, 183],
    [94, 134],
    [2, 205],
];
/// Where internet scanners come from (some addresses are listed in [`FEED`]).
const SCANNER_PREFIXES: [[u8; 3]; 6] = [
    [80, 82, 77],
    [89, 248, 165],
    [162, 142, 125],
    [167, 94, 138],
    [71, 6, 199],
    [198, 235, 24],
];
/// Microsoft services: Storage (West Europe), Azure Monitor, Windows Update.
const STORAGE: [Ipv4Addr; 3] = [
    Ipv4Addr::new(20, 60, 140, 36),
    Ipv4Addr::new(20, 60, 141, 100),
    Ipv4Addr::new(52, 239, 152, 10),
];
const MONITOR: Ipv4Addr = Ipv4Addr::new(20, 50, 201, 195);
const UPDATE: Ipv4Addr = Ipv4Addr::new(13, 107, 4, 50);
const PAYMENT_API: Ipv4Addr = Ipv4Addr::new(104, 18, 32, 47);
const PLATFORM: Ipv4Addr = Ipv4Addr::new(168, 63, 129, 16);
/// Package mirrors the build agents use.
const PACKAGES: [Ipv4Addr; 4] = [
    Ipv4Addr::new(140, 82, 121, 4),
    Ipv4Addr::new(140, 82, 121, 6),
    Ipv4Addr::new(152, 199, 4, 184),
    Ipv4Addr::new(151, 101, 0, 223),
];

/// Mean SQL bytes sql02 serves report01 per 10-minute bucket at the plateau.
pub const REPORT_SQL_BYTES_PER_BUCKET: f64 = 24_000_000.0;

struct Gen<'e> {
    e: &'e Estate,
    rng: Prng,
    flows: Vec<Flow>,
}

impl Gen<'_> {
    #[allow(clippy::too_many_arguments)]
    fn flow(
        &mut self,
        start: u64,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        dst_port: u16,
        protocol: char,
        rules: (&'static str, &'static str),
        bytes: [u64; 2],
    ) {
        let src_port = self.rng.ephemeral_port();
        let duration = 1 + self.rng.below(30) + bytes[1] / 50_000_000;
        let packets = [bytes[0] / 1200 + 3, bytes[1] / 1400 + 2];
        self.flows.push(Flow {
            start,
            duration,
            src,
            dst,
            src_port,
            dst_port,
            protocol,
            allowed: true,
            out_rule: rules.0,
            in_rule: rules.1,
            packets,
            bytes,
        });
    }

    fn denied(&mut self, start: u64, src: Ipv4Addr, dst: Ipv4Addr, dst_port: u16, protocol: char) {
        let src_port = self.rng.ephemeral_port();
        self.flows.push(Flow {
            start,
            duration: 0,
            src,
            dst,
            src_port,
            dst_port,
            protocol,
            allowed: false,
            out_rule: NONE,
            in_rule: DENY_ALL_IN,
            packets: [0, 0],
            bytes: [0, 0],
        });
    }

    fn ip(&self, i: usize) -> Ipv4Addr {
        self.e.vms[i].ip
    }

    fn client(&mut self) -> Ipv4Addr {
        let p = *self.rng.pick(&CLIENT_PREFIXES);
        // A pool of about 4,000 customers.
        let n = self.rng.below(500);
        Ipv4Addr::new(
            p[0],
            p[1],
            (n / 250 + 10) as u8 + (n % 7) as u8,
            (n % 250 + 3) as u8,
        )
    }

    fn scanner(&mut self) -> Ipv4Addr {
        let p = *self.rng.pick(&SCANNER_PREFIXES);
        Ipv4Addr::new(p[0], p[1], p[2], 1 + self.rng.below(254) as u8)
    }

    fn bytes(&mut self, mean: f64) -> u64 {
        (mean * (0.7 + 0.6 * self.rng.unit())) as u64
    }

    /// One minute of normal traffic.
    fn minute(&mut self, t: u64) {
        let r = rhythm(t);
        let e = self.e;
        let at = |g: &mut Self| t + g.rng.below(60);
        let webs = e.with_role(Role::Web);
        let apps = e.with_role(Role::App);
        for &w in &webs {
            // Customers over HTTPS.
            for _ in 0..self.rng.count(1.0 * r) {
                let (s, c) = (at(self), self.client());
                let b = [self.bytes(2_500.0), self.bytes(60_000.0)];
                self.flow(s, c, self.ip(w), 443, 'T', (NONE, ALLOW_HTTPS_IN), b);
            }
            // Load balancer probe, every two minutes.
            if (t / MIN) % 2 == w as u64 % 2 {
                let s = at(self);
                self.flow(
                    s,
                    PLATFORM,
                    self.ip(w),
                    443,
                    'T',
                    (NONE, ALLOW_LB_IN),
                    [180, 120],
                );
            }
            // Background scanning: a few ports per scanner, denied.
            if self.rng.chance(0.25) {
                let (s, src) = (at(self), self.scanner());
                for k in 0..1 + self.rng.below(3) {
                    let port = *self
                        .rng
                        .pick(&[22u16, 23, 3389, 445, 1433, 5900, 8080, 6379, 9200, 2375]);
                    self.denied(s + k, src, self.ip(w), port, 'T');
                }
            }
            // web -> app.
            for _ in 0..self.rng.count(0.3 * r) {
                let (s, a) = (at(self), *self.rng.pick(&apps));
                let b = [self.bytes(1_500.0), self.bytes(20_000.0)];
                self.flow(
                    s,
                    self.ip(w),
                    self.ip(a),
                    8080,
                    'T',
                    (ALLOW_VNET_OUT, ALLOW_VNET_IN),
                    b,
                );
            }
        }
        let sql1 = e.index("sql01");
        for (n, &a) in apps.iter().enumerate() {
            // app -> sql01, a steady pool of short connections (each app every third minute).
            if (t / MIN + n as u64).is_multiple_of(3) {
                let (s, b) = (
                    at(self),
                    [self.bytes(6_000.0 * r), self.bytes(600_000.0 * r)],
                );
                self.flow(
                    s,
                    self.ip(a),
                    self.ip(sql1),
                    1433,
                    'T',
                    (ALLOW_VNET_OUT, ALLOW_SQL_IN),
                    b,
                );
            }
            if self.rng.chance(0.3 * r) {
                let (s, st) = (at(self), *self.rng.pick(&STORAGE));
                let b = [self.bytes(20_000.0), self.bytes(50_000.0)];
                self.flow(s, self.ip(a), st, 443, 'T', (ALLOW_INTERNET_OUT, NONE), b);
            }
            if self.rng.chance(0.2 * r) {
                let s = at(self);
                let b = [self.bytes(3_000.0), self.bytes(5_000.0)];
                self.flow(
                    s,
                    self.ip(a),
                    PAYMENT_API,
                    443,
                    'T',
                    (ALLOW_INTERNET_OUT, NONE),
                    b,
                );
            }
        }
        // report01 -> sql02: a query a minute, REPORT_SQL_BYTES_PER_BUCKET per 10 min at
        // the plateau.
        let (rep, sql2) = (e.index("report01"), e.index("sql02"));
        {
            let s = at(self);
            let mean = REPORT_SQL_BYTES_PER_BUCKET * r / 10.0;
            let b = [self.bytes(mean * 0.01), self.bytes(mean * 0.99)];
            self.flow(
                s,
                self.ip(rep),
                self.ip(sql2),
                1433,
                'T',
                (ALLOW_VNET_OUT, ALLOW_SQL_IN),
                b,
            );
        }
        let minute_of_day = (t % DAY) / MIN;
        // Nightly backups, 01:00-01:20: sql -> files02 SMB (files02 holds nothing else).
        let files2 = e.index("files02");
        if (60..80).contains(&minute_of_day) {
            for sq in e.with_role(Role::Sql) {
                let s = at(self);
                let b = [self.bytes(25_000_000.0), self.bytes(200_000.0)];
                self.flow(
                    s,
                    self.ip(sq),
                    self.ip(files2),
                    445,
                    'T',
                    (ALLOW_VNET_OUT, ALLOW_VNET_IN),
                    b,
                );
            }
        }
        // Every VM: DNS and Azure Monitor every 30 min, Windows Update once an hour.
        for v in 0..e.vms.len() {
            let phase = (v as u64 * 7) % 60;
            if minute_of_day % 30 == phase % 30 {
                let s = at(self);
                self.flow(
                    s,
                    self.ip(v),
                    PLATFORM,
                    53,
                    'U',
                    (ALLOW_VNET_OUT, NONE),
                    [74, 180],
                );
            }
            if minute_of_day % 30 == (phase + 11) % 30 {
                let s = at(self);
                let b = [self.bytes(12_000.0), self.bytes(3_000.0)];
                self.flow(
                    s,
                    self.ip(v),
                    MONITOR,
                    443,
                    'T',
                    (ALLOW_INTERNET_OUT, NONE),
                    b,
                );
            }
            if minute_of_day % 60 == phase {
                let s = at(self);
                let b = [self.bytes(4_000.0), self.bytes(90_000.0)];
                self.flow(
                    s,
                    self.ip(v),
                    UPDATE,
                    443,
                    'T',
                    (ALLOW_INTERNET_OUT, NONE),
                    b,
                );
            }
        }
        // mon01 scrapes node exporters in the retail VNet every 15 minutes.
        if minute_of_day.is_multiple_of(15) {
            let mon = e.index("mon01");
            for v in 0..e.vms.len() {
                if e.vms[v].vnet == "vnet-retail-prod-weu" && v != mon {
                    let s = t + 5 + v as u64;
                    let b = [self.bytes(600.0), self.bytes(30_000.0)];
                    self.flow(
                        s,
                        self.ip(mon),
                        self.ip(v),
                        9100,
                        'T',
                        (ALLOW_VNET_OUT, ALLOW_VNET_IN),
                        b,
                    );
                }
            }
        }
        // Admins (avd01, avd02) keep an RDP session to jump01 open 09:00-17:00 on weekdays:
        // one long flow, C tuples every 5 minutes, about 3 MB per 10 minutes each.
        let jump = e.index("jump01");
        if minute_of_day == 9 * 60 && ((t / DAY) + 3) % 7 < 5 {
            for admin in ["avd01", "avd02"] {
                let a = e.index(admin);
                let (s, sp) = (t + 30 + self.rng.below(60), self.rng.ephemeral_port());
                self.flows.push(Flow {
                    start: s,
                    duration: 8 * HOUR,
                    src: self.ip(a),
                    dst: self.ip(jump),
                    src_port: sp,
                    dst_port: 3389,
                    protocol: 'T',
                    allowed: true,
                    out_rule: ALLOW_VNET_OUT,
                    in_rule: ALLOW_VNET_IN,
                    packets: [200_000, 400_000],
                    bytes: [24_000_000, 120_000_000],
                });
            }
        }
        // Desktops: browsing, SMB to files01.
        let files1 = e.index("files01");
        for d in e.with_role(Role::Desktop) {
            for _ in 0..self.rng.count(0.3 * r) {
                // About 30 sites a desktop uses.
                let site = Ipv4Addr::new(
                    *self.rng.pick(&[23u8, 104, 142, 151, 172, 185]),
                    (d * 11 % 200) as u8 + 10,
                    self.rng.below(3) as u8,
                    10 + self.rng.below(10) as u8,
                );
                let s = at(self);
                let b = [self.bytes(5_000.0), self.bytes(50_000.0)];
                self.flow(s, self.ip(d), site, 443, 'T', (ALLOW_INTERNET_OUT, NONE), b);
            }
            if self.rng.chance(0.15 * r) {
                let s = at(self);
                let b = [self.bytes(50_000.0), self.bytes(400_000.0)];
                self.flow(
                    s,
                    self.ip(d),
                    self.ip(files1),
                    445,
                    'T',
                    (ALLOW_VNET_OUT, ALLOW_VNET_IN),
                    b,
                );
            }
        }
        // Build agents run CI around the clock: a package download a minute.
        for b in e.with_role(Role::Build) {
            {
                let (s, p) = (at(self), *self.rng.pick(&PACKAGES));
                let by = [self.bytes(20_000.0), self.bytes(1_500_000.0)];
                self.flow(s, self.ip(b), p, 443, 'T', (ALLOW_INTERNET_OUT, NONE), by);
            }
        }
    }

    /// Injects every case; returns the ground truth.
    fn inject(&mut self, start: u64) -> Vec<Case> {
        let e = self.e;
        let mut truth = Vec::new();
        let day2 = start + 2 * DAY;
        let day3 = start + 3 * DAY;
        let ip = |n: &str| e.vm(n).ip;
        let case = |detector, fires, s: u64, end: u64, magnitude: f64, description: &str| Case {
            detector,
            fires,
            src_ip: None,
            dst_ip: None,
            dst_port: None,
            host: None,
            direction: None,
            start: s,
            end,
            magnitude,
            description: description.to_string(),
        };
        let ports = |n: u16| {
            (0..n).map(|i| {
                [
                    21u16, 22, 23, 25, 53, 80, 110, 135, 139, 143, 389, 443, 445, 1433, 1521, 2375,
                    3306, 3389, 5432, 5900, 5985, 6379, 8080, 8443, 9200, 27017,
                ][i as usize % 26]
                    + (i / 26) * 10_000
            })
        };

        // port_scan: 40 ports of web02 in two minutes from a listed scanner, denied.
        let (scanner, t) = (Ipv4Addr::new(45, 155, 205, 233), day2 + 3 * HOUR + 17 * MIN);
        for (k, p) in ports(40).enumerate() {
            self.denied(t + k as u64 * 3, scanner, ip("web02"), p, 'T');
        }
        truth.push(Case {
            src_ip: Some(scanner),
            dst_ip: Some(ip("web02")),
            ..case(
                "port_scan",
                true,
                t,
                t + 120,
                40.0,
                "40 ports of web02 in 2 min, denied",
            )
        });
        // Near miss: 14 ports of web05 in 4 minutes.
        let (near, t) = (Ipv4Addr::new(167, 94, 138, 201), day2 + 5 * HOUR + 30 * MIN);
        for (k, p) in ports(14).enumerate() {
            self.denied(t + k as u64 * 15, near, ip("web05"), p, 'T');
        }
        truth.push(Case {
            src_ip: Some(near),
            dst_ip: Some(ip("web05")),
            ..case(
                "port_scan",
                false,
                t,
                t + 210,
                14.0,
                "14 ports of web05 in 4 min (just under 15)",
            )
        });

        // sweep: avd07, compromised, tries SMB on 28 hosts in 3 minutes (allowed inside the VNet
        // peering, logged by both NICs).
        let (avd7, t) = (ip("avd07"), day2 + 10 * HOUR + 2 * MIN);
        let targets: Vec<usize> = (0..e.vms.len())
            .filter(|&v| e.vms[v].ip != avd7)
            .take(28)
            .collect();
        for (k, &v) in targets.iter().enumerate() {
            self.flow(
                t + k as u64 * 6,
                avd7,
                self.ip(v),
                445,
                'T',
                (ALLOW_VNET_OUT, ALLOW_VNET_IN),
                [400, 300],
            );
        }
        truth.push(Case {
            src_ip: Some(avd7),
            dst_port: Some(445),
            ..case(
                "sweep",
                true,
                t,
                t + 170,
                28.0,
                "avd07 reaches 28 hosts on 445 in 3 min",
            )
        });
        // Near miss: mon01 tries 24 hosts on 5985 (WinRM) within 4 minutes.
        let (mon, t) = (ip("mon01"), day3 + 9 * HOUR + 31 * MIN);
        let targets: Vec<usize> = (0..e.vms.len())
            .filter(|&v| e.vms[v].ip != mon)
            .take(24)
            .collect();
        for (k, &v) in targets.iter().enumerate() {
            self.flow(
                t + k as u64 * 9,
                mon,
                self.ip(v),
                5985,
                'T',
                (ALLOW_VNET_OUT, ALLOW_VNET_IN),
                [900, 700],
            );
        }
        truth.push(Case {
            src_ip: Some(mon),
            dst_port: Some(5985),
            ..case(
                "sweep",
                false,
                t,
                t + 216,
                24.0,
                "mon01 reaches 24 hosts on 5985 (just under 25)",
            )
        });

        // deny_burst: RDP brute force, 1,500 denied in 4 minutes.
        let (brute, t) = (
            Ipv4Addr::new(185, 220, 101, 47),
            day2 + 14 * HOUR + 40 * MIN + 20,
        );
        for k in 0..1500u64 {
            self.denied(t + k * 240 / 1500, brute, ip("web01"), 3389, 'T');
        }
        truth.push(Case {
            src_ip: Some(brute),
            dst_ip: Some(ip("web01")),
            dst_port: Some(3389),
            ..case(
                "deny_burst",
                true,
                t,
                t + 240,
                1500.0,
                "1,500 denied RDP attempts on web01 in 4 min",
            )
        });
        // Near miss: exactly 1,000 in one 5-minute window.
        let (near, t) = (
            Ipv4Addr::new(198, 235, 24, 130),
            day3 + 2 * HOUR + 5 * MIN + 10,
        );
        for k in 0..1000u64 {
            self.denied(t + k * 270 / 1000, near, ip("web04"), 22, 'T');
        }
        truth.push(Case {
            src_ip: Some(near),
            dst_ip: Some(ip("web04")),
            dst_port: Some(22),
            ..case(
                "deny_burst",
                false,
                t,
                t + 270,
                1000.0,
                "1,000 denied SSH attempts (not more than 1,000)",
            )
        });

        // fanout: build02 reaches 150 public addresses in 50 minutes (one every 20 s).
        let (b2, t) = (ip("build02"), day2 + 20 * HOUR + 5 * MIN);
        for k in 0..150u64 {
            let dst = Ipv4Addr::new(31, 13, 64 + (k / 200) as u8, 10 + k as u8);
            self.flow(
                t + k * 20,
                b2,
                dst,
                if k % 2 == 0 { 443 } else { 80 },
                'T',
                (ALLOW_INTERNET_OUT, NONE),
                [600, 900],
            );
        }
        truth.push(Case {
            src_ip: Some(b2),
            ..case(
                "fanout",
                true,
                t,
                t + 3000,
                150.0,
                "build02 reaches 150 public addresses in 50 min",
            )
        });
        // Near miss: build01 reaches exactly 100 in the hour 03:00-04:00: 94 new addresses
        // plus its usual 6 (4 package mirrors, Windows Update, Azure Monitor).
        let (b1, t) = (ip("build01"), day3 + 3 * HOUR);
        for k in 0..94u64 {
            let dst = Ipv4Addr::new(157, 240, 1 + (k / 200) as u8, 10 + k as u8);
            self.flow(
                t + 10 + k * 35,
                b1,
                dst,
                443,
                'T',
                (ALLOW_INTERNET_OUT, NONE),
                [600, 900],
            );
        }
        truth.push(Case {
            src_ip: Some(b1),
            ..case(
                "fanout",
                false,
                t,
                t + 3510,
                100.0,
                "build01 reaches 100 public addresses in an hour (not more than 100)",
            )
        });

        // malicious_flow: app03 talks to a listed C2 address, 12 times over an hour.
        let (a3, t) = (ip("app03"), day2 + 16 * HOUR + 12 * MIN);
        for k in 0..12u64 {
            self.flow(
                t + k * 300,
                a3,
                C2,
                8443,
                'T',
                (ALLOW_INTERNET_OUT, NONE),
                [2_000, 9_000],
            );
        }
        truth.push(Case {
            src_ip: Some(a3),
            dst_ip: Some(C2),
            host: Some(a3),
            dst_port: Some(8443),
            ..case(
                "malicious_flow",
                true,
                t,
                t + 3300,
                12.0,
                "app03 -> listed C2 45.9.148.108:8443, 12 flows",
            )
        });
        // Near miss: a listed address denied (background noise has more).
        let (listed, t) = (Ipv4Addr::new(89, 248, 165, 83), day3 + 11 * HOUR);
        self.denied(t, listed, ip("web03"), 3389, 'T');
        truth.push(Case {
            src_ip: Some(listed),
            dst_ip: Some(ip("web03")),
            ..case(
                "malicious_flow",
                false,
                t,
                t + 1,
                1.0,
                "listed scanner denied: not an allowed flow",
            )
        });

        // new_exposure: a temporary rule opens RDP on jump01 to a vendor address.
        let (vendor, t) = (Ipv4Addr::new(212, 227, 81, 55), day3 + 15 * HOUR + 3 * MIN);
        for k in 0..3u64 {
            self.flow(
                t + k * 600,
                vendor,
                ip("jump01"),
                3389,
                'T',
                (NONE, ALLOW_RDP_TEMP),
                [800_000, 6_000_000],
            );
        }
        truth.push(Case {
            src_ip: Some(vendor),
            dst_ip: Some(ip("jump01")),
            host: Some(ip("jump01")),
            dst_port: Some(3389),
            ..case(
                "new_exposure",
                true,
                t,
                t + 1201,
                1.0,
                "jump01:3389/TCP reached from the internet for the first time",
            )
        });
        // Near miss: a new port reached from a private address (VPN), not the internet.
        let t = day3 + 15 * HOUR + 30 * MIN;
        self.flow(
            t,
            ip("avd02"),
            ip("web06"),
            8443,
            'T',
            (ALLOW_VNET_OUT, ALLOW_VNET_IN),
            [900, 1_200],
        );
        truth.push(Case {
            src_ip: Some(ip("avd02")),
            dst_ip: Some(ip("web06")),
            host: Some(ip("web06")),
            dst_port: Some(8443),
            ..case(
                "new_exposure",
                false,
                t,
                t + 1,
                1.0,
                "a new port reached from a private address",
            )
        });

        // Near miss for volume_anomaly: every app VM pulls 4x its usual SQL bytes from sql01
        // for one bucket (11:00-11:10 on day 3): sql01's port 1433 at about 4x, under 5x.
        let t = day3 + 11 * HOUR;
        let sql1 = ip("sql01");
        for n in 1..=6u64 {
            let app = ip(&format!("app{n:02}"));
            for k in 0..2u64 {
                self.flows.push(Flow {
                    start: t + 30 + n * 40 + k * 200,
                    duration: 5,
                    src: app,
                    dst: sql1,
                    src_port: 53_000 + (n * 2 + k) as u16,
                    dst_port: 1433,
                    protocol: 'T',
                    allowed: true,
                    out_rule: ALLOW_VNET_OUT,
                    in_rule: ALLOW_SQL_IN,
                    packets: [30, 2_200],
                    bytes: [30_000, 3_000_000],
                });
            }
        }
        truth.push(Case {
            src_ip: None,
            dst_ip: Some(sql1),
            host: Some(sql1),
            direction: Some("inbound"),
            dst_port: Some(1433),
            ..case(
                "volume_anomaly",
                false,
                t,
                t + 600,
                4.0,
                "sql01:1433 at about 4x its usual bytes for one bucket (under 5x)",
            )
        });

        // volume_anomaly: report01 pulls 7x its usual bytes from sql02 for one 10-min bucket
        // (13:00-13:10 on day 3, at the daily plateau). The injected bytes bring the bucket's
        // total to exactly 7x the plateau mean.
        let t = day3 + 13 * HOUR;
        let (rep, sql2) = (ip("report01"), ip("sql02"));
        let already: u64 = self
            .flows
            .iter()
            .filter(|f| {
                f.src == rep
                    && f.dst == sql2
                    && f.dst_port == 1433
                    && (t..t + 600).contains(&f.start)
            })
            .map(|f| f.bytes[0] + f.bytes[1])
            .sum();
        let target = (7.0 * REPORT_SQL_BYTES_PER_BUCKET) as u64;
        let extra = target.saturating_sub(already);
        for k in 0..20u64 {
            let part = extra / 20 + if k == 0 { extra % 20 } else { 0 };
            self.flows.push(Flow {
                start: t + 15 + k * 28,
                duration: 5,
                src: rep,
                dst: sql2,
                src_port: 52_000 + k as u16,
                dst_port: 1433,
                protocol: 'T',
                allowed: true,
                out_rule: ALLOW_VNET_OUT,
                in_rule: ALLOW_SQL_IN,
                packets: [20, part / 1400 + 1],
                bytes: [0, part],
            });
        }
        for (host, direction) in [(sql2, "inbound"), (rep, "outbound")] {
            truth.push(Case {
                src_ip: Some(rep),
                dst_ip: Some(sql2),
                host: Some(host),
                direction: Some(direction),
                dst_port: Some(1433),
                ..case(
                    "volume_anomaly",
                    true,
                    t,
                    t + 600,
                    7.0,
                    "report01 <- sql02:1433 at 7x its usual bytes for one 10-min bucket",
                )
            });
        }
        // beaconing: avd04 checks in with an unlisted VPS on 443 every 170 s (+-1 s) for
        // most of an hour: 20 connections, every gap within the 2 s tolerance.
        let (avd4, vps, t) = (
            ip("avd04"),
            Ipv4Addr::new(146, 70, 117, 34),
            day3 + 20 * HOUR + 2 * MIN,
        );
        let mut at = t;
        for k in 0..20u64 {
            self.flow(
                at,
                avd4,
                vps,
                443,
                'T',
                (ALLOW_INTERNET_OUT, NONE),
                [1_200, 3_400],
            );
            at += 170 + [0, 1, 0, 0, 1][k as usize % 5] - [0, 0, 1, 0, 0][k as usize % 5];
        }
        truth.push(Case {
            src_ip: Some(avd4),
            dst_ip: Some(vps),
            dst_port: Some(443),
            ..case(
                "beaconing",
                true,
                t,
                at,
                1.0,
                "avd04 -> 146.70.117.34:443 every 170 s, 20 connections in an hour",
            )
        });
        // Near miss: app02 checks in every 240 s, perfectly regular, but only 14 times in
        // the hour (just under 15).
        let (a2, vps2, t) = (
            ip("app02"),
            Ipv4Addr::new(146, 70, 117, 35),
            day2 + 7 * HOUR + MIN,
        );
        for k in 0..14u64 {
            self.flow(
                t + k * 240,
                a2,
                vps2,
                443,
                'T',
                (ALLOW_INTERNET_OUT, NONE),
                [900, 2_000],
            );
        }
        truth.push(Case {
            src_ip: Some(a2),
            dst_ip: Some(vps2),
            dst_port: Some(443),
            ..case(
                "beaconing",
                false,
                t,
                t + 13 * 240 + 1,
                14.0,
                "app02 -> 146.70.117.35:443 every 240 s, 14 connections (just under 15)",
            )
        });
        // Near miss: avd06 connects 16 times in an hour, most gaps 180 s but 4 of 15 not:
        // the most common gap covers 73% of the gaps (under 80%).
        let (avd6, vps3, t) = (
            ip("avd06"),
            Ipv4Addr::new(146, 70, 117, 36),
            day3 + 6 * HOUR + 3 * MIN,
        );
        let mut at = t;
        let gaps = [
            95u64, 180, 260, 180, 400, 180, 130, 180, 180, 180, 180, 180, 180, 180, 180,
        ];
        for k in 0..16 {
            self.flow(
                at,
                avd6,
                vps3,
                8443,
                'T',
                (ALLOW_INTERNET_OUT, NONE),
                [700, 1_500],
            );
            at += gaps.get(k).copied().unwrap_or(0);
        }
        truth.push(Case {
            src_ip: Some(avd6),
            dst_ip: Some(vps3),
            dst_port: Some(8443),
            ..case(
                "beaconing",
                false,
                t,
                at + 1,
                11.0 / 15.0,
                "avd06 -> 146.70.117.36:8443, 16 connections, 73% of the gaps 180 s (under 80%)",
            )
        });
        truth
    }
}

impl Scenario {
    pub fn generate(config: &ScenarioConfig) -> Scenario {
        let estate = Estate::new();
        let mut g = Gen {
            e: &estate,
            rng: Prng::new(config.seed),
            flows: Vec::new(),
        };
        let end = config.start + u64::from(config.days) * DAY;
        let mut t = config.start;
        while t < end {
            g.minute(t);
            t += MIN;
        }
        let truth = if config.inject {
            assert!(config.days >= 4, "the injected cases need 4 days");
            g.inject(config.start)
        } else {
            Vec::new()
        };
        let mut flows = g.flows;
        flows.sort_by_key(|f| f.start);
        let blobs = write_blobs(&estate, &flows, config.start, end);
        Scenario {
            config: config.clone(),
            estate,
            flows,
            blobs,
            truth,
        }
    }

    /// The cases that should raise an alert.
    pub fn expected(&self) -> impl Iterator<Item = &Case> {
        self.truth.iter().filter(|c| c.fires)
    }

    /// The near misses (just under a default threshold).
    pub fn near_misses(&self) -> impl Iterator<Item = &Case> {
        self.truth.iter().filter(|c| !c.fires)
    }

    /// Writes every blob under `dir` in the Azure layout (the container root).
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        for b in &self.blobs {
            let path = dir.join(&b.path);
            std::fs::create_dir_all(path.parent().expect("parent"))?;
            std::fs::write(path, &b.text)?;
        }
        Ok(())
    }

    /// Writes `topology.yaml`, `feed.txt` and `nsgflow.yaml` (naming both, with
    /// `networks: {estate: [10.40.0.0/16, 10.50.0.0/16]}`) into `dir`; returns the config path.
    pub fn write_config(&self, dir: &Path, extra_yaml: &str) -> io::Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("topology.yaml"), self.estate.topology_yaml())?;
        std::fs::write(dir.join("feed.txt"), FEED)?;
        let path = dir.join("nsgflow.yaml");
        std::fs::write(
            &path,
            format!(
                "networks:\n  estate: [10.40.0.0/16, 10.50.0.0/16]\nreputation:\n  feeds:\n    - {{name: estate_feed, path: feed.txt, category: attacker}}\ntopology: topology.yaml\n{extra_yaml}"
            ),
        )?;
        Ok(path)
    }

    pub fn tuple_count(&self) -> usize {
        self.blobs
            .iter()
            .map(|b| b.text.matches(",T,").count() + b.text.matches(",U,").count())
            .sum()
    }

    /// Every record of every blob, merged in time order (records of equal time keep path
    /// order), as one `{"records":[...]}` text: the same data, fed in time order.
    pub fn time_ordered(&self) -> String {
        // Each record is `{"time":"<28 characters>",...}`; the separator between two records
        // of a blob is `},{"time":`.
        let mut records: Vec<(&str, &str)> = Vec::new();
        for b in &self.blobs {
            let body = &b.text["{\"records\":[{\"time\":".len()..b.text.len() - "}]}".len()];
            for r in body.split("},{\"time\":") {
                records.push((&r[1..29], r));
            }
        }
        records.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::from("{\"records\":[");
        for (i, (_, r)) in records.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{{\"time\":{r}}}");
        }
        out.push_str("]}");
        out
    }
}

/// One logged tuple: (time, rule, tuple text).
type Logged = (u64, &'static str, String);

/// Lays every flow out as the NICs log it, and writes one blob per NIC and hour.
fn write_blobs(e: &Estate, flows: &[Flow], start: u64, end: u64) -> Vec<Blob> {
    // Per VM, the tuples it logs.
    let mut per_vm: Vec<Vec<Logged>> = vec![Vec::new(); e.vms.len()];
    for f in flows {
        for (side, rule, dir) in [(f.src, f.out_rule, 'O'), (f.dst, f.in_rule, 'I')] {
            if rule.is_empty() {
                continue;
            }
            let Some(v) = e.vm_at(side) else { continue };
            let head = format!(
                "{},{},{},{},{},{},{}",
                f.src,
                f.dst,
                f.src_port,
                f.dst_port,
                f.protocol,
                dir,
                if f.allowed { 'A' } else { 'D' }
            );
            let log = &mut per_vm[v];
            if !f.allowed {
                log.push((f.start, rule, format!("{},{head},B,,,,", f.start)));
                continue;
            }
            log.push((f.start, rule, format!("{},{head},B,,,,", f.start)));
            // C tuples every 5 minutes of a long flow, then E; counters are deltas.
            let stop = f.start + f.duration.max(1);
            let mut last = f.start;
            let (mut sent_p, mut sent_b) = ([0u64; 2], [0u64; 2]);
            let mut c = f.start + 300;
            while c < stop {
                let share = |total: u64, done: u64| total * (c - f.start) / (stop - f.start) - done;
                let p = [
                    share(f.packets[0], sent_p[0]),
                    share(f.packets[1], sent_p[1]),
                ];
                let b = [share(f.bytes[0], sent_b[0]), share(f.bytes[1], sent_b[1])];
                log.push((
                    c,
                    rule,
                    format!("{c},{head},C,{},{},{},{}", p[0], b[0], p[1], b[1]),
                ));
                for i in 0..2 {
                    sent_p[i] += p[i];
                    sent_b[i] += b[i];
                }
                last = c;
                c += 300;
            }
            let _ = last;
            log.push((
                stop,
                rule,
                format!(
                    "{stop},{head},E,{},{},{},{}",
                    f.packets[0] - sent_p[0],
                    f.bytes[0] - sent_b[0],
                    f.packets[1] - sent_p[1],
                    f.bytes[1] - sent_b[1]
                ),
            ));
        }
    }
    let mut blobs = Vec::new();
    for (v, log) in per_vm.iter_mut().enumerate() {
        log.sort_by_key(|l| l.0);
        let vm = &e.vms[v];
        let nsg = &e.nsgs[vm.nsg];
        let rid = nsg.resource_id(&e.subscription);
        // Each NIC writes its record at the same second of every minute; a tuple goes into
        // the first record at least 3 s after it.
        let offset = 20 + (v as u64 * 13) % 40;
        let mut records: BTreeMap<u64, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
        for (t, rule, text) in log.iter() {
            let mut r = (t + 3).div_ceil(MIN) * MIN + offset - MIN;
            if r < t + 3 {
                r += MIN;
            }
            records
                .entry(r)
                .or_default()
                .entry(rule)
                .or_default()
                .push(text);
        }
        let mut hour = start;
        while hour < end {
            let mut text = String::from("{\"records\":[");
            let mut first = true;
            for (rt, rules) in records.range(hour..hour + HOUR) {
                if !first {
                    text.push(',');
                }
                first = false;
                let _ = write!(
                    text,
                    "{{\"time\":\"{}\",\"systemId\":\"{}\",\"macAddress\":\"{}\",\"category\":\"NetworkSecurityGroupFlowEvent\",\"resourceId\":\"{rid}\",\"operationName\":\"NetworkSecurityGroupFlowEvents\",\"properties\":{{\"Version\":2,\"flows\":[",
                    iso(*rt, v as u64),
                    nsg.system_id,
                    vm.mac
                );
                for (i, (rule, tuples)) in rules.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    let _ = write!(
                        text,
                        "{{\"rule\":\"{rule}\",\"flows\":[{{\"mac\":\"{}\",\"flowTuples\":[",
                        vm.mac
                    );
                    for (j, t) in tuples.iter().enumerate() {
                        if j > 0 {
                            text.push(',');
                        }
                        let _ = write!(text, "\"{t}\"");
                    }
                    text.push_str("]}]}");
                }
                text.push_str("]}}");
            }
            text.push_str("]}");
            if !first {
                let (y, mo, d, h) = ymdh(hour);
                blobs.push(Blob {
                    path: format!(
                        "resourceId={rid}/y={y}/m={mo:02}/d={d:02}/h={h:02}/m=00/macAddress={}/PT1H.json",
                        vm.mac
                    ),
                    hour,
                    vm: v,
                    text,
                });
            }
            hour += HOUR;
        }
    }
    blobs.sort_by(|a, b| a.path.cmp(&b.path));
    blobs
}

/// `2026-03-09T10:01:36.1174520Z`, with a fixed fraction per NIC.
fn iso(t: u64, nic: u64) -> String {
    let (y, mo, d, h) = ymdh(t);
    let (mi, s) = ((t % HOUR) / MIN, t % MIN);
    format!(
        "{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:07}Z",
        1_174_520 + nic * 104_729 % 8_000_000
    )
}

/// Year, month, day and hour of an epoch second (civil-from-days).
pub fn ymdh(t: u64) -> (i64, u32, u32, u64) {
    let z = (t / DAY) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (t % DAY) / HOUR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(ymdh(DEFAULT_START), (2026, 3, 9, 0));
        assert_eq!(ymdh(DEFAULT_START + 3 * DAY + 13 * HOUR), (2026, 3, 12, 13));
    }

    #[test]
    fn deterministic_and_realistic() {
        let c = ScenarioConfig::default();
        let a = Scenario::generate(&c);
        let b = Scenario::generate(&c);
        assert_eq!(a.blobs.len(), b.blobs.len());
        assert!(a.blobs.iter().zip(&b.blobs).all(|(x, y)| x.text == y.text));
        // Every blob's path names its records' NSG, hour and MAC.
        for blob in a.blobs.iter().take(50) {
            let v: serde_json::Value = serde_json::from_str(&blob.text).expect("JSON blob");
            let vm = &a.estate.vms[blob.vm];
            for r in v["records"].as_array().unwrap() {
                assert!(blob.path.contains(r["resourceId"].as_str().unwrap()));
                assert_eq!(r["macAddress"], vm.mac.as_str());
                let (_, _, _, h) = ymdh(blob.hour);
                assert_eq!(&r["time"].as_str().unwrap()[11..13], format!("{h:02}"));
            }
        }
        assert_eq!(a.truth.iter().filter(|c| c.fires).count(), 9);
    }

    #[test]
    fn every_tuple_parses_and_time_order_keeps_them() {
        let s = Scenario::generate(&ScenarioConfig::default());
        let format = nsgflow::encode::Format::Flat;
        let mut events = 0;
        for b in &s.blobs {
            let run = crate::run_text(&b.text, format);
            assert_eq!(run.stats.rejected_total(), 0, "{}", b.path);
            events += run.lines.len();
        }
        let text = s.time_ordered();
        serde_json::from_str::<serde_json::Value>(&text).expect("merged records are JSON");
        let merged = crate::run_text(&text, format);
        eprintln!("{:?} {:?}", merged.outcome, merged.stats);
        assert_eq!(merged.lines.len(), events);
        assert_eq!(merged.stats.rejected_total(), 0);
        eprintln!("{} blobs, {events} tuples", s.blobs.len());
    }
}
