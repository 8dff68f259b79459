//! `sweep`: one source reaches many hosts on one port (Zeek's address scan; Sentinel
//! Network Session Essentials' inbound sweep). Every attempt counts, allowed or not.

use crate::detect::alert::{Alert, Detector, EvidenceKind, Severity};
use crate::detect::config::SweepConfig;
use crate::detect::subject::Subject;
use crate::detect::table::{Distinct, Hit, Key, Table};
use crate::detect::Ctx;
use crate::event::FlowEvent;

pub struct Sweep {
    pub config: SweepConfig,
    pub table: Table<Distinct>,
}

impl Sweep {
    #[inline]
    pub fn event(&mut self, e: &FlowEvent<'_>, s: &Subject, ctx: &mut Ctx<'_>) {
        let t = e.tuple;
        if !super::attempt(t) || super::not_a_peer(e.src.class) {
            return;
        }
        let c = u32::from(t.dst_port) << 8 | u32::from(t.protocol.iana_number());
        let key = Key::new(s.src, 0, c);
        let hashes = self.table.hashes();
        let h = hashes.combine(s.src_hash, hashes.none(), c);
        let n = self.config.hosts;
        let Hit::Fired(start, slot) =
            self.table
                .hit(key, h, t.timestamp_ms, ctx, Some(s.dst), |_, distinct| {
                    distinct >= n
                })
        else {
            return;
        };
        let internal = !matches!(e.src.class, crate::classify::AddressClass::Public);
        ctx.alert(Alert {
            summary: format!(
                "{} reached {} or more hosts on port {} in {}",
                t.src_ip_text,
                n,
                t.dst_port,
                super::span(self.table.window_ms)
            ),
            src_ip: Some(t.src_ip),
            dst_port: Some(t.dst_port),
            protocol: Some(t.protocol),
            observed: Some(slot.values.len() as f64),
            threshold: Some(n as f64),
            evidence_kind: Some(EvidenceKind::Addresses),
            // From inside, a sweep is lateral movement.
            ..ctx.base(
                Detector::Sweep,
                if internal {
                    Severity::High
                } else {
                    Severity::Medium
                },
                t.src_ip,
                start,
                self.table.window_ms,
                &slot,
            )
        });
    }
}
