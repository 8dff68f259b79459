//! From observed needs to a proposed rule set per NSG.
//!
//! Per NSG and direction, in priority order:
//!
//! 1. **Platform**: `AzureLoadBalancer` to anything inbound (health probes, as Azure's own
//!    `AllowAzureLoadBalancerInBound`); with `--outbound`, anything to 168.63.129.16 and
//!    169.254.169.254 (DNS, DHCP, health, instance metadata).
//! 2. **Denials that must stay**: flows the period shows denied that the allow rules below
//!    would otherwise let through (a source inside an allowed subnet or service tag, a
//!    host inside a collapsed destination subnet), denied explicitly per source /32.
//! 3. **Allows**, one rule per (protocol, remote address set, port set) with the protected
//!    hosts it applies to: first the ports of each (protocol, remotes, host) are collapsed
//!    ([`crate::harden::ports`]), then hosts sharing the same ports are listed together,
//!    and, with `destinations: subnets` (the default), two or more hosts of one topology
//!    subnet become the subnet.
//! 4. **Deny the rest** at priority 4096, above Azure's defaults (`AllowVnetInBound` would
//!    otherwise let every VNet source through).
//!
//! Priorities start at 100 and step by 10 (less when the rules would not fit), unique per
//! NSG and direction.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::harden::evaluate::{evaluate, AddressBook, Flow};
use crate::harden::findings::{self, Finding};
use crate::harden::needs::{NeedKey, NsgId, Observations};
use crate::harden::period::{format_time, Period};
use crate::harden::ports::{collapse, PortCollapse};
use crate::harden::rules::{
    check_limits, Access, Addresses, PortRange, Ports, RuleDirection, RuleProtocol, SecurityRule,
    MAX_DESCRIPTION_LEN, PRIORITY_MAX, PRIORITY_MIN,
};
use crate::harden::rules_file::ExistingNsg;
use crate::harden::sources::{summarize, Places, SummaryLimits};
use crate::topology::{ServiceTagsFile, TopologyConfig};

/// How destinations are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Destinations {
    /// Each protected host as a /32 (/128).
    Hosts,
    /// Hosts of one subnet that share a need become the subnet.
    #[default]
    Subnets,
}

/// What `nsgflow harden` can be told (flags win).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HardenConfig {
    /// Propose outbound rules as well (default: inbound only).
    pub outbound: bool,
    /// `subnets` (default) or `hosts`.
    pub destinations: Destinations,
    /// Hosts of one subnet that make a subnet destination (default 2).
    pub subnet_min_hosts: usize,
    /// Source summarising thresholds.
    pub sources: SummaryLimits,
    /// High-port collapsing.
    pub ports: PortCollapse,
    /// Warn when the period is shorter than this many days (default 7).
    pub min_days: f64,
    /// Priority step between rules (default 10, room to insert rules by hand).
    pub priority_step: u16,
}

impl Default for HardenConfig {
    fn default() -> Self {
        HardenConfig {
            outbound: false,
            destinations: Destinations::Subnets,
            subnet_min_hosts: 2,
            sources: SummaryLimits::default(),
            ports: PortCollapse::default(),
            min_days: 7.0,
            priority_step: 10,
        }
    }
}

/// The proposer: settings, topology places and the address book for checking.
#[derive(Debug, Clone)]
pub struct Harden {
    pub config: HardenConfig,
    pub places: Places,
    pub book: AddressBook,
}

/// One need, as shown to the reviewer.
#[derive(Debug, Clone, PartialEq)]
pub struct NeedView {
    pub direction: RuleDirection,
    pub local: IpAddr,
    pub protocol: u8,
    pub port: u16,
    /// The remote side summarised (each one rule's addresses).
    pub remote: Vec<Addresses>,
    /// Part of the remote side is the Azure platform (covered by the platform rule).
    pub platform: bool,
    pub tuples: u64,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub remotes: usize,
    pub remotes_more: bool,
    pub first_ms: u64,
    pub last_ms: u64,
    /// The rules the flow logs say allowed it.
    pub allowed_by: Vec<String>,
    /// The proposed rule that allows it (checked by evaluation).
    pub proposed_rule: String,
}

/// The proposal for one NSG.
#[derive(Debug, Clone, PartialEq)]
pub struct NsgProposal {
    pub nsg: NsgId,
    pub needs: Vec<NeedView>,
    pub rules: Vec<SecurityRule>,
}

/// Everything `nsgflow harden` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub period: Period,
    pub min_days: f64,
    pub outbound: bool,
    pub nsgs: Vec<NsgProposal>,
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
    pub counts: crate::harden::needs::Counts,
}

