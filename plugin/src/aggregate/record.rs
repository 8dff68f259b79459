//! The aggregate as the encoders see it: the window, the key's fields (only those in the
//! key), the counters, the context and the enrichment of each side.

use crate::event::Endpoint;
use crate::labels::{Action, Direction, Protocol};
use crate::topology::FlowType;

use super::key::{Context, KeyField, DENY, OUTBOUND};
use super::window::{Aggregate, Counts, FlushReason};

/// One aggregate, ready to encode.
#[derive(Debug, Clone, Copy)]
pub struct AggregateEvent<'a> {
    pub window_start_ms: u64,
    pub window_end_ms: u64,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    pub counts: &'a Counts,
    pub late: bool,
    pub reason: FlushReason,
    pub context: &'a Context,
    /// The sides whose address is in the key, classified and enriched; their `port` is
    /// meaningful only when [`AggregateEvent::src_port`]/[`AggregateEvent::dst_port`] say so.
    pub src: Option<Endpoint<'a>>,
    pub dst: Option<Endpoint<'a>>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub protocol: Option<Protocol>,
    pub direction: Option<Direction>,
    pub action: Option<Action>,
    pub l7_protocol: Option<&'static str>,
    /// Distinct source ports, when the source port is not in the key.
    pub distinct_src_ports: Option<u32>,
    pub malicious: Option<bool>,
    pub flow_type: Option<FlowType>,
}

impl<'a> AggregateEvent<'a> {
    /// The key fields of `a` other than the addresses (which need the enricher).
    pub fn new(
        a: &'a Aggregate<'a>,
        context: &'a Context,
        src: Option<Endpoint<'a>>,
        dst: Option<Endpoint<'a>>,
    ) -> Self {
        let has = |f| a.spec.has(f);
        let k = a.key;
        let protocol = has(KeyField::Protocol).then_some(Protocol(k.protocol));
        let dst_port = has(KeyField::DstPort).then_some(k.dst_port);
        AggregateEvent {
            window_start_ms: a.window_start_ms,
            window_end_ms: a.window_end_ms,
            first_seen_ms: a.first_seen_ms(),
            last_seen_ms: a.last_seen_ms(),
            counts: a.counts,
            late: a.late,
            reason: a.reason,
            context,
            src,
            dst,
            src_port: has(KeyField::SrcPort).then_some(k.src_port),
            dst_port,
            protocol,
            direction: has(KeyField::Direction).then_some(if k.flags & OUTBOUND != 0 {
                Direction::Outbound
            } else {
                Direction::Inbound
            }),
            action: has(KeyField::Action).then_some(if k.flags & DENY != 0 {
                Action::Deny
            } else {
                Action::Allow
            }),
            l7_protocol: match (protocol, dst_port) {
                (Some(p), Some(port)) => crate::l7::l7_protocol(p, port),
                _ => None,
            },
            distinct_src_ports: (!has(KeyField::SrcPort)).then_some(a.counts.src_ports),
            malicious: None,
            flow_type: None,
        }
    }

    /// Total packets and bytes, both ways.
    pub fn packets(&self) -> u64 {
        self.counts.packets[0] + self.counts.packets[1]
    }

    pub fn bytes(&self) -> u64 {
        self.counts.bytes[0] + self.counts.bytes[1]
    }
}
