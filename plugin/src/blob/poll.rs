//! One poll of a storage account, and what it does with each blob: list the recent hours,
//! skip blobs whose etag is the one already read, get the committed block list of the
//! others, fetch only the byte ranges of blocks not read yet (a few blobs at a time), hand
//! their records to the engine, flush the output, then checkpoint. Fetching runs on worker
//! threads; decoding, writing and checkpointing run on the caller's thread, one batch at a
//! time, so at most one batch's events are out without a checkpoint.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::blocks::{batches, piece, plan, BlockInfo, Piece, Plan, SeenBlock};
use super::checkpoint::{BlobCheckpoint, CheckpointStore};
use super::client::{BlobClient, BlobError};
use super::config::AzureBlobConfig;
use super::discovered::{Discovered, Stale, DISCOVERED_VERSION};
use super::fence::{Fence, FenceState};
use super::list::{discover, hour_prefixes};
use super::shard::Shard;
use crate::engine::InputOutcome;
use crate::pipeline::{FlushError, Pipeline};
use crate::record::{reason, Location, RejectLevel, Rejection, WalkSummary};

/// Why [`BlobSource::poll`] stopped the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollError {
    /// The reader of the output went away (a closed pipe): not a failure, the run ends.
    OutputClosed,
    /// Output or checkpoints cannot be written: the message says where and why.
    Fatal(String),
}

impl std::fmt::Display for PollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PollError::OutputClosed => f.write_str("output closed"),
            PollError::Fatal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for PollError {}

impl From<String> for PollError {
    fn from(m: String) -> Self {
        PollError::Fatal(m)
    }
}

/// How serious a [`Message`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// For the record (checkpoints pruned).
    Info,
    /// Something was skipped or repeated; the run goes on.
    Warning,
    /// A blob or listing failed; it is retried at the next poll, and the exit status is 1.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One line for the operator: `error: ...`, `warning: ...` or `info: ...` when shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub severity: Severity,
    /// What happened, where, and what to do.
    pub text: String,
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.severity.as_str(), self.text)
    }
}

/// What the source has done since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub polls: u64,
    /// Blobs seen in the recent-hours listings (summed over polls).
    pub blobs_listed: u64,
    /// Blobs whose block list was read because their etag changed.
    pub blobs_changed: u64,
    /// Committed blocks read (head and record blocks; the tail is not counted).
    pub blocks_read: u64,
    /// Checkpoints written (one per batch).
    pub checkpoints: u64,
    /// Blobs found rewritten (their block list no longer extends the one read).
    pub rewrites: u64,
    /// Blocks of rewritten blobs recognised by content and skipped (no duplicate).
    pub rewrite_blocks_skipped: u64,
    /// Upper bound of records emitted twice because a rewrite changed their blocks.
    pub possible_duplicates: u64,
    /// Blobs or listings that failed (after retries) and will be tried again.
    pub errors: u64,
    /// Discovery walks of the folder tree (the others were served by the stored walk).
    pub walks: u64,
    /// Resource folders this replica reads (of those discovered), at the last poll.
    pub resources_owned: u64,
    /// Damaged or foreign state files met (stored walk, replica plan, heartbeats).
    pub bad_state_files: u64,
    /// Polls that read nothing because replicas of another plan still ran.
    pub waits: u64,
}

/// What one poll found, for the caller to print.
#[derive(Debug, Default)]
pub struct PollReport {
    /// Warnings and errors, one each, already saying where and what to do.
    pub messages: Vec<Message>,
    /// Blobs that changed while being read: poll again soon to finish them.
    pub unfinished: usize,
    /// Batches written this poll.
    pub batches: u64,
}

impl PollReport {
    fn push(&mut self, severity: Severity, text: String) {
        self.messages.push(Message { severity, text });
    }

    /// True when a message is an error.
    pub fn has_errors(&self) -> bool {
        self.messages.iter().any(|m| m.severity == Severity::Error)
    }
}

