//! `nsgflow process`: files, directories or stdin through the pipeline, optionally
//! incrementally (`--checkpoint`), with a progress bar and SIGINT/SIGTERM handling.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use nsgflow::aggregate::FlushReason;
use nsgflow::checkpoint::{finish_run, Checkpoint, InputRun, RunError, RunHooks};
use nsgflow::config::ProgressMode;
use nsgflow::input::{self, Input};
use nsgflow::parallel;
use nsgflow::pipeline::{FlushError, Pipeline};

use super::signals::{Signal, Signals};
use super::{AggregateArgs, CommonArgs, Open};

#[derive(clap::Args)]
pub struct ProcessArgs {
    /// Files, directories (walked recursively for *.json, *.ndjson, *.jsonl) or - for stdin.
    paths: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
    /// Progress bar on stderr [default: auto: on a terminal only].
    #[arg(long, value_enum)]
    progress: Option<ProgressMode>,
    /// Read files incrementally, remembering in this file how far each was read: each run
    /// emits only what is new (for a folder synced by azcopy or mounted with blobfuse).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Worker threads [default: the available cores]: each reads and processes whole files
    /// or record ranges of large blobs (with --aggregate they make the tuples and this
    /// thread folds them into windows in input order). Output is written in input order,
    /// byte for byte that of one thread; with detection or stdin alone the run uses one
    /// thread (user guide: Operations, Threads).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    #[command(flatten)]
    aggregation: AggregateArgs,
}

pub fn run(args: ProcessArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let resolved = args.common.resolve(&args.aggregation)?;
    let config = &resolved.config;
    let progress = args.progress.or(config.progress).unwrap_or_default();
    let paths = super::input_paths(args.paths, config)?;

    let mut pipeline = resolved.pipeline(Open::Create)?;
    let config = &resolved.config;
    let signals = Signals::install()?;

    let checkpoint_path = args.checkpoint.clone().or(config.checkpoint.clone());
    let mut checkpoint = checkpoint_path
        .as_deref()
        .map(Checkpoint::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    if checkpoint.is_some() && paths.iter().any(|p| p == "-") {
        return Err("--checkpoint reads files incrementally; it cannot remember how far stdin was read: name files or directories instead of -".into());
    }
    let (inputs, errors) = input::expand(&paths);
    for e in &errors {
        eprintln!("nsgflow: error: {e}");
    }
    if inputs.is_empty() && errors.is_empty() {
        // Said even with --quiet: a pipeline that ships nothing must say why.
        eprintln!(
            "nsgflow: warning: nothing to read: no *.json, *.ndjson or *.jsonl file in {}",
            paths.join(", ")
        );
    }

    let bar = progress_bar(progress, &inputs);
    let file_bar = bar.clone();
    pipeline.engine.progress = Some(Box::new(move |bytes| file_bar.inc(bytes)));
    let mut hooks = Hooks {
        bar: &bar,
        signals: &signals,
        interrupted: None,
        failed: !errors.is_empty(),
        error: None,
    };
    let threads = args
        .threads
        .map_or_else(parallel::available_threads, usize::from);
    let report = parallel::run_inputs(
        &mut pipeline,
        checkpoint.as_mut(),
        &inputs,
        &mut hooks,
        &parallel::Options::new(threads),
    );
    bar.finish_and_clear();
    // A thread panicked: loud, non-zero, and no checkpoint saved.
    let report = report?;
    if let Some(e) = hooks.error {
        return Err(e);
    }
    let (interrupted, failed) = (hooks.interrupted, hooks.failed);

    let reason = if interrupted.is_some() {
        FlushReason::Shutdown
    } else {
        FlushReason::EndOfInput
    };
    let closed = pipeline.output_failed();
    let cp = checkpoint.as_mut().zip(checkpoint_path.as_deref());
    match finish_run(&mut pipeline, cp, reason) {
        Ok(()) if closed => return Ok(ExitCode::SUCCESS),
        Ok(()) => {}
        // The reader of the events went away: not a failure, the run just ends.
        Err(RunError::Flush(FlushError::OutputClosed)) => return Ok(ExitCode::SUCCESS),
        Err(_) if closed => return Ok(ExitCode::SUCCESS),
        Err(RunError::Flush(FlushError::Events(e))) => {
            return Err(format!("writing events to {}: {e}", resolved.output))
        }
        Err(e) => return Err(e.to_string()),
    }
    if !args.common.quiet {
        let summary = pipeline.engine.stats.summary(started.elapsed());
        match report.workers {
            0 => eprintln!("{summary}"),
            n => eprintln!("{summary}, {n} worker threads"),
        }
    }
    Ok(super::exit_code(
        interrupted,
        "everything read so far was written",
        failed,
    ))
}

fn progress_bar(mode: ProgressMode, inputs: &[Input]) -> ProgressBar {
    let show = match mode {
        ProgressMode::Always => true,
        ProgressMode::Never => false,
        ProgressMode::Auto => io::stderr().is_terminal(),
    };
    if !show {
        return ProgressBar::hidden();
    }
    let total: u64 = inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Input::Stdin => 0,
        })
        .sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The command line's side of the run loop: messages, the bar, signals, stdin.
struct Hooks<'a> {
    bar: &'a ProgressBar,
    signals: &'a Signals,
    interrupted: Option<Signal>,
    failed: bool,
    /// A fatal error (stdin could not be read).
    error: Option<String>,
}

impl<W: Write> RunHooks<W> for Hooks<'_> {
    fn stop(&mut self) -> bool {
        if self.interrupted.is_none() {
            self.interrupted = self.signals.received();
        }
        self.interrupted.is_some() || self.error.is_some()
    }

    fn begin(&mut self, name: &str) {
        self.bar.set_message(name.to_string());
    }

    fn done(&mut self, name: &str, run: InputRun) {
        match run {
            InputRun::Unchanged => {}
            InputRun::Failed(e) => {
                self.failed = true;
                self.bar.suspend(|| eprintln!("nsgflow: error: {e}"));
            }
            InputRun::NotFlowLog(why) => {
                self.failed = true;
                self.bar
                    .suspend(|| eprintln!("nsgflow: error: {name}: not a flow log: {why}"));
            }
            InputRun::Read {
                incomplete,
                restarted,
                ..
            } => {
                if restarted {
                    self.bar.suspend(|| eprintln!("nsgflow: warning: {name}: not the file the checkpoint saw (replaced or truncated): read again from its start, so its earlier events are repeated"));
                }
                // An unfinished last record of a checkpointed file is not a warning: the
                // next run reads it.
                if incomplete {
                    self.bar.suspend(|| eprintln!("nsgflow: warning: {name}: ends inside a record or before its closing `]}}` (a blob still being written?); the complete records were read, the tail is counted as `incomplete`"));
                }
            }
        }
    }

    fn stdin(&mut self, pipeline: &mut Pipeline<W>) -> InputRun {
        match super::stdin::process(pipeline, self.bar, self.signals) {
            Ok((outcome, sig)) => {
                self.interrupted = self.interrupted.or(sig);
                outcome.into()
            }
            Err(e) => {
                self.error = Some(e);
                InputRun::Unchanged
            }
        }
    }
}
