//! Observed needs: every enriched flow event, grouped per NSG and direction by the
//! protected address behind the NSG (the destination of inbound traffic, the source of
//! outbound traffic), protocol and destination port, with the remote side kept as a
//! bounded [`RemoteSet`]. Denied flows are kept apart, per remote address, so that a
//! proposal can be checked never to allow them.
//!
//! [`Observations`] is an [`EventHandler`]: the engine (or the pipeline) hands it each
//! event, the way it hands them to an encoder or the aggregator.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::engine::EventHandler;
use crate::event::{FlowEvent, Origin};
use crate::harden::rules::RuleDirection;
use crate::harden::sources::RemoteSet;
use crate::labels::{Action, FlowState};

/// Denied (remote, local, protocol, port) entries kept per run; past it they are counted.
pub const DENIED_CAP: usize = 1_000_000;

/// Management ports: which rule let whom reach them is kept per rule (for the
/// internet-management-port finding).
pub const MANAGEMENT_PORTS: [u16; 4] = [22, 3389, 5985, 5986];

/// Who reached a management port through one logged rule.
#[derive(Debug, Clone, Default)]
pub struct RuleUse {
    /// Remote addresses, at most [`crate::harden::sources::EXACT_CAP`].
    pub remotes: std::collections::BTreeSet<IpAddr>,
    pub any_private: bool,
    pub flows: u64,
}

/// An NSG as the flow logs name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NsgId {
    pub name: String,
    pub resource_group: Option<String>,
    pub subscription_id: Option<String>,
}

/// What one need is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NeedKey {
    /// Index into [`Observations::nsgs`].
    pub nsg: u32,
    pub direction: RuleDirection,
    /// The protected address: destination when inbound, source when outbound.
    pub local: IpAddr,
    /// IANA protocol number.
    pub protocol: u8,
    /// Destination port; 0 for protocols without ports.
    pub port: u16,
}

/// What was seen of one need.
#[derive(Debug, Clone, Default)]
pub struct Need {
    pub tuples: u64,
    /// Flows begun in the period (`B` tuples; every NSG v1 tuple).
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_ms: u64,
    pub last_ms: u64,
    pub remotes: RemoteSet,
    /// The rules the flow logs say allowed it, with tuple counts.
    pub rules: BTreeMap<String, u64>,
    /// Tuples from public remotes that carried packet counters, and the most packets one
    /// of them carried (for telling scanners from users).
    pub public_counted: u64,
    pub public_max_packets: u64,
}

/// One denied (remote, local, protocol, port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeniedKey {
    pub need: NeedKey,
    pub remote: IpAddr,
}

#[derive(Debug, Clone, Default)]
pub struct Denied {
    pub tuples: u64,
    pub last_ms: u64,
    pub rules: BTreeMap<String, u64>,
}

/// What was read, for the summary and the findings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub events: u64,
    pub allowed: u64,
    pub denied: u64,
    /// Outside `--from`/`--to`.
    pub outside_window: u64,
    /// Decided by something other than an NSG (AVNM admin rules, platform rules).
    pub not_nsg: u64,
    /// Outbound, not collected without `--outbound`.
    pub outbound_skipped: u64,
    pub denied_untracked: u64,
}

/// The needs and denials of a period.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    pub nsgs: Vec<NsgId>,
    nsg_index: HashMap<(String, String), u32>,
    pub needs: HashMap<NeedKey, Need>,
    pub denied: HashMap<DeniedKey, Denied>,
    /// Every rule name seen per NSG (allowed or denied), for unused-rule findings.
    pub rules_hit: HashMap<u32, BTreeMap<String, u64>>,
    /// Inbound TCP to a management port, per (need, logged rule).
    pub management: BTreeMap<(NeedKey, String), RuleUse>,
    /// First and last event time in the window (ms since the epoch).
    pub first_ms: Option<u64>,
    pub last_ms: Option<u64>,
    pub counts: Counts,
    /// Collect outbound needs as well.
    pub outbound: bool,
    /// Only events in `[from, to)` (ms).
    pub from_ms: Option<u64>,
    pub to_ms: Option<u64>,
    /// The last flow group's id and NSG index.
    last_group: Option<(u64, Option<u32>)>,
}

impl Observations {
    pub fn new(outbound: bool, from_ms: Option<u64>, to_ms: Option<u64>) -> Self {
        Observations {
            outbound,
            from_ms,
            to_ms,
            ..Observations::default()
        }
    }

