//! `deny_burst`: more than N denied flows from one source in a window (scanning or brute
//! force; the classic alert query on flow logs).

use crate::detect::alert::{Alert, Detector, Severity};
use crate::detect::config::DenyBurstConfig;
use crate::detect::subject::Subject;
use crate::detect::table::{Hit, Key, Table};
use crate::detect::Ctx;
use crate::event::FlowEvent;
use crate::labels::{Action, FlowState};

pub struct DenyBurst {
    pub config: DenyBurstConfig,
    pub table: Table<()>,
}

impl DenyBurst {
    #[inline]
    pub fn event(&mut self, e: &FlowEvent<'_>, s: &Subject, ctx: &mut Ctx<'_>) {
        let t = e.tuple;
        if !(t.action == Action::Deny || t.state == Some(FlowState::Deny))
            || super::not_a_peer(e.src.class)
        {
            return;
        }
        let key = Key::new(s.src, 0, 0);
        let hashes = self.table.hashes();
        let h = hashes.combine(s.src_hash, hashes.none(), 0);
        let n = self.config.denied;
        let Hit::Fired(start, slot) =
            self.table
                .hit(key, h, t.timestamp_ms, ctx, None, |hits, _| {
                    u64::from(hits) > n
                })
        else {
            return;
        };
        ctx.alert(Alert {
            summary: format!(
                "{} was denied more than {} times in {} (last: {}:{})",
                t.src_ip_text,
                n,
                super::span(self.table.window_ms),
                t.dst_ip_text,
                t.dst_port
            ),
            src_ip: Some(t.src_ip),
            dst_ip: Some(t.dst_ip),
            dst_port: Some(t.dst_port),
            protocol: Some(t.protocol),
            observed: Some(slot.hits as f64),
            threshold: Some(n as f64),
            ..ctx.base(
                Detector::DenyBurst,
                Severity::Medium,
                t.src_ip,
                start,
                self.table.window_ms,
                &slot,
            )
        });
    }
}