/// The Azure Blob Storage flow-log source.
pub struct BlobSource<'c> {
    client: &'c BlobClient,
    cfg: AzureBlobConfig,
    store: CheckpointStore,
    checkpoints: HashMap<(String, String), BlobCheckpoint>,
    /// (container, resource folder) pairs found by discovery.
    resources: Vec<(String, String)>,
    discovered_at: Option<Instant>,
    pruned_at: Option<Instant>,
    missing: Vec<String>,
    /// This replica, of how many (`--shard K/N`).
    shard: Shard,
    /// Keeps replicas of different N from reading at the same time.
    fence: Fence,
    waiting: bool,
    /// Seconds since the epoch, for the recent-hours window (replaceable in tests).
    pub clock: Box<dyn Fn() -> u64 + Send>,
    pub stats: SourceStats,
    /// Checkpoints read and flushed but not yet written, because the tuples of their
    /// records are still held in open aggregation windows; with the pipeline's hold mark
    /// each was taken at, oldest first (see [`BlobSource::save_released`]).
    held: VecDeque<(u64, BlobCheckpoint)>,
}

struct Job {
    container: String,
    blob: String,
    read: Vec<SeenBlock>,
}

enum Msg {
    Chunk {
        job: usize,
        etag: String,
        first: usize,
        list_len: usize,
        blocks: Vec<BlockInfo>,
        data: Vec<u8>,
        rewrite: bool,
        last: bool,
    },
    Done {
        job: usize,
        etag: Option<String>,
        error: Option<BlobError>,
    },
}

