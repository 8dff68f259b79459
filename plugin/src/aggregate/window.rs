//! The aggregation state: tumbling event-time windows of keyed counters, a watermark, and
//! the `max_keys` bound. It knows nothing of JSON or enrichment: tuples come in as
//! [`TupleIn`], aggregates go out as [`Aggregate`] to a callback.
//!
//! - A window `[start, start + window)` is *closed* once the watermark (the newest event
//!   time seen minus `allowed_lateness`) reaches its end; it is then flushed.
//! - A tuple for a closed window is *late*: it is never dropped, it joins a late window for
//!   the same interval, flushed when late data moves on to another window, with the next
//!   window that closes, or at the end.
//! - At `max_keys` live keys, the oldest window is flushed early before a new key goes in.
//!
//! Each window is a slab of entries (`Vec`, grown by a quarter at a time) indexed by a
//! `hashbrown::HashTable<u32>`; a live key costs its 104-byte entry plus index slots.
//!
//! ```
//! use nsgflow::aggregate::{Aggregator, AggregateConfig, TupleIn, FlowKey, Seconds};
//! let config = AggregateConfig { enabled: true, window: Seconds(60), ..Default::default() };
//! let mut agg = Aggregator::new(&config).unwrap();
//! let mut out = Vec::new();
//! for ts in [1_000, 2_000, 61_000] {
//!     let t = TupleIn { timestamp_ms: ts, key: FlowKey::default(), packets: [1, 1], bytes: [60, 60], ..Default::default() };
//!     agg.add(&t, &mut |a| out.push((a.window_start_ms, a.counts.tuples)));
//! }
//! agg.flush_all(nsgflow::aggregate::FlushReason::EndOfInput, &mut |a| out.push((a.window_start_ms, a.counts.tuples)));
//! assert_eq!(out, [(0, 2), (60_000, 1)]);
//! ```

use hashbrown::{HashSet, HashTable};

use super::config::AggregateConfig;
use super::key::{FlowKey, KeySpec};

/// One tuple, reduced to what aggregation needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TupleIn {
    pub timestamp_ms: u64,
    pub key: FlowKey,
    /// The source port, for the distinct count when it is not in the key.
    pub src_port: u16,
    /// [`BEGUN`], [`ENDED`], [`DENIED`] bits.
    pub state: u8,
    /// `[src_to_dst, dst_to_src]`; absent counters are 0.
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
}

pub const BEGUN: u8 = 1;
pub const ENDED: u8 = 2;
pub const DENIED: u8 = 4;

/// The counters of one key in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tuples: u32,
    pub begun: u32,
    pub ended: u32,
    pub denied: u32,
    /// Distinct source ports (only counted when the source port is not in the key).
    pub src_ports: u32,
    /// Milliseconds after the window start.
    pub first_offset_ms: u32,
    pub last_offset_ms: u32,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: FlowKey,
    counts: Counts,
}

/// Why an aggregate was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlushReason {
    /// The watermark passed the window's end.
    WindowClosed,
    /// A late window, flushed at the next flush pass.
    Late,
    /// `max_keys` was reached and this was the oldest window.
    MaxKeys,
    /// The input ended.
    EndOfInput,
    /// SIGINT or SIGTERM.
    Shutdown,
}

impl FlushReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FlushReason::WindowClosed => "window_closed",
            FlushReason::Late => "late",
            FlushReason::MaxKeys => "max_keys",
            FlushReason::EndOfInput => "end_of_input",
            FlushReason::Shutdown => "shutdown",
        }
    }
}

/// One emitted aggregate.
#[derive(Debug, Clone, Copy)]
pub struct Aggregate<'a> {
    pub window_start_ms: u64,
    pub window_end_ms: u64,
    pub key: &'a FlowKey,
    pub spec: KeySpec,
    pub counts: &'a Counts,
    /// The window was already closed when these tuples came.
    pub late: bool,
    pub reason: FlushReason,
}

