//! Windowed subjects: per (subject, event-time window), a bounded set of distinct values
//! and a hit count. Shared by the counting detectors.
//!
//! Memory is bounded twice: a subject's distinct set stops growing at the detector's
//! threshold, and at most `cap` (subject, window) slots are held. When the table is full,
//! closed windows go first, then the slots with the fewest hits (the least evidence), a
//! quarter of the table at a time; every eviction is counted.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The hasher of the detection tables: a folded multiply (as foldhash and ahash use) with a
/// per-process random seed taken from std's `RandomState`. About 3x cheaper than SipHash
/// on these 48-byte keys; the random seed keeps an attacker who chooses source addresses
/// from aiming collisions at a known function. Iteration order never decides an outcome
/// (alerts from a sweep are sorted; evictions depend on contents only).
#[derive(Debug, Clone, Copy)]
pub struct Seeded(u64);

impl Default for Seeded {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        Seeded(*SEED.get_or_init(|| {
            std::collections::hash_map::RandomState::new().hash_one(0x006e_7367_666c_6f77_u64) | 1
        }))
    }
}

impl BuildHasher for Seeded {
    type Hasher = Folded;
    fn build_hasher(&self) -> Folded {
        Folded(self.0)
    }
}

/// See [`Seeded`].
pub struct Folded(u64);

const MULT: u64 = 0x5851_f42d_4c95_7f2d;

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a).wrapping_mul(u128::from(b));
    (r as u64) ^ ((r >> 64) as u64)
}

impl Hasher for Folded {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = fold(self.0 ^ x, MULT);
    }
    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
    #[inline]
    fn write_u128(&mut self, x: u128) {
        self.0 = fold(self.0 ^ x as u64, (x >> 64) as u64 ^ MULT);
    }
    #[inline]
    fn finish(&self) -> u64 {
        fold(self.0, MULT.rotate_left(17))
    }
}

/// A map with the [`Seeded`] hasher.
pub type FastMap<K, V> = HashMap<K, V, Seeded>;
/// A set with the [`Seeded`] hasher.
pub type FastSet<K> = std::collections::HashSet<K, Seeded>;

/// A subject: up to two addresses (as 128-bit words, IPv4 mapped) and a small number
/// (a port, a protocol, a direction).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct Key {
    pub a: u128,
    pub b: u128,
    pub c: u32,
}

/// An address as one 128-bit word (IPv4 mapped into IPv6).
#[inline]
pub fn ip_word(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address of a word from [`ip_word`].
pub fn word_ip(w: u128) -> IpAddr {
    let v6 = Ipv6Addr::from(w);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// One subject's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Slot {
    /// Distinct values seen, in arrival order, at most the detector's threshold.
    pub values: Vec<u128>,
    pub hits: u64,
    pub first_ms: u64,
    pub last_ms: u64,
    /// Set when this window raised its alert (or was suppressed by the cooldown).
    pub done: bool,
}

impl Slot {
    /// Adds a distinct value, keeping at most `keep`; true when it was new and kept.
    #[inline]
    pub fn insert(&mut self, value: u128, keep: usize) -> bool {
        if self.values.len() >= keep || self.values.contains(&value) {
            return false;
        }
        self.values.push(value);
        true
    }
}

/// What one hit did.
pub enum Hit {
    /// Its window had closed: not counted (see `allowed_lateness`).
    Late,
    Counted,
    /// The window crossed the threshold (and the subject is out of its cooldown): a copy
    /// of the slot, and the window's start.
    Fired(u64, Slot),
}

/// The (subject, window) slots of one detector, with its cooldowns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub window_ms: u64,
    pub lateness_ms: u64,
    pub cap: usize,
    pub slots: FastMap<(Key, u64), Slot>,
    /// Subject -> event time (ms) until which it raises no new alert.
    pub quiet_until: FastMap<Key, u64>,
    pub evictions: u64,
    next_sweep_ms: u64,
}

impl Table {
    pub fn new(window_ms: u64, lateness_ms: u64, cap: usize) -> Self {
        Table {
            window_ms,
            lateness_ms,
            cap,
            ..Table::default()
        }
    }

    /// The slot of `key` for the window holding `t_ms`, or `None` when that window closed
    /// (older than the watermark minus the lateness): the tuple is too late to count.
    #[inline]
    pub fn slot(&mut self, key: Key, t_ms: u64, watermark_ms: u64) -> Option<(u64, &mut Slot)> {
        let start = t_ms - t_ms % self.window_ms;
        if start + self.window_ms + self.lateness_ms <= watermark_ms {
            return None;
        }
        if watermark_ms >= self.next_sweep_ms {
            self.expire(watermark_ms);
            self.next_sweep_ms = watermark_ms + self.window_ms;
        }
        if self.slots.len() >= self.cap && !self.slots.contains_key(&(key, start)) {
            self.make_room(watermark_ms);
        }
        let slot = self.slots.entry((key, start)).or_insert_with(|| Slot {
            first_ms: t_ms,
            last_ms: t_ms,
            ..Slot::default()
        });
        slot.first_ms = slot.first_ms.min(t_ms);
        slot.last_ms = slot.last_ms.max(t_ms);
        slot.hits += 1;
        Some((start, slot))
    }

