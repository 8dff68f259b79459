//! The resource folders found by the last discovery walk, kept in
//! `<checkpoint_dir>/state/resources.json` with when they were walked and the rediscovery
//! interval, so a `--once` run (cron, Fluent Bit `exec`) lists only the recent hours of the
//! known folders and skips the walk until rediscovery is due. Shared by every replica of a
//! sharded `tail` (one walk per interval serves them all); replaced atomically.
//!
//! A damaged file, or one written for another account, container list or prefix, is not
//! used: it is reported where and why, and a fresh walk replaces it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fence::STATE_DIR;
use crate::atomic::write_atomic;

pub const DISCOVERED_VERSION: u32 = 1;

/// What the last walk found, and for what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovered {
    pub version: u32,
    /// The storage account, containers and prefix walked: another set makes the file foreign.
    pub account: String,
    pub containers: Vec<String>,
    pub prefix: String,
    /// Unix seconds of the walk.
    pub walked_at: u64,
    /// `rediscover_secs` at the time of the walk (the run's own setting decides).
    pub rediscover_secs: f64,
    /// (container, resource folder) pairs.
    pub resources: Vec<(String, String)>,
    /// Containers that did not exist.
    pub missing: Vec<String>,
}

/// Why the stored walk was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// No file yet.
    Absent,
    /// Older than the rediscovery interval (or empty): walk again, nothing to report.
    Due,
    /// Damaged, foreign or from the future: walk again and report this text.
    Bad(String),
}

/// The file in a checkpoint directory.
pub fn path_in(checkpoint_dir: &Path) -> PathBuf {
    checkpoint_dir.join(STATE_DIR).join("resources.json")
}

impl Discovered {
    /// The stored walk of `account`/`containers`/`prefix` if it is younger than
    /// `rediscover_secs` at `now` (unix seconds).
    pub fn load(
        checkpoint_dir: &Path,
        account: &str,
        containers: &[String],
        prefix: &str,
        rediscover_secs: f64,
        now: u64,
    ) -> Result<Discovered, Stale> {
        let path = path_in(checkpoint_dir);
        let bad = |why: String| {
            Stale::Bad(format!(
                "{} {why}: not used; the resource folders are walked again and the file replaced",
                path.display()
            ))
        };
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Stale::Absent),
            Err(e) => return Err(bad(format!("cannot be read ({e})"))),
        };
        let d: Discovered = serde_json::from_slice(&text)
            .map_err(|e| bad(format!("is damaged or not nsgflow's ({e})")))?;
        if d.version != DISCOVERED_VERSION {
            return Err(bad(format!(
                "has version {}, not {DISCOVERED_VERSION}",
                d.version
            )));
        }
        if d.account != account || d.containers != containers || d.prefix != prefix {
            return Err(bad(format!(
                "is the walk of account {} containers {} prefix {:?}, not of account {account} containers {} prefix {prefix:?}",
                d.account,
                d.containers.join(","),
                d.prefix,
                containers.join(",")
            )));
        }
        if d.walked_at > now + 300 {
            return Err(bad(format!(
                "was walked at {} s, {} s in the future (a clock was wrong)",
                d.walked_at,
                d.walked_at - now
            )));
        }
        if d.resources.is_empty() || (now.saturating_sub(d.walked_at) as f64) >= rediscover_secs {
            return Err(Stale::Due);
        }
        Ok(d)
    }

    /// Seconds until rediscovery is due at `now`.
    pub fn due_in(&self, rediscover_secs: f64, now: u64) -> f64 {
        rediscover_secs - now.saturating_sub(self.walked_at) as f64
    }

    /// Replaces the file atomically.
    pub fn save(&self, checkpoint_dir: &Path) -> Result<(), String> {
        let path = path_in(checkpoint_dir);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let json = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        write_atomic(&path, &json).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_is_used_until_due_and_bad_or_foreign_files_say_so() {
        let dir = std::env::temp_dir().join(format!("nsgflow-disc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let c = vec!["insights-logs-networksecuritygroupflowevent".to_string()];
        let load = |now| Discovered::load(&dir, "acct", &c, "", 3600.0, now);
        assert_eq!(load(1000), Err(Stale::Absent));
        let d = Discovered {
            version: DISCOVERED_VERSION,
            account: "acct".into(),
            containers: c.clone(),
            prefix: String::new(),
            walked_at: 1000,
            rediscover_secs: 3600.0,
            resources: vec![(c[0].clone(), "resourceId=/SUBSCRIPTIONS/S/NSG-A/".into())],
            missing: vec![],
        };
        d.save(&dir).unwrap();
        assert_eq!(load(1000 + 3599).as_ref(), Ok(&d));
        assert_eq!(d.due_in(3600.0, 1000 + 3599), 1.0);
        assert_eq!(load(1000 + 3600), Err(Stale::Due));
        // Another account or prefix: foreign, said so.
        match Discovered::load(&dir, "other", &c, "", 3600.0, 1001) {
            Err(Stale::Bad(why)) => assert!(
                why.contains("account acct") && why.contains("walked again"),
                "{why}"
            ),
            r => panic!("{r:?}"),
        }
        match Discovered::load(&dir, "acct", &c, "resourceId=/X/", 3600.0, 1001) {
            Err(Stale::Bad(why)) => assert!(why.contains("prefix"), "{why}"),
            r => panic!("{r:?}"),
        }
        // From the future: a clock was wrong.
        assert!(matches!(load(10), Err(Stale::Bad(w)) if w.contains("future")));
        // Damaged.
        fs::write(path_in(&dir), "{\"version\":1,").unwrap();
        assert!(matches!(load(1001), Err(Stale::Bad(w)) if w.contains("damaged")));
        fs::remove_dir_all(&dir).unwrap();
    }
}
