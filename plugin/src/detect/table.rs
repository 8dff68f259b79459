//! Windowed subjects: per (subject, event-time window), a hit count, first and last seen,
//! and what the detector keeps beside them (a bounded set of distinct values, a gap
//! histogram). Shared by the counting detectors and `beaconing`.
//!
//! The slots live inline in one open-addressing table (`hashbrown::HashTable`, SwissTable
//! probing), keyed by a 40-byte [`Key`] whose hash is combined from the event's address
//! hashes ([`super::subject`]): one probe per detector and event, no per-slot heap object.
//! A distinct set keeps its first [`INLINE`] values in the slot; past that it moves to a
//! chunk of the table's [`Pool`], reused through a free list once the slot goes, so a new
//! subject allocates nothing once the table and the pool have grown to their working size.
//!
//! Memory is bounded twice: a subject's distinct set stops growing at the detector's
//! threshold, and at most `cap` (subject, window) slots are held. When the table is full,
//! closed windows go first, then the slots with the fewest hits (the least evidence), a
//! quarter of the table at a time; every eviction is counted.

use std::collections::HashMap;
use std::fmt::Debug;

use hashbrown::hash_table::Entry as Probe;
use hashbrown::HashTable;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use super::subject::{ip_word, word_ip, Hashes, Key};

/// What a windowed table keeps per slot besides its counts.
pub trait Payload: Default + Clone + Debug {
    /// Its form in a state file.
    type Saved: Serialize + DeserializeOwned + Default + Clone + PartialEq + Debug;
    fn save(&self, pool: &Pool) -> Self::Saved;
    fn load(saved: Self::Saved, pool: &mut Pool) -> Self;
    /// Gives back what it holds in the pool: its slot is going.
    fn release(&mut self, _pool: &mut Pool) {}
    /// Adds a distinct value (kept up to `keep`); true when it was new and kept.
    fn insert(&mut self, _v: u128, _keep: usize, _pool: &mut Pool) -> bool {
        false
    }
    /// How many distinct values it holds.
    fn distinct(&self) -> usize {
        0
    }
    /// The distinct values, in arrival order.
    fn values(&self, _pool: &Pool) -> Vec<u128> {
        Vec::new()
    }
}

/// No payload (`deny_burst`, `malicious_flow`).
impl Payload for () {
    type Saved = Vec<u128>;
    fn save(&self, _: &Pool) -> Vec<u128> {
        Vec::new()
    }
    fn load(_: Vec<u128>, _: &mut Pool) {}
}

/// Values a distinct set keeps in its slot before it takes a pool chunk.
pub const INLINE: usize = 2;

/// Chunks of distinct values in one arena, in sizes that double from 4 up to the
/// detector's threshold (`chunk`), each size with its free list: a set that outgrows its
/// chunk moves to one twice the size and gives the old one back.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    chunk: usize,
    values: Vec<u128>,
    free: [Vec<u32>; CLASSES],
}

/// Chunk sizes: 4, 8, ..., 2048 (a threshold is at most 1025).
const CLASSES: usize = 10;

/// The size of the chunk holding a set of `len` values (`len > INLINE`), capped at `keep`.
#[inline]
fn chunk_size(len: usize, keep: usize) -> usize {
    len.next_power_of_two().max(4).min(keep.max(4))
}

#[inline]
fn class(size: usize) -> usize {
    (size.trailing_zeros() as usize)
        .saturating_sub(2)
        .min(CLASSES - 1)
}

impl Pool {
    /// A chunk of `size` values (a power of two from 4, or the threshold); its offset.
    fn take(&mut self, size: usize) -> u32 {
        let size = size.next_power_of_two();
        if let Some(i) = self.free[class(size)].pop() {
            return i;
        }
        let i = self.values.len();
        self.values.resize(i + size, 0);
        i as u32
    }

    fn give(&mut self, at: u32, size: usize) {
        self.free[class(size.next_power_of_two())].push(at);
    }

