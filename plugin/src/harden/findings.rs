//! Findings beside the rules, each with its evidence:
//!
//! | kind | what |
//! |---|---|
//! | `scanner-only-port` | an inbound port reached from 10+ public sources whose every flow was short (at most 4 packets a tuple): only scanners used it |
//! | `internet-management-port` | a rule the logs show allowing 22, 3389, 5985 or 5986 only from public addresses |
//! | `unused-rule` | a rule of the `--rules` file that the period never hit: a candidate for removal |
//! | `unobserved-nsg` | an NSG of the `--rules` file with no flow logs in the period |
//! | `default-rule-only` | traffic let through only by a `DefaultRule_Allow*` rule: it should get an explicit rule (the proposal gives it one) |
//! | `denied-and-allowed` | the same flow was allowed and denied in the period; the later verdict is kept |
//! | `platform-denied` | Azure platform traffic (168.63.129.16) was denied; the proposal allows it |
//! | `not-nsg` | tuples decided by something other than an NSG (network manager admin rules, platform rules): no NSG rule is proposed for them |
//! | `only-denied` | an NSG whose traffic was all denied: no change proposed for it |
//! | `no-allowed-traffic` | nothing allowed was seen: the proposal is empty |
//! | `limit` | a proposed rule set breaks an Azure limit |

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::{json, Value};

use crate::harden::needs::{Denied, NeedKey, Observations};
use crate::harden::period::format_time;
use crate::harden::rules::RuleDirection;
use crate::harden::rules_file::ExistingNsg;
use crate::harden::sources::is_public;

/// Per (NSG, logged rule): ports, sources, flows, and whether any source was private.
type MgmtUse = BTreeMap<(u32, String), (BTreeSet<u16>, BTreeSet<IpAddr>, u64, bool)>;

pub use crate::harden::needs::MANAGEMENT_PORTS;

/// Public sources a port needs before "only scanners" is said of it.
pub const SCANNER_MIN_SOURCES: usize = 10;
/// Most packets (both ways) a tuple of a scan carries.
pub const SCANNER_MAX_PACKETS: u64 = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: &'static str,
    pub nsg: Option<String>,
    pub message: String,
    pub evidence: Value,
}

fn proto_port(key: &NeedKey) -> String {
    let p = crate::labels::Protocol(key.protocol);
    let name = p
        .name()
        .map_or_else(|| key.protocol.to_string(), str::to_string);
    if p.has_ports() {
        format!("{}/{name}", key.port)
    } else {
        name
    }
}

impl Finding {
    pub fn limit(nsg: &str, problem: String) -> Finding {
        Finding {
            kind: "limit",
            nsg: Some(nsg.into()),
            message: format!("the proposal breaks an Azure limit: {problem}"),
            evidence: json!({}),
        }
    }

    pub fn platform_denied(nsg: &str, key: &NeedKey, remote: IpAddr, d: &Denied) -> Finding {
        Finding {
            kind: "platform-denied",
            nsg: Some(nsg.into()),
            message: format!(
                "Azure platform traffic {remote} -> {} {} was denied in the period; the proposal keeps the platform allowed (Azure needs it for health probes, DNS and DHCP)",
                key.local,
                proto_port(key)
            ),
            evidence: json!({"tuples": d.tuples, "rules": d.rules.keys().collect::<Vec<_>>()}),
        }
    }

    pub fn conflict(
        nsg: &str,
        key: &NeedKey,
        remote: IpAddr,
        d: &Denied,
        allowed_later: bool,
    ) -> Finding {
        let (src, dst) = match key.direction {
            RuleDirection::Inbound => (remote, key.local),
            RuleDirection::Outbound => (key.local, remote),
        };
        Finding {
            kind: "denied-and-allowed",
            nsg: Some(nsg.into()),
            message: format!(
                "{src} -> {dst} {} was both allowed and denied in the period (a rule changed?); the later verdict is kept: {}",
                proto_port(key),
                if allowed_later { "allowed" } else { "denied" }
            ),
            evidence: json!({
                "denied_tuples": d.tuples,
                "denied_last_seen": format_time(d.last_ms),
                "denied_by": d.rules.keys().collect::<Vec<_>>(),
            }),
        }
    }
}