impl Aggregate<'_> {
    pub fn first_seen_ms(&self) -> u64 {
        self.window_start_ms + self.counts.first_offset_ms as u64
    }

    pub fn last_seen_ms(&self) -> u64 {
        self.window_start_ms + self.counts.last_offset_ms as u64
    }
}

#[derive(Debug, Default)]
struct Window {
    start_ms: u64,
    /// The order in which windows were opened (see [`Aggregator::windows_opened`]).
    seq: u64,
    late: bool,
    index: HashTable<u32>,
    entries: Vec<Entry>,
    /// `(entry << 16) | port` for the distinct source-port count.
    ports: HashSet<u64, PortHash>,
}

/// A hasher for the port set's already well-spread `u64`s.
#[derive(Debug, Clone, Copy, Default)]
struct PortHash;

impl std::hash::BuildHasher for PortHash {
    type Hasher = PortHasher;
    fn build_hasher(&self) -> PortHasher {
        PortHasher(0)
    }
}

#[derive(Debug, Clone, Copy)]
struct PortHasher(u64);

impl std::hash::Hasher for PortHasher {
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^ (h >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).rotate_left(3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// Aggregation counters for the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggregateStats {
    pub tuples: u64,
    pub aggregates: u64,
    pub late_tuples: u64,
    pub late_aggregates: u64,
    pub early_aggregates: u64,
    pub peak_keys: u64,
}

/// The windows, the watermark and the key bound.
#[derive(Debug)]
pub struct Aggregator {
    spec: KeySpec,
    window_ms: u64,
    lateness_ms: u64,
    max_keys: usize,
    /// Open windows, sorted by (start, late).
    windows: Vec<Window>,
    /// Emptied windows kept for their allocations.
    spare: Vec<Window>,
    live_keys: usize,
    max_event_ms: u64,
    /// The end of the oldest on-time window, or `u64::MAX`: a flush pass is due when the
    /// watermark reaches it.
    next_close_ms: u64,
    /// The window the last late tuple went to.
    last_late_start: Option<u64>,
    /// Windows opened so far.
    opened: u64,
    pub stats: AggregateStats,
}

impl Aggregator {
    /// The aggregator for `config`, checked first ([`AggregateConfig::validate`]): a window
    /// outside 1s..24h (offsets are u32 ms), no keys allowed or no key fields is an error
    /// naming the setting and its value; nothing is clamped.
    pub fn new(config: &AggregateConfig) -> Result<Self, String> {
        config.validate()?;
        Ok(Aggregator {
            spec: config.key,
            window_ms: config.window.as_millis(),
            lateness_ms: config.allowed_lateness.as_millis(),
            max_keys: config.max_keys,
            windows: Vec::new(),
            spare: Vec::new(),
            live_keys: 0,
            max_event_ms: 0,
            next_close_ms: u64::MAX,
            last_late_start: None,
            opened: 0,
            stats: AggregateStats::default(),
        })
    }

    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    pub fn live_keys(&self) -> usize {
        self.live_keys
    }

    /// How many windows were opened so far. Every tuple added before this call is in a
    /// window numbered below it, so once [`Aggregator::oldest_open_window`] is at or past
    /// it (or `None`), all those tuples have been emitted.
    pub fn windows_opened(&self) -> u64 {
        self.opened
    }

    /// The number of the oldest window still open, if any.
    pub fn oldest_open_window(&self) -> Option<u64> {
        self.windows.iter().map(|w| w.seq).min()
    }

    fn watermark(&self) -> u64 {
        self.max_event_ms.saturating_sub(self.lateness_ms)
    }

