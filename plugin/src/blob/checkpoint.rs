//! Per-blob checkpoints: which committed blocks of a blob have been read and their events
//! written. One small JSON file per blob, replaced atomically (temp file, fsync, rename,
//! fsync of the directory), and only after the events of those blocks were flushed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::blocks::{content_hash, SeenBlock};
use crate::atomic::write_atomic;

/// The state of one blob.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobCheckpoint {
    /// Format version of this file.
    pub version: u32,
    pub container: String,
    pub blob: String,
    /// The etag of the blob version the blocks were read from.
    pub etag: String,
    /// Bytes of the blob read (the sum of `blocks` sizes): where the next read starts.
    pub offset: u64,
    /// Records read so far (numbers records in dead letters).
    pub records: u64,
    /// The committed blocks read, in order (the tail block is never among them).
    pub blocks: Vec<SeenBlock>,
    /// While a rewritten blob is re-read: blocks read before the rewrite that are not met
    /// again yet. A block with the same bytes is skipped (its events are out already).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite_skip: Vec<SeenBlock>,
}

pub const CHECKPOINT_VERSION: u32 = 1;

impl BlobCheckpoint {
    pub fn new(container: &str, blob: &str) -> BlobCheckpoint {
        BlobCheckpoint {
            version: CHECKPOINT_VERSION,
            container: container.into(),
            blob: blob.into(),
            ..Default::default()
        }
    }
}

/// The directory of checkpoint files.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
}

impl CheckpointStore {
    /// Opens (and creates) the directory.
    pub fn open(dir: &Path) -> Result<CheckpointStore, String> {
        fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the checkpoint directory {}: {e} (set azure_blob.checkpoint_dir or --checkpoint-dir to a writable place)",
                dir.display()
            )
        })?;
        // Temp files of a run killed mid-write: the checkpoint they were to replace is
        // still whole, so they are only litter. Not those of live writers: replicas can
        // share the directory (see `atomic::is_litter`).
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                let age = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok());
                if crate::atomic::is_litter(&name, age) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(CheckpointStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The file of a blob: a hash of its container and name (names are long and hold `/`).
    pub fn path_of(&self, container: &str, blob: &str) -> PathBuf {
        let key = content_hash(format!("{container}/{blob}").as_bytes());
        let leaf = blob.rsplit('/').next().unwrap_or("blob");
        self.dir.join(format!("{key}-{}.json", sanitize(leaf)))
    }

    /// The checkpoint of a blob; `None` if it was never read.
    pub fn load(&self, container: &str, blob: &str) -> Result<Option<BlobCheckpoint>, String> {
        let path = self.path_of(container, blob);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read checkpoint {}: {e}", path.display())),
        };
        let cp: BlobCheckpoint = serde_json::from_str(&text).map_err(|e| {
            format!(
                "checkpoint {} of {container}/{blob} is damaged ({e}); move it away to re-read that blob from its start",
                path.display()
            )
        })?;
        if cp.container != container || cp.blob != blob {
            return Err(format!(
                "checkpoint {} belongs to {}/{}, not {container}/{blob}; move it away",
                path.display(),
                cp.container,
                cp.blob
            ));
        }
        Ok(Some(cp))
    }

    /// Replaces the checkpoint of a blob atomically: a crash leaves the old or the new one.
    pub fn save(&self, cp: &BlobCheckpoint) -> Result<(), String> {
        let path = self.path_of(&cp.container, &cp.blob);
        let json = serde_json::to_vec(cp).map_err(|e| format!("encoding checkpoint: {e}"))?;
        write_atomic(&path, &json).map_err(|e| {
            format!(
                "cannot write checkpoint {}: {e} (is the disk full?)",
                path.display()
            )
        })
    }

    /// Deletes checkpoint files last written more than `age` ago; returns how many.
    pub fn prune_older_than(&self, age: std::time::Duration) -> Result<usize, String> {
        let now = std::time::SystemTime::now();
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| format!("cannot list checkpoints in {}: {e}", self.dir.display()))?;
        let mut n = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            if !name.to_string_lossy().ends_with(".json") {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|d| d > age);
            if old && fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_and_replaces() {
        let dir = std::env::temp_dir().join(format!("nsgflow-cp-{}", std::process::id()));
        let store = CheckpointStore::open(&dir).unwrap();
        let blob = "resourceId=/SUBSCRIPTIONS/X/y=2026/m=03/d=02/h=10/m=00/macAddress=00224884D0E2/PT1H.json";
        assert_eq!(store.load("c", blob).unwrap(), None);
        let mut cp = BlobCheckpoint::new("c", blob);
        cp.etag = "\"0x1\"".into();
        cp.offset = 112;
        cp.blocks.push(SeenBlock {
            id: "aGVhZA==".into(),
            size: 12,
            hash: content_hash(b"{\"records\":["),
        });
        store.save(&cp).unwrap();
        assert_eq!(store.load("c", blob).unwrap().as_ref(), Some(&cp));
        cp.offset = 200;
        store.save(&cp).unwrap();
        assert_eq!(store.load("c", blob).unwrap().unwrap().offset, 200);
        // No temp files left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(store
            .path_of("c", blob)
            .to_string_lossy()
            .ends_with("-PT1H.json.json"));
        // Pruning: nothing is a day old; everything is older than zero seconds.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            store.prune_older_than(std::time::Duration::from_secs(86_400)),
            Ok(0)
        );
        assert!(store.load("c", blob).unwrap().is_some());
        assert_eq!(store.prune_older_than(std::time::Duration::ZERO), Ok(1));
        assert_eq!(store.load("c", blob).unwrap(), None);
        store.save(&cp).unwrap();
        // A damaged file is an error that says what to do, not a silent restart.
        fs::write(store.path_of("c", blob), "{\"version\":").unwrap();
        let e = store.load("c", blob).unwrap_err();
        assert!(e.contains("damaged") && e.contains("move it away"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
