//! `nsgflow report`: the same inputs, enrichment and detection as `process`, into one
//! self-contained HTML page instead of events. The report model is a tap on the same
//! pipeline, with no event output (`Output::Discard`); it also receives the alerts of the
//! detection stage (`--detect`).

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use nsgflow::aggregate::FlushReason;
use nsgflow::checkpoint::run_inputs;
use nsgflow::output::DeadLetterWriter;
use nsgflow::report::html::{self, PageInfo};
use nsgflow::report::{ReportTap, Summary};
use nsgflow::time::parse_utc_ms;

use super::{DetectArgs, EnrichArgs, Open};

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
    detection: DetectArgs,
    #[command(flatten)]
    enrich: EnrichArgs,
}

pub fn run(args: ReportArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let mut config = super::load_config(args.config.as_deref(), &args.enrich)?;
    // The report reads every tuple itself: aggregation settings do not apply.
    config.aggregate.enabled = false;
    args.detection.apply(&mut config)?;
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
    let paths = super::input_paths(args.paths.clone(), &config)?;
    // No event output: every event (and alert) goes to the model; rejections are only
    // counted; alerts also go to `--alerts` when given.
    let mut pipeline = config.pipeline(io::sink(), DeadLetterWriter::new(None))?;
    pipeline.discard_events();
    super::open_alerts(&mut pipeline, &config, Open::Create)?;
    let model = ReportTap::attach(&mut pipeline, rc);
    let (inputs, errors) = nsgflow::input::expand(&paths);
    for e in &errors {
        eprintln!("nsgflow: error: {e}");
    }
    let mut hooks = super::WholeInputHooks {
        failed: !errors.is_empty(),
    };
    run_inputs(&mut pipeline, None, &inputs, &mut hooks);
    pipeline.finish(FlushReason::EndOfInput);
    let failed = hooks.failed;
    let (page, flows) = {
        let model = model.lock();
        let summary = Summary::new(&model, &pipeline.engine.stats);
        let page = html::render(
            &summary,
            &PageInfo {
                title: args.title.clone().unwrap_or_default(),
                inputs: paths.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        );
        (page, summary.totals.total.flows)
    };
    super::write_atomically(&args.output, page.as_bytes())?;
    // The page is written: only now may the alerts file be flushed and the detection
    // state (`--detect-state`) move past the alerts it shows.
    pipeline.flush().map_err(|e| e.to_string())?;
    if !args.quiet {
        let stats = &pipeline.engine.stats;
        eprintln!(
            "{}; report: {} flows, {} written to {} in {:.2} s",
            stats.summary(started.elapsed()),
            flows,
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
