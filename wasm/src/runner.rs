//! The in_exec_wasi program: every run (a fresh instance each time), read what is new in
//! the flow-log files under the accessible directories and print one NDJSON event per
//! flow tuple on stdout.
//!
//! - Config: `nsgflow.yaml` in the first accessible directory holding one (the engine's
//!   config: `format`, `networks`, `splunk`, `community_id_seed`, `inputs`,
//!   `dead_letter`); none means the defaults.
//! - Inputs: the config's `inputs` (relative paths are taken from the config's directory),
//!   else every accessible directory but the config's own (unless it is the only one),
//!   walked for `*.json`, `*.ndjson`, `*.jsonl`.
//! - Checkpoint: `.nsgflow-checkpoint.json` beside the config (else in the first
//!   accessible directory), written atomically after the events are flushed. Each file is
//!   read from where the last run stopped ([`nsgflow::checkpoint`]).
//! - Dead letters: to the `dead_letter` file (appended), else to stderr, one JSON line
//!   each. A summary line goes to stderr.
//!
//! Exit status: 0, or 1 when an input could not be read or is not a flow log, or 2 when
//! the config or checkpoint cannot be used (nothing is read then).

use std::io::Write;
use std::path::{Path, PathBuf};

use nsgflow::aggregate::FlushReason;
use nsgflow::checkpoint::{finish_run, run_inputs, Checkpoint, InputRun, RunHooks};
use nsgflow::input::{self, Input};
use nsgflow::output::DeadLetterWriter;

use crate::config::{self, CHECKPOINT_FILE, DETECT_STATE_FILE};

/// What a run did, for the summary and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub files: usize,
    pub files_with_news: usize,
    pub events: u64,
    pub rejected: u64,
    pub pending_bytes: u64,
    /// Alerts raised (with `detect: {enabled: true}`); they are among `events`.
    pub alerts: u64,
    /// Files not started because the run reached `max_events_per_run`: the next run
    /// reads them.
    pub deferred: usize,
    pub errors: Vec<String>,
}