    /// Counts a hit of `key` at `t_ms` (with a distinct `value`, kept up to `keep`), and
    /// fires once per window when `fires` first holds.
    #[inline]
    pub fn hit(
        &mut self,
        key: Key,
        t_ms: u64,
        ctx: &mut crate::detect::Ctx<'_>,
        value: Option<(u128, usize)>,
        fires: impl Fn(&Slot) -> bool,
    ) -> Hit {
        let Some((start, slot)) = self.slot(key, t_ms, ctx.watermark_ms) else {
            ctx.late += 1;
            return Hit::Late;
        };
        if let Some((v, keep)) = value {
            slot.insert(v, keep);
        }
        if slot.done || !fires(slot) {
            return Hit::Counted;
        }
        slot.done = true;
        let copy = slot.clone();
        if self.may_alert(key, t_ms, ctx.cooldown_ms) {
            Hit::Fired(start, copy)
        } else {
            Hit::Counted
        }
    }

    /// Whether `key` may alert at `t_ms` (not in its cooldown); if so, starts the cooldown.
    pub fn may_alert(&mut self, key: Key, t_ms: u64, cooldown_ms: u64) -> bool {
        match self.quiet_until.get(&key) {
            Some(&until) if t_ms < until => false,
            _ => {
                if self.quiet_until.len() >= self.cap {
                    let before = self.quiet_until.len();
                    self.quiet_until.retain(|_, until| *until > t_ms);
                    if self.quiet_until.len() >= self.cap {
                        // Still full of live cooldowns: forget them all (counted).
                        self.quiet_until.clear();
                    }
                    self.evictions += (before - self.quiet_until.len()) as u64;
                }
                self.quiet_until.insert(key, t_ms + cooldown_ms);
                true
            }
        }
    }

    /// Drops the windows that closed (ended more than the lateness before the watermark).
    pub fn expire(&mut self, watermark_ms: u64) {
        let (w, l) = (self.window_ms, self.lateness_ms);
        self.slots
            .retain(|&(_, start), _| start + w + l > watermark_ms);
    }

    /// Frees at least a quarter of the table: closed windows first, then the slots with the
    /// fewest hits. Which slots go depends only on their contents, so a run split in many
    /// (with the state saved between) evicts the same ones.
    fn make_room(&mut self, watermark_ms: u64) {
        self.expire(watermark_ms);
        let target = self.cap - self.cap / 4;
        if self.slots.len() < target.max(1) {
            return;
        }
        let need = self.slots.len() + 1 - target.max(1);
        let k = cutoff(self.slots.values().map(|s| s.hits), need);
        let before = self.slots.len();
        self.slots.retain(|_, s| s.hits.min(64) > k);
        self.evictions += (before - self.slots.len()) as u64;
    }

    /// Bytes held, roughly: each slot, its key and its distinct values.
    pub fn bytes(&self) -> usize {
        let slot = std::mem::size_of::<((Key, u64), Slot)>() + 8;
        self.slots.capacity() * slot
            + self
                .slots
                .values()
                .map(|s| s.values.capacity() * 16)
                .sum::<usize>()
            + self.quiet_until.capacity() * (std::mem::size_of::<(Key, u64)>() + 8)
    }

    /// The state to persist, sorted (a state file does not depend on hash order).
    pub fn to_state(&self) -> TableState {
        let mut slots: Vec<(Key, u64, Slot)> = self
            .slots
            .iter()
            .map(|(&(k, w), s)| (k, w, s.clone()))
            .collect();
        slots.sort_by_key(|s| (s.0, s.1));
        let mut quiet: Vec<(Key, u64)> = self.quiet_until.iter().map(|(&k, &u)| (k, u)).collect();
        quiet.sort();
        TableState {
            slots,
            quiet,
            next_sweep_ms: self.next_sweep_ms,
        }
    }

    pub fn restore(&mut self, s: TableState) {
        self.slots = s.slots.into_iter().map(|(k, w, s)| ((k, w), s)).collect();
        self.quiet_until = s.quiet.into_iter().collect();
        self.next_sweep_ms = s.next_sweep_ms;
    }
}

/// The smallest value `k` (capped at 64) such that at least `need` of `values` are `<= k`:
/// evicting those frees enough room and keeps the subjects with the most evidence.
pub fn cutoff(values: impl Iterator<Item = u64>, need: usize) -> u64 {
    let mut histogram = [0usize; 65];
    for v in values {
        histogram[v.min(64) as usize] += 1;
    }
    let mut n = 0;
    for (k, count) in histogram.iter().enumerate() {
        n += count;
        if n >= need {
            return k as u64;
        }
    }
    64
}

/// A [`Table`] as saved in the state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableState {
    pub slots: Vec<(Key, u64, Slot)>,
    pub quiet: Vec<(Key, u64)>,
    pub next_sweep_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for ip in ["10.1.2.3", "2001:db8::1", "::ffff:0:1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let back = word_ip(ip_word(ip));
            assert!(back == ip || ip.to_canonical() == back, "{ip} {back}");
        }
    }

    #[test]
    fn full_table_evicts_least_evidence_and_counts() {
        let mut t = Table::new(300_000, 0, 100);
        // One subject with many hits, then many single-hit subjects.
        for _ in 0..10 {
            t.slot(
                Key {
                    a: 1,
                    ..Key::default()
                },
                1_000,
                1_000,
            )
            .unwrap();
        }
        for i in 2..1_000u128 {
            t.slot(
                Key {
                    a: i,
                    ..Key::default()
                },
                1_000,
                1_000,
            )
            .unwrap();
        }
        assert!(t.slots.len() <= 100);
        assert!(t.evictions >= 899, "{}", t.evictions);
        assert!(t.slots.contains_key(&(
            Key {
                a: 1,
                ..Key::default()
            },
            0
        )));
    }

    #[test]
    fn closed_windows_refuse_late_tuples() {
        let mut t = Table::new(300_000, 60_000, 10);
        assert!(t.slot(Key::default(), 0, 400_000).is_none());
        assert!(t.slot(Key::default(), 0, 359_999).is_some());
    }
}
