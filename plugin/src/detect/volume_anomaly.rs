//! `volume_anomaly`: bytes per (internal host, destination port, protocol, direction) in a
//! bucket far above that key's own baseline.
//!
//! The baseline is an exponentially weighted moving average (EWMA, weight `alpha`) of the
//! key's bytes per bucket, with an EWMA of the variance for the z-like `score`. It is
//! updated only from buckets in which the key had traffic, so a nightly job is compared
//! with earlier nights, not with the empty hours between. An alerting bucket enters the
//! baseline capped at `ratio` times it, so one burst does not hide the next.
//!
//! Why EWMA and not a median/MAD: 24 bytes per key instead of a window of samples, O(1)
//! per bucket, and on the test estate the 7x case is reported at 7.0x +- 3% (see the
//! user guide, docs/src/detection.md). A robust median would resist outliers in the baseline better, at ~10x the
//! memory per key.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::detect::alert::{Alert, Detector, Severity};
use crate::detect::config::VolumeAnomalyConfig;
use crate::detect::subject::{Hashes, Subject};
use crate::detect::table::{word_ip, Key, KeyMap, Snapshot};
use crate::detect::Ctx;
use crate::event::FlowEvent;
use crate::labels::{Direction, Protocol};

/// One key's bucket and baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The open bucket's start (ms), `u64::MAX` when none is open.
    pub bucket: u64,
    pub bytes: u64,
    pub hits: u64,
    pub first_ms: u64,
    pub last_ms: u64,
    pub mean: f64,
    pub var: f64,
    /// Buckets learned.
    pub n: u32,
}

pub struct VolumeAnomaly {
    pub config: VolumeAnomalyConfig,
    pub keys: KeyMap<Baseline>,
    /// Touched only when a bucket alerts.
    pub quiet_until: std::collections::HashMap<Key, u64>,
    pub cap: usize,
    pub evictions: u64,
    pub next_sweep_ms: u64,
    pub hashes: Hashes,
    /// The keys that opened a bucket, grouped by bucket start, earliest first: a sweep
    /// visits only the buckets that close rather than every key. Keys that moved on to
    /// another bucket, or were evicted, are skipped when their group comes up. Emptied
    /// groups are kept in `spare` for their allocations.
    pub open: VecDeque<(u64, Vec<Key>)>,
    pub spare: Vec<Vec<Key>>,
}

impl VolumeAnomaly {
    fn bucket_ms(&self) -> u64 {
        self.config.bucket.as_millis()
    }

    #[inline]
    pub fn event(&mut self, e: &FlowEvent<'_>, s: &Subject, ctx: &mut Ctx<'_>) {
        let t = e.tuple;
        let bytes = t.bytes_src_to_dst.unwrap_or(0) + t.bytes_dst_to_src.unwrap_or(0);
        if ctx.watermark_ms >= self.next_sweep_ms {
            self.sweep(ctx);
        }
        if bytes == 0 {
            return;
        }
        let (host, host_hash) = match t.direction {
            Direction::Inbound => (s.dst, s.dst_hash),
            Direction::Outbound => (s.src, s.src_hash),
        };
        let c = u32::from(t.dst_port) << 16
            | u32::from(t.protocol.iana_number()) << 8
            | u32::from(t.direction == Direction::Outbound);
        let key = Key::new(host, 0, c);
        let h = self.hashes.combine(host_hash, self.hashes.none(), c);
        let bucket = t.timestamp_ms - t.timestamp_ms % self.bucket_ms();
        let b = match self.keys.get_mut(h, &key) {
            Some(b) => b,
            None => {
                if self.keys.len() >= self.cap {
                    self.make_room();
                }
                self.keys.insert_new(
                    h,
                    key,
                    Baseline {
                        bucket: u64::MAX,
                        bytes: 0,
                        hits: 0,
                        first_ms: 0,
                        last_ms: 0,
                        mean: 0.0,
                        var: 0.0,
                        n: 0,
                    },
                )
            }
        };
        let mut fired = None;
        if b.bucket != u64::MAX && bucket > b.bucket {
            let closed = *b;
            if close(b, &self.config) {
                fired = Some(closed);
            }
        }
        let newly_opened = b.bucket == u64::MAX;
        if newly_opened {
            *b = Baseline {
                bucket,
                bytes: 0,
                hits: 0,
                first_ms: t.timestamp_ms,
                last_ms: t.timestamp_ms,
                ..*b
            };
        }
        // A tuple older than the open bucket (a little out of order) joins it.
        b.bytes += bytes;
        b.hits += 1;
        b.first_ms = b.first_ms.min(t.timestamp_ms);
        b.last_ms = b.last_ms.max(t.timestamp_ms);
        if newly_opened {
            self.opened(bucket, key);
        }
        if let Some(closed) = fired {
            self.raise(key, &closed, ctx);
        }
    }

    /// Closes the buckets the watermark has passed (plus the lateness); alerts in bucket,
    /// then key order.
    pub fn sweep(&mut self, ctx: &mut Ctx<'_>) {
        let (len, late) = (self.bucket_ms(), ctx.lateness_ms);
        self.next_sweep_ms = ctx.watermark_ms + len;
        let wm = ctx.watermark_ms;
        let mut fired = Vec::new();
        while let Some(&(bucket, _)) = self.open.front() {
            if bucket.saturating_add(len + late) > wm {
                break;
            }
            let (_, mut group) = self.open.pop_front().expect("front");
            for key in group.drain(..) {
                let h = self.hashes.key(&key);
                let Some(b) = self.keys.get_mut(h, &key) else {
                    continue;
                };
                if b.bucket != bucket {
                    continue;
                }
                let closed = *b;
                if close(b, &self.config) {
                    fired.push((key, closed));
                }
            }
            self.spare.push(group);
        }
        fired.sort_by_key(|f| (f.1.bucket, f.0.order()));
        for (k, closed) in fired {
            self.raise(k, &closed, ctx);
        }
    }