    fn chunk(&self, at: u32, len: usize) -> &[u128] {
        &self.values[at as usize..at as usize + len]
    }

    fn chunk_mut(&mut self, at: u32, len: usize) -> &mut [u128] {
        &mut self.values[at as usize..at as usize + len]
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.values.capacity() * 16 + self.free.iter().map(|f| f.capacity() * 4).sum::<usize>()
    }
}

/// A set of distinct values (ports, addresses as words), in arrival order, bounded by the
/// table's `keep`: inline up to [`INLINE`], then in a pool chunk.
#[derive(Debug, Clone, Copy, Default)]
pub struct Distinct {
    /// The values while `len <= INLINE`; then `vals[0][0]` is the pool chunk.
    vals: [[u64; 2]; INLINE],
    len: u16,
}

impl Distinct {
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `v` if new and fewer than `keep` are held; true when it was added.
    #[inline]
    pub fn insert(&mut self, v: u128, keep: usize, pool: &mut Pool) -> bool {
        let n = self.len();
        if n >= keep {
            return false;
        }
        let w = [v as u64, (v >> 64) as u64];
        if n <= INLINE {
            if self.vals[..n].contains(&w) {
                return false;
            }
            if n < INLINE {
                self.vals[n] = w;
            } else {
                let c = pool.take(chunk_size(n + 1, keep));
                let chunk = pool.chunk_mut(c, n + 1);
                for (slot, x) in chunk.iter_mut().zip(self.vals) {
                    *slot = u128::from(x[0]) | u128::from(x[1]) << 64;
                }
                chunk[INLINE] = v;
                self.vals[0] = [u64::from(c), 0];
            }
        } else {
            let at = self.vals[0][0] as u32;
            if pool.chunk(at, n).contains(&v) {
                return false;
            }
            let size = chunk_size(n, keep);
            if n == size {
                // Full: move to a chunk twice the size.
                let to = pool.take(chunk_size(n + 1, keep));
                pool.values
                    .copy_within(at as usize..at as usize + n, to as usize);
                pool.give(at, size);
                self.vals[0] = [u64::from(to), 0];
            }
            pool.chunk_mut(self.vals[0][0] as u32, n + 1)[n] = v;
        }
        self.len += 1;
        true
    }

    /// The values, in arrival order.
    pub fn to_vec(&self, pool: &Pool) -> Vec<u128> {
        let n = self.len();
        if n <= INLINE {
            self.vals[..n]
                .iter()
                .map(|x| u128::from(x[0]) | u128::from(x[1]) << 64)
                .collect()
        } else {
            pool.chunk(self.vals[0][0] as u32, n).to_vec()
        }
    }
}

impl Payload for Distinct {
    type Saved = Vec<u128>;
    fn save(&self, pool: &Pool) -> Vec<u128> {
        self.to_vec(pool)
    }
    fn load(saved: Vec<u128>, pool: &mut Pool) -> Self {
        let mut d = Distinct::default();
        for v in saved {
            d.insert(v, pool.chunk.max(INLINE), pool);
        }
        d
    }
    fn release(&mut self, pool: &mut Pool) {
        if self.len() > INLINE {
            pool.give(self.vals[0][0] as u32, chunk_size(self.len(), pool.chunk));
        }
        self.len = 0;
    }
    #[inline]
    fn insert(&mut self, v: u128, keep: usize, pool: &mut Pool) -> bool {
        Distinct::insert(self, v, keep, pool)
    }
    #[inline]
    fn distinct(&self) -> usize {
        self.len()
    }
    fn values(&self, pool: &Pool) -> Vec<u128> {
        self.to_vec(pool)
    }
}

/// One subject's window, inline in the table.
#[derive(Debug, Clone)]
pub struct Slot<P> {
    /// The subject, with its window's index in `key.w`.
    pub key: Key,
    pub hits: u32,
    /// Milliseconds after the window's start.
    first: u32,
    last: u32,
    /// Set when this window raised its alert (or was suppressed by the cooldown).
    pub done: bool,
    pub payload: P,
}

