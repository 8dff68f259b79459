//! The commands, and what they share: the common flags and their one resolver over the
//! config, opening outputs, signals and stdin.

pub mod process;
pub mod signals;
pub mod stdin;
pub mod tail;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use nsgflow::aggregate::{KeySpec, Seconds};
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow::output::DeadLetterWriter;
use nsgflow::pipeline::Pipeline;

/// Flags every command takes.
#[derive(clap::Args)]
pub struct CommonArgs {
    /// Output schema [default: flat].
    #[arg(long, short, value_enum)]
    pub format: Option<Format>,
    /// Where events go: a file, or - for stdout [default: -].
    #[arg(long, short)]
    pub output: Option<String>,
    /// Where rejected records and tuples go, as NDJSON (a file, or - for stdout).
    #[arg(long)]
    pub dead_letter: Option<String>,
    /// A YAML config file (see docs/config.example.yaml); flags given here win over it.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// No summary line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The aggregation flags (`process` and `tail`).
#[derive(clap::Args)]
pub struct AggregateArgs {
    /// Emit one aggregate per key and window instead of one event per tuple.
    #[arg(long)]
    pub aggregate: bool,
    /// Aggregation window: 60s (default), 10m, 1h, or whole seconds.
    #[arg(long, value_name = "DURATION")]
    pub window: Option<Seconds>,
    /// Aggregation key: 5tuple (default), traffic-analytics, or fields (dst_ip,dst_port,protocol).
    #[arg(long, value_name = "KEY")]
    pub key: Option<KeySpec>,
}

/// How a command opens its output files.
#[derive(Clone, Copy)]
pub enum Open {
    /// Replace the file (`process`).
    Create,
    /// Append to it (`tail`, which runs again and again).
    Append,
}

/// The config with the common flags over it, and where events go.
pub struct Resolved {
    pub config: Config,
    /// Where events go (`-` is stdout), for messages.
    pub output: String,
}

impl CommonArgs {
    /// Loads the config (or the defaults) and lays the flags over it: the one place
    /// where flags win over the config.
    pub fn resolve(&self, args: &AggregateArgs) -> Result<Resolved, String> {
        let mut config = match &self.config {
            Some(path) => Config::load(path).map_err(|e| e.to_string())?,
            None => Config::default(),
        };
        if self.format.is_some() {
            config.format = self.format;
        }
        if self.dead_letter.is_some() {
            config.dead_letter = self.dead_letter.clone();
        }
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
        let output = self
            .output
            .clone()
            .or(config.output.clone())
            .unwrap_or_else(|| "-".into());
        Ok(Resolved { config, output })
    }
}

impl Resolved {
    /// The pipeline the config describes, with its outputs opened.
    pub fn pipeline(&self, open: Open) -> Result<Pipeline<Box<dyn Write + Send>>, String> {
        let out = open_writer(&self.output, open)?;
        let dead = DeadLetterWriter::new(
            self.config
                .dead_letter
                .as_deref()
                .map(|d| open_writer(d, open))
                .transpose()?,
        );
        self.config.pipeline(out, dead)
    }
}

/// Opens `target` (or stdout for `-`), creating its parent folders first.
pub fn open_writer(target: &str, open: Open) -> Result<Box<dyn Write + Send>, String> {
    if target == "-" {
        return Ok(Box::new(io::stdout()));
    }
    let append = matches!(open, Open::Append);
    nsgflow::output::open_file(target, append).map(|f| Box::new(f) as Box<dyn Write + Send>)
}

/// The exit status: 128 + the signal that stopped the run (saying `what` was done about
/// it), else 1 when something `failed`, else 0.
pub fn exit_code(interrupted: Option<signals::Signal>, what: &str, failed: bool) -> ExitCode {
    if let Some(sig) = interrupted {
        eprintln!("nsgflow: stopped by {}: {what}", sig.name());
        return ExitCode::from(128 + sig.number());
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
