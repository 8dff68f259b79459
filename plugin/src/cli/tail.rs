//! `nsgflow tail`: flow logs straight from Azure Blob Storage, through the same engine as
//! `process`. Streaming (the default) polls until stopped and writes NDJSON to stdout, for
//! Vector's `exec` source; `--once` reads what is new and exits, for Fluent Bit's `exec`
//! input or cron. Checkpoints make both resume where they stopped.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nsgflow::aggregate::FlushReason;
use nsgflow::blob::auth::Credentials;
use nsgflow::blob::client::{BlobClient, Counters};
use nsgflow::blob::poll::{BlobSource, PollError};
use nsgflow::blob::retry::RetryPolicy;
use nsgflow::blob::shard::SHARD_ENV;
use nsgflow::pipeline::FlushError;

use super::signals::Signals;
use super::{AggregateArgs, CommonArgs, Open};

#[derive(clap::Args)]
pub struct TailArgs {
    /// Read what is new once and exit (for Fluent Bit's exec input or cron); without it,
    /// poll until stopped (for Vector's exec source).
    #[arg(long)]
    once: bool,
    /// A container to read (repeatable) [default: the NSG and VNet flow-log containers].
    #[arg(long = "container")]
    containers: Vec<String>,
    /// Only blobs under this prefix, e.g. `resourceId=/SUBSCRIPTIONS/<id>/`.
    #[arg(long)]
    prefix: Option<String>,
    /// Where per-blob checkpoints are kept [default: nsgflow-checkpoints].
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Hours to list, the current one included [default: 2].
    #[arg(long)]
    lookback_hours: Option<u32>,
    /// Seconds between polls when streaming [default: 60].
    #[arg(long)]
    poll_interval: Option<f64>,
    /// Blobs fetched at once [default: 4].
    #[arg(long)]
    concurrency: Option<usize>,
    /// The blob endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1 (with an account
    /// and key or SAS from the environment) [default: from the connection string].
    #[arg(long)]
    endpoint: Option<String>,
    /// Read as replica K of N (0-based; K may be a StatefulSet pod name ending in -K):
    /// each resource folder goes to one replica by rendezvous hashing of its resource ID.
    /// All replicas share one checkpoint directory [env: NSGFLOW_SHARD; config:
    /// azure_blob.shard; default: one reader].
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
    /// Aggregates come out as windows close; blob checkpoints wait for the windows
    /// holding their tuples, so a crash repeats reads and loses nothing.
    #[command(flatten)]
    aggregation: AggregateArgs,
    /// Most bytes read before a checkpoint [default: 4 MiB].
    #[arg(long, hide = true)]
    batch_bytes: Option<u64>,
    /// Stop after this many polls (tests).
    #[arg(long, hide = true)]
    max_polls: Option<u64>,
}

