//! The commands, and what they share: the common flags and their one resolver over the
//! config, opening outputs, signals and stdin.

pub mod generate;
pub mod harden;
pub mod process;
pub mod report;
pub mod signals;
pub mod stdin;
pub mod tail;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nsgflow::aggregate::{KeySpec, Seconds};
use nsgflow::checkpoint::{process_stdin_whole, InputRun, RunHooks};
use nsgflow::config::Config;
use nsgflow::encode::codec::Codec;
use nsgflow::encode::Format;
use nsgflow::output::DeadLetterWriter;
use nsgflow::pipeline::Pipeline;
use nsgflow::reputation::FeedConfig;

/// Flags every command takes.
#[derive(clap::Args)]
pub struct CommonArgs {
    /// Output schema [default: flat].
    #[arg(long, short, value_enum)]
    pub format: Option<Format>,
    /// How events are written [default: ndjson, one JSON object a line]. For Vector,
    /// json-batch (arrays of 256 events a line; `decoding.codec: json` or `parse_json`)
    /// is decoded fastest; vector-native is for `decoding.codec: native` (user guide:
    /// Vector, Faster feeds).
    #[arg(long, value_enum, value_name = "CODEC")]
    pub codec: Option<Codec>,
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
    #[command(flatten)]
    pub detection: DetectArgs,
    #[command(flatten)]
    pub enrich: EnrichArgs,
}

/// The detection flags (`process`, `tail`, `report`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DetectArgs {
    /// Run the detection stage: alerts for port scans, sweeps, deny bursts, outbound
    /// fan-out, malicious flows (with --feeds), new internet exposure, volume anomalies and
    /// beaconing (user guide: Detection; tune in the config's `detect:` section).
    #[arg(long)]
    pub detect: bool,
    /// Where alerts go: a file, or - for stdout [default: the main output, told apart by
    /// `kind` / `event.kind`].
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<String>,
    /// Keep detection state (baselines, learned exposures, open windows, cooldowns) in FILE
    /// between runs; written atomically after the output is flushed. Missing: a fresh start.
    #[arg(long, value_name = "FILE")]
    pub detect_state: Option<PathBuf>,
}

impl DetectArgs {
    /// Puts the flags given into `config`; `--alerts` and `--detect-state` (or their config
    /// settings) without detection are an error saying how to turn it on.
    pub fn apply(&self, config: &mut Config) -> Result<(), String> {
        if self.detect {
            config.detect.enabled = true;
        }
        if self.alerts.is_some() {
            config.alerts = self.alerts.clone();
        }
        if self.detect_state.is_some() {
            config.detect_state = self.detect_state.clone();
        }
        if (config.alerts.is_some() || config.detect_state.is_some()) && !config.detect.enabled {
            return Err(
                "--alerts and --detect-state belong to detection, which is off: add --detect (or `detect: {enabled: true}` in the config)".into(),
            );
        }
        Ok(())
    }
}

/// The enrichment flags every command takes (`process`, `tail`, `report`): feeds,
/// topology, service tags and geography. Each wins over its config-file setting.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EnrichArgs {
    /// A threat feed file, [NAME=]PATH, format guessed from the name (repeat for more).
    #[arg(long = "feeds", value_name = "[NAME=]PATH")]
    pub feeds: Vec<String>,
    /// Your VNets, subnets and gateways (YAML), for FlowType.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Azure's ServiceTags_Public_*.json, to recognise Microsoft addresses.
    #[arg(long, value_name = "FILE")]
    pub service_tags: Option<PathBuf>,
    /// A MaxMind-format country database (.mmdb): country of public addresses.
    #[arg(long, value_name = "FILE")]
    pub geoip_country: Option<PathBuf>,
    /// ASN ranges as CSV (start,end,asn,organisation); repeat for IPv4 and IPv6 files.
    #[arg(long, value_name = "FILE")]
    pub geoip_asn: Vec<PathBuf>,
}