    /// Adds one tuple; aggregates that become due go to `emit`.
    #[inline]
    pub fn add(&mut self, t: &TupleIn, emit: &mut impl FnMut(&Aggregate<'_>)) {
        self.stats.tuples += 1;
        if t.timestamp_ms > self.max_event_ms {
            self.max_event_ms = t.timestamp_ms;
            if self.watermark() >= self.next_close_ms {
                self.flush_closed(emit);
            }
        }
        let start = t.timestamp_ms - t.timestamp_ms % self.window_ms;
        let late = start + self.window_ms <= self.watermark();
        self.stats.late_tuples += late as u64;
        if late && self.last_late_start != Some(start) {
            // Late data moved on to another window (a replay, or another NIC's older blob
            // read after a newer one): the late windows it left are complete enough to go.
            self.last_late_start = Some(start);
            self.flush_late(emit);
        }
        let hash = t.key.hash();
        let mut w = self.window_index(start, late);
        let found = {
            let win = &self.windows[w];
            win.index
                .find(hash, |&i| win.entries[i as usize].key == t.key)
                .copied()
        };
        let slot = match found {
            Some(i) => i,
            None => {
                if self.live_keys >= self.max_keys {
                    // The oldest window that holds keys (maybe this tuple's own).
                    while self.live_keys >= self.max_keys {
                        let Some(oldest) = self.windows.iter().position(|w| !w.entries.is_empty())
                        else {
                            break;
                        };
                        self.flush_window(oldest, FlushReason::MaxKeys, emit);
                    }
                    w = self.window_index(start, late);
                }
                self.insert(w, hash, t.key)
            }
        };
        let win = &mut self.windows[w];
        let spec_has_src_port = self.spec.has(super::KeyField::SrcPort);
        let offset = (t.timestamp_ms - start) as u32;
        let new_port =
            !spec_has_src_port && win.ports.insert((slot as u64) << 16 | t.src_port as u64);
        let c = &mut win.entries[slot as usize].counts;
        if c.tuples == 0 {
            c.first_offset_ms = offset;
            c.last_offset_ms = offset;
        } else {
            c.first_offset_ms = c.first_offset_ms.min(offset);
            c.last_offset_ms = c.last_offset_ms.max(offset);
        }
        c.tuples += 1;
        c.begun += (t.state & BEGUN != 0) as u32;
        c.ended += (t.state & ENDED != 0) as u32;
        c.denied += (t.state & DENIED != 0) as u32;
        c.src_ports += new_port as u32;
        c.packets[0] += t.packets[0];
        c.packets[1] += t.packets[1];
        c.bytes[0] += t.bytes[0];
        c.bytes[1] += t.bytes[1];
    }

    /// The index of the window for `(start, late)`, opened if needed.
    #[inline]
    fn window_index(&mut self, start: u64, late: bool) -> usize {
        // Few windows are open at once, and the newest is the likeliest: scan from the back.
        for i in (0..self.windows.len()).rev() {
            let w = &self.windows[i];
            if w.start_ms == start && w.late == late {
                return i;
            }
        }
        let mut win = self.spare.pop().unwrap_or_default();
        win.start_ms = start;
        win.late = late;
        win.seq = self.opened;
        self.opened += 1;
        let at = self
            .windows
            .partition_point(|w| (w.start_ms, w.late) < (start, late));
        self.windows.insert(at, win);
        if !late {
            self.next_close_ms = self.next_close_ms.min(start + self.window_ms);
        }
        at
    }

    fn insert(&mut self, w: usize, hash: u64, key: FlowKey) -> u32 {
        let win = &mut self.windows[w];
        if win.entries.len() == win.entries.capacity() {
            // Grow by a quarter, not double: less slack per live key.
            let extra = (win.entries.capacity() / 4).max(256);
            win.entries.reserve_exact(extra);
        }
        let slot = win.entries.len() as u32;
        win.entries.push(Entry {
            key,
            counts: Counts::default(),
        });
        let entries = &win.entries;
        win.index
            .insert_unique(hash, slot, |&i| entries[i as usize].key.hash());
        self.live_keys += 1;
        self.stats.peak_keys = self.stats.peak_keys.max(self.live_keys as u64);
        slot
    }

    /// Flushes every late window.
    fn flush_late(&mut self, emit: &mut impl FnMut(&Aggregate<'_>)) {
        let mut i = 0;
        while i < self.windows.len() {
            if self.windows[i].late {
                self.flush_window(i, FlushReason::Late, emit);
            } else {
                i += 1;
            }
        }
    }

    /// Flushes every closed on-time window and every late window.
    fn flush_closed(&mut self, emit: &mut impl FnMut(&Aggregate<'_>)) {
        let watermark = self.watermark();
        let mut i = 0;
        while i < self.windows.len() {
            let w = &self.windows[i];
            if w.late {
                self.flush_window(i, FlushReason::Late, emit);
            } else if w.start_ms + self.window_ms <= watermark {
                self.flush_window(i, FlushReason::WindowClosed, emit);
            } else {
                i += 1;
            }
        }
    }

    /// Emits and removes window `i`.
    fn flush_window(
        &mut self,
        i: usize,
        reason: FlushReason,
        emit: &mut impl FnMut(&Aggregate<'_>),
    ) {
        let mut win = self.windows.remove(i);
        for e in &win.entries {
            let a = Aggregate {
                window_start_ms: win.start_ms,
                window_end_ms: win.start_ms + self.window_ms,
                key: &e.key,
                spec: self.spec,
                counts: &e.counts,
                late: win.late,
                reason,
            };
            self.stats.aggregates += 1;
            self.stats.late_aggregates += win.late as u64;
            self.stats.early_aggregates += (reason == FlushReason::MaxKeys) as u64;
            emit(&a);
        }
        self.live_keys -= win.entries.len();
        win.entries.clear();
        win.index.clear();
        win.ports.clear();
        // Keep a few emptied windows (as many as are usually open at once) so new ones reuse
        // their allocations; very large ones are freed, not hoarded outside `max_keys`.
        if self.spare.len() < 8 && win.entries.capacity() <= 1 << 16 {
            self.spare.push(win);
        }
        self.next_close_ms = self
            .windows
            .iter()
            .filter(|w| !w.late)
            .map(|w| w.start_ms + self.window_ms)
            .min()
            .unwrap_or(u64::MAX);
    }

    /// Flushes everything (end of input, or a signal).
    pub fn flush_all(&mut self, reason: FlushReason, emit: &mut impl FnMut(&Aggregate<'_>)) {
        while !self.windows.is_empty() {
            self.flush_window(0, reason, emit);
        }
    }

    /// Heap bytes held for live keys: entry slabs, their indexes and port sets.
    pub fn heap_bytes(&self) -> usize {
        self.windows
            .iter()
            .chain(self.spare.iter())
            .map(|w| {
                w.entries.capacity() * std::mem::size_of::<Entry>()
                    + w.index.allocation_size()
                    + w.ports.allocation_size()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Seconds;

    fn tuple(ts: u64, dst: u32) -> TupleIn {
        TupleIn {
            timestamp_ms: ts,
            key: FlowKey {
                dst: [dst, 0, 0, 0],
                ..FlowKey::default()
            },
            packets: [1, 0],
            bytes: [100, 0],
            ..TupleIn::default()
        }
    }

    fn run(
        config: &AggregateConfig,
        tuples: &[TupleIn],
    ) -> Vec<(u64, u32, u32, bool, FlushReason)> {
        let mut agg = Aggregator::new(config).unwrap();
        let mut out = Vec::new();
        let mut emit = |a: &Aggregate<'_>| {
            out.push((
                a.window_start_ms,
                a.key.dst[0],
                a.counts.tuples,
                a.late,
                a.reason,
            ))
        };
        for t in tuples {
            agg.add(t, &mut emit);
        }
        agg.flush_all(FlushReason::EndOfInput, &mut emit);
        out
    }

    #[test]
    fn late_tuples_go_to_a_late_aggregate() {
        let c = AggregateConfig {
            window: Seconds(60),
            allowed_lateness: Seconds(30),
            ..AggregateConfig::default()
        };
        // 0..60 closes when the watermark (newest - 30 s) reaches 60 s, i.e. at 90 s.
        let out = run(
            &c,
            &[
                tuple(10_000, 1),
                tuple(95_000, 1),
                tuple(20_000, 1),
                tuple(100_000, 1),
                tuple(200_000, 2),
            ],
        );
        assert_eq!(
            out,
            [
                (0, 1, 1, false, FlushReason::WindowClosed),
                (0, 1, 1, true, FlushReason::Late),
                (60_000, 1, 2, false, FlushReason::WindowClosed),
                (180_000, 2, 1, false, FlushReason::EndOfInput),
            ]
        );
    }

    #[test]
    fn a_late_replay_flushes_window_by_window() {
        let c = AggregateConfig {
            window: Seconds(60),
            allowed_lateness: Seconds(0),
            ..AggregateConfig::default()
        };
        let ts = [10_000, 20_000, 70_000, 130_000];
        let mut tuples: Vec<TupleIn> = ts.iter().map(|&t| tuple(t, 1)).collect();
        tuples.push(tuple(1_000_000, 2));
        // An older blob read after a newer one: all of it is late.
        tuples.extend(ts.iter().map(|&t| tuple(t, 3)));
        let out = run(&c, &tuples);
        let late: Vec<_> = out
            .iter()
            .filter(|a| a.3)
            .map(|a| (a.0, a.2, a.4))
            .collect();
        assert_eq!(
            late,
            [
                (0, 2, FlushReason::Late),
                (60_000, 1, FlushReason::Late),
                (120_000, 1, FlushReason::EndOfInput),
            ]
        );
    }

    #[test]
    fn max_keys_flushes_the_oldest_window_early() {
        let c = AggregateConfig {
            max_keys: 2,
            allowed_lateness: Seconds(3600),
            ..AggregateConfig::default()
        };
        let out = run(
            &c,
            &[
                tuple(1_000, 1),
                tuple(61_000, 1),
                tuple(62_000, 2),
                tuple(63_000, 2),
            ],
        );
        assert_eq!(
            out,
            [
                (0, 1, 1, false, FlushReason::MaxKeys),
                (60_000, 1, 1, false, FlushReason::EndOfInput),
                (60_000, 2, 2, false, FlushReason::EndOfInput),
            ]
        );
    }

    #[test]
    fn distinct_source_ports_without_src_port_in_key() {
        let c = AggregateConfig {
            key: KeySpec::TRAFFIC_ANALYTICS,
            ..AggregateConfig::default()
        };
        let mut agg = Aggregator::new(&c).unwrap();
        for port in [40000, 40001, 40000, 40002] {
            let t = TupleIn {
                src_port: port,
                ..tuple(1_000, 9)
            };
            agg.add(&t, &mut |_| {});
        }
        let mut got = None;
        agg.flush_all(FlushReason::EndOfInput, &mut |a| {
            got = Some(a.counts.src_ports)
        });
        assert_eq!(got, Some(3));
    }

    #[test]
    fn out_of_range_settings_are_errors_not_clamps() {
        let window = |secs| AggregateConfig {
            window: Seconds(secs),
            ..AggregateConfig::default()
        };
        for secs in [0, 86_401] {
            let err = Aggregator::new(&window(secs)).unwrap_err();
            assert!(
                err.contains(&format!("aggregate.window `{secs}s`")),
                "{err}"
            );
            assert!(err.contains("10m"), "says what to write: {err}");
        }
        assert_eq!(
            Aggregator::new(&window(86_400)).unwrap().window_ms,
            86_400_000
        );
        let err = Aggregator::new(&AggregateConfig {
            max_keys: 0,
            ..AggregateConfig::default()
        })
        .unwrap_err();
        assert!(err.contains("aggregate.max_keys `0`"), "{err}");
    }
}
