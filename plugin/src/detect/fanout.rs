//! `fanout`: one internal host with allowed outbound flows to many distinct public
//! addresses (the "unusual outbound connections" query; reconnaissance, C2, a worm).

use crate::classify::AddressClass;
use crate::detect::alert::{Alert, Detector, EvidenceKind, Severity};
use crate::detect::config::FanoutConfig;
use crate::detect::subject::Subject;
use crate::detect::table::{Distinct, Hit, Key, Table};
use crate::detect::Ctx;
use crate::event::FlowEvent;
use crate::labels::{Action, Direction};

pub struct Fanout {
    pub config: FanoutConfig,
    pub table: Table<Distinct>,
}

impl Fanout {
    #[inline]
    pub fn event(&mut self, e: &FlowEvent<'_>, s: &Subject, ctx: &mut Ctx<'_>) {
        let t = e.tuple;
        if t.action != Action::Allow
            || !super::attempt(t)
            || t.direction != Direction::Outbound
            || e.dst.class != AddressClass::Public
            || e.src.class == AddressClass::Public
        {
            return;
        }
        let key = Key::new(s.src, 0, 0);
        let hashes = self.table.hashes();
        let h = hashes.combine(s.src_hash, hashes.none(), 0);
        let n = self.config.destinations;
        let Hit::Fired(start, slot) =
            self.table
                .hit(key, h, t.timestamp_ms, ctx, Some(s.dst), |_, distinct| {
                    distinct > n
                })
        else {
            return;
        };
        ctx.alert(Alert {
            summary: format!(
                "{} reached more than {} distinct public addresses in {}",
                t.src_ip_text,
                n,
                super::span(self.table.window_ms)
            ),
            src_ip: Some(t.src_ip),
            direction: Some(Direction::Outbound),
            observed: Some(slot.values.len() as f64),
            threshold: Some(n as f64),
            evidence_kind: Some(EvidenceKind::Addresses),
            ..ctx.base(
                Detector::Fanout,
                Severity::Medium,
                t.src_ip,
                start,
                self.table.window_ms,
                &slot,
            )
        });
    }
}