impl EnrichArgs {
    /// Puts the flags given into `config`.
    fn apply(&self, config: &mut Config) -> Result<(), String> {
        if !self.feeds.is_empty() {
            config.reputation.feeds = self
                .feeds
                .iter()
                .map(|f| FeedConfig::from_arg(f))
                .collect::<Result<_, _>>()?;
        }
        if self.topology.is_some() {
            config.topology = self.topology.clone();
        }
        if self.service_tags.is_some() {
            config.service_tags = self.service_tags.clone();
        }
        if self.geoip_country.is_some() {
            config.geoip.country = self.geoip_country.clone();
        }
        if !self.geoip_asn.is_empty() {
            config.geoip.asn = self.geoip_asn.clone();
        }
        Ok(())
    }
}

/// Loads the config file (or the defaults) and lays the enrichment flags over it: the
/// start of every command's resolver.
pub fn load_config(path: Option<&Path>, enrich: &EnrichArgs) -> Result<Config, String> {
    let mut config = match path {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    enrich.apply(&mut config)?;
    Ok(config)
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
        let mut config = load_config(self.config.as_deref(), &self.enrich)?;
        if self.format.is_some() {
            config.format = self.format;
        }
        if self.codec.is_some() {
            config.codec = self.codec;
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
        self.detection.apply(&mut config)?;
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
        let mut pipeline = self.config.pipeline(out, dead)?;
        open_alerts(&mut pipeline, &self.config, open)?;
        Ok(pipeline)
    }
}

/// Sends the pipeline's alerts to the config's `alerts` target (`--alerts`), when one is set.
pub fn open_alerts<W: Write>(
    pipeline: &mut Pipeline<W>,
    config: &Config,
    open: Open,
) -> Result<(), String> {
    if let Some(target) = &config.alerts {
        pipeline.set_alerts_writer(target.clone(), open_writer(target, open)?);
    }
    Ok(())
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

/// The inputs named on the command line, or else the config's `inputs`; none at all is an
/// error saying what to give.
pub fn input_paths(given: Vec<String>, config: &Config) -> Result<Vec<String>, String> {
    let paths = if given.is_empty() {
        config.inputs.clone()
    } else {
        given
    };
    if paths.is_empty() {
        return Err(
            "no input: name files, directories or - (stdin), or set `inputs` in the config".into(),
        );
    }
    Ok(paths)
}

/// The run loop's side for the commands that answer only once all of their input is read
/// (`report`, `harden`): a message per failed or unfinished input, and stdin read whole.
pub struct WholeInputHooks {
    /// An input could not be read, or is not a flow log: the command exits 1.
    pub failed: bool,
}

impl<W: Write> RunHooks<W> for WholeInputHooks {
    fn done(&mut self, name: &str, run: InputRun) {
        match run {
            InputRun::Unchanged => {}
            InputRun::Failed(e) => {
                self.failed = true;
                eprintln!("nsgflow: error: {e}");
            }
            InputRun::NotFlowLog(why) => {
                self.failed = true;
                eprintln!("nsgflow: error: {name}: not a flow log: {why}");
            }
            InputRun::Read { incomplete, .. } => {
                if incomplete {
                    eprintln!("nsgflow: warning: {name}: ends inside a record (a blob still being written?); the complete records were read, the tail is counted as `incomplete`");
                }
            }
        }
    }

    fn stdin(&mut self, pipeline: &mut Pipeline<W>) -> InputRun {
        process_stdin_whole(pipeline)
    }
}

/// Writes `bytes` to `target` (- for stdout): a file is written next to its final name and
/// renamed over it, so a reader never sees half a report or half a rule set.
pub fn write_atomically(target: &str, bytes: &[u8]) -> Result<(), String> {
    if target == "-" {
        let mut out = io::stdout().lock();
        return match out.write_all(bytes).and_then(|_| out.flush()) {
            // The reader (`| head`) has what it wanted.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(format!("writing to stdout: {e}")),
            Ok(()) => Ok(()),
        };
    }
    let path = std::path::Path::new(target);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            format!("cannot write {target}: {e} (check the directory exists and is writable)")
        })
}