/// A slot as it was when it fired: what the alert reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub hits: u64,
    pub first_ms: u64,
    pub last_ms: u64,
    /// Distinct values, in arrival order (empty for detectors without a set).
    pub values: Vec<u128>,
}

/// What one hit did.
pub enum Hit {
    /// Its window had closed: not counted (see `allowed_lateness`).
    Late,
    Counted,
    /// The window crossed the threshold (and the subject is out of its cooldown): the
    /// window's start, and the slot as it was.
    Fired(u64, Snapshot),
}

/// The (subject, window) slots of one detector, with its cooldowns.
#[derive(Debug, Clone)]
pub struct Table<P: Payload> {
    pub window_ms: u64,
    pub lateness_ms: u64,
    pub cap: usize,
    /// How many distinct values a slot keeps (the detector's threshold).
    pub keep: usize,
    hashes: Hashes,
    slots: HashTable<Slot<P>>,
    pub pool: Pool,
    /// Subject -> event time (ms) until which it raises no new alert (touched only when a
    /// window fires).
    quiet_until: HashMap<Key, u64>,
    pub evictions: u64,
    next_sweep_ms: u64,
    /// The last window a hit fell in (its start and index): most tuples fall in the same
    /// window as the one before, and this saves a division for them.
    recent: (u64, u32),
}

