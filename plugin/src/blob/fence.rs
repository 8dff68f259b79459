//! The hand-over between replica plans. All replicas share one checkpoint directory, and
//! a blob's checkpoint is written only by the replica owning its resource, so when N
//! changes a moved resource continues from its old owner's checkpoint. What must never
//! happen is replicas of two different N reading at the same time (a resource could have
//! two owners). This fence keeps them apart, with files in `<checkpoint_dir>/state/`:
//!
//! - `shards.json`: the plan, `{"replicas": N, ...}`. A replica reads only while the plan
//!   says its own N.
//! - `alive-K-of-N.json`: the heartbeat of an active replica (host, pid, time), touched at
//!   each poll and batch, removed when it stops cleanly.
//!
//! A replica started with another N waits, reading nothing and writing no heartbeat, until
//! no heartbeat of another N is fresh (touched within [`Fence::stale`]); then it writes its
//! own heartbeat and the new plan. A running replica checks the plan before each batch it
//! emits; once it says another N, it stops ([`FenceState::Superseded`]).
//!
//! Residual race, documented in the README: a replica of the old plan that stalls for
//! longer than the heartbeat timeout between its check and its checkpoint write (stdout
//! blocked for minutes) may repeat at most one batch per blob after the hand-over.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::shard::Shard;
use crate::atomic::write_atomic;

/// The subdirectory of the checkpoint directory with the shared state files.
pub const STATE_DIR: &str = "state";

/// The plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub replicas: u32,
    /// Unix seconds when this plan was written, and by whom (`host pid K/N`).
    pub since: u64,
    pub by: String,
}

/// The heartbeat of an active replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub index: u32,
    pub replicas: u32,
    pub host: String,
    pub pid: u32,
    /// Unix seconds of the last touch.
    pub at: u64,
}

/// May this replica read now?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceState {
    /// The plan is this replica's N: read.
    Active,
    /// Replicas of another N are still running: read nothing for now (the text says which).
    Waiting(String),
    /// The plan changed to another N while this replica ran: stop (the text says what to do).
    Superseded(String),
}

/// One replica's view of the plan and heartbeats.
#[derive(Debug)]
pub struct Fence {
    dir: PathBuf,
    shard: Shard,
    host: String,
    /// A heartbeat older than this is a replica that is gone.
    pub stale: Duration,
    active: bool,
    touched: u64,
    /// Damaged or foreign state files met (each reported once where met).
    pub bad_files: Vec<String>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Fence {
    /// The fence of replica `shard` over `checkpoint_dir` (its `state/` is created).
    /// `stale`: how long a silent heartbeat still counts as a running replica.
    pub fn open(checkpoint_dir: &Path, shard: Shard, stale: Duration) -> Result<Fence, String> {
        let dir = checkpoint_dir.join(STATE_DIR);
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Fence {
            dir,
            shard,
            host: crate::atomic::host_tag(),
            stale,
            active: false,
            touched: 0,
            bad_files: Vec::new(),
        })
    }

    fn plan_path(&self) -> PathBuf {
        self.dir.join("shards.json")
    }

    fn heartbeat_path(&self) -> PathBuf {
        self.dir.join(format!(
            "alive-{}-of-{}.json",
            self.shard.index, self.shard.count
        ))
    }

    fn note_bad(&mut self, path: &Path, why: impl std::fmt::Display) -> String {
        let text = format!(
            "{} is damaged or not nsgflow's ({why}); it is ignored and will be replaced",
            path.display()
        );
        self.bad_files.push(text.clone());
        text
    }

    /// The plan, if one was written and is readable.
    pub fn plan(&mut self) -> Result<Option<Plan>, String> {
        let path = self.plan_path();
        // Bytes, not text: a file that is not UTF-8 is damaged like any other bad
        // contents (reported and replaced), not a failure to read it.
        match fs::read(&path) {
            Ok(t) => match serde_json::from_slice::<Plan>(&t) {
                Ok(p) if p.replicas > 0 => Ok(Some(p)),
                Ok(_) => {
                    self.note_bad(&path, "0 replicas");
                    Ok(None)
                }
                Err(e) => {
                    self.note_bad(&path, e);
                    Ok(None)
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Fresh heartbeats of replicas of another N: `K/N on host (n s ago)`.
    fn others_running(&mut self, now: u64) -> Result<Vec<String>, String> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| format!("cannot list {}: {e}", self.dir.display()))?;
        let mut found = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("alive-") && name.ends_with(".json")) {
                continue;
            }
            let path = e.path();
            let hb = match fs::read(&path) {
                Ok(t) => match serde_json::from_slice::<Heartbeat>(&t) {
                    Ok(h) => h,
                    Err(err) => {
                        self.note_bad(&path, err);
                        continue;
                    }
                },
                Err(_) => continue, // removed meanwhile
            };
            if hb.replicas == self.shard.count {
                continue;
            }
            let age = now.saturating_sub(hb.at);
            if age < self.stale.as_secs() {
                found.push(format!(
                    "{}/{} on {} pid {} ({age} s ago)",
                    hb.index, hb.replicas, hb.host, hb.pid
                ));
            }
        }
        found.sort();
        Ok(found)
    }