    fn nsg_of(&mut self, event: &FlowEvent<'_>) -> Option<u32> {
        let gid = event.group.group_id;
        if let Some((g, idx)) = self.last_group {
            if g == gid {
                return idx;
            }
        }
        let origin = Origin::of(event.record, event.group);
        let idx = origin.nsg.map(|name| {
            let key = (
                name.to_ascii_uppercase(),
                origin
                    .resource_group
                    .unwrap_or_default()
                    .to_ascii_uppercase(),
            );
            let next = self.nsgs.len() as u32;
            let nsgs = &mut self.nsgs;
            *self.nsg_index.entry(key).or_insert_with(|| {
                nsgs.push(NsgId {
                    name: name.to_string(),
                    resource_group: origin.resource_group.map(str::to_string),
                    subscription_id: origin.subscription_id.map(str::to_string),
                });
                next
            })
        });
        self.last_group = Some((gid, idx));
        idx
    }
}

impl EventHandler for Observations {
    fn event(&mut self, event: &FlowEvent<'_>) {
        let t = event.tuple;
        let ms = t.timestamp_ms;
        if self.from_ms.is_some_and(|f| ms < f) || self.to_ms.is_some_and(|to| ms >= to) {
            self.counts.outside_window += 1;
            return;
        }
        self.counts.events += 1;
        self.first_ms = Some(self.first_ms.map_or(ms, |f| f.min(ms)));
        self.last_ms = Some(self.last_ms.map_or(ms, |l| l.max(ms)));
        let Some(nsg) = self.nsg_of(event) else {
            self.counts.not_nsg += 1;
            return;
        };
        let rule = event.group.rule;
        count(self.rules_hit.entry(nsg).or_default(), rule);
        let direction = RuleDirection::from_flow(t.direction);
        if direction == RuleDirection::Outbound && !self.outbound {
            self.counts.outbound_skipped += 1;
            return;
        }
        let (local, remote) = match direction {
            RuleDirection::Inbound => (t.dst_ip, t.src_ip),
            RuleDirection::Outbound => (t.src_ip, t.dst_ip),
        };
        let key = NeedKey {
            nsg,
            direction,
            local,
            protocol: t.protocol.0,
            port: if t.protocol.has_ports() {
                t.dst_port
            } else {
                0
            },
        };
        let denied = t.action == Action::Deny || t.state == Some(FlowState::Deny);
        if denied {
            self.counts.denied += 1;
            let dk = DeniedKey { need: key, remote };
            if !self.denied.contains_key(&dk) && self.denied.len() >= DENIED_CAP {
                self.counts.denied_untracked += 1;
                return;
            }
            let d = self.denied.entry(dk).or_default();
            d.tuples += 1;
            d.last_ms = d.last_ms.max(ms);
            count(&mut d.rules, rule);
            return;
        }
        self.counts.allowed += 1;
        let packets = t.packets_src_to_dst.unwrap_or(0) + t.packets_dst_to_src.unwrap_or(0);
        let has_counters = t.packets_src_to_dst.is_some() || t.packets_dst_to_src.is_some();
        let need = self.needs.entry(key).or_insert_with(|| Need {
            first_ms: ms,
            last_ms: ms,
            ..Need::default()
        });
        need.tuples += 1;
        let begun = matches!(t.state, None | Some(FlowState::Begin));
        need.flows += u64::from(begun);
        need.packets += packets;
        need.bytes += t.bytes_src_to_dst.unwrap_or(0) + t.bytes_dst_to_src.unwrap_or(0);
        need.first_ms = need.first_ms.min(ms);
        need.last_ms = need.last_ms.max(ms);
        need.remotes.add(remote, ms, begun);
        count(&mut need.rules, rule);
        if has_counters && crate::harden::sources::is_public(remote) {
            need.public_counted += 1;
            need.public_max_packets = need.public_max_packets.max(packets);
        }
        if direction == RuleDirection::Inbound
            && key.protocol == 6
            && MANAGEMENT_PORTS.contains(&key.port)
        {
            let u = self.management.entry((key, rule.to_string())).or_default();
            if u.remotes.len() < crate::harden::sources::EXACT_CAP {
                u.remotes.insert(remote);
            }
            u.any_private |= !crate::harden::sources::is_public(remote);
            u.flows += u64::from(begun);
        }
    }
}

/// Counts `rule` in `map`, allocating its name only the first time.
fn count(map: &mut BTreeMap<String, u64>, rule: &str) {
    match map.get_mut(rule) {
        Some(n) => *n += 1,
        None => {
            map.insert(rule.to_string(), 1);
        }
    }
}
