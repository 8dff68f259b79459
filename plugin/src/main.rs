//! The `nsgflow` command: a thin front end over the library.

use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use nsgflow::aggregate::{Aggregation, EventsOrAggregates, FlushReason, KeySpec, Seconds};
use nsgflow::checkpoint::{process_file, Checkpoint, FileRun};
use nsgflow::config::{Config, Progress};
use nsgflow::encode::{encoder, Encode, Format};
use nsgflow::engine::{Engine, InputOutcome};
use nsgflow::input::{self, Input};
use nsgflow::output::{DeadLetterWriter, EventWriter};
use nsgflow::reputation::FeedConfig;

#[derive(Parser)]
#[command(
    name = "nsgflow",
    version,
    about = "Azure NSG and VNet flow logs to one labelled event per flow, for any SIEM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Explode flow-log blobs, records or NDJSON into one event per flow tuple.
    Process(ProcessArgs),
    /// Read flow logs straight from Azure Blob Storage, only the new blocks of each blob.
    Tail(cli::tail::TailArgs),
}

mod cli {
    pub mod tail;
}

#[derive(clap::Args)]
struct ProcessArgs {
    /// Files, directories (walked recursively for *.json, *.ndjson, *.jsonl) or - for stdin.
    paths: Vec<String>,
    /// Output schema [default: flat].
    #[arg(long, short, value_enum)]
    format: Option<FormatArg>,
    /// Where events go: a file, or - for stdout [default: -].
    #[arg(long, short)]
    output: Option<String>,
    /// Where rejected records and tuples go, as NDJSON (file, or - for stdout).
    #[arg(long)]
    dead_letter: Option<String>,
    /// A YAML config file (see docs/config.example.yaml); flags given here win over it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Progress bar on stderr [default: auto: on a terminal only].
    #[arg(long, value_enum)]
    progress: Option<ProgressArg>,
    /// No summary line on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Read files incrementally, remembering in this file how far each was read: each run
    /// emits only what is new (for a folder synced by azcopy or mounted with blobfuse).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Emit one aggregate per key and window instead of one event per tuple.
    #[arg(long)]
    aggregate: bool,
    /// Aggregation window: 60s (default), 10m, 1h, or whole seconds.
    #[arg(long, value_name = "DURATION")]
    window: Option<Seconds>,
    /// Aggregation key: 5tuple (default), traffic-analytics, or fields (dst_ip,dst_port,protocol).
    #[arg(long, value_name = "KEY")]
    key: Option<KeySpec>,
    /// A threat feed file, [NAME=]PATH, format guessed from the name (repeat for more).
    #[arg(long = "feeds", value_name = "[NAME=]PATH")]
    feeds: Vec<String>,
    /// Your VNets, subnets and gateways (YAML), for FlowType.
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// Azure's ServiceTags_Public_*.json, to recognise Microsoft addresses.
    #[arg(long, value_name = "FILE")]
    service_tags: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FormatArg {
    Flat,
    Ecs,
    Splunk,
    Ocsf,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Flat => Format::Flat,
            FormatArg::Ecs => Format::Ecs,
            FormatArg::Splunk => Format::Splunk,
            FormatArg::Ocsf => Format::Ocsf,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ProgressArg {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Process(args) => match process(args) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("nsgflow: error: {message}");
                ExitCode::from(1)
            }
        },
        Command::Tail(args) => match cli::tail::run(args) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("nsgflow: error: {message}");
                ExitCode::from(1)
            }
        },
    }
}

fn open_writer(target: &str) -> Result<Box<dyn Write + Send>, String> {
    if target == "-" {
        Ok(Box::new(io::stdout()))
    } else {
        nsgflow::output::open_file(target, false).map(|f| Box::new(f) as Box<dyn Write + Send>)
    }
}