/// Per blob, during one poll.
#[derive(Default)]
struct Tally {
    summary: WalkSummary,
    bytes: usize,
    rewrite_new: u64,
    in_rewrite: bool,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl<'c> BlobSource<'c> {
    pub fn new(client: &'c BlobClient, cfg: AzureBlobConfig) -> Result<BlobSource<'c>, String> {
        cfg.validate()?;
        let shard = cfg.shard()?;
        let store = CheckpointStore::open(&cfg.checkpoint_dir)?;
        // A replica silent for this long is gone: a poll interval three times over, and
        // at least 5 minutes (a batch's requests with all their retries).
        let stale = std::time::Duration::from_secs_f64((3.0 * cfg.poll_interval_secs).max(300.0));
        let fence = Fence::open(&cfg.checkpoint_dir, shard, stale)?;
        Ok(BlobSource {
            client,
            cfg,
            store,
            checkpoints: HashMap::new(),
            resources: Vec::new(),
            discovered_at: None,
            pruned_at: None,
            missing: Vec::new(),
            shard,
            fence,
            waiting: false,
            clock: Box::new(unix_now),
            stats: SourceStats::default(),
            held: VecDeque::new(),
        })
    }

    /// Writes the held checkpoints whose events have all left the pipeline (every window
    /// open at their mark is emitted and flushed). Without aggregation that is each one
    /// as soon as its batch is flushed.
    fn save_released<W: Write>(&mut self, out: &Pipeline<W>) -> Result<(), PollError> {
        while let Some((mark, _)) = self.held.front() {
            if !out.released(*mark) {
                break;
            }
            let (_, cp) = self.held.pop_front().expect("front exists");
            // Only the newest state of a blob needs writing.
            if !self
                .held
                .iter()
                .any(|(m, c)| out.released(*m) && c.container == cp.container && c.blob == cp.blob)
            {
                self.store.save(&cp)?;
            }
        }
        Ok(())
    }

    /// Errs when the replica plan changed under this replica: it must stop reading.
    fn still_owner(&mut self) -> Result<(), PollError> {
        match self.fence.still_active()? {
            FenceState::Superseded(why) => Err(PollError::Fatal(why)),
            _ => Ok(()),
        }
    }

    /// The replica this source is (`--shard K/N`; 0/1 without sharding).
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Checkpoints still held back by open aggregation windows.
    pub fn held_checkpoints(&self) -> usize {
        self.held.len()
    }

    /// At the end of a run, after [`Pipeline::finish`] emitted every window and
    /// [`Pipeline::flush`] wrote them out: writes every held checkpoint.
    pub fn save_all<W: Write>(&mut self, out: &Pipeline<W>) -> Result<(), PollError> {
        self.save_released(out)?;
        match self.held.len() {
            0 => Ok(()),
            n => Err(PollError::Fatal(format!(
                "{n} checkpoints are still held by open aggregation windows: finish the pipeline first"
            ))),
        }
    }

    pub fn config(&self) -> &AzureBlobConfig {
        &self.cfg
    }

    /// Finds the resource folders again if none are known or the last walk is old: from
    /// the walk stored in the checkpoint directory while it is younger than
    /// `rediscover_secs` (by this run or another replica), else by walking the folders.
    fn discover_if_due(&mut self, report: &mut PollReport) {
        let due = match self.discovered_at {
            None => true,
            Some(t) => {
                self.resources.is_empty() || t.elapsed().as_secs_f64() >= self.cfg.rediscover_secs
            }
        };
        if !due {
            return;
        }
        let now = unix_now();
        match Discovered::load(
            &self.cfg.checkpoint_dir,
            self.client.account(),
            &self.cfg.containers,
            &self.cfg.prefix,
            self.cfg.rediscover_secs,
            now,
        ) {
            Ok(d) => {
                let age = std::time::Duration::from_secs(now.saturating_sub(d.walked_at));
                self.resources = d.resources;
                self.missing = d.missing;
                self.discovered_at =
                    Some(Instant::now().checked_sub(age).unwrap_or_else(Instant::now));
                return;
            }
            Err(Stale::Bad(why)) => {
                self.stats.bad_state_files += 1;
                report.push(Severity::Warning, why);
            }
            Err(Stale::Absent | Stale::Due) => {}
        }
        self.stats.walks += 1;
        let mut found = Vec::new();
        let mut failed = false;
        for container in &self.cfg.containers {
            let walk = discover(&self.cfg.prefix, |p| {
                self.client
                    .list(container, p, Some("/"))
                    .map(|l| l.prefixes)
            });
            match walk {
                Ok(roots) => found.extend(roots.into_iter().map(|r| (container.clone(), r))),
                Err(BlobError::NotFound(_)) => {
                    if !self.missing.contains(container) {
                        self.missing.push(container.clone());
                        report.push(Severity::Warning, format!("container {container} does not exist in account {} (yet): skipped; it appears once a flow log of that kind writes to this account",
                            self.client.account()
                        ));
                    }
                }
                Err(e) => {
                    failed = true;
                    self.stats.errors += 1;
                    report.push(Severity::Error, e.to_string());
                }
            }
        }
        if !failed && found.is_empty() && self.missing.len() < self.cfg.containers.len() {
            // Said on every discovery (at start, then hourly), whatever --quiet says.
            report.push(Severity::Warning, format!(
                "nothing to read: no flow-log folder (resourceId=/... or flowLogResourceID=/...) in container {} of account {}{}; check the account and that flow logs are on and write to it",
                self.cfg.containers.join(", "),
                self.client.account(),
                if self.cfg.prefix.is_empty() { String::new() } else { format!(" under prefix {}", self.cfg.prefix) }
            ));
        }
        if !failed {
            let walk = Discovered {
                version: DISCOVERED_VERSION,
                account: self.client.account().to_string(),
                containers: self.cfg.containers.clone(),
                prefix: self.cfg.prefix.clone(),
                walked_at: now,
                rediscover_secs: self.cfg.rediscover_secs,
                resources: found.clone(),
                missing: self.missing.clone(),
            };
            if let Err(e) = walk.save(&self.cfg.checkpoint_dir) {
                report.push(
                    Severity::Warning,
                    format!("{e}: the next run walks the folders again"),
                );
            }
        }
        if !failed || self.resources.is_empty() {
            self.resources = found;
        }
        self.discovered_at = Some(Instant::now());
    }

    /// Once an hour, deletes checkpoint files not written for `checkpoint_retention_hours`.
    fn prune_if_due(&mut self, report: &mut PollReport) {
        if self.pruned_at.is_some_and(|t| t.elapsed().as_secs() < 3600) {
            return;
        }
        self.pruned_at = Some(Instant::now());
        let keep =
            std::time::Duration::from_secs(u64::from(self.cfg.checkpoint_retention_hours) * 3600);
        match self.store.prune_older_than(keep) {
            Ok(0) => {}
            Ok(n) => report.push(
                Severity::Info,
                format!(
                    "removed {n} checkpoints not written for {} hours",
                    self.cfg.checkpoint_retention_hours
                ),
            ),
            Err(e) => report.push(Severity::Warning, e.to_string()),
        }
    }

    /// Reads everything new once. `Err` only when output or checkpoints cannot be written
    /// (the run must stop); failures of the storage account are in the report and retried
    /// at the next poll.
    pub fn poll<W: Write>(&mut self, out: &mut Pipeline<W>) -> Result<PollReport, PollError> {
        let mut report = PollReport::default();
        self.stats.polls += 1;
        let fenced = self.fence.check();
        for bad in self.fence.bad_files.drain(..) {
            self.stats.bad_state_files += 1;
            report.push(Severity::Warning, bad);
        }
        match fenced? {
            FenceState::Active => {
                if std::mem::take(&mut self.waiting) {
                    report.push(
                        Severity::Info,
                        format!(
                            "replica {} reads now: the replicas of the old plan stopped",
                            self.shard
                        ),
                    );
                }
            }
            FenceState::Waiting(why) => {
                self.stats.waits += 1;
                // Said when the wait starts (every --once run is a start).
                if !std::mem::replace(&mut self.waiting, true) {
                    report.push(Severity::Warning, why);
                }
                return Ok(report);
            }
            FenceState::Superseded(why) => return Err(PollError::Fatal(why)),
        }
        self.discover_if_due(&mut report);

        // List the recent hours of every resource folder.
        let hours = hour_prefixes((self.clock)(), self.cfg.lookback_hours);
        let mut jobs = Vec::new();
        let mut listed = std::collections::HashSet::new();
        let mut owned = 0u64;
        for (container, root) in &self.resources {
            if !self.shard.owns(root) {
                continue;
            }
            owned += 1;
            for hour in &hours {
                let listing = match self.client.list(container, &format!("{root}{hour}"), None) {
                    Ok(l) => l,
                    Err(BlobError::NotFound(_)) => continue,
                    Err(e) => {
                        self.stats.errors += 1;
                        report.push(Severity::Error, e.to_string());
                        continue;
                    }
                };
                for item in listing.blobs {
                    if !item.name.ends_with(".json") {
                        continue;
                    }
                    self.stats.blobs_listed += 1;
                    let key = (container.clone(), item.name.clone());
                    listed.insert(key.clone());
                    if !self.checkpoints.contains_key(&key) {
                        match self.store.load(container, &item.name) {
                            Ok(Some(cp)) => {
                                self.checkpoints.insert(key.clone(), cp);
                            }
                            Ok(None) => {}
                            Err(e) => {
                                self.stats.errors += 1;
                                report.push(Severity::Error, e.to_string());
                                continue;
                            }
                        }
                    }
                    let read = match self.checkpoints.get(&key) {
                        Some(cp) if cp.etag == item.etag => continue,
                        Some(cp) => cp.blocks.clone(),
                        None => Vec::new(),
                    };
                    jobs.push(Job {
                        container: container.clone(),
                        blob: item.name,
                        read,
                    });
                }
            }
        }
        self.stats.resources_owned = owned;
        // Blobs that left the recent hours are not read again: forget them (their files stay
        // until `checkpoint_retention_hours`).
        self.checkpoints.retain(|k, _| listed.contains(k));
        self.prune_if_due(&mut report);
        self.stats.blobs_changed += jobs.len() as u64;
        if jobs.is_empty() {
            return Ok(report);
        }

        // Fetch on workers, process here in arrival order.
        let workers = self.cfg.concurrency.min(jobs.len());
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let mut tallies: HashMap<usize, Tally> = HashMap::new();
        let mut fatal = None;
        std::thread::scope(|s| {
            let (tx, rx) = sync_channel::<Msg>(workers);
            for _ in 0..workers {
                let tx = tx.clone();
                let (jobs, next, stop) = (&jobs, &next, &stop);
                let (client, batch) = (self.client, self.cfg.batch_bytes.max(1));
                s.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs.len() || stop.load(Ordering::Relaxed) {
                        return;
                    }
                    fetch(client, i, &jobs[i], batch, &tx, stop);
                });
            }
            drop(tx);
            for msg in rx {
                if fatal.is_some() {
                    continue; // drain so the workers can end
                }
                if let Err(e) = self.handle(msg, &jobs, &mut tallies, out, &mut report) {
                    stop.store(true, Ordering::Relaxed);
                    fatal = Some(e);
                }
            }
        });
        match fatal {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    fn handle<W: Write>(
        &mut self,
        msg: Msg,
        jobs: &[Job],
        tallies: &mut HashMap<usize, Tally>,
        out: &mut Pipeline<W>,
        report: &mut PollReport,
    ) -> Result<(), PollError> {
        match msg {
            Msg::Chunk {
                job,
                etag,
                first,
                list_len,
                blocks,
                data,
                rewrite,
                last,
            } => {
                // Nothing goes out once replicas of another plan may read (see `fence`).
                self.still_owner()?;
                let j = &jobs[job];
                let key = (j.container.clone(), j.blob.clone());
                let label = format!("{}/{}", j.container, j.blob);
                let cp = self
                    .checkpoints
                    .entry(key)
                    .or_insert_with(|| BlobCheckpoint::new(&j.container, &j.blob));
                let tally = tallies.entry(job).or_default();
                if rewrite {
                    self.stats.rewrites += 1;
                    tally.in_rewrite = true;
                    report.push(Severity::Warning, format!("{label} was rewritten (its etag changed and its block list no longer extends the {} blocks read): reading it again; blocks already read are recognised by their bytes and skipped",
                        cp.blocks.len()
                    ));
                    let old = std::mem::take(&mut cp.blocks);
                    cp.rewrite_skip.extend(old);
                    cp.offset = 0;
                }
                if first != cp.blocks.len() {
                    // The worker planned from an older state: drop it, the next poll re-plans.
                    report.unfinished += 1;
                    return Ok(());
                }
                let mut at = 0usize;
                for (k, info) in blocks.iter().enumerate() {
                    let bytes = &data[at..at + info.size as usize];
                    at += info.size as usize;
                    let index = first + k;
                    let text = match crate::input::as_text(bytes) {
                        Ok(t) => t,
                        Err(why) => {
                            out.reject(
                                &label,
                                &Rejection {
                                    level: RejectLevel::Record,
                                    reason: reason::INVALID_JSON,
                                    detail: format!("block {index} ({} bytes): {why}", info.size),
                                    location: Location {
                                        record_index: None,
                                        tuple_index: None,
                                        offset: (cp.offset) as usize,
                                    },
                                    text: "",
                                },
                            );
                            cp.blocks.push(SeenBlock::new(info, bytes));
                            cp.offset += info.size;
                            continue;
                        }
                    };
                    let p = piece(index, index + 1 == list_len, text);
                    if p == Piece::Tail {
                        continue;
                    }
                    let seen = SeenBlock::new(info, bytes);
                    if let Some(pos) = cp.rewrite_skip.iter().position(|s| s.same_content(&seen)) {
                        cp.rewrite_skip.remove(pos);
                        self.stats.rewrite_blocks_skipped += 1;
                    } else {
                        if tally.in_rewrite || !cp.rewrite_skip.is_empty() {
                            tally.rewrite_new += u64::from(matches!(p, Piece::Records(_)));
                        }
                        if let Piece::Records(t) = p {
                            let (s, _) = out.process_part(&label, t, cp.records as usize, false);
                            cp.records = s.next_record_index as u64;
                            tally.summary.add(&s);
                            tally.bytes += t.len();
                        }
                    }
                    self.stats.blocks_read += 1;
                    cp.blocks.push(seen);
                    cp.offset += info.size;
                }
                // The etag says "read up to the end of this version": only once the last
                // batch is in. A partial read keeps none, so the next listing re-plans it
                // even if the blob does not change again.
                cp.etag = if last { etag } else { String::new() };
                if last && (tally.in_rewrite || !cp.rewrite_skip.is_empty()) {
                    let gone = cp.rewrite_skip.len() as u64;
                    let dups = gone.min(tally.rewrite_new);
                    self.stats.possible_duplicates += dups;
                    report.push(Severity::Warning, format!("{label}: rewrite read; {} record blocks new or changed, {gone} blocks read before are gone; at most {dups} records may repeat ones emitted before",
                        tally.rewrite_new
                    ));
                    cp.rewrite_skip.clear();
                    tally.in_rewrite = false;
                }
                // Events (and the batch's alerts) first, then the checkpoint that says they are out.
                out.flush().map_err(|e| match e {
                    FlushError::OutputClosed => PollError::OutputClosed,
                    e => PollError::Fatal(e.to_string()),
                })?;
                let mark = out.hold_mark();
                self.held.push_back((mark, cp.clone()));
                self.save_released(out)?;
                self.stats.checkpoints += 1;
                report.batches += 1;
                Ok(())
            }
            Msg::Done { job, etag, error } => {
                let j = &jobs[job];
                let label = format!("{}/{}", j.container, j.blob);
                let key = (j.container.clone(), j.blob.clone());
                match error {
                    None => {}
                    Some(BlobError::Changed(_)) => report.unfinished += 1,
                    Some(BlobError::NotFound(_)) => {
                        report.push(Severity::Warning, format!("{label} disappeared while being read (deleted by a lifecycle rule?)"
                        ));
                    }
                    Some(e) => {
                        self.stats.errors += 1;
                        report.push(
                            Severity::Error,
                            format!("{e} (will retry at the next poll)"),
                        );
                    }
                }
                // Nothing new but the etag moved: remember it, to skip the block list next time.
                let moved = match (&etag, self.checkpoints.get(&key)) {
                    (Some(e), Some(cp)) => cp.etag != *e,
                    _ => false,
                };
                if let (true, Some(etag)) = (moved, etag) {
                    self.still_owner()?;
                    let cp = self.checkpoints.get_mut(&key).expect("checked above");
                    cp.etag = etag;
                    // Behind any held checkpoint of the same blob, never before it.
                    self.held.push_back((out.hold_mark(), cp.clone()));
                    self.save_released(out)?;
                }
                if let Some(t) = tallies.remove(&job) {
                    if t.summary.values > 0 {
                        match out.engine.finish_input(t.bytes, t.summary) {
                            InputOutcome::NotFlowLog(why) => report.push(Severity::Error, format!("{label}: not a flow log: {why}")),
                            InputOutcome::Read { incomplete: true } => report.push(Severity::Warning, format!("{label}: a committed block holds an incomplete record; it went to the dead-letter output"
                            )),
                            InputOutcome::Read { incomplete: false } => {}
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// On a worker: the block list, the plan, and the new blocks in batches.
fn fetch(
    client: &BlobClient,
    job: usize,
    j: &Job,
    batch_bytes: u64,
    tx: &SyncSender<Msg>,
    stop: &AtomicBool,
) {
    let done = |etag: Option<String>, error: Option<BlobError>| {
        let _ = tx.send(Msg::Done { job, etag, error });
    };
    let list = match client.block_list(&j.container, &j.blob) {
        Ok(l) => l,
        Err(e) => return done(None, Some(e)),
    };
    let (first, offset, rewrite) = match plan(&j.read, &list.blocks) {
        Plan::Unchanged => return done(Some(list.etag), None),
        Plan::Append { first, offset } => (first, offset, false),
        Plan::Rewrite => (0, 0, true),
    };
    let parts = batches(&list.blocks, first, offset, batch_bytes);
    let n = parts.len();
    for (k, (a, b, start, end)) in parts.into_iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let data = match client.get_range(&j.container, &j.blob, start, end, &list.etag) {
            Ok(d) => d,
            Err(e) => return done(None, Some(e)),
        };
        let msg = Msg::Chunk {
            job,
            etag: list.etag.clone(),
            first: a,
            list_len: list.blocks.len(),
            blocks: list.blocks[a..b].to_vec(),
            data,
            rewrite: rewrite && k == 0,
            last: k + 1 == n,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
    done(None, None)
}