/// The findings that look at the whole period.
pub fn collect(obs: &Observations, period_days: f64, existing: &[ExistingNsg]) -> Vec<Finding> {
    let mut out = Vec::new();
    // The NSG's name as the rules file spells it, else as the logs do.
    let nsg_name = |i: u32| {
        let id = &obs.nsgs[i as usize];
        existing
            .iter()
            .find(|e| e.matches(id))
            .map_or_else(|| id.name.clone(), |e| e.name.clone())
    };
    let mut keys: Vec<&NeedKey> = obs.needs.keys().collect();
    keys.sort();

    if !obs
        .needs
        .keys()
        .any(|k| k.direction == RuleDirection::Inbound)
    {
        out.push(Finding {
            kind: "no-allowed-traffic",
            nsg: None,
            message: format!(
                "no allowed inbound traffic in the input ({} events, {} denied, {} not decided by an NSG): nothing to propose; check the inputs cover the NSGs and period you mean",
                obs.counts.events, obs.counts.denied, obs.counts.not_nsg
            ),
            evidence: json!({"events": obs.counts.events, "denied": obs.counts.denied}),
        });
    }
    if obs.counts.not_nsg > 0 {
        out.push(Finding {
            kind: "not-nsg",
            nsg: None,
            message: format!(
                "{} tuples were decided by something other than an NSG (network manager admin rules, platform rules): no NSG rule is proposed for them",
                obs.counts.not_nsg
            ),
            evidence: json!({"tuples": obs.counts.not_nsg}),
        });
    }

    // NSGs with traffic but nothing allowed: left unchanged.
    for (i, id) in obs.nsgs.iter().enumerate() {
        let i = i as u32;
        let has_needs = obs.needs.keys().any(|k| k.nsg == i);
        let denied = obs.denied.keys().filter(|k| k.need.nsg == i).count();
        if !has_needs && denied > 0 {
            out.push(Finding {
                kind: "only-denied",
                nsg: Some(id.name.clone()),
                message: format!(
                    "only denied traffic was seen ({denied} denied (source, host, port)): no change is proposed for this NSG"
                ),
                evidence: json!({"denied": denied}),
            });
        }
    }

    // Scanner-only ports.
    for key in keys
        .iter()
        .filter(|k| k.direction == RuleDirection::Inbound)
    {
        let need = &obs.needs[*key];
        let public = need
            .remotes
            .exact
            .keys()
            .filter(|ip| is_public(**ip))
            .count();
        if public >= SCANNER_MIN_SOURCES
            && need.public_counted > 0
            && need.public_max_packets <= SCANNER_MAX_PACKETS
        {
            out.push(Finding {
                kind: "scanner-only-port",
                nsg: Some(nsg_name(key.nsg)),
                message: format!(
                    "{} {} was reached from {public} public sources, every flow at most {} packets: only scanners seem to use it; the proposal still opens it (it was allowed), consider closing it",
                    key.local,
                    proto_port(key),
                    need.public_max_packets
                ),
                evidence: json!({
                    "host": key.local.to_string(), "port": key.port, "protocol": key.protocol,
                    "public_sources": public, "tuples": need.tuples,
                    "max_packets_per_tuple": need.public_max_packets,
                    "first_seen": format_time(need.first_ms), "last_seen": format_time(need.last_ms),
                }),
            });
        }
    }

    // Management ports open to the internet, per logged rule.
    let mut mgmt: MgmtUse = BTreeMap::new();
    for ((key, rule), u) in &obs.management {
        let e = mgmt.entry((key.nsg, rule.clone())).or_default();
        e.0.insert(key.port);
        e.1.extend(u.remotes.iter().copied());
        e.2 += u.flows;
        e.3 |= u.any_private;
    }
    for ((nsg, rule), (ports, sources, flows, private)) in mgmt {
        if private || sources.is_empty() {
            continue;
        }
        out.push(Finding {
            kind: "internet-management-port",
            nsg: Some(nsg_name(nsg)),
            message: format!(
                "rule {rule} allowed management port(s) {} only from the internet ({} public sources, {flows} flows): use Azure Bastion, just-in-time access or a VPN, or restrict the sources",
                ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", "),
                sources.len()
            ),
            evidence: json!({
                "rule": rule, "ports": ports, "flows": flows,
                "sources": sources.iter().take(20).map(|s| s.to_string()).collect::<Vec<_>>(),
            }),
        });
    }

    // Traffic only a default allow rule let through.
    let mut defaults: BTreeMap<(u32, String), Vec<String>> = BTreeMap::new();
    for key in &keys {
        let need = &obs.needs[*key];
        let platform_only = need
            .remotes
            .exact
            .keys()
            .all(|ip| crate::harden::sources::is_platform(*ip));
        if !platform_only
            && !need.rules.is_empty()
            && need
                .rules
                .keys()
                .all(|r| r.starts_with("DefaultRule_Allow"))
        {
            for r in need.rules.keys() {
                defaults
                    .entry((key.nsg, r.clone()))
                    .or_default()
                    .push(format!(
                        "{} {} {}",
                        key.direction.short(),
                        key.local,
                        proto_port(key)
                    ));
            }
        }
    }
    for ((nsg, rule), needs) in defaults {
        out.push(Finding {
            kind: "default-rule-only",
            nsg: Some(nsg_name(nsg)),
            message: format!(
                "{} (host, port) needs were allowed only by {rule}: they should have explicit rules (the proposal gives them one; its deny at 4096 ends the default's reach)",
                needs.len()
            ),
            evidence: json!({"rule": rule, "needs": needs.iter().take(20).collect::<Vec<_>>(), "count": needs.len()}),
        });
    }

    // Rules of the --rules file the period never hit.
    for e in existing {
        let idx = (0..obs.nsgs.len() as u32).find(|&i| e.matches(&obs.nsgs[i as usize]));
        let Some(idx) = idx else {
            out.push(Finding {
                kind: "unobserved-nsg",
                nsg: Some(e.name.clone()),
                message: format!(
                    "NSG {} ({}) has no flow logs in the input: none of its {} rules can be judged",
                    e.name,
                    e.source,
                    e.rules.len()
                ),
                evidence: json!({"rules": e.rules.len()}),
            });
            continue;
        };
        let hit = obs.rules_hit.get(&idx);
        for r in &e.rules {
            let logged = format!("UserRule_{}", r.name);
            let used = hit.and_then(|h| h.get(&logged)).copied().unwrap_or(0);
            if used == 0 {
                out.push(Finding {
                    kind: "unused-rule",
                    nsg: Some(e.name.clone()),
                    message: format!(
                        "rule {} (priority {}, {} {}) was never hit in the period: a candidate for removal",
                        r.name,
                        r.priority,
                        r.access.as_str(),
                        r.direction.as_str()
                    ),
                    evidence: json!({"rule": r.name, "priority": r.priority, "period_days": period_days}),
                });
            }
        }
    }
    out
}
