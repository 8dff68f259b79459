//! The `nsgflow` command: a thin front end over the library.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use nsgflow::config::{Config, Progress};
use nsgflow::encode::{encoder, Format};
use nsgflow::engine::{EncodeLines, Engine, InputOutcome};
use nsgflow::event::Enricher;
use nsgflow::input::{self, Input};
use nsgflow::output::{DeadLetterWriter, EventWriter};

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
        File::create(target)
            .map(|f| Box::new(f) as Box<dyn Write + Send>)
            .map_err(|e| {
                format!("cannot create {target}: {e} (check the directory exists and is writable)")
            })
    }
}

fn process(args: ProcessArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
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
    let mut engine = Engine::new(Enricher::new(
        config.classifier(),
        config.community_id_seed.unwrap_or(0),
    ));

    let (inputs, errors) = input::expand(&paths);
    let mut failed = !errors.is_empty();
    for e in &errors {
        eprintln!("nsgflow: error: {e}");
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
    for inp in &inputs {
        if writer.failed() {
            break;
        }
        let name = inp.name();
        bar.set_message(name.clone());
        let outcome = match inp {
            Input::File(path) => {
                if let Err(e) = input::read_file(path, &mut buf) {
                    eprintln!("nsgflow: error: {name}: cannot read: {e}");
                    engine.stats.failed_inputs += 1;
                    failed = true;
                    continue;
                }
                match input::as_text(&buf) {
                    Ok(text) => {
                        let mut h = EncodeLines {
                            encoder: enc.as_mut(),
                            writer: &mut writer,
                        };
                        engine.process(&name, text, &mut h, &mut dead)
                    }
                    Err(why) => {
                        engine.stats.inputs += 1;
                        engine.stats.failed_inputs += 1;
                        InputOutcome::NotFlowLog(why)
                    }
                }
            }
            Input::Stdin => process_stdin(&mut engine, enc.as_mut(), &mut writer, &mut dead, &bar)?,
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
    if !args.quiet {
        eprintln!("{}", engine.stats.summary(started.elapsed()));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads stdin as a stream: records are processed as soon as they are complete, so NDJSON
/// piped in from a follower flows through without waiting for the end of input.
fn process_stdin<W: Write>(
    engine: &mut Engine,
    enc: &mut dyn nsgflow::encode::Encode,
    writer: &mut EventWriter<W>,
    dead: &mut DeadLetterWriter,
    bar: &ProgressBar,
) -> Result<InputOutcome, String> {
    let mut stdin = io::stdin().lock();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut record_index = 0usize;
    let mut total = 0usize;
    let mut summary = nsgflow::record::WalkSummary::default();
    // Retry a cut-off value only once the buffer has grown past this (avoids rescanning a
    // large pretty-printed blob for every chunk).
    let mut retry_at = 0usize;
    loop {
        let n = match stdin.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading stdin: {e}")),
        };
        total += n;
        bar.inc(n as u64);
        pending.extend_from_slice(&chunk[..n]);
        if pending.len() < retry_at {
            continue;
        }
        // Only whole lines: a chunk may end inside a multi-byte character.
        let Some(last_nl) = pending.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        let text = input::as_text(&pending[..=last_nl]).map_err(|e| format!("stdin: {e}"))?;
        let mut h = EncodeLines {
            encoder: &mut *enc,
            writer: &mut *writer,
        };
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
    let mut h = EncodeLines {
        encoder: enc,
        writer,
    };
    let (s, _) = engine.process_part("-", text, record_index, false, &mut h, dead);
    summary.add(&s);
    Ok(engine.finish_input(total, summary))
}
