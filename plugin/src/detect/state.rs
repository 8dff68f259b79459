//! `--detect-state FILE`: baselines, learned exposures, open windows and cooldowns, kept
//! between runs so that `nsgflow tail`, `process --checkpoint` from cron and the
//! in_exec_wasi build (a fresh instance every run) keep learning, and a restart does not
//! raise again what it already raised.
//!
//! The file is JSON with a `format` marker, written atomically (a temporary file, then a
//! rename) and only after the output it covers was flushed. A missing file is a fresh
//! start; a file that cannot be read, is not JSON, or is not a detection state is an error
//! naming it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::beaconing::Gaps;
use super::table::{Key, TableState};

type Saved = TableState<Vec<u128>>;
use super::volume_anomaly::Baseline;
use super::Detection;

const FORMAT: &str = "nsgflow-detect-state";
/// Version 2 added `beaconing`; a version 1 file (without it) loads as is.
const VERSION: u32 = 2;
const OLDEST: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    watermark_ms: u64,
    first_ms: u64,
    #[serde(default)]
    tables: BTreeMap<String, Saved>,
    #[serde(default)]
    exposures: Vec<Key>,
    #[serde(default)]
    volume: Vec<(Key, Baseline)>,
    #[serde(default)]
    volume_quiet: Vec<(Key, u64)>,
    #[serde(default)]
    volume_next_sweep_ms: u64,
    #[serde(default)]
    beaconing: Option<TableState<Gaps>>,
}

/// Why a state file could not be used.
fn error(path: &Path, what: &str) -> String {
    format!(
        "detection state {}: {what}; fix or delete it (deleting restarts learning: baselines and known exposures are lost)",
        path.display()
    )
}

impl Detection {
    /// Loads `path` into this stage. `Ok(false)`: no file, a fresh start.
    pub fn load_state(&mut self, path: &Path) -> Result<bool, String> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(error(path, &format!("cannot read it: {e}"))),
        };
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| error(path, &format!("not JSON ({e}); is it truncated?")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(error(
                path,
                &format!("not an nsgflow detection state (no \"format\": \"{FORMAT}\"; a checkpoint file, perhaps?)"),
            ));
        }
        let s: StateFile =
            serde_json::from_value(value).map_err(|e| error(path, &format!("damaged: {e}")))?;
        if !(OLDEST..=VERSION).contains(&s.version) {
            return Err(error(
                path,
                &format!(
                    "version {} is not one this nsgflow reads ({OLDEST} to {VERSION}; a newer nsgflow wrote it?)",
                    s.version
                ),
            ));
        }
        self.watermark_ms = s.watermark_ms;
        self.first_ms = s.first_ms;
        let mut tables = s.tables;
        for (name, t) in self.tables_mut() {
            if let Some(saved) = tables.remove(name) {
                t.restore(saved);
            }
        }
        if let Some(x) = self.new_exposure.as_mut() {
            x.seen.clear();
            for k in s.exposures {
                x.seen.insert(k, ());
            }
        }
        if let Some(v) = self.volume_anomaly.as_mut() {
            v.keys.clear();
            for (k, b) in s.volume {
                v.keys.insert(k, b);
            }
            v.quiet_until = s.volume_quiet.into_iter().collect();
            v.next_sweep_ms = s.volume_next_sweep_ms;
            v.reindex();
        }
        if let (Some(b), Some(saved)) = (self.beaconing.as_mut(), s.beaconing) {
            b.table.restore(saved);
        }
        Ok(true)
    }

    /// Writes the state atomically: to `<path>.tmp`, synced, then renamed over `path`.
    /// Call it only after the events and alerts it covers were flushed.
    pub fn save_state(&mut self, path: &Path) -> Result<(), String> {
        let mut tables = BTreeMap::new();
        for (name, t) in self.tables_mut() {
            tables.insert(name.to_string(), t.to_state());
        }
        let exposures: Vec<Key> = self
            .new_exposure
            .as_ref()
            .map(|x| x.seen.sorted().into_iter().map(|e| e.0).collect())
            .unwrap_or_default();
        let (volume, mut volume_quiet, next) = match &self.volume_anomaly {
            Some(v) => (
                v.keys.sorted(),
                v.quiet_until
                    .iter()
                    .map(|(k, u)| (*k, *u))
                    .collect::<Vec<_>>(),
                v.next_sweep_ms,
            ),
            None => (Vec::new(), Vec::new(), 0),
        };
        volume_quiet.sort_by_key(|q| (q.0.order(), q.1));
        let s = StateFile {
            format: FORMAT.into(),
            version: VERSION,
            watermark_ms: self.watermark_ms,
            first_ms: self.first_ms,
            tables,
            exposures,
            volume,
            volume_quiet,
            volume_next_sweep_ms: next,
            beaconing: self.beaconing.as_ref().map(|b| b.table.to_state()),
        };
        let json = serde_json::to_vec(&s).map_err(|e| error(path, &e.to_string()))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| error(path, &format!("cannot write it: {e}")))
    }

    fn tables_mut(&mut self) -> Vec<(&'static str, &mut dyn Saving)> {
        let mut v = Vec::new();
        if let Some(d) = self.port_scan.as_mut() {
            v.push(("port_scan", &mut d.table as &mut dyn Saving));
        }
        if let Some(d) = self.sweep.as_mut() {
            v.push(("sweep", &mut d.table as &mut dyn Saving));
        }
        if let Some(d) = self.deny_burst.as_mut() {
            v.push(("deny_burst", &mut d.table as &mut dyn Saving));
        }
        if let Some(d) = self.fanout.as_mut() {
            v.push(("fanout", &mut d.table as &mut dyn Saving));
        }
        if let Some(d) = self.malicious_flow.as_mut() {
            v.push(("malicious_flow", &mut d.table as &mut dyn Saving));
        }
        v
    }
}

/// A table that saves to and restores from the state file's `tables` (a distinct set, or
/// nothing, per slot: the file's shape is the same for both).
trait Saving {
    fn to_state(&self) -> Saved;
    fn restore(&mut self, s: Saved);
}

impl Saving for super::Table<super::table::Distinct> {
    fn to_state(&self) -> Saved {
        super::Table::to_state(self)
    }
    fn restore(&mut self, s: Saved) {
        super::Table::restore(self, s)
    }
}

impl Saving for super::Table<()> {
    fn to_state(&self) -> Saved {
        super::Table::to_state(self)
    }
    fn restore(&mut self, s: Saved) {
        super::Table::restore(self, s)
    }
}
