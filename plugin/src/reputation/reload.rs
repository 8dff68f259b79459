//! Loading feed files, and reloading them when they change, off the hot path.
//!
//! A watcher thread polls each feed's modification time and length. When one changes it
//! re-reads and re-parses that file, rebuilds the whole table on its own thread, and swaps
//! it in: [`SharedTable`] is a `RwLock<Arc<ReputationTable>>` plus a generation counter.
//!
//! Why not `arc-swap`: readers never touch the lock per lookup. Each engine checks the
//! generation (one relaxed atomic load) once per chunk of input and, only when it changed,
//! takes the read lock for the time of an `Arc` clone. Lookups then run on the engine's own
//! `Arc` and can neither fail nor wait; the writer holds the write lock only to replace a
//! pointer. A lock-free swap would buy nothing measurable and cost a dependency (and the
//! WASM build, single-threaded, never reloads).
//!
//! A file that cannot be read, or parses to nothing usable ([`ParsedFeed::unusable`]),
//! keeps its previous entries; the error is printed and counted.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::thread;
use std::time::{Duration, SystemTime};

use super::feed::{parse_feed, ParsedFeed};
use super::table::{LoadedFeed, ReputationTable};
use super::FeedConfig;

/// The current table, shared by the engines and the watcher.
#[derive(Debug, Default)]
pub struct SharedTable {
    current: RwLock<Arc<ReputationTable>>,
    generation: AtomicU64,
    /// Successful reloads.
    pub reloads: AtomicU64,
    /// Reloads that kept the previous data because a file was broken.
    pub reload_errors: AtomicU64,
    /// The last reload error, for the summary.
    pub last_error: Mutex<Option<String>>,
}

impl SharedTable {
    pub fn new(table: ReputationTable) -> Self {
        SharedTable {
            current: RwLock::new(Arc::new(table)),
            ..SharedTable::default()
        }
    }

    /// Bumped on each swap.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current table.
    pub fn load(&self) -> Arc<ReputationTable> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the table.
    pub fn swap(&self, table: ReputationTable) {
        let table = Arc::new(table);
        match self.current.write() {
            Ok(mut g) => *g = table,
            Err(poisoned) => *poisoned.into_inner() = table,
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// A feed file's identity for change detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
    })
}

/// Reads and parses one feed file; an error says which file and what to do.
pub fn load_feed(feed: &FeedConfig) -> Result<LoadedFeed, String> {
    let path = &feed.path;
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "feed `{}`: cannot read {}: {e} (check the path in `reputation.feeds`)",
            feed.name,
            path.display()
        )
    })?;
    let format = feed.format_or_guess();
    let parsed: ParsedFeed = parse_feed(format, &text);
    if let Some(why) = parsed.unusable() {
        return Err(format!(
            "feed `{}` ({}, format {format}): {why}",
            feed.name,
            path.display()
        ));
    }
    Ok(LoadedFeed {
        name: feed.name.clone(),
        category: feed.category.clone(),
        parsed,
    })
}

/// Loads every feed; the first broken one is an error.
pub fn load_all(feeds: &[FeedConfig]) -> Result<Vec<LoadedFeed>, String> {
    feeds.iter().map(load_feed).collect()
}

/// Watches the feed files and swaps in a rebuilt table when one changes.
pub struct Watcher {
    feeds: Vec<FeedConfig>,
    loaded: Vec<LoadedFeed>,
    stamps: Vec<Option<Stamp>>,
}

impl Watcher {
    pub fn new(feeds: Vec<FeedConfig>, loaded: Vec<LoadedFeed>) -> Self {
        let stamps = feeds.iter().map(|f| stamp(&f.path)).collect();
        Watcher {
            feeds,
            loaded,
            stamps,
        }
    }

    /// Checks every file once; rebuilds and swaps when one changed and parsed well.
    /// Returns the errors of files that changed but could not be used.
    pub fn poll(&mut self, shared: &SharedTable) -> Vec<String> {
        let mut changed = false;
        let mut errors = Vec::new();
        for i in 0..self.feeds.len() {
            let now = stamp(&self.feeds[i].path);
            if now == self.stamps[i] {
                continue;
            }
            self.stamps[i] = now;
            match load_feed(&self.feeds[i]) {
                Ok(feed) => {
                    self.loaded[i] = feed;
                    changed = true;
                }
                Err(e) => errors.push(format!("{e}; keeping the previous entries")),
            }
        }
        if changed {
            shared.swap(ReputationTable::build(&self.loaded));
            shared.reloads.fetch_add(1, Ordering::Relaxed);
        }
        if !errors.is_empty() {
            shared
                .reload_errors
                .fetch_add(errors.len() as u64, Ordering::Relaxed);
            if let Ok(mut last) = shared.last_error.lock() {
                *last = errors.last().cloned();
            }
        }
        errors
    }

    /// Polls every `interval` on a thread of its own until `shared` is dropped; errors
    /// go to `report` (stderr in the command).
    pub fn spawn(
        mut self,
        shared: &Arc<SharedTable>,
        interval: Duration,
        report: impl Fn(&str) + Send + 'static,
    ) -> thread::JoinHandle<()> {
        let weak: Weak<SharedTable> = Arc::downgrade(shared);
        thread::Builder::new()
            .name("nsgflow-feed-reload".into())
            .spawn(move || loop {
                thread::sleep(interval);
                let Some(shared) = weak.upgrade() else { return };
                for e in self.poll(&shared) {
                    report(&e);
                }
            })
            .expect("spawn the feed reload thread")
    }
}