/// Counters a draft rule carries into its description.
#[derive(Debug, Clone, Default)]
struct Stats {
    flows: u64,
    tuples: u64,
    remotes: BTreeSet<IpAddr>,
    first_ms: u64,
    last_ms: u64,
    log_rules: BTreeSet<String>,
}

impl Stats {
    fn merge(&mut self, o: &Stats) {
        self.first_ms = if self.tuples == 0 {
            o.first_ms
        } else {
            self.first_ms.min(o.first_ms)
        };
        self.last_ms = self.last_ms.max(o.last_ms);
        self.flows += o.flows;
        self.tuples += o.tuples;
        if self.remotes.len() < 10_000 {
            self.remotes.extend(o.remotes.iter().copied());
        }
        self.log_rules.extend(o.log_rules.iter().cloned());
    }
}

/// A rule before its priority and name.
#[derive(Debug, Clone)]
struct Draft {
    kind: DraftKind,
    protocol: RuleProtocol,
    remote: Addresses,
    locals: Addresses,
    ports: Ports,
    stats: Stats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DraftKind {
    Platform,
    KeepDenied,
    Allow,
}

/// One (protocol, remote addresses, local host, port) to be grouped into rules.
struct Entry {
    protocol: RuleProtocol,
    remote: Addresses,
    local: IpAddr,
    port: u16,
    stats: Stats,
}

fn has_ports(p: RuleProtocol) -> bool {
    matches!(p, RuleProtocol::Tcp | RuleProtocol::Udp)
}

impl Harden {
    pub fn new(
        config: HardenConfig,
        topology: Option<&TopologyConfig>,
        service_tags: Option<&ServiceTagsFile>,
    ) -> Result<Self, String> {
        if config.priority_step == 0 {
            return Err("harden.priority_step: must be at least 1".into());
        }
        if config.subnet_min_hosts == 0 {
            return Err("harden.subnet_min_hosts: must be at least 1".into());
        }
        if config.min_days.is_nan() || config.min_days < 0.0 {
            return Err(format!(
                "harden.min_days: `{}` is not a number of days",
                config.min_days
            ));
        }
        Ok(Harden {
            places: Places::new(topology, service_tags),
            book: AddressBook::new(service_tags, topology),
            config,
        })
    }

    /// The proposal for everything observed; `existing` is the `--rules` file.
    pub fn propose(&self, obs: &Observations, existing: &[ExistingNsg]) -> Proposal {
        let period = Period {
            first_ms: obs.first_ms,
            last_ms: obs.last_ms,
        };
        let mut nsg_order: Vec<u32> = (0..obs.nsgs.len() as u32).collect();
        nsg_order.sort_by(|a, b| obs.nsgs[*a as usize].cmp(&obs.nsgs[*b as usize]));
        let directions: &[RuleDirection] = if self.config.outbound {
            &[RuleDirection::Inbound, RuleDirection::Outbound]
        } else {
            &[RuleDirection::Inbound]
        };
        let mut keys: Vec<&NeedKey> = obs.needs.keys().collect();
        keys.sort();
        let mut nsgs = Vec::new();
        let mut findings_out = Vec::new();
        for &nsg in &nsg_order {
            let mut rules = Vec::new();
            let mut needs = Vec::new();
            for &dir in directions {
                let (r, n, f) = self.propose_one(obs, nsg, dir, &keys);
                rules.extend(r);
                needs.extend(n);
                findings_out.extend(f);
            }
            let mut id = obs.nsgs[nsg as usize].clone();
            if let Some(e) = existing.iter().find(|e| e.matches(&id)) {
                id.name = e.name.clone();
                if e.resource_group.is_some() {
                    id.resource_group = e.resource_group.clone();
                }
            }
            if needs.is_empty() {
                // Nothing allowed was seen here: nothing to propose.
                continue;
            }
            for p in check_limits(&rules) {
                findings_out.push(Finding::limit(&id.name, p));
            }
            nsgs.push(NsgProposal {
                nsg: id,
                needs,
                rules,
            });
        }
        let mut warnings = Vec::new();
        if let Some(w) = period.short_warning(self.config.min_days) {
            warnings.push(w);
        }
        let mut proposal = Proposal {
            period,
            min_days: self.config.min_days,
            outbound: self.config.outbound,
            nsgs,
            findings: Vec::new(),
            warnings,
            counts: obs.counts,
        };
        findings_out.extend(findings::collect(obs, proposal.period.days(), existing));
        proposal.findings = findings_out;
        proposal
    }