    /// The host of a fresh heartbeat of this same K/N written from another host: two
    /// replicas were given the same K. (A restart on the same host takes its place.)
    fn twin(&self, now: u64) -> Option<String> {
        let t = fs::read(self.heartbeat_path()).ok()?;
        let hb: Heartbeat = serde_json::from_slice(&t).ok()?;
        (hb.host != self.host && now.saturating_sub(hb.at) < self.stale.as_secs())
            .then_some(hb.host)
    }

    fn touch(&mut self, now: u64) -> Result<(), String> {
        let hb = Heartbeat {
            index: self.shard.index,
            replicas: self.shard.count,
            host: self.host.clone(),
            pid: std::process::id(),
            at: now,
        };
        let path = self.heartbeat_path();
        let json = serde_json::to_vec(&hb).map_err(|e| e.to_string())?;
        write_atomic(&path, &json)
            .map_err(|e| format!("cannot write the heartbeat {}: {e}", path.display()))?;
        self.touched = now;
        Ok(())
    }

    /// At the start of a poll: may this replica read? Takes the plan over when every
    /// replica of the old N is gone.
    pub fn check(&mut self) -> Result<FenceState, String> {
        let now = now_secs();
        let plan = self.plan()?;
        if let Some(twin) = self.twin(now) {
            let why = format!(
                "another replica runs as {} on host {twin}: give each replica its own K; this one (host {}) {}",
                self.shard,
                self.host,
                if self.active { "stops" } else { "waits" }
            );
            return Ok(if std::mem::take(&mut self.active) {
                FenceState::Superseded(why)
            } else {
                FenceState::Waiting(why)
            });
        }
        if plan
            .as_ref()
            .is_some_and(|p| p.replicas == self.shard.count)
        {
            self.touch(now)?;
            self.active = true;
            return Ok(FenceState::Active);
        }
        if self.active {
            return Ok(self.superseded(plan));
        }
        let others = self.others_running(now)?;
        if !others.is_empty() {
            return Ok(FenceState::Waiting(format!(
                "replica {} waits: the plan in {} is {} replicas and replicas of it still run ({}); it reads once they stop (a heartbeat counts for {} s)",
                self.shard,
                self.plan_path().display(),
                plan.map_or("unreadable".to_string(), |p| p.replicas.to_string()),
                others.join(", "),
                self.stale.as_secs()
            )));
        }
        // Heartbeat first, then the plan: a replica of another N starting now sees one of them.
        self.touch(now)?;
        let p = Plan {
            replicas: self.shard.count,
            since: now,
            by: format!("{} pid {} {}", self.host, std::process::id(), self.shard),
        };
        let path = self.plan_path();
        let json = serde_json::to_vec(&p).map_err(|e| e.to_string())?;
        write_atomic(&path, &json)
            .map_err(|e| format!("cannot write the plan {}: {e}", path.display()))?;
        self.active = true;
        Ok(FenceState::Active)
    }

    fn superseded(&mut self, plan: Option<Plan>) -> FenceState {
        self.release();
        FenceState::Superseded(match plan {
            Some(p) => format!(
                "the replica plan in {} changed to {} replicas (written by {}) while this replica ran as {}: it stopped reading; restart it with --shard {}/{} (or NSGFLOW_SHARD) if it is still wanted",
                self.plan_path().display(), p.replicas, p.by, self.shard, self.shard.index, p.replicas
            ),
            None => format!(
                "the replica plan {} disappeared or is damaged while this replica ran as {}: it stopped reading; restart it",
                self.plan_path().display(), self.shard
            ),
        })
    }

    /// Before emitting a batch: is the plan still this replica's? Touches the heartbeat
    /// (at most every 5 s).
    pub fn still_active(&mut self) -> Result<FenceState, String> {
        let plan = self.plan()?;
        if plan.as_ref().is_none_or(|p| p.replicas != self.shard.count) {
            return Ok(self.superseded(plan));
        }
        let now = now_secs();
        if now.saturating_sub(self.touched) >= 5 {
            self.touch(now)?;
        }
        Ok(FenceState::Active)
    }

    /// The replica stops: its heartbeat goes, so replicas of a new N need not wait.
    pub fn release(&mut self) {
        if std::mem::take(&mut self.active) {
            let _ = fs::remove_file(self.heartbeat_path());
        }
    }
}

impl Drop for Fence {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nsgflow-fence-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    const STALE: Duration = Duration::from_secs(300);