fn process(args: ProcessArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if args.aggregate {
        config.aggregate.enabled = true;
    }
    if (args.window.is_some() || args.key.is_some()) && !config.aggregate.enabled {
        return Err(
            "--window and --key shape aggregation, which is off: add --aggregate (or `aggregate: {enabled: true}` in the config)".into(),
        );
    }
    if let Some(w) = args.window {
        config.aggregate.window = w;
    }
    if let Some(k) = args.key {
        config.aggregate.key = k;
    }
    if !args.feeds.is_empty() {
        config.reputation.feeds = args
            .feeds
            .iter()
            .map(|f| FeedConfig::from_arg(f))
            .collect::<Result<_, _>>()?;
    }
    if args.topology.is_some() {
        config.topology = args.topology.clone();
    }
    if args.service_tags.is_some() {
        config.service_tags = args.service_tags.clone();
    }
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
    let progress = match args.progress {
        Some(ProgressArg::Auto) => Progress::Auto,
        Some(ProgressArg::Always) => Progress::Always,
        Some(ProgressArg::Never) => Progress::Never,
        None => config.progress.unwrap_or_default(),
    };
    let paths = if args.paths.is_empty() {
        config.inputs.clone()
    } else {
        args.paths
    };
    if paths.is_empty() {
        return Err(
            "no input: name files, directories or - (stdin), or set `inputs` in the config".into(),
        );
    }

    let mut writer = EventWriter::new(open_writer(&output)?);
    let mut dead = DeadLetterWriter::new(dead_letter.as_deref().map(open_writer).transpose()?);
    let mut enc = encoder(format, &config.encode_options());
    let mut engine = Engine::new(config.enricher()?);
    let mut aggregation = config
        .aggregate
        .enabled
        .then(|| Aggregation::new(&config.aggregate, engine.enricher.clone()));
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
    let mut failed = !errors.is_empty();
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

    let show_bar = match progress {
        Progress::Always => true,
        Progress::Never => false,
        Progress::Auto => io::stderr().is_terminal(),
    };
    let total: u64 = inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Input::Stdin => 0,
        })
        .sum();
    let bar = if show_bar {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let file_bar = bar.clone();
    engine.progress = Some(Box::new(move |bytes| file_bar.inc(bytes)));
    let mut buf = Vec::new();
    let mut interrupted = None;
    for inp in &inputs {
        if writer.failed() {
            break;
        }
        if let Some(sig) = signals.received() {
            interrupted = Some(sig);
            break;
        }
        let name = inp.name();
        bar.set_message(name.clone());
        let outcome = match inp {
            Input::File(path) if checkpoint.is_some() => {
                let cp = checkpoint.as_mut().expect("checked above");
                let mut h = EventsOrAggregates::new(&mut aggregation, enc.as_mut(), &mut writer);
                match process_file(&mut engine, cp, path, &mut buf, &mut h, &mut dead) {
                    Ok(FileRun::Unchanged) => continue,
                    // An unfinished last record is not an error here: the next run reads it.
                    Ok(FileRun::Read {
                        restarted,
                        not_flow_log,
                        ..
                    }) => {
                        if restarted {
                            bar.suspend(|| eprintln!("nsgflow: warning: {name}: not the file the checkpoint saw (replaced or truncated): read again from its start, so its earlier events are repeated"));
                        }
                        match not_flow_log {
                            Some(why) => InputOutcome::NotFlowLog(why),
                            None => InputOutcome::Read { incomplete: false },
                        }
                    }
                    Err(e) => {
                        eprintln!("nsgflow: error: {e}");
                        engine.stats.failed_inputs += 1;
                        failed = true;
                        continue;
                    }
                }
            }
            Input::File(path) => {
                if let Err(e) = input::read_file(path, &mut buf) {
                    eprintln!("nsgflow: error: {name}: cannot read: {e}");
                    engine.stats.failed_inputs += 1;
                    failed = true;
                    continue;
                }
                match input::as_text(&buf) {
                    Ok(text) => {
                        let mut h =
                            EventsOrAggregates::new(&mut aggregation, enc.as_mut(), &mut writer);
                        engine.process(&name, text, &mut h, &mut dead)
                    }
                    Err(why) => {
                        engine.stats.inputs += 1;
                        engine.stats.failed_inputs += 1;
                        InputOutcome::NotFlowLog(why)
                    }
                }
            }
            Input::Stdin => {
                let (outcome, sig) = process_stdin(
                    &mut engine,
                    &mut aggregation,
                    enc.as_mut(),
                    &mut writer,
                    &mut dead,
                    &bar,
                    &signals,
                )?;
                interrupted = interrupted.or(sig);
                outcome
            }
        };
        match outcome {
            InputOutcome::NotFlowLog(why) => {
                failed = true;
                bar.suspend(|| eprintln!("nsgflow: error: {name}: not a flow log: {why}"));
            }
            InputOutcome::Read { incomplete: true } => bar.suspend(|| {
                eprintln!("nsgflow: warning: {name}: ends inside a record or before its closing `]}}` (a blob still being written?); the complete records were read, the tail is counted as `incomplete`")
            }),
            InputOutcome::Read { incomplete: false } => {}
        }
    }
    bar.finish_and_clear();

    if let Some(agg) = aggregation.as_mut() {
        let reason = if interrupted.is_some() {
            FlushReason::Shutdown
        } else {
            FlushReason::EndOfInput
        };
        agg.finish(reason, enc.as_mut(), &mut writer);
        engine.stats.aggregation = Some(agg.aggregator.stats);
    }
    let closed = writer.failed();
    if let Err(e) = writer.flush() {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(format!("writing events to {output}: {e}"));
    }
    if closed {
        return Ok(ExitCode::SUCCESS);
    }
    dead.flush()
        .map_err(|e| format!("writing dead letters: {e}"))?;
    // Events and dead letters are flushed: only now may the checkpoint move past them.
    if let (Some(cp), Some(path)) = (checkpoint.as_mut(), checkpoint_path.as_deref()) {
        cp.files
            .retain(|file, _| std::path::Path::new(file).exists());
        cp.save(path).map_err(|e| e.to_string())?;
    }
    if !args.quiet {
        eprintln!("{}", engine.stats.summary(started.elapsed()));
    }
    if let Some(sig) = interrupted {
        eprintln!(
            "nsgflow: stopped by {}: everything read so far was written",
            sig.name()
        );
        return Ok(ExitCode::from(128 + sig.number()));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What the stdin reader and the signal watcher tell the main thread.
enum Msg {
    Data(Vec<u8>),
    Eof,
    Error(String),
    Signal(Signal),
}

/// SIGINT or SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Int,
    Term,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    fn number(self) -> u8 {
        match self {
            Signal::Int => 2,
            Signal::Term => 15,
        }
    }
}

/// SIGINT/SIGTERM, caught so that buffered events and open aggregates are written out
/// before the process ends. A thread waits for them; the main thread checks between
/// inputs, and the stdin loop gets them as messages.
struct Signals {
    got: std::sync::Arc<std::sync::atomic::AtomicU8>,
    subscribers: std::sync::Arc<std::sync::Mutex<Vec<std::sync::mpsc::Sender<Msg>>>>,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Result<Signals, String> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let got = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(0));
        let subscribers: std::sync::Arc<std::sync::Mutex<Vec<std::sync::mpsc::Sender<Msg>>>> =
            Default::default();
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let (g, subs) = (got.clone(), subscribers.clone());
        std::thread::Builder::new()
            .name("nsgflow-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    let s = if sig == SIGINT {
                        Signal::Int
                    } else {
                        Signal::Term
                    };
                    g.store(s.number(), std::sync::atomic::Ordering::SeqCst);
                    if let Ok(subs) = subs.lock() {
                        for tx in subs.iter() {
                            let _ = tx.send(Msg::Signal(s));
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the signal thread: {e}"))?;
        Ok(Signals { got, subscribers })
    }

    #[cfg(not(unix))]
    fn install() -> Result<Signals, String> {
        Ok(Signals {
            got: Default::default(),
            subscribers: Default::default(),
        })
    }

    fn received(&self) -> Option<Signal> {
        match self.got.load(std::sync::atomic::Ordering::SeqCst) {
            2 => Some(Signal::Int),
            15 => Some(Signal::Term),
            _ => None,
        }
    }

    fn subscribe(&self, tx: std::sync::mpsc::Sender<Msg>) {
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx);
        }
    }
}