    /// The rules and needs of one NSG and direction, and the findings made on the way.
    fn propose_one(
        &self,
        obs: &Observations,
        nsg: u32,
        dir: RuleDirection,
        keys: &[&NeedKey],
    ) -> (Vec<SecurityRule>, Vec<NeedView>, Vec<Finding>) {
        let mut findings_out = Vec::new();
        let nsg_name = obs.nsgs[nsg as usize].name.clone();
        let mut entries = Vec::new();
        let mut views = Vec::new();
        for key in keys.iter().filter(|k| k.nsg == nsg && k.direction == dir) {
            let need = &obs.needs[*key];
            let summary = summarize(&need.remotes, &self.places, &self.config.sources);
            let protocol = RuleProtocol::from_iana(key.protocol);
            let whole = Stats {
                flows: need.flows,
                tuples: need.tuples,
                remotes: need.remotes.exact.keys().copied().collect(),
                first_ms: need.first_ms,
                last_ms: need.last_ms,
                log_rules: need.rules.keys().cloned().collect(),
            };
            for remote in &summary.addresses {
                // Each rule's description counts the remotes its addresses hold.
                let stats = if summary.addresses.len() == 1 && !summary.platform {
                    whole.clone()
                } else {
                    let mut s = Stats {
                        log_rules: whole.log_rules.clone(),
                        ..Stats::default()
                    };
                    for (ip, r) in &need.remotes.exact {
                        if self.book.contains(remote, *ip) {
                            s.merge(&Stats {
                                flows: r.flows,
                                tuples: r.tuples,
                                remotes: [*ip].into(),
                                first_ms: r.first_ms,
                                last_ms: r.last_ms,
                                log_rules: BTreeSet::new(),
                            });
                        }
                    }
                    s
                };
                entries.push(Entry {
                    protocol,
                    remote: remote.clone(),
                    local: key.local,
                    port: key.port,
                    stats,
                });
            }
            let (remotes, more) = need.remotes.distinct();
            views.push(NeedView {
                direction: dir,
                local: key.local,
                protocol: key.protocol,
                port: key.port,
                remote: summary.addresses.clone(),
                platform: summary.platform,
                tuples: need.tuples,
                flows: need.flows,
                packets: need.packets,
                bytes: need.bytes,
                remotes,
                remotes_more: more,
                first_ms: need.first_ms,
                last_ms: need.last_ms,
                allowed_by: need.rules.keys().cloned().collect(),
                proposed_rule: String::new(),
            });
        }
        if views.is_empty() {
            return (Vec::new(), Vec::new(), findings_out);
        }

        let mut drafts = vec![self.platform_draft(dir)];
        let allows = self.group(entries, true);
        // Denials the allows would let through, kept denied.
        let trial = assign(
            drafts.iter().chain(allows.iter()).cloned().collect(),
            dir,
            self.config.priority_step,
        );
        let mut deny_entries: BTreeMap<(RuleProtocol, IpAddr, u16), (BTreeSet<IpAddr>, Stats)> =
            BTreeMap::new();
        let mut denied: Vec<_> = obs
            .denied
            .iter()
            .filter(|(k, _)| k.need.nsg == nsg && k.need.direction == dir)
            .collect();
        denied.sort_by_key(|(k, _)| **k);
        for (k, d) in denied {
            let flow = flow_of(&k.need, k.remote);
            if crate::harden::sources::is_platform(k.remote) {
                findings_out.push(Finding::platform_denied(&nsg_name, &k.need, k.remote, d));
                continue;
            }
            if let Some(allowed) = obs
                .needs
                .get(&k.need)
                .and_then(|n| n.remotes.exact.get(&k.remote))
            {
                let allowed_later = allowed.last_ms >= d.last_ms;
                findings_out.push(Finding::conflict(
                    &nsg_name,
                    &k.need,
                    k.remote,
                    d,
                    allowed_later,
                ));
                if allowed_later {
                    continue;
                }
            }
            if evaluate(&trial, &self.book, &flow).access == Access::Allow {
                let protocol = RuleProtocol::from_iana(k.need.protocol);
                let e = deny_entries
                    .entry((protocol, k.need.local, k.need.port))
                    .or_default();
                e.0.insert(k.remote);
                e.1.merge(&Stats {
                    flows: d.tuples,
                    tuples: d.tuples,
                    remotes: [k.remote].into(),
                    first_ms: d.last_ms,
                    last_ms: d.last_ms,
                    log_rules: d.rules.keys().cloned().collect(),
                });
            }
        }
        let deny_entries: Vec<Entry> = deny_entries
            .into_iter()
            .map(|((protocol, local, port), (remotes, stats))| Entry {
                protocol,
                remote: Addresses::prefixes(remotes.into_iter().map(IpNet::from).collect()),
                local,
                port,
                stats,
            })
            .collect();
        let mut keep_denied = self.group(deny_entries, false);
        for d in &mut keep_denied {
            d.kind = DraftKind::KeepDenied;
        }
        drafts.extend(keep_denied);
        drafts.extend(allows);
        let rules = assign(drafts, dir, self.config.priority_step);
        for v in &mut views {
            let remote = v.remote.iter().find_map(|a| match a.entries().first() {
                Some(crate::harden::rules::AddressEntry::Prefix(p)) => Some(p.network()),
                _ => None,
            });
            let key = NeedKey {
                nsg,
                direction: dir,
                local: v.local,
                protocol: v.protocol,
                port: v.port,
            };
            let remote = obs.needs[&key]
                .remotes
                .exact
                .keys()
                .copied()
                .find(|r| !crate::harden::sources::is_platform(*r))
                .or(remote)
                .unwrap_or(crate::harden::evaluate::AZURE_PLATFORM);
            v.proposed_rule = evaluate(&rules, &self.book, &flow_of(&key, remote)).name;
        }
        (rules, views, findings_out)
    }

