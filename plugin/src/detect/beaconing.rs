//! `beaconing`: one internal host connects to one public address and port again and
//! again at a regular interval, as malware checking in with its command and control does
//! (Sentinel Network Session Essentials' beaconing; RITA).
//!
//! Per (source, destination, destination port, protocol) and window (default 1 h), the
//! detector counts connection starts (begin tuples, v1 tuples, denied attempts) of outbound
//! flows, and the gaps between consecutive starts in whole seconds. It fires once the
//! window holds at least `connections` starts and the most common gap (gaps within
//! `tolerance` of it count as the same) covers at least `share` of the gaps.
//!
//! Memory per triple is bounded: a histogram of the first [`BINS`] distinct gaps with their
//! counts, and a count of the others (which only lower the share). A tuple from the same
//! source port as the previous start is the same connection (a v1 flow is logged every
//! minute), and a start in the same second as the previous one is a parallel connection of
//! the same beat: neither counts.
//!
//! ```
//! use nsgflow::detect::beaconing::Gaps;
//! let mut g = Gaps::default();
//! for gap in [300, 300, 301, 299, 300, 1200] {
//!     g.add(gap);
//! }
//! let (gap, share) = g.dominant(2);
//! assert_eq!(gap, 300);
//! assert!((share - 5.0 / 6.0).abs() < 1e-9);
//! ```

use serde::{Deserialize, Serialize};

use crate::classify::AddressClass;
use crate::detect::alert::{Alert, Detector, EvidenceKind, Severity};
use crate::detect::config::BeaconingConfig;
use crate::detect::subject::Subject;
use crate::detect::table::{Key, Payload, Pool, Table};
use crate::detect::Ctx;
use crate::event::FlowEvent;
use crate::labels::Direction;

/// Distinct gaps a triple's histogram holds.
pub const BINS: usize = 8;

/// The gaps between one triple's connection starts in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gaps {
    /// `(gap in seconds, how many)`, the first `used` distinct gaps seen.
    pub bins: [(u32, u16); BINS],
    pub used: u8,
    /// Gaps not in the histogram: past [`BINS`] distinct ones, or out of order.
    pub other: u16,
    /// The previous start (ms after the window's start) and its source port.
    pub prev_ms: u32,
    pub prev_port: u16,
}

impl Gaps {
    /// Counts a gap of `secs` seconds.
    pub fn add(&mut self, secs: u32) {
        let used = usize::from(self.used);
        if let Some(b) = self.bins[..used].iter_mut().find(|b| b.0 == secs) {
            b.1 = b.1.saturating_add(1);
        } else if used < BINS {
            self.bins[used] = (secs, 1);
            self.used += 1;
        } else {
            self.other = self.other.saturating_add(1);
        }
    }

    /// Gaps counted.
    pub fn total(&self) -> u32 {
        self.bins[..usize::from(self.used)]
            .iter()
            .map(|b| u32::from(b.1))
            .sum::<u32>()
            + u32::from(self.other)
    }

    /// The most common gap (counting the gaps within `tolerance` seconds of it) and the
    /// share of all gaps it covers; `(0, 0.0)` without gaps.
    pub fn dominant(&self, tolerance: u32) -> (u32, f64) {
        let bins = &self.bins[..usize::from(self.used)];
        let total = self.total();
        if total == 0 {
            return (0, 0.0);
        }
        let mut best = (0u32, 0u32, 0u16);
        for &(gap, own) in bins {
            let near: u32 = bins
                .iter()
                .filter(|b| b.0.abs_diff(gap) <= tolerance)
                .map(|b| u32::from(b.1))
                .sum();
            // Ties: the gap seen most often itself, then the shorter.
            if (near, own) > (best.1, best.2) || ((near, own) == (best.1, best.2) && gap < best.0) {
                best = (gap, near, own);
            }
        }
        (best.0, f64::from(best.1) / f64::from(total))
    }