impl<P: Payload> Table<P> {
    pub fn new(window_ms: u64, lateness_ms: u64, cap: usize, keep: usize, hashes: Hashes) -> Self {
        Table {
            window_ms,
            lateness_ms,
            cap,
            keep,
            hashes,
            slots: HashTable::new(),
            pool: Pool {
                chunk: keep,
                ..Pool::default()
            },
            quiet_until: HashMap::new(),
            evictions: 0,
            next_sweep_ms: 0,
            recent: (u64::MAX, 0),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn hashes(&self) -> Hashes {
        self.hashes
    }

    /// The slot of `key` (hash `h`, from [`Hashes::combine`]) for the window holding `t_ms`,
    /// or `None` when that window closed (older than the watermark minus the lateness): the
    /// tuple is too late to count. Counts the hit.
    #[inline]
    pub fn slot(
        &mut self,
        key: Key,
        h: u64,
        t_ms: u64,
        watermark_ms: u64,
    ) -> Option<(u64, &mut Slot<P>, &mut Pool)> {
        let (start, w) = if t_ms
            .checked_sub(self.recent.0)
            .is_some_and(|d| d < self.window_ms)
        {
            self.recent
        } else {
            let w = t_ms / self.window_ms;
            self.recent = (w * self.window_ms, w as u32);
            self.recent
        };
        if start + self.window_ms + self.lateness_ms <= watermark_ms {
            return None;
        }
        if watermark_ms >= self.next_sweep_ms {
            // Closed windows go every half of the time a window stays open (a window and
            // the lateness), not every window: a pass visits the whole table, and with 5 min
            // windows and 1 h of lateness a pass every window would visit each slot 13 times
            // to drop it once. They go in any case before a full table evicts.
            self.expire(watermark_ms);
            self.next_sweep_ms =
                watermark_ms + self.window_ms.max((self.window_ms + self.lateness_ms) / 2);
        }
        let key = key.in_window(w);
        let h = Hashes::windowed(h, w);
        let off = (t_ms - start) as u32;
        let hashes = self.hashes;
        let rehash = |s: &Slot<P>| hashes.key(&s.key);
        if self.slots.len() >= self.cap && self.slots.find(h, |s| s.key == key).is_none() {
            self.make_room(watermark_ms);
        }
        let slot = match self.slots.entry(h, |s| s.key == key, rehash) {
            Probe::Occupied(o) => {
                let s = o.into_mut();
                s.first = s.first.min(off);
                s.last = s.last.max(off);
                s.hits = s.hits.saturating_add(1);
                s
            }
            Probe::Vacant(v) => v
                .insert(Slot {
                    key,
                    hits: 1,
                    first: off,
                    last: off,
                    done: false,
                    payload: P::default(),
                })
                .into_mut(),
        };
        Some((start, slot, &mut self.pool))
    }

    /// Whether `key` may alert at `t_ms` (not in its cooldown); if so, starts the cooldown.
    pub fn may_alert(&mut self, key: Key, t_ms: u64, cooldown_ms: u64) -> bool {
        let key = key.subject();
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

    /// What `slot` (of the window starting at `start`) reports.
    pub fn snapshot(start: u64, slot: &Slot<P>, values: Vec<u128>) -> Snapshot {
        Snapshot {
            hits: u64::from(slot.hits),
            first_ms: start + u64::from(slot.first),
            last_ms: start + u64::from(slot.last),
            values,
        }
    }

    /// Drops the windows that closed (ended more than the lateness before the watermark).
    pub fn expire(&mut self, watermark_ms: u64) {
        let (w, l) = (self.window_ms, self.lateness_ms);
        let pool = &mut self.pool;
        self.slots.retain(|s| {
            let keep = u64::from(s.key.w) * w + w + l > watermark_ms;
            if !keep {
                s.payload.release(pool);
            }
            keep
        });
    }

    /// Frees at least a quarter of the table: closed windows first, then the slots with the
    /// fewest hits. Which slots go depends only on their contents, so a run split in many
    /// (with the state saved between) evicts the same ones.
    fn make_room(&mut self, watermark_ms: u64) {
        self.expire(watermark_ms);
        let target = (self.cap - self.cap / 4).max(1);
        if self.slots.len() < target {
            return;
        }
        let need = self.slots.len() + 1 - target;
        let k = cutoff(self.slots.iter().map(|s| u64::from(s.hits)), need);
        let before = self.slots.len();
        let pool = &mut self.pool;
        self.slots.retain(|s| {
            let keep = u64::from(s.hits).min(64) > k;
            if !keep {
                s.payload.release(pool);
            }
            keep
        });
        self.evictions += (before - self.slots.len()) as u64;
    }

    /// Bytes held: the slots (inline, with the table's control bytes and free buckets),
    /// the pool, the cooldowns.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * (std::mem::size_of::<Slot<P>>() + 1)
            + self.pool.bytes()
            + self.quiet_until.capacity() * (std::mem::size_of::<(Key, u64)>() + 8)
    }

    /// The state to persist, sorted (a state file does not depend on hash order).
    pub fn to_state(&self) -> TableState<P::Saved> {
        let mut slots: Vec<(Key, u64, SlotState<P::Saved>)> = self
            .slots
            .iter()
            .map(|s| {
                let start = u64::from(s.key.w) * self.window_ms;
                (
                    s.key.subject(),
                    start,
                    SlotState {
                        values: s.payload.save(&self.pool),
                        hits: u64::from(s.hits),
                        first_ms: start + u64::from(s.first),
                        last_ms: start + u64::from(s.last),
                        done: s.done,
                    },
                )
            })
            .collect();
        slots.sort_by_key(|s| (s.0.order(), s.1));
        let mut quiet: Vec<(Key, u64)> = self.quiet_until.iter().map(|(&k, &u)| (k, u)).collect();
        quiet.sort_by_key(|q| (q.0.order(), q.1));
        TableState {
            slots,
            quiet,
            next_sweep_ms: self.next_sweep_ms,
        }
    }

    /// Restores a saved state. Slots for another window length than this run's are
    /// re-keyed by their start.
    pub fn restore(&mut self, s: TableState<P::Saved>) {
        self.slots.clear();
        self.pool = Pool {
            chunk: self.keep,
            ..Pool::default()
        };
        let hashes = self.hashes;
        for (key, start, saved) in s.slots {
            let w = (start / self.window_ms) as u32;
            let key = key.in_window(w);
            let start = u64::from(w) * self.window_ms;
            let off = |ms: u64| ms.saturating_sub(start).min(u64::from(u32::MAX)) as u32;
            let slot = Slot {
                key,
                hits: saved.hits.min(u64::from(u32::MAX)) as u32,
                first: off(saved.first_ms),
                last: off(saved.last_ms),
                done: saved.done,
                payload: P::load(saved.values, &mut self.pool),
            };
            self.slots
                .insert_unique(hashes.key(&key), slot, |s| hashes.key(&s.key));
        }
        self.quiet_until = s.quiet.into_iter().collect();
        self.next_sweep_ms = s.next_sweep_ms;
    }
}

impl<P: Payload> Table<P> {
    /// Counts a hit of `key` (hash `h`) at `t_ms`, with a distinct `value` when given, and
    /// fires once per window when `fires(hits, distinct)` first holds.
    #[inline]
    pub fn hit(
        &mut self,
        key: Key,
        h: u64,
        t_ms: u64,
        ctx: &mut crate::detect::Ctx<'_>,
        value: Option<u128>,
        fires: impl Fn(u32, usize) -> bool,
    ) -> Hit {
        let keep = self.keep;
        let Some((start, slot, pool)) = self.slot(key, h, t_ms, ctx.watermark_ms) else {
            ctx.late += 1;
            return Hit::Late;
        };
        if let Some(v) = value {
            slot.payload.insert(v, keep, pool);
        }
        if slot.done || !fires(slot.hits, slot.payload.distinct()) {
            return Hit::Counted;
        }
        slot.done = true;
        let snap = Self::snapshot(start, slot, slot.payload.values(pool));
        if self.may_alert(key, t_ms, ctx.cooldown_ms) {
            Hit::Fired(start, snap)
        } else {
            Hit::Counted
        }
    }
}

/// Keys with a value, no window (learned exposures, volume baselines): the same inline
/// table and hashes as [`Table`].
#[derive(Debug, Clone)]
pub struct KeyMap<V> {
    hashes: Hashes,
    table: HashTable<(Key, V)>,
}

impl<V> KeyMap<V> {
    pub fn new(hashes: Hashes) -> Self {
        KeyMap {
            hashes,
            table: HashTable::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Bytes held (entries inline, with control bytes and free buckets).
    pub fn bytes(&self) -> usize {
        self.table.capacity() * (std::mem::size_of::<(Key, V)>() + 1)
    }

    #[inline]
    pub fn get_mut(&mut self, h: u64, key: &Key) -> Option<&mut V> {
        self.table.find_mut(h, |e| e.0 == *key).map(|e| &mut e.1)
    }

    /// Inserts `key` (not present: look it up first).
    #[inline]
    pub fn insert_new(&mut self, h: u64, key: Key, v: V) -> &mut V {
        let hashes = self.hashes;
        &mut self
            .table
            .insert_unique(h, (key, v), |e| hashes.key(&e.0))
            .into_mut()
            .1
    }

    /// Inserts or replaces, hashing the key (loading a state).
    pub fn insert(&mut self, key: Key, v: V) {
        let h = self.hashes.key(&key);
        match self.get_mut(h, &key) {
            Some(old) => *old = v,
            None => {
                self.insert_new(h, key, v);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &V)> {
        self.table.iter().map(|e| (&e.0, &e.1))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut V)> {
        self.table.iter_mut().map(|e| (&e.0, &mut e.1))
    }

    pub fn retain(&mut self, mut f: impl FnMut(&Key, &mut V) -> bool) {
        self.table.retain(|e| f(&e.0, &mut e.1));
    }

    pub fn clear(&mut self) {
        self.table.clear();
    }

    /// The entries sorted by key (a state file does not depend on hash order).
    pub fn sorted(&self) -> Vec<(Key, V)>
    where
        V: Clone,
    {
        let mut v: Vec<(Key, V)> = self.iter().map(|(k, v)| (*k, v.clone())).collect();
        v.sort_by_key(|e| e.0.order());
        v
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

/// A slot as saved in the state file (the same shape for every version: `values` holds a
/// distinct set, or `beaconing`'s gap histogram).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlotState<S> {
    pub values: S,
    pub hits: u64,
    pub first_ms: u64,
    pub last_ms: u64,
    pub done: bool,
}

/// A [`Table`] as saved in the state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableState<S> {
    pub slots: Vec<(Key, u64, SlotState<S>)>,
    pub quiet: Vec<(Key, u64)>,
    pub next_sweep_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(a: u128) -> Key {
        Key::new(a, 0, 0)
    }

    fn hit(t: &mut Table<Distinct>, k: Key, ms: u64) -> bool {
        let h = t.hashes().key(&k);
        t.slot(k, h, ms, ms).is_some()
    }

    #[test]
    fn full_table_evicts_least_evidence_and_counts() {
        let mut t = Table::<Distinct>::new(300_000, 0, 100, 4, Hashes::default());
        // One subject with many hits, then many single-hit subjects.
        for _ in 0..10 {
            hit(&mut t, key(1), 1_000);
        }
        for i in 2..1_000u128 {
            hit(&mut t, key(i), 1_000);
        }
        assert!(t.len() <= 100);
        assert!(t.evictions >= 899, "{}", t.evictions);
        let state = t.to_state();
        assert!(state.slots.iter().any(|s| s.0 == key(1) && s.2.hits == 10));
    }

    #[test]
    fn closed_windows_refuse_late_tuples() {
        let mut t = Table::<Distinct>::new(300_000, 60_000, 10, 4, Hashes::default());
        let h = t.hashes().key(&Key::default());
        assert!(t.slot(Key::default(), h, 0, 400_000).is_none());
        assert!(t.slot(Key::default(), h, 0, 359_999).is_some());
    }

    #[test]
    fn distinct_sets_spill_to_the_pool_stop_at_keep_and_reuse_chunks() {
        let mut pool = Pool {
            chunk: 5,
            ..Pool::default()
        };
        let mut d = Distinct::default();
        for v in [7u128, 7, 1 << 100, 9, 7, 11, 12, 13, 14] {
            d.insert(v, 5, &mut pool);
        }
        assert_eq!(d.to_vec(&pool), [7, 1 << 100, 9, 11, 12]);
        // A chunk of 4, then one of 8 (the 5 kept): the first went back to its free list.
        assert_eq!(pool.values.len(), 12);
        assert_eq!(pool.free[0].len(), 1);
        d.release(&mut pool);
        let mut e = Distinct::default();
        for v in 0..4u128 {
            e.insert(v, 5, &mut pool);
        }
        // The freed chunks are reused: the pool did not grow.
        assert_eq!(pool.values.len(), 12);
        assert_eq!(e.to_vec(&pool), [0, 1, 2, 3]);
    }

    #[test]
    fn state_round_trips() {
        let mut t = Table::<Distinct>::new(300_000, 0, 100, 4, Hashes::default());
        for (i, v) in [3u128, 4, 5, 6, 7].into_iter().enumerate() {
            let k = key(1);
            let h = t.hashes().key(&k);
            let (_, s, pool) = t.slot(k, h, 301_000 + i as u64, 301_000).unwrap();
            s.payload.insert(v, 4, pool);
        }
        let saved = t.to_state();
        assert_eq!(saved.slots[0].1, 300_000);
        assert_eq!(saved.slots[0].2.values, [3, 4, 5, 6]);
        assert_eq!(saved.slots[0].2.first_ms, 301_000);
        let mut u = Table::<Distinct>::new(300_000, 0, 100, 4, Hashes::default());
        u.restore(saved.clone());
        assert_eq!(u.to_state(), saved);
    }
}
