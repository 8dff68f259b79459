//! The lookup cache: an LRU (the `lru` crate) from address to listing index, with a TTL on
//! a coarse clock (seconds, advanced by the caller once per chunk, not read per lookup).
//! It is cleared whenever the table is swapped, so a TTL only bounds how long an answer is
//! reused within one table generation.
//!
//! ```
//! use nsgflow::reputation::cache::IpCache;
//! let mut c = IpCache::new(2, 60);
//! let ip = "45.148.10.62".parse().unwrap();
//! assert_eq!(c.get_or_insert_with(ip, 0, || Some(3)), Some(3)); // miss
//! assert_eq!(c.get_or_insert_with(ip, 10, || None), Some(3));   // hit
//! assert_eq!(c.get_or_insert_with(ip, 70, || None), None);      // expired: looked up again
//! assert_eq!((c.stats.hits, c.stats.misses), (1, 2));
//! ```

use std::net::IpAddr;
use std::num::NonZeroUsize;

use lru::LruCache;

/// Cache counters for the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// An LRU cache of lookups.
pub struct IpCache {
    lru: LruCache<IpAddr, (Option<u32>, u32)>,
    ttl_secs: u32,
    pub stats: CacheStats,
}

impl std::fmt::Debug for IpCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpCache")
            .field("capacity", &self.lru.cap())
            .field("len", &self.lru.len())
            .field("ttl_secs", &self.ttl_secs)
            .field("stats", &self.stats)
            .finish()
    }
}

impl IpCache {
    /// A cache of `capacity` addresses (at least 1) whose answers live `ttl_secs`.
    pub fn new(capacity: usize, ttl_secs: u32) -> Self {
        IpCache {
            lru: LruCache::new(NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN)),
            ttl_secs,
            stats: CacheStats::default(),
        }
    }

    /// The cached answer for `ip`, or `lookup()`'s, cached. `now` is in seconds.
    #[inline]
    pub fn get_or_insert_with(
        &mut self,
        ip: IpAddr,
        now: u32,
        lookup: impl FnOnce() -> Option<u32>,
    ) -> Option<u32> {
        if let Some(&(v, at)) = self.lru.get(&ip) {
            if now.wrapping_sub(at) < self.ttl_secs {
                self.stats.hits += 1;
                return v;
            }
        }
        self.stats.misses += 1;
        let v = lookup();
        if let Some((old, _)) = self.lru.push(ip, (v, now)) {
            if old != ip {
                self.stats.evictions += 1;
            }
        }
        v
    }

    /// Forgets every answer (the table changed).
    pub fn clear(&mut self) {
        self.lru.clear();
    }

    pub fn len(&self) -> usize {
        self.lru.len()
    }

    pub fn capacity(&self) -> usize {
        self.lru.cap().get()
    }

    pub fn ttl_secs(&self) -> u32 {
        self.ttl_secs
    }

    pub fn is_empty(&self) -> bool {
        self.lru.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_and_counts() {
        let mut c = IpCache::new(2, 3600);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        c.get_or_insert_with(ip("192.0.2.1"), 0, || Some(1));
        c.get_or_insert_with(ip("192.0.2.2"), 0, || None);
        c.get_or_insert_with(ip("192.0.2.1"), 0, || unreachable!());
        c.get_or_insert_with(ip("192.0.2.3"), 0, || None); // evicts .2
        assert_eq!(c.stats.evictions, 1);
        assert_eq!(c.get_or_insert_with(ip("192.0.2.1"), 0, || None), Some(1));
        c.get_or_insert_with(ip("192.0.2.2"), 0, || Some(9));
        assert_eq!(
            c.stats,
            CacheStats {
                hits: 2,
                misses: 4,
                evictions: 2
            }
        );
    }
}