    fn platform_draft(&self, dir: RuleDirection) -> Draft {
        let (remote, locals) = match dir {
            RuleDirection::Inbound => (Addresses::tag("AzureLoadBalancer"), Addresses::any()),
            RuleDirection::Outbound => (
                Addresses::prefixes(vec![
                    IpNet::from(crate::harden::evaluate::AZURE_PLATFORM),
                    IpNet::from(crate::harden::sources::AZURE_IMDS),
                ]),
                Addresses::any(),
            ),
        };
        Draft {
            kind: DraftKind::Platform,
            protocol: RuleProtocol::Any,
            remote,
            locals,
            ports: Ports::any(),
            stats: Stats::default(),
        }
    }

    /// Groups entries into rules: ports per (protocol, remote, host), then hosts per
    /// (protocol, remote, ports), then hosts into subnets.
    fn group(&self, entries: Vec<Entry>, allow: bool) -> Vec<Draft> {
        type PerHost = BTreeMap<IpAddr, (Vec<u16>, Stats)>;
        let mut by_remote: BTreeMap<(RuleProtocol, Addresses), PerHost> = BTreeMap::new();
        for e in entries {
            let slot = by_remote
                .entry((e.protocol, e.remote))
                .or_default()
                .entry(e.local)
                .or_default();
            slot.0.push(e.port);
            slot.1.merge(&e.stats);
        }
        type PerPorts = BTreeMap<(RuleProtocol, Addresses, Ports, bool), (Vec<IpAddr>, Stats)>;
        let mut by_ports: PerPorts = BTreeMap::new();
        for ((protocol, remote), hosts) in by_remote {
            for (local, (ports, stats)) in hosts {
                let ports = if !has_ports(protocol) {
                    Ports::any()
                } else if allow {
                    collapse(&ports, &self.config.ports)
                } else {
                    Ports::new(ports.into_iter().map(PortRange::single).collect())
                };
                let slot = by_ports
                    .entry((protocol, remote.clone(), ports, local.is_ipv4()))
                    .or_default();
                slot.0.push(local);
                slot.1.merge(&stats);
            }
        }
        let mut drafts = Vec::new();
        for ((protocol, remote, ports, _), (locals, stats)) in by_ports {
            let nets = if allow && self.config.destinations == Destinations::Subnets {
                self.collapse_hosts(&locals)
            } else {
                locals.iter().map(|&ip| IpNet::from(ip)).collect()
            };
            drafts.push(Draft {
                kind: DraftKind::Allow,
                protocol,
                remote,
                locals: Addresses::prefixes(nets),
                ports,
                stats,
            });
        }
        // Well-known ports first, then by protocol: a stable, readable order.
        drafts.sort_by(|a, b| {
            (a.ports.ranges()[0], a.protocol, &a.locals, &a.remote).cmp(&(
                b.ports.ranges()[0],
                b.protocol,
                &b.locals,
                &b.remote,
            ))
        });
        drafts
    }