    /// Queues `key`'s newly opened `bucket` for the sweep that closes it.
    #[inline]
    fn opened(&mut self, bucket: u64, key: Key) {
        // Usually the newest group; a little out of order, one a few back.
        if let Some(i) = self.open.iter().rposition(|g| g.0 <= bucket) {
            if self.open[i].0 == bucket {
                self.open[i].1.push(key);
                return;
            }
            let group = self.group(bucket, key);
            self.open.insert(i + 1, group);
        } else {
            let group = self.group(bucket, key);
            self.open.push_front(group);
        }
    }

    fn group(&mut self, bucket: u64, key: Key) -> (u64, Vec<Key>) {
        let mut v = self.spare.pop().unwrap_or_default();
        v.push(key);
        (bucket, v)
    }

    /// Closes every open bucket (end of input, when no state is kept).
    pub fn finish(&mut self, ctx: &mut Ctx<'_>) {
        let mut fired = Vec::new();
        for (k, b) in self.keys.iter_mut() {
            if b.bucket != u64::MAX {
                let closed = *b;
                if close(b, &self.config) {
                    fired.push((*k, closed));
                }
            }
        }
        self.open.clear();
        fired.sort_by_key(|f| (f.1.bucket, f.0.order()));
        for (k, closed) in fired {
            self.raise(k, &closed, ctx);
        }
    }

    /// Rebuilds the queue of open buckets (after a state was loaded).
    pub fn reindex(&mut self) {
        self.open.clear();
        for (k, b) in self.keys.sorted() {
            if b.bucket != u64::MAX {
                self.opened(b.bucket, k);
            }
        }
    }

    fn raise(&mut self, key: Key, b: &Baseline, ctx: &mut Ctx<'_>) {
        match self.quiet_until.get(&key) {
            Some(&until) if b.bucket < until => return,
            _ => {}
        }
        if self.quiet_until.len() >= self.cap {
            let before = self.quiet_until.len();
            self.quiet_until.retain(|_, u| *u > b.bucket);
            self.evictions += (before - self.quiet_until.len()) as u64;
        }
        self.quiet_until.insert(key, b.bucket + ctx.cooldown_ms);
        let host = word_ip(key.a());
        let port = (key.c >> 16) as u16;
        let protocol = Protocol(((key.c >> 8) & 0xff) as u8);
        let outbound = key.c & 1 == 1;
        let observed = b.bytes as f64;
        let ratio = observed / b.mean;
        let score = (observed - b.mean) / b.var.sqrt().max(b.mean * 0.01).max(1.0);
        let slot = Snapshot {
            hits: b.hits,
            first_ms: b.first_ms,
            last_ms: b.last_ms,
            values: Vec::new(),
        };
        let len = self.bucket_ms();
        ctx.alert(Alert {
            summary: format!(
                "{host} {} port {port}: {:.1} MB in {}, {ratio:.1}x its baseline of {:.1} MB",
                if outbound { "to" } else { "on" },
                observed / 1e6,
                super::span(len),
                b.mean / 1e6
            ),
            src_ip: outbound.then_some(host),
            dst_ip: (!outbound).then_some(host),
            dst_port: Some(port),
            protocol: Some(protocol),
            direction: Some(if outbound {
                Direction::Outbound
            } else {
                Direction::Inbound
            }),
            observed: Some(observed),
            threshold: Some(self.config.ratio),
            baseline: Some(b.mean),
            ratio: Some(ratio),
            score: Some(score),
            ..ctx.base(
                Detector::VolumeAnomaly,
                if ratio >= 2.0 * self.config.ratio {
                    Severity::High
                } else {
                    Severity::Medium
                },
                host,
                b.bucket,
                len,
                &slot,
            )
        });
    }

    /// Frees a quarter of the keys: those with the fewest learned buckets.
    fn make_room(&mut self) {
        let need = self.keys.len() / 4 + 1;
        let k = crate::detect::table::cutoff(self.keys.iter().map(|(_, b)| u64::from(b.n)), need);
        let before = self.keys.len();
        self.keys.retain(|_, b| u64::from(b.n).min(64) > k);
        self.evictions += (before - self.keys.len()) as u64;
    }
}

/// Closes `b`'s bucket: whether it is an anomaly, then the baseline learns it.
fn close(b: &mut Baseline, c: &VolumeAnomalyConfig) -> bool {
    let x = b.bytes as f64;
    let anomaly =
        b.n >= c.warmup && b.mean > 0.0 && x >= c.ratio * b.mean && b.bytes >= c.min_bytes;
    let learn = if anomaly { c.ratio * b.mean } else { x };
    if b.n == 0 {
        b.mean = learn;
        b.var = 0.0;
    } else {
        let diff = learn - b.mean;
        let incr = c.alpha * diff;
        b.mean += incr;
        b.var = (1.0 - c.alpha) * (b.var + diff * incr);
    }
    b.n = b.n.saturating_add(1);
    b.bucket = u64::MAX;
    anomaly
}
