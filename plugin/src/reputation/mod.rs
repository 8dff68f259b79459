//! IP reputation from open threat feeds: which feeds list each side of a flow, with the
//! category and score, looked up in one longest-prefix table behind an LRU cache.
//!
//! | step | module |
//! |---|---|
//! | feed file formats | [`feed`] |
//! | all feeds in one prefix table, listings interned | [`table`] |
//! | the LRU cache with a TTL | [`cache`] |
//! | loading, and hot reload off the hot path | [`reload`] |
//!
//! Private and reserved space (anything [`crate::classify::builtin_class`] does not call
//! `public`) is never reported: FireHOL level1 lists 10.0.0.0/8, and a naive match would
//! flag every internal flow.
//!
//! ```
//! use nsgflow::reputation::{Reputation, ReputationConfig, FeedConfig};
//! let dir = std::env::temp_dir().join(format!("nsgflow-doc-rep-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("firehol_level1.netset");
//! std::fs::write(&path, "10.0.0.0/8\n45.148.10.0/24\n").unwrap();
//! let config = ReputationConfig { feeds: vec![FeedConfig::new("firehol_level1", path)], ..Default::default() };
//! let mut rep = Reputation::load(&config).unwrap();
//! let id = rep.lookup("45.148.10.62".parse().unwrap()).unwrap();
//! assert_eq!(rep.listing(id).unwrap().first_feed(), "firehol_level1");
//! assert_eq!(rep.lookup("10.1.2.3".parse().unwrap()), None);
//! ```

pub mod cache;
mod config;
pub mod feed;
pub mod reload;
pub mod table;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

pub use cache::{CacheStats, IpCache};
pub use config::{CacheConfig, FeedConfig, ReputationConfig};
pub use feed::FeedFormat;
pub use reload::{SharedTable, Watcher};
pub use table::{Listing, ReputationTable};

/// Counters for the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReputationStats {
    pub lookups: u64,
    /// Lookups that found a listing.
    pub listed: u64,
    pub cache: CacheStats,
    pub cache_enabled: bool,
    pub reloads: u64,
    pub reload_errors: u64,
}

impl ReputationStats {
    /// The counters of two views on the same feeds together (the workers of
    /// `nsgflow process --threads`): lookups and cache counters add up; every view picks
    /// up the same reloads, so those are counted once.
    pub fn combine(self, other: ReputationStats) -> ReputationStats {
        ReputationStats {
            lookups: self.lookups + other.lookups,
            listed: self.listed + other.listed,
            cache: CacheStats {
                hits: self.cache.hits + other.cache.hits,
                misses: self.cache.misses + other.cache.misses,
                evictions: self.cache.evictions + other.cache.evictions,
            },
            cache_enabled: self.cache_enabled || other.cache_enabled,
            reloads: self.reloads.max(other.reloads),
            reload_errors: self.reload_errors.max(other.reload_errors),
        }
    }
}

/// One engine's view of the feeds: a snapshot of the shared table and its own cache.
#[derive(Debug)]
pub struct Reputation {
    shared: Arc<SharedTable>,
    table: Arc<ReputationTable>,
    generation: u64,
    cache: Option<IpCache>,
    epoch: Instant,
    now: u32,
    lookups: u64,
    listed: u64,
}

impl Clone for Reputation {
    /// A new view on the same shared table, with an empty cache of the same size.
    fn clone(&self) -> Self {
        let mut r = Reputation::with_shared(Arc::clone(&self.shared), None);
        r.cache = self
            .cache
            .as_ref()
            .map(|c| IpCache::new(c.capacity(), c.ttl_secs()));
        r
    }
}

impl Reputation {
    /// Loads the configured feeds (an error names the broken one).
    pub fn load(config: &ReputationConfig) -> Result<Reputation, String> {
        let loaded = reload::load_all(&config.feeds)?;
        let shared = Arc::new(SharedTable::new(ReputationTable::build(&loaded)));
        let cache = (config.cache.capacity > 0)
            .then(|| IpCache::new(config.cache.capacity, config.cache.ttl_secs));
        let rep = Reputation::with_shared(shared, cache);
        if config.reload_interval_secs > 0 {
            Watcher::new(config.feeds.clone(), loaded).spawn(
                &rep.shared,
                std::time::Duration::from_secs(config.reload_interval_secs),
                |e| eprintln!("nsgflow: warning: reloading feeds: {e}"),
            );
        }
        Ok(rep)
    }

    /// A view on an existing shared table.
    pub fn with_shared(shared: Arc<SharedTable>, cache: Option<IpCache>) -> Reputation {
        let generation = shared.generation();
        let table = shared.load();
        Reputation {
            shared,
            table,
            generation,
            cache,
            epoch: Instant::now(),
            now: 0,
            lookups: 0,
            listed: 0,
        }
    }

    pub fn shared(&self) -> &Arc<SharedTable> {
        &self.shared
    }

    pub fn table(&self) -> &ReputationTable {
        &self.table
    }

    /// Picks up a reloaded table and advances the cache clock. Call once per chunk.
    pub fn refresh(&mut self) {
        let generation = self.shared.generation();
        if generation != self.generation {
            self.table = self.shared.load();
            self.generation = generation;
            if let Some(c) = self.cache.as_mut() {
                c.clear();
            }
        }
        self.now = self.epoch.elapsed().as_secs() as u32;
    }

    /// The listing index of `ip` (resolve it with [`Reputation::listing`]).
    #[inline]
    pub fn lookup(&mut self, ip: IpAddr) -> Option<u32> {
        self.lookups += 1;
        let table = &self.table;
        let hit = match self.cache.as_mut() {
            Some(c) => c.get_or_insert_with(ip, self.now, || table.lookup(ip)),
            None => table.lookup(ip),
        };
        self.listed += hit.is_some() as u64;
        hit
    }

    pub fn listing(&self, id: u32) -> Option<Listing<'_>> {
        self.table.listing(id)
    }

    pub fn stats(&self) -> ReputationStats {
        use std::sync::atomic::Ordering::Relaxed;
        ReputationStats {
            lookups: self.lookups,
            listed: self.listed,
            cache: self.cache.as_ref().map(|c| c.stats).unwrap_or_default(),
            cache_enabled: self.cache.is_some(),
            reloads: self.shared.reloads.load(Relaxed),
            reload_errors: self.shared.reload_errors.load(Relaxed),
        }
    }
}