    #[test]
    fn replicas_of_a_new_n_wait_for_the_old_ones_then_take_over() {
        let d = dir("handover");
        let s = |k, n| Shard { index: k, count: n };
        let mut old: Vec<Fence> = (0..3)
            .map(|k| Fence::open(&d, s(k, 3), STALE).unwrap())
            .collect();
        for f in &mut old {
            assert_eq!(f.check().unwrap(), FenceState::Active);
        }
        // A replica of N = 4 waits while replicas of 3 run, and names them.
        let mut new0 = Fence::open(&d, s(0, 4), STALE).unwrap();
        match new0.check().unwrap() {
            FenceState::Waiting(why) => {
                assert!(why.contains("0/3") && why.contains("2/3"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(old[1].still_active().unwrap(), FenceState::Active);
        // The old ones stop cleanly: their heartbeats go, the new plan starts.
        old.clear();
        assert_eq!(new0.check().unwrap(), FenceState::Active);
        assert_eq!(new0.plan().unwrap().unwrap().replicas, 4);
        // A replica of 3 started late waits for the 4s...
        let mut late = Fence::open(&d, s(1, 3), STALE).unwrap();
        assert!(matches!(late.check().unwrap(), FenceState::Waiting(_)));
        drop(late);
        // ... and one that ran when the plan changed under it stops, saying what to do.
        let mut stale_one = Fence::open(&d, s(2, 3), STALE).unwrap();
        stale_one.active = true;
        match stale_one.still_active().unwrap() {
            FenceState::Superseded(why) => assert!(why.contains("--shard 2/4"), "{why}"),
            other => panic!("{other:?}"),
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_killed_replica_blocks_until_its_heartbeat_is_stale_and_bad_files_are_reported() {
        let d = dir("stale");
        let s = |k, n| Shard { index: k, count: n };
        let mut killed = Fence::open(&d, s(0, 2), STALE).unwrap();
        assert_eq!(killed.check().unwrap(), FenceState::Active);
        std::mem::forget(killed); // SIGKILL: the heartbeat stays
        let mut new = Fence::open(&d, s(0, 3), STALE).unwrap();
        assert!(matches!(new.check().unwrap(), FenceState::Waiting(_)));
        new.stale = Duration::ZERO; // time passes
        assert_eq!(new.check().unwrap(), FenceState::Active);
        // A damaged plan and a foreign heartbeat are reported, not fatal, not silent.
        fs::write(d.join(STATE_DIR).join("shards.json"), "{\"replicas\":").unwrap();
        fs::write(d.join(STATE_DIR).join("alive-9-of-9.json"), "hello").unwrap();
        let mut other = Fence::open(&d, s(1, 5), STALE).unwrap();
        assert!(matches!(other.check().unwrap(), FenceState::Waiting(_)));
        assert!(
            other.bad_files.iter().any(|b| b.contains("shards.json")),
            "{:?}",
            other.bad_files
        );
        assert!(
            other.bad_files.iter().any(|b| b.contains("alive-9-of-9")),
            "{:?}",
            other.bad_files
        );
        drop(new);
        fs::remove_dir_all(&d).unwrap();
    }

    /// Found by the `tail_state` fuzz target: a plan file that is not UTF-8 (a torn write,
    /// disk damage) made every check fail with "cannot read ... did not contain valid
    /// UTF-8", so no replica could ever start. It is damaged contents like any other:
    /// reported, and replaced by the replica that takes the plan over.
    #[test]
    fn a_plan_file_that_is_not_utf8_is_reported_and_replaced_not_fatal() {
        let d = dir("not-utf8");
        let shard = Shard { index: 1, count: 4 };
        let state = d.join(STATE_DIR);
        fs::create_dir_all(&state).unwrap();
        fs::write(state.join("shards.json"), b"{\"replicas\":\xff4}").unwrap();
        fs::write(state.join("alive-0-of-3.json"), b"\xfe\xff").unwrap();
        let mut f = Fence::open(&d, shard, STALE).unwrap();
        assert_eq!(f.plan().unwrap(), None);
        assert_eq!(f.check().unwrap(), FenceState::Active);
        assert_eq!(f.plan().unwrap().map(|p| p.replicas), Some(4));
        for name in ["shards.json", "alive-0-of-3.json"] {
            assert!(
                f.bad_files
                    .iter()
                    .any(|b| b.contains(name) && b.contains("will be replaced")),
                "{name}: {:?}",
                f.bad_files
            );
        }
        drop(f);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn two_replicas_given_the_same_k_on_two_hosts_do_not_both_read() {
        let d = dir("twin");
        let shard = Shard { index: 1, count: 2 };
        let mut a = Fence::open(&d, shard, STALE).unwrap();
        assert_eq!(a.check().unwrap(), FenceState::Active);
        let mut b = Fence::open(&d, shard, STALE).unwrap();
        b.host = "other-host".into();
        match b.check().unwrap() {
            FenceState::Waiting(why) => {
                assert!(why.contains("give each replica its own K"), "{why}")
            }
            s => panic!("{s:?}"),
        }
        // A restart on the same host is no twin.
        let mut again = Fence::open(&d, shard, STALE).unwrap();
        assert_eq!(again.check().unwrap(), FenceState::Active);
        drop((a, again));
        fs::remove_dir_all(&d).unwrap();
    }
}
