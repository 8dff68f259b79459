//! `malicious_flow`: an allowed flow with a peer listed by a threat feed (Traffic
//! Analytics' MaliciousFlow). One alert per (internal host, listed address, window), raised
//! on the first allowed flow.

use crate::detect::alert::{Alert, Detector, Severity};
use crate::detect::config::MaliciousFlowConfig;
use crate::detect::subject::Subject;
use crate::detect::table::{Hit, Key, Table};
use crate::detect::Ctx;
use crate::event::FlowEvent;
use crate::labels::{Action, Direction};

pub struct MaliciousFlow {
    pub config: MaliciousFlowConfig,
    pub table: Table<()>,
}

impl MaliciousFlow {
    #[inline]
    pub fn event(&mut self, e: &FlowEvent<'_>, s: &Subject, ctx: &mut Ctx<'_>) {
        let t = e.tuple;
        if t.action != Action::Allow || (e.src.reputation.is_none() && e.dst.reputation.is_none()) {
            return;
        }
        // The host is the side whose NIC logged the flow.
        let (host, peer, key, h) = match t.direction {
            Direction::Inbound => (
                &e.dst,
                &e.src,
                Key::new(s.dst, s.src, 0),
                (s.dst_hash, s.src_hash),
            ),
            Direction::Outbound => (
                &e.src,
                &e.dst,
                Key::new(s.src, s.dst, 0),
                (s.src_hash, s.dst_hash),
            ),
        };
        let h = self.table.hashes().combine(h.0, h.1, 0);
        let Hit::Fired(start, slot) = self
            .table
            .hit(key, h, t.timestamp_ms, ctx, None, |_, _| true)
        else {
            return;
        };
        let listing = peer.reputation.or(host.reputation);
        ctx.alert(Alert {
            summary: format!(
                "{} had an allowed {} flow with {} ({}), listed by {}",
                host.ip_text,
                t.direction.as_str(),
                peer.ip_text,
                listing.map(|l| l.category()).unwrap_or("listed"),
                listing.map(|l| l.first_feed()).unwrap_or("a feed")
            ),
            src_ip: Some(t.src_ip),
            dst_ip: Some(t.dst_ip),
            dst_port: Some(t.dst_port),
            protocol: Some(t.protocol),
            direction: Some(t.direction),
            ..ctx.base(
                Detector::MaliciousFlow,
                Severity::High,
                host.ip,
                start,
                self.table.window_ms,
                &slot,
            )
        });
    }
}
