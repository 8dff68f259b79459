//! `nsgflow report`: the same inputs and enrichment as `process`, into one self-contained
//! HTML page instead of events. The report model is one more event handler.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use nsgflow::config::Config;
use nsgflow::engine::{Engine, InputOutcome};
use nsgflow::input::{self, Input};
use nsgflow::output::DeadLetterWriter;
use nsgflow::report::html::{self, PageInfo};
use nsgflow::report::{ReportModel, Summary};
use nsgflow::time::parse_utc_ms;

use super::enrich_args::EnrichArgs;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Files, directories (walked recursively for *.json, *.ndjson, *.jsonl) or - for stdin.
    paths: Vec<String>,
    /// The HTML file to write (- for stdout).
    #[arg(long, short, value_name = "FILE")]
    output: String,
    /// A YAML config file (see docs/config.example.yaml); flags given here win over it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Only flows at or after this UTC time (2026-03-02, 2026-03-02T10:00, ...).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Only flows before this UTC time.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Rows in each "top" table [default: 10].
    #[arg(long, value_name = "N")]
    top: Option<usize>,
    /// The page's title [default: nsgflow report].
    #[arg(long)]
    title: Option<String>,
    /// No summary line on stderr.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    enrich: EnrichArgs,
}

pub fn run(args: ReportArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    args.enrich.apply(&mut config)?;
    // The report reads every tuple itself: aggregation settings do not apply.
    config.aggregate.enabled = false;
    let mut rc = config.report.clone();
    if let Some(n) = args.top {
        if n == 0 {
            return Err("--top 0: give at least 1 row per table".into());
        }
        rc.top = n;
    }
    rc.from_ms = args
        .from
        .as_deref()
        .map(parse_utc_ms)
        .transpose()
        .map_err(|e| format!("--from: {e}"))?;
    rc.to_ms = args
        .to
        .as_deref()
        .map(parse_utc_ms)
        .transpose()
        .map_err(|e| format!("--to: {e}"))?;
    if let (Some(f), Some(t)) = (rc.from_ms, rc.to_ms) {
        if f >= t {
            return Err(format!(
                "--from {} is not before --to {}",
                args.from.unwrap_or_default(),
                args.to.unwrap_or_default()
            ));
        }
    }
    let paths = if args.paths.is_empty() {
        config.inputs.clone()
    } else {
        args.paths.clone()
    };
    if paths.is_empty() {
        return Err(
            "no input: name files, directories or - (stdin), or set `inputs` in the config".into(),
        );
    }
    let mut engine = Engine::new(config.enricher()?);
    let mut model = ReportModel::new(rc);
    let mut dead = DeadLetterWriter::new(None);
    let (inputs, errors) = input::expand(&paths);
    let mut failed = !errors.is_empty();
    for e in &errors {
        eprintln!("nsgflow: error: {e}");
    }
    let mut buf = Vec::new();
    for inp in &inputs {
        let name = inp.name();
        let read = match inp {
            Input::File(path) => input::read_file(path, &mut buf),
            Input::Stdin => {
                buf.clear();
                io::stdin().lock().read_to_end(&mut buf).map(|_| ())
            }
        };
        if let Err(e) = read {
            eprintln!("nsgflow: error: {name}: cannot read: {e}");
            engine.stats.failed_inputs += 1;
            failed = true;
            continue;
        }
        let outcome = match input::as_text(&buf) {
            Ok(text) => engine.process(&name, text, &mut model, &mut dead),
            Err(why) => {
                engine.stats.inputs += 1;
                engine.stats.failed_inputs += 1;
                InputOutcome::NotFlowLog(why)
            }
        };
        match outcome {
            InputOutcome::NotFlowLog(why) => {
                failed = true;
                eprintln!("nsgflow: error: {name}: not a flow log: {why}");
            }
            InputOutcome::Read { incomplete: true } => eprintln!(
                "nsgflow: warning: {name}: ends inside a record (a blob still being written?); the complete records were read, the tail is counted as `incomplete`"
            ),
            InputOutcome::Read { incomplete: false } => {}
        }
    }
    let summary = Summary::new(&model, &engine.stats);
    let page = html::render(
        &summary,
        &PageInfo {
            title: args.title.clone().unwrap_or_default(),
            inputs: paths.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            // Detection (issue 9) fills this once it lands; until then the page says how
            // it will appear.
            alerts: None,
        },
    );
    write_atomically(&args.output, page.as_bytes())?;
    if !args.quiet {
        eprintln!(
            "{}; report: {} flows, {} written to {} in {:.2} s",
            engine.stats.summary(started.elapsed()),
            summary.total.flows,
            html::bytes(page.len() as u64),
            args.output,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the page next to its final name and renames it over, so a reader never sees a
/// half-written report.
fn write_atomically(target: &str, bytes: &[u8]) -> Result<(), String> {
    if target == "-" {
        let mut out = io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|_| out.flush())
            .map_err(|e| format!("writing the report to stdout: {e}"));
    }
    let path = std::path::Path::new(target);
    let tmp = path.with_extension("html.tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            format!("cannot write {target}: {e} (check the directory exists and is writable)")
        })
}
