//! `new_exposure`: the first allowed inbound flow from a public source to an (internal
//! host, port, protocol) not seen during the learning period (Traffic Analytics' "open
//! ports over the internet", as a change).

use crate::classify::AddressClass;
use crate::detect::alert::{Alert, Detector, Severity};
use crate::detect::config::NewExposureConfig;
use crate::detect::subject::Subject;
use crate::detect::table::{Key, KeyMap, Snapshot};
use crate::detect::Ctx;
use crate::event::FlowEvent;
use crate::labels::{Action, Direction};

pub struct NewExposure {
    pub config: NewExposureConfig,
    /// (host, port, protocol) reached from the internet so far.
    pub seen: KeyMap<()>,
    pub cap: usize,
    pub evictions: u64,
    pub hashes: crate::detect::subject::Hashes,
}

impl NewExposure {
    #[inline]
    pub fn event(&mut self, e: &FlowEvent<'_>, s: &Subject, ctx: &mut Ctx<'_>) {
        let t = e.tuple;
        if t.action != Action::Allow
            || t.direction != Direction::Inbound
            || e.src.class != AddressClass::Public
            || e.dst.class == AddressClass::Public
        {
            return;
        }
        let c = u32::from(t.dst_port) << 8 | u32::from(t.protocol.iana_number());
        let key = Key::new(s.dst, 0, c);
        let h = self.hashes.combine(s.dst_hash, self.hashes.none(), c);
        if self.seen.get_mut(h, &key).is_some() {
            return;
        }
        if self.seen.len() >= self.cap {
            // Full: forget what was learned (counted) rather than grow.
            self.evictions += self.seen.len() as u64;
            self.seen.clear();
        }
        self.seen.insert_new(h, key, ());
        let learn_until = ctx
            .first_ms
            .saturating_add(self.config.learning.as_millis());
        if t.timestamp_ms < learn_until {
            return;
        }
        let ts = t.timestamp_ms;
        let slot = Snapshot {
            hits: 1,
            first_ms: ts,
            last_ms: ts,
            values: Vec::new(),
        };
        ctx.alert(Alert {
            summary: format!(
                "{}:{}/{} received allowed traffic from the internet ({}) for the first time",
                t.dst_ip_text,
                t.dst_port,
                t.protocol.name().unwrap_or("?"),
                t.src_ip_text
            ),
            src_ip: Some(t.src_ip),
            dst_ip: Some(t.dst_ip),
            dst_port: Some(t.dst_port),
            protocol: Some(t.protocol),
            direction: Some(Direction::Inbound),
            ..ctx.base(
                Detector::NewExposure,
                Severity::Medium,
                t.dst_ip,
                ts,
                1,
                &slot,
            )
        });
    }
}
