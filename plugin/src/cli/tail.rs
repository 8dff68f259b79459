//! `nsgflow tail`: flow logs straight from Azure Blob Storage, through the same engine as
//! `process`. Streaming (the default) polls until stopped and writes NDJSON to stdout, for
//! Vector's `exec` source; `--once` reads what is new and exits, for Fluent Bit's `exec`
//! input or cron. Checkpoints make both resume where they stopped.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nsgflow::blob::auth::Credentials;
use nsgflow::blob::client::{BlobClient, Counters};
use nsgflow::blob::poll::{BlobSource, Sinks, OUTPUT_CLOSED};
use nsgflow::blob::retry::RetryPolicy;
use nsgflow::config::Config;
use nsgflow::encode::{encoder, Format};
use nsgflow::engine::Engine;
use nsgflow::output::{DeadLetterWriter, EventWriter};

use crate::FormatArg;

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
    /// Output schema [default: flat].
    #[arg(long, short, value_enum)]
    format: Option<FormatArg>,
    /// Where events go: a file (appended to), or - for stdout [default: -].
    #[arg(long, short)]
    output: Option<String>,
    /// Where rejected records and tuples go, as NDJSON (a file, appended to).
    #[arg(long)]
    dead_letter: Option<String>,
    /// A YAML config file (its `azure_blob:` section; see docs/config.example.yaml).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Only errors on stderr: no per-poll lines, no summary.
    #[arg(long, short)]
    quiet: bool,
    /// Most bytes read before a checkpoint [default: 4 MiB].
    #[arg(long, hide = true)]
    batch_bytes: Option<u64>,
    /// Stop after this many polls (tests).
    #[arg(long, hide = true)]
    max_polls: Option<u64>,
}

fn open_append(target: &str) -> Result<Box<dyn Write + Send>, String> {
    if target == "-" {
        return Ok(Box::new(io::stdout()));
    }
    nsgflow::output::open_file(target, true).map(|f: File| Box::new(f) as Box<dyn Write + Send>)
}

pub fn run(args: TailArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if config.aggregate.enabled {
        return Err(
            "`aggregate` is set in the config, but `nsgflow tail` does not aggregate yet: \
                    its checkpoints would have to wait for windows to close. Aggregate downstream \
                    (Vector `reduce`), or run `nsgflow process --aggregate` on synced files"
                .into(),
        );
    }
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

    let format = args
        .format
        .map(Format::from)
        .or(config.format)
        .unwrap_or_default();
    let output = args
        .output
        .or(config.output.clone())
        .unwrap_or_else(|| "-".into());
    let dead_letter = args.dead_letter.or(config.dead_letter.clone());
    let mut writer = EventWriter::new(open_append(&output)?);
    let mut dead = DeadLetterWriter::new(dead_letter.as_deref().map(open_append).transpose()?);
    let mut enc = encoder(format, &config.encode_options());
    // Reputation feeds and topology apply to blob reads as to files.
    let mut engine = Engine::new(config.enricher()?);
    let interval = Duration::from_secs_f64(cfg.poll_interval_secs);
    let mut source = BlobSource::new(&client, cfg)?;

    let mut failed = false;
    let mut polls = 0u64;
    // One-shot: poll again (at most 3 times) while blobs changed under the reader.
    let mut again = 0;
    loop {
        let poll_started = Instant::now();
        let report = source.poll(&mut Sinks {
            engine: &mut engine,
            encoder: enc.as_mut(),
            writer: &mut writer,
            dead: &mut dead,
        });
        polls += 1;
        let report = match report {
            Ok(r) => r,
            Err(e) if e == OUTPUT_CLOSED => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(e),
        };
        for m in &report.messages {
            failed |= m.starts_with("error");
            eprintln!("nsgflow: {m}");
        }
        if writer.failed() {
            // The reader of our output went away (Vector stopped): end quietly.
            return Ok(ExitCode::SUCCESS);
        }
        if !args.quiet && !args.once && report.batches > 0 {
            eprintln!(
                "nsgflow: poll {polls}: {} batches, {} events so far",
                report.batches, engine.stats.events
            );
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
            std::thread::sleep(rest);
        }
    }
    writer
        .flush()
        .map_err(|e| format!("writing events to {output}: {e}"))?;
    dead.flush()
        .map_err(|e| format!("writing dead letters: {e}"))?;
    if !args.quiet {
        let c = &client.counters;
        let s = &source.stats;
        eprintln!(
            "{}; azure: {} polls, {} blobs listed, {} changed, {} blocks read, {} checkpoints, {} rewrites ({} blocks skipped, at most {} duplicate records), {} requests ({} retries), {} blob bytes downloaded, {} listing bytes",
            engine.stats.summary(started.elapsed()),
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
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