/// One run over `dirs` (the accessible directories): events to `stdout`, messages and
/// (without a `dead_letter` file) dead letters to `stderr`. Returns the exit status.
pub fn run<O: Write, E: Write + Send + 'static>(
    dirs: &[PathBuf],
    stdout: O,
    stderr: E,
) -> (i32, RunReport) {
    let stderr = SharedErr::new(stderr);
    let mut report = RunReport::default();
    let fail = |msg: String, report: RunReport| {
        let _ = writeln!(stderr.clone(), "nsgflow-wasi: {msg}");
        (2, report)
    };
    let (mut config, config_path) = match config::load(dirs) {
        Ok(c) => c,
        Err(e) => return fail(e, report),
    };
    if let Some(o) = config.output.as_deref().filter(|o| *o != "-") {
        return fail(format!("`output: {o}` is not supported here: in_exec_wasi reads the events from stdout; remove `output` from {}", config::CONFIG_FILE), report);
    }
    let Some(state_dir) = config::state_dir(config_path.as_deref(), dirs) else {
        return fail("no accessible directory: set accessible_paths to the folder holding the flow logs (and nsgflow.yaml)".into(), report);
    };
    let base = config_path
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(&state_dir)
        .to_path_buf();
    let cp_path = state_dir.join(CHECKPOINT_FILE);
    let mut checkpoint = match Checkpoint::load(&cp_path) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string(), report),
    };
    let dead_path = config.dead_letter.as_deref().map(|p| base.join(p));
    let dead_out: Box<dyn Write + Send> = match &dead_path {
        None => Box::new(stderr.clone()),
        Some(p) => match nsgflow::output::open_file(&p.display().to_string(), true) {
            Ok(f) => Box::new(f),
            Err(e) => {
                return fail(
                    format!(
                        "dead_letter {}: {e} (is it under accessible_paths?)",
                        p.display()
                    ),
                    report,
                )
            }
        },
    };
    let dead = DeadLetterWriter::new(Some(dead_out));

    let roots: Vec<String> = if config.inputs.is_empty() {
        // Every accessible directory but the one holding the config (and, maybe, feeds
        // and topology files), unless it is the only one.
        let data: Vec<&PathBuf> = dirs
            .iter()
            .filter(|d| Some(d.as_path()) != config_path.as_deref().and_then(Path::parent))
            .collect();
        let data = if data.is_empty() {
            dirs.iter().collect()
        } else {
            data
        };
        data.iter().map(|d| d.display().to_string()).collect()
    } else {
        config
            .inputs
            .iter()
            .map(|i| base.join(i).display().to_string())
            .collect()
    };
    let (inputs, input_errors) = input::expand(&roots);
    if inputs.is_empty() && input_errors.is_empty() {
        let _ = writeln!(
            stderr.clone(),
            "nsgflow-wasi: warning: nothing to read: no *.json, *.ndjson or *.jsonl file in {} (check accessible_paths and that the blobs are synced there)",
            roots.join(", ")
        );
    }
    for e in input_errors {
        report.errors.push(e.to_string());
    }

    // Detection (`detect: {enabled: true}`): alerts go into stdout with the events (tell
    // them apart by `kind` / `event.kind`); its state is kept beside the checkpoint, since
    // every run is a fresh instance.
    if let Some(a) = config.alerts.as_deref().filter(|a| *a != "-") {
        return fail(format!("`alerts: {a}` is not supported here: in_exec_wasi reads alerts from stdout with the events (route them on `kind`); remove `alerts` from {}", config::CONFIG_FILE), report);
    }
    config.alerts = None;
    if config.detect.enabled {
        config.detect_state = Some(
            config
                .detect_state
                .as_deref()
                .map(|p| base.join(p))
                .unwrap_or_else(|| state_dir.join(DETECT_STATE_FILE)),
        );
    }

    // Reputation feeds, topology and service tags are read from their files (give their
    // paths under accessible_paths) on every run.
    let mut pipeline = match config.pipeline(stdout, dead) {
        Ok(p) => p,
        Err(e) => return fail(format!("{}: {e}", config::CONFIG_FILE), report),
    };
    let inputs: Vec<Input> = inputs
        .into_iter()
        .filter(|i| !matches!((i, dead_path.as_deref()), (Input::File(p), Some(d)) if p == d))
        .collect();
    let mut hooks = Hooks {
        report: &mut report,
        max_events: config.max_events_per_run,
    };
    run_inputs(&mut pipeline, Some(&mut checkpoint), &inputs, &mut hooks);
    report.rejected = pipeline.engine.stats.rejected_total();
    // Each run is a fresh instance: its aggregation windows close at its end (a window
    // that spans runs comes out as one aggregate per run). Events first, then the
    // checkpoint: a crash in between repeats events, never loses them.
    let done = finish_run(
        &mut pipeline,
        Some((&mut checkpoint, &cp_path)),
        FlushReason::EndOfInput,
    );
    report.events = pipeline.lines();
    report.alerts = pipeline
        .engine
        .stats
        .detection
        .as_ref()
        .map_or(0, |d| d.alerts.values().sum());
    if let Err(e) = done {
        return fail(format!("cannot write events: {e}"), report);
    }
    let mut err = stderr.clone();
    for e in &report.errors {
        let _ = writeln!(err, "nsgflow-wasi: {e}");
    }
    let _ = writeln!(
        err,
        "nsgflow-wasi: {} files ({} with new data), {} events, {} rejected, {} bytes pending (unfinished records, read next run){}",
        report.files,
        report.files_with_news,
        report.events,
        report.rejected,
        report.pending_bytes,
        match pipeline.engine.stats.detection.as_ref() {
            Some(d) => format!(", {d}"),
            None => String::new(),
        }
    );
    if report.deferred > 0 {
        let _ = writeln!(
            err,
            "nsgflow-wasi: max_events_per_run reached: {} files left for the next run",
            report.deferred
        );
    }
    (i32::from(!report.errors.is_empty()), report)
}

/// The runner's side of the run loop: the report, and the `max_events_per_run` cap.
struct Hooks<'a> {
    report: &'a mut RunReport,
    max_events: Option<u64>,
}

impl<W: Write> RunHooks<W> for Hooks<'_> {
    fn begin(&mut self, _name: &str) {
        self.report.files += 1;
    }

    // The cap is checked between files: the file a run is in is read to its end.
    fn defer(&mut self, lines: u64) -> bool {
        let defer = self.max_events.is_some_and(|cap| lines >= cap);
        if defer {
            self.report.deferred += 1;
        }
        defer
    }

    fn done(&mut self, name: &str, run: InputRun) {
        let report = &mut *self.report;
        match run {
            InputRun::Unchanged => {}
            InputRun::Read { pending, .. } => {
                report.files_with_news += 1;
                report.pending_bytes += pending;
            }
            InputRun::NotFlowLog(why) => {
                report.files_with_news += 1;
                report.errors.push(format!("{name}: not a flow log: {why}"));
            }
            InputRun::Failed(e) => report.errors.push(e),
        }
    }
}

/// stderr, shared between the dead-letter writer and the messages.
struct SharedErr<E>(std::sync::Arc<std::sync::Mutex<E>>);

impl<E> Clone for SharedErr<E> {
    fn clone(&self) -> Self {
        SharedErr(self.0.clone())
    }
}

impl<E: Write> SharedErr<E> {
    fn new(e: E) -> Self {
        SharedErr(std::sync::Arc::new(std::sync::Mutex::new(e)))
    }
}

impl<E: Write> Write for SharedErr<E> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut e) => e.write(buf),
            Err(_) => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.lock() {
            Ok(mut e) => e.flush(),
            Err(_) => Ok(()),
        }
    }
}
