//! `port_scan`: one source tries many destination ports of one host, and fails.
//!
//! A failed attempt is a denied flow, or (where counters exist) an ended flow with no
//! packet back. Zeek's `scan.zeek` counts the same way (15 ports in 5 minutes).

use crate::detect::alert::{Alert, Detector, EvidenceKind, Severity};
use crate::detect::config::PortScanConfig;
use crate::detect::subject::Subject;
use crate::detect::table::{Distinct, Hit, Key, Table};
use crate::detect::Ctx;
use crate::event::FlowEvent;

pub struct PortScan {
    pub config: PortScanConfig,
    pub table: Table<Distinct>,
}

impl PortScan {
    #[inline]
    pub fn event(&mut self, e: &FlowEvent<'_>, s: &Subject, ctx: &mut Ctx<'_>) {
        let t = e.tuple;
        if !super::failed(t) || super::not_a_peer(e.src.class) {
            return;
        }
        let key = Key::new(s.src, s.dst, 0);
        let h = self.table.hashes().combine(s.src_hash, s.dst_hash, 0);
        let n = self.config.ports;
        let Hit::Fired(start, slot) = self.table.hit(
            key,
            h,
            t.timestamp_ms,
            ctx,
            Some(u128::from(t.dst_port)),
            |_, distinct| distinct >= n,
        ) else {
            return;
        };
        ctx.alert(Alert {
            summary: format!(
                "{} tried {} or more ports of {} in {} without an answer",
                t.src_ip_text,
                n,
                t.dst_ip_text,
                super::span(self.table.window_ms)
            ),
            src_ip: Some(t.src_ip),
            dst_ip: Some(t.dst_ip),
            protocol: Some(t.protocol),
            observed: Some(slot.values.len() as f64),
            threshold: Some(n as f64),
            evidence_kind: Some(EvidenceKind::Ports),
            ..ctx.base(
                Detector::PortScan,
                Severity::Medium,
                t.src_ip,
                start,
                self.table.window_ms,
                &slot,
            )
        });
    }
}