/// Reads stdin as a stream: records are processed as soon as they are complete, so NDJSON
/// piped in from a follower flows through without waiting for the end of input. A reader
/// thread feeds chunks through a channel, so a signal is handled even while stdin is idle:
/// the complete records already read are processed, and the caller flushes.
#[allow(clippy::too_many_arguments)]
fn process_stdin<W: Write>(
    engine: &mut Engine,
    aggregation: &mut Option<Aggregation>,
    enc: &mut dyn Encode,
    writer: &mut EventWriter<W>,
    dead: &mut DeadLetterWriter,
    bar: &ProgressBar,
    signals: &Signals,
) -> Result<(InputOutcome, Option<Signal>), String> {
    let (tx, rx) = std::sync::mpsc::channel::<Msg>();
    signals.subscribe(tx.clone());
    std::thread::Builder::new()
        .name("nsgflow-stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut chunk = vec![0u8; 1 << 20];
            loop {
                let msg = match stdin.read(&mut chunk) {
                    Ok(0) => Msg::Eof,
                    Ok(n) => Msg::Data(chunk[..n].to_vec()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Msg::Error(format!("reading stdin: {e}")),
                };
                let last = !matches!(msg, Msg::Data(_));
                if tx.send(msg).is_err() || last {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start the stdin reader: {e}"))?;
    let mut pending: Vec<u8> = Vec::new();
    let mut record_index = 0usize;
    let mut total = 0usize;
    let mut summary = nsgflow::record::WalkSummary::default();
    let mut interrupted = signals.received();
    // Retry a cut-off value only once the buffer has grown past this (avoids rescanning a
    // large pretty-printed blob for every chunk).
    let mut retry_at = 0usize;
    while interrupted.is_none() {
        let data = match rx.recv() {
            Ok(Msg::Data(d)) => d,
            Ok(Msg::Eof) | Err(_) => break,
            Ok(Msg::Error(e)) => return Err(e),
            Ok(Msg::Signal(s)) => {
                interrupted = Some(s);
                break;
            }
        };
        total += data.len();
        bar.inc(data.len() as u64);
        pending.extend_from_slice(&data);
        if pending.len() < retry_at {
            continue;
        }
        // Only whole lines: a chunk may end inside a multi-byte character.
        let Some(last_nl) = pending.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        let text = input::as_text(&pending[..=last_nl]).map_err(|e| format!("stdin: {e}"))?;
        let mut h = EventsOrAggregates::new(aggregation, &mut *enc, &mut *writer);
        let (s, consumed) = engine.process_part("-", text, record_index, true, &mut h, dead);
        summary.add(&s);
        record_index = s.next_record_index;
        pending.drain(..consumed);
        retry_at = if consumed == 0 { pending.len() * 2 } else { 0 };
        if writer.failed() {
            break;
        }
    }
    let text = input::as_text(&pending).map_err(|e| format!("stdin: {e}"))?;
    let mut h = EventsOrAggregates::new(aggregation, enc, writer);
    // On a signal, the complete records are processed; a partial last one is `incomplete`.
    let (s, _) = engine.process_part("-", text, record_index, false, &mut h, dead);
    summary.add(&s);
    Ok((engine.finish_input(total, summary), interrupted))
}
