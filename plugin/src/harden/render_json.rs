//! `--format json`: `{"period":…,"warnings":[…],"nsgs":[{"nsg":NAME,"needs":[…],"rules":[…]}],"findings":[…]}`.
//! Each rule uses Azure's own securityRule property names ([`RuleJson`]), singular for one
//! entry and plural for several, so the rules can be pasted into an ARM template.

use serde::Serialize;

use crate::harden::period::format_time;
use crate::harden::propose::{NeedView, Proposal};
use crate::harden::rules::{Addresses, Ports, SecurityRule};

/// A rule with Azure's property names (also the Bicep `properties`, plus `name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleJson {
    pub name: String,
    pub priority: u16,
    pub access: &'static str,
    pub direction: &'static str,
    pub protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address_prefixes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_port_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_port_ranges: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_address_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_address_prefixes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_port_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_port_ranges: Option<Vec<String>>,
    pub description: String,
}

/// One entry: the singular form; several: the plural.
pub fn single_or_plural(strings: Vec<String>) -> (Option<String>, Option<Vec<String>>) {
    if strings.len() == 1 {
        (strings.into_iter().next(), None)
    } else {
        (None, Some(strings))
    }
}

fn addrs(a: &Addresses) -> (Option<String>, Option<Vec<String>>) {
    single_or_plural(a.to_strings())
}

fn ports(p: &Ports) -> (Option<String>, Option<Vec<String>>) {
    single_or_plural(p.to_strings())
}

impl RuleJson {
    pub fn new(r: &SecurityRule) -> Self {
        let (sap, saps) = addrs(&r.source);
        let (spr, sprs) = ports(&r.source_ports);
        let (dap, daps) = addrs(&r.destination);
        let (dpr, dprs) = ports(&r.destination_ports);
        RuleJson {
            name: r.name.clone(),
            priority: r.priority,
            access: r.access.as_str(),
            direction: r.direction.as_str(),
            protocol: r.protocol.as_str(),
            source_address_prefix: sap,
            source_address_prefixes: saps,
            source_port_range: spr,
            source_port_ranges: sprs,
            destination_address_prefix: dap,
            destination_address_prefixes: daps,
            destination_port_range: dpr,
            destination_port_ranges: dprs,
            description: r.description.clone(),
        }
    }
}

#[derive(Serialize)]
struct Doc<'p> {
    period: PeriodJson,
    warnings: &'p [String],
    nsgs: Vec<NsgJson>,
    findings: Vec<FindingJson<'p>>,
}

#[derive(Serialize)]
struct PeriodJson {
    first_seen: Option<String>,
    last_seen: Option<String>,
    days: f64,
    short: bool,
}

#[derive(Serialize)]
struct NsgJson {
    nsg: String,
    resource_group: Option<String>,
    subscription_id: Option<String>,
    needs: Vec<NeedJson>,
    rules: Vec<RuleJson>,
}

#[derive(Serialize)]
struct NeedJson {
    direction: &'static str,
    host: String,
    protocol: String,
    port: u16,
    remote: Vec<String>,
    platform: bool,
    flows: u64,
    tuples: u64,
    packets: u64,
    bytes: u64,
    distinct_remotes: usize,
    more_remotes: bool,
    first_seen: String,
    last_seen: String,
    allowed_by: Vec<String>,
    proposed_rule: String,
}

#[derive(Serialize)]
struct FindingJson<'p> {
    kind: &'static str,
    nsg: Option<&'p str>,
    message: &'p str,
    evidence: &'p serde_json::Value,
}

pub fn protocol_name(n: u8) -> String {
    crate::labels::Protocol(n)
        .name()
        .map_or_else(|| n.to_string(), str::to_string)
}

fn need(n: &NeedView) -> NeedJson {
    NeedJson {
        direction: n.direction.as_str(),
        host: n.local.to_string(),
        protocol: protocol_name(n.protocol),
        port: n.port,
        remote: n.remote.iter().map(|a| a.to_string()).collect(),
        platform: n.platform,
        flows: n.flows,
        tuples: n.tuples,
        packets: n.packets,
        bytes: n.bytes,
        distinct_remotes: n.remotes,
        more_remotes: n.remotes_more,
        first_seen: format_time(n.first_ms),
        last_seen: format_time(n.last_ms),
        allowed_by: n.allowed_by.clone(),
        proposed_rule: n.proposed_rule.clone(),
    }
}

/// The whole proposal as pretty JSON, ending in a newline.
pub fn render(p: &Proposal) -> String {
    let doc = Doc {
        period: PeriodJson {
            first_seen: p.period.first_ms.map(format_time),
            last_seen: p.period.last_ms.map(format_time),
            days: (p.period.days() * 1000.0).round() / 1000.0,
            short: p.period.days() < p.min_days,
        },
        warnings: &p.warnings,
        nsgs: p
            .nsgs
            .iter()
            .map(|n| NsgJson {
                nsg: n.nsg.name.clone(),
                resource_group: n.nsg.resource_group.clone(),
                subscription_id: n.nsg.subscription_id.clone(),
                needs: n.needs.iter().map(need).collect(),
                rules: n.rules.iter().map(RuleJson::new).collect(),
            })
            .collect(),
        findings: p
            .findings
            .iter()
            .map(|f| FindingJson {
                kind: f.kind,
                nsg: f.nsg.as_deref(),
                message: &f.message,
                evidence: &f.evidence,
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("serialisable");
    s.push('\n');
    s
}