    /// The distinct gaps, most common first.
    pub fn by_count(&self) -> Vec<(u32, u16)> {
        let mut v = self.bins[..usize::from(self.used)].to_vec();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

impl Payload for Gaps {
    type Saved = Gaps;
    fn save(&self, _: &Pool) -> Gaps {
        *self
    }
    fn load(saved: Gaps, _: &mut Pool) -> Gaps {
        Gaps {
            used: saved.used.min(BINS as u8),
            ..saved
        }
    }
}

pub struct Beaconing {
    pub config: BeaconingConfig,
    pub table: Table<Gaps>,
}

impl Beaconing {
    #[inline]
    pub fn event(&mut self, e: &FlowEvent<'_>, s: &Subject, ctx: &mut Ctx<'_>) {
        let t = e.tuple;
        if t.direction != Direction::Outbound
            || e.dst.class != AddressClass::Public
            || e.src.class == AddressClass::Public
            || !super::attempt(t)
        {
            return;
        }
        let c = u32::from(t.dst_port) << 8 | u32::from(t.protocol.iana_number());
        let key = Key::new(s.src, s.dst, c);
        let h = self.table.hashes().combine(s.src_hash, s.dst_hash, c);
        let Some((start, slot, _)) = self.table.slot(key, h, t.timestamp_ms, ctx.watermark_ms)
        else {
            ctx.late += 1;
            return;
        };
        let off = (t.timestamp_ms - start) as u32;
        let g = &mut slot.payload;
        if slot.hits > 1 {
            let gap_ms = off.checked_sub(g.prev_ms);
            // The same connection again (same source port), or a parallel one in the same
            // second: not a new beat.
            if t.src_port == g.prev_port || gap_ms.is_some_and(|ms| ms < 500) {
                slot.hits -= 1;
                return;
            }
            match gap_ms {
                Some(ms) => g.add((ms + 500) / 1000),
                // Out of order: a gap that cannot be placed (it only lowers the share).
                None => g.other = g.other.saturating_add(1),
            }
        }
        g.prev_ms = g.prev_ms.max(off);
        g.prev_port = t.src_port;
        if slot.done || slot.hits < self.config.connections {
            return;
        }
        let tolerance = self.config.tolerance.0.min(u64::from(u32::MAX)) as u32;
        let (gap, share) = g.dominant(tolerance);
        if share < self.config.share {
            return;
        }
        slot.done = true;
        let gaps = g.by_count();
        let snap = Table::snapshot(start, slot, Vec::new());
        if !self.table.may_alert(key, t.timestamp_ms, ctx.cooldown_ms) {
            return;
        }
        let listed = e.dst.reputation.is_some();
        let window_ms = self.table.window_ms;
        let evidence = gaps
            .iter()
            .take(ctx.evidence)
            .map(|g| g.0.to_string())
            .collect();
        ctx.alert(Alert {
            summary: format!(
                "{} connected to {}:{}/{} {} times in {}, {:.0}% of them {} s apart",
                t.src_ip_text,
                t.dst_ip_text,
                t.dst_port,
                t.protocol.name().unwrap_or("?"),
                snap.hits,
                super::span(window_ms),
                share * 100.0,
                gap
            ),
            src_ip: Some(t.src_ip),
            dst_ip: Some(t.dst_ip),
            dst_port: Some(t.dst_port),
            protocol: Some(t.protocol),
            direction: Some(Direction::Outbound),
            observed: Some(share),
            threshold: Some(self.config.share),
            evidence,
            evidence_kind: Some(EvidenceKind::Intervals),
            ..ctx.base(
                Detector::Beaconing,
                if listed {
                    Severity::High
                } else {
                    Severity::Medium
                },
                t.src_ip,
                start,
                window_ms,
                &snap,
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_bounded_and_others_lower_the_share() {
        let mut g = Gaps::default();
        for gap in 1..=20 {
            g.add(gap * 100);
        }
        assert_eq!(usize::from(g.used), BINS);
        assert_eq!(g.other, 12);
        assert_eq!(g.total(), 20);
        let (_, share) = g.dominant(2);
        assert!((share - 0.05).abs() < 1e-9);
    }

    #[test]
    fn tolerance_joins_neighbouring_gaps() {
        let mut g = Gaps::default();
        for gap in [60, 61, 62, 60, 59, 90] {
            g.add(gap);
        }
        assert_eq!(g.dominant(0), (60, 2.0 / 6.0));
        let (gap, share) = g.dominant(2);
        assert_eq!(gap, 60);
        assert!((share - 5.0 / 6.0).abs() < 1e-9);
    }
}