pub fn run(args: TailArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let mut resolved = args.common.resolve(&args.aggregation)?;
    let config = &mut resolved.config;
    let mut cfg = config.azure_blob.clone();
    if !args.containers.is_empty() {
        cfg.containers = args.containers.clone();
    }
    if let Some(p) = args.prefix {
        cfg.prefix = p;
    }
    if let Some(d) = args.checkpoint_dir {
        cfg.checkpoint_dir = d;
    }
    if let Some(h) = args.lookback_hours {
        cfg.lookback_hours = h;
    }
    if let Some(i) = args.poll_interval {
        cfg.poll_interval_secs = i;
    }
    if let Some(c) = args.concurrency {
        cfg.concurrency = c;
    }
    if let Some(b) = args.batch_bytes {
        cfg.batch_bytes = b;
    }
    if let Some(e) = args.endpoint {
        cfg.endpoint = Some(e);
    }
    // --shard, else NSGFLOW_SHARD, else the config's azure_blob.shard.
    if let Some(s) = args.shard {
        nsgflow::blob::shard::Shard::parse(&s).map_err(|e| format!("--shard: {e}"))?;
        cfg.shard = Some(s);
    } else if let Some(s) = std::env::var(SHARD_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        nsgflow::blob::shard::Shard::parse(&s).map_err(|e| format!("{SHARD_ENV}: {e}"))?;
        cfg.shard = Some(s);
    }
    // BlobSource::new validates again where the runtime state is built; checked here first
    // so a mistake in the config is reported before missing credentials are.
    cfg.validate()?;
    let creds = Credentials::resolve(&cfg, |k| std::env::var(k).ok())?;
    let client = BlobClient::new(
        creds,
        RetryPolicy {
            retries: cfg.retries,
            base: Duration::from_millis(cfg.backoff_ms),
            cap: Duration::from_secs(30),
        },
        Duration::from_secs_f64(cfg.timeout_secs),
    );

    // Reputation feeds, topology and aggregation apply to blob reads as to files.
    let mut pipeline = resolved.pipeline(Open::Append)?;
    let output = &resolved.output;
    let quiet = args.common.quiet;
    // With aggregation, SIGINT/SIGTERM emit the open windows and write the held
    // checkpoints before the process ends (without it, every batch is already complete).
    let signals = if pipeline.aggregates() {
        Some(Signals::install()?)
    } else {
        None
    };
    let interval = Duration::from_secs_f64(cfg.poll_interval_secs);
    let mut source = BlobSource::new(&client, cfg)?;

    let mut failed = false;
    let mut interrupted = None;
    let mut polls = 0u64;
    // One-shot: poll again (at most 3 times) while blobs changed under the reader.
    let mut again = 0;
    loop {
        let poll_started = Instant::now();
        let report = source.poll(&mut pipeline);
        polls += 1;
        let report = match report {
            Ok(r) => r,
            Err(PollError::OutputClosed) => return Ok(ExitCode::SUCCESS),
            Err(PollError::Fatal(e)) => return Err(e),
        };
        failed |= report.has_errors();
        for m in &report.messages {
            eprintln!("nsgflow: {m}");
        }
        if pipeline.output_failed() {
            // The reader of our output went away (Vector stopped): end quietly.
            return Ok(ExitCode::SUCCESS);
        }
        if !quiet && !args.once && report.batches > 0 {
            eprintln!(
                "nsgflow: poll {polls}: {} batches, {} events so far",
                report.batches, pipeline.engine.stats.events
            );
        }
        if let Some(sig) = signals.as_ref().and_then(Signals::received) {
            interrupted = Some(sig);
            break;
        }
        if args.max_polls.is_some_and(|m| polls >= m) {
            break;
        }
        if args.once {
            if report.unfinished > 0 && again < 3 {
                again += 1;
                continue;
            }
            break;
        }
        if let Some(rest) = interval.checked_sub(poll_started.elapsed()) {
            sleep(rest, signals.as_ref());
        }
    }
    // Open windows go out, then the checkpoints they held back.
    pipeline.finish(if interrupted.is_some() {
        FlushReason::Shutdown
    } else {
        FlushReason::EndOfInput
    });
    match pipeline.flush() {
        Ok(()) => {}
        Err(FlushError::OutputClosed) => return Ok(ExitCode::SUCCESS),
        Err(FlushError::Events(e)) => return Err(format!("writing events to {output}: {e}")),
        Err(e) => return Err(e.to_string()),
    }
    source.save_all(&pipeline).map_err(|e| e.to_string())?;
    if !quiet {
        let c = &client.counters;
        let s = &source.stats;
        eprintln!(
            "{}; azure: replica {}, {} resources read, {} folder walks, {} polls, {} blobs listed, {} changed, {} blocks read, {} checkpoints, {} rewrites ({} blocks skipped, at most {} duplicate records), {} requests ({} retries), {} blob bytes downloaded, {} listing bytes",
            pipeline.engine.stats.summary(started.elapsed()),
            source.shard(),
            s.resources_owned,
            s.walks,
            s.polls,
            s.blobs_listed,
            s.blobs_changed,
            s.blocks_read,
            s.checkpoints,
            s.rewrites,
            s.rewrite_blocks_skipped,
            s.possible_duplicates,
            Counters::get(&c.requests),
            Counters::get(&c.retries),
            c.range_bytes.load(Ordering::Relaxed),
            c.metadata_bytes.load(Ordering::Relaxed),
        );
    }
    Ok(super::exit_code(
        interrupted,
        "open windows were written, then the checkpoints",
        failed,
    ))
}

/// Sleeps `d`, waking early for a signal.
fn sleep(d: Duration, signals: Option<&Signals>) {
    let Some(signals) = signals else {
        return std::thread::sleep(d);
    };
    let until = Instant::now() + d;
    while signals.received().is_none() {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
}