    /// Hosts to prefixes: `subnet_min_hosts` or more hosts of one subnet become the subnet.
    fn collapse_hosts(&self, hosts: &[IpAddr]) -> Vec<IpNet> {
        let mut per_subnet: BTreeMap<Option<IpNet>, Vec<IpAddr>> = BTreeMap::new();
        for &h in hosts {
            per_subnet
                .entry(self.places.subnet_of(h))
                .or_default()
                .push(h);
        }
        let mut out = Vec::new();
        for (subnet, hs) in per_subnet {
            match subnet {
                Some(net) if hs.len() >= self.config.subnet_min_hosts => out.push(net),
                _ => out.extend(hs.into_iter().map(IpNet::from)),
            }
        }
        out
    }
}

/// The flow a need stands for, from `remote`.
pub fn flow_of(key: &NeedKey, remote: IpAddr) -> Flow {
    let (src, dst) = match key.direction {
        RuleDirection::Inbound => (remote, key.local),
        RuleDirection::Outbound => (key.local, remote),
    };
    Flow {
        src,
        dst,
        protocol: key.protocol,
        src_port: 50000,
        dst_port: key.port,
        direction: key.direction,
    }
}

/// Priorities and names, and the final deny-all.
fn assign(drafts: Vec<Draft>, dir: RuleDirection, step: u16) -> Vec<SecurityRule> {
    let room = u32::from(PRIORITY_MAX - 1 - PRIORITY_MIN);
    let n = drafts.len().max(1) as u32;
    let step = u32::from(step).min((room / n).max(1));
    let mut rules = Vec::with_capacity(drafts.len() + 1);
    for (i, d) in drafts.into_iter().enumerate() {
        let priority =
            (u32::from(PRIORITY_MIN) + i as u32 * step).min(u32::from(PRIORITY_MAX) - 1) as u16;
        let (access, what) = match d.kind {
            DraftKind::Platform => (Access::Allow, "azure-platform".to_string()),
            DraftKind::KeepDenied => (Access::Deny, port_words(d.protocol, &d.ports)),
            DraftKind::Allow => (Access::Allow, port_words(d.protocol, &d.ports)),
        };
        let name = format!(
            "{}-{}-{}-p{priority}",
            access.as_str().to_ascii_lowercase(),
            dir.short(),
            what
        );
        let description = describe(&d);
        let (source, destination) = match dir {
            RuleDirection::Inbound => (d.remote, d.locals),
            RuleDirection::Outbound => (d.locals, d.remote),
        };
        rules.push(SecurityRule {
            name,
            priority,
            access,
            direction: dir,
            protocol: d.protocol,
            source,
            source_ports: Ports::any(),
            destination,
            destination_ports: d.ports,
            description,
        });
    }
    rules.push(SecurityRule {
        name: format!("deny-{}-all-else-p{PRIORITY_MAX}", dir.short()),
        priority: PRIORITY_MAX,
        access: Access::Deny,
        direction: dir,
        protocol: RuleProtocol::Any,
        source: Addresses::any(),
        source_ports: Ports::any(),
        destination: Addresses::any(),
        destination_ports: Ports::any(),
        description: "nsgflow: deny everything not allowed above (before Azure's AllowVnetInBound/AllowInternetOutBound defaults)".into(),
    });
    rules
}

/// `tcp-443`, `tcp-80-and-2-more`, `icmp`, `any`: for rule names (at most ~40 chars).
fn port_words(protocol: RuleProtocol, ports: &Ports) -> String {
    let proto = match protocol {
        RuleProtocol::Any => "any".to_string(),
        p => p.as_str().to_ascii_lowercase(),
    };
    if !has_ports(protocol) || ports.is_any() {
        return proto;
    }
    let first = ports.ranges()[0].to_string();
    match ports.ranges().len() {
        1 => format!("{proto}-{first}"),
        n => format!("{proto}-{first}-and-{}-more", n - 1),
    }
}

fn day(ms: u64) -> String {
    format_time(ms)[..10].to_string()
}

fn describe(d: &Draft) -> String {
    let s = &d.stats;
    let mut text = match d.kind {
        DraftKind::Platform => {
            "nsgflow: Azure platform (load balancer probes, 168.63.129.16), kept allowed".into()
        }
        DraftKind::KeepDenied => format!(
            "nsgflow: denied in the period ({} tuples, {} sources, last {}), kept denied",
            s.tuples,
            s.remotes.len(),
            day(s.last_ms)
        ),
        DraftKind::Allow => format!(
            "nsgflow: {}, {} sources, {}..{}{}",
            if s.flows > 0 {
                format!("{} flows", s.flows)
            } else {
                format!("{} tuples of flows begun earlier", s.tuples)
            },
            s.remotes.len(),
            day(s.first_ms),
            day(s.last_ms),
            match s.log_rules.iter().next() {
                Some(r) if s.log_rules.len() == 1 => format!(", was {r}"),
                Some(r) => format!(", was {r} +{}", s.log_rules.len() - 1),
                None => String::new(),
            }
        ),
    };
    if text.chars().count() > MAX_DESCRIPTION_LEN {
        text = text.chars().take(MAX_DESCRIPTION_LEN).collect();
    }
    text
}
