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
pub mod feed;
pub mod reload;
pub mod table;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;

pub use cache::{CacheStats, IpCache};
pub use feed::FeedFormat;
pub use reload::{SharedTable, Watcher};
pub use table::{Listing, ReputationTable};

/// One feed file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed's name in events (`feeds: [firehol_level1]`).
    pub name: String,
    pub path: PathBuf,
    /// `list`, `spamhaus`, `feodo-csv`, `ipsum` or `csv`; unset: guessed from the file name.
    #[serde(default)]
    pub format: Option<FeedFormat>,
    /// The category for its entries (a `csv` feed's own column wins).
    #[serde(default = "default_category")]
    pub category: String,
}

fn default_category() -> String {
    "malicious".into()
}

impl FeedConfig {
    /// A feed with the default category and a guessed format.
    pub fn new(name: &str, path: impl Into<PathBuf>) -> Self {
        FeedConfig {
            name: name.into(),
            path: path.into(),
            format: None,
            category: default_category(),
        }
    }

    /// Parses the command line's `--feeds [NAME=]PATH`: the name defaults to the file stem.
    ///
    /// ```
    /// use nsgflow::reputation::{FeedConfig, FeedFormat};
    /// let f = FeedConfig::from_arg("/feeds/drop_v4.json").unwrap();
    /// assert_eq!((f.name.as_str(), f.format_or_guess()), ("drop_v4", FeedFormat::Spamhaus));
    /// let f = FeedConfig::from_arg("c2=/feeds/ipblocklist.csv").unwrap();
    /// assert_eq!((f.name.as_str(), f.format_or_guess()), ("c2", FeedFormat::FeodoCsv));
    /// ```
    pub fn from_arg(arg: &str) -> Result<Self, String> {
        let (name, path) = match arg.split_once('=') {
            Some((n, p)) if !n.is_empty() && !n.contains('/') => (n.to_string(), p),
            _ => (
                Path::new(arg)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("--feeds `{arg}`: expected [NAME=]PATH"))?,
                arg,
            ),
        };
        Ok(FeedConfig::new(&name, path))
    }

    /// The configured format, or one guessed from the file name: `*drop*` Spamhaus,
    /// `*ipsum*` IPsum, `*.csv` with `feodo` or `ipblocklist` Feodo CSV, other `*.csv` the
    /// generic CSV, anything else a plain list.
    pub fn format_or_guess(&self) -> FeedFormat {
        if let Some(f) = self.format {
            return f;
        }
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.contains("drop") {
            FeedFormat::Spamhaus
        } else if name.contains("ipsum") {
            FeedFormat::Ipsum
        } else if name.ends_with(".csv") && (name.contains("feodo") || name.contains("ipblocklist"))
        {
            FeedFormat::FeodoCsv
        } else if name.ends_with(".csv") {
            FeedFormat::Csv
        } else {
            FeedFormat::List
        }
    }
}

/// The `reputation` section of the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReputationConfig {
    /// The feed files, in order of precedence for the category shown.
    pub feeds: Vec<FeedConfig>,
    /// The lookup cache (off unless `capacity` is set).
    pub cache: CacheConfig,
    /// Seconds between checks of the feed files for changes; 0 never reloads.
    pub reload_interval_secs: u64,
}

impl Default for ReputationConfig {
    fn default() -> Self {
        ReputationConfig {
            feeds: Vec::new(),
            cache: CacheConfig::default(),
            reload_interval_secs: 60,
        }
    }
}

/// The LRU cache in front of the prefix table. Off by default: measured against the
/// indexed range table it costs more than it saves (README, "Reputation, topology and
/// aggregation"); turn it on to compare on your own traffic, the summary shows its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Addresses kept (default 0: no cache).
    pub capacity: usize,
    /// Seconds an answer is reused (default 3600).
    pub ttl_secs: u32,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity: 0,
            ttl_secs: 3600,
        }
    }
}

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
