//! `nsgflow harden`: least-privilege NSG rules from observed traffic, for review (`text`,
//! the default) or to apply (`az`, `bicep`, `terraform`, `json`). Same inputs and
//! enrichment as `process`; the proposal is checked against every observed flow before
//! it is written.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use nsgflow::aggregate::FlushReason;
use nsgflow::checkpoint::{finish_run, run_inputs};
use nsgflow::config::Config;
use nsgflow::encode::{encoder, Format};
use nsgflow::engine::Engine;
use nsgflow::harden::tap::HardenTap;
use nsgflow::harden::{
    self, period::parse_time, Destinations, Harden, HardenConfig, Observations, OutputFormat,
};
use nsgflow::input;
use nsgflow::output::{DeadLetterWriter, EventWriter};
use nsgflow::pipeline::{Output, Pipeline};

use super::{open_writer, Open};

#[derive(clap::Args)]
pub struct HardenArgs {
    /// Files, directories (walked recursively for *.json, *.ndjson, *.jsonl) or - for stdin.
    paths: Vec<String>,
    /// A YAML config file (inputs, networks, topology, service tags; see docs/config.example.yaml).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Only flows at or after this UTC time (2026-03-01 or 2026-03-01T00:00:00Z).
    #[arg(long, value_name = "T")]
    from: Option<String>,
    /// Only flows before this UTC time.
    #[arg(long, value_name = "T")]
    to: Option<String>,
    /// Output: a review table (text, the default), json, az, bicep or terraform.
    #[arg(long, short, value_enum, default_value = "text")]
    format: HardenFormat,
    /// Where the output goes: a file, or - for stdout [default: -].
    #[arg(long, short)]
    output: Option<String>,
    /// Propose outbound rules as well (inbound only by default).
    #[arg(long)]
    outbound: bool,
    /// The current rules (`az network nsg show` or `az network nsg list` JSON), to flag
    /// rules the period never hit and use the NSGs' exact names.
    #[arg(long, value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// Destinations as single hosts, or subnets where 2+ hosts of one share a need [default: subnets].
    #[arg(long, value_enum)]
    destinations: Option<DestinationsArg>,
    /// Warn when the observed period is shorter than this many days [default: 7].
    #[arg(long, value_name = "DAYS")]
    min_days: Option<f64>,
    /// Only NSGs in this resource group (a Bicep file deploys to one).
    #[arg(long, value_name = "NAME")]
    resource_group: Option<String>,
    /// Your VNets, subnets and gateways (YAML): subnet and VNet sources and destinations.
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// Azure's ServiceTags_Public_*.json: service-tag sources.
    #[arg(long, value_name = "FILE")]
    service_tags: Option<PathBuf>,
    /// Where rejected records and tuples go, as NDJSON (a file, or - for stdout); they are
    /// always counted in the summary.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<String>,
    /// No summary line on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum HardenFormat {
    Text,
    Json,
    Az,
    Bicep,
    Terraform,
}

#[derive(Clone, Copy, ValueEnum)]
enum DestinationsArg {
    Hosts,
    Subnets,
}

pub fn run(args: HardenArgs) -> Result<ExitCode, String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if args.topology.is_some() {
        config.topology = args.topology.clone();
    }
    if args.service_tags.is_some() {
        config.service_tags = args.service_tags.clone();
    }
    let from_ms = args
        .from
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(|e| format!("--from: {e}"))?;
    let to_ms = args
        .to
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(|e| format!("--to: {e}"))?;
    if let (Some(f), Some(t)) = (from_ms, to_ms) {
        if f >= t {
            return Err("--from must be before --to".into());
        }
    }
    let mut hc = HardenConfig {
        outbound: args.outbound,
        ..HardenConfig::default()
    };
    if let Some(d) = args.destinations {
        hc.destinations = match d {
            DestinationsArg::Hosts => Destinations::Hosts,
            DestinationsArg::Subnets => Destinations::Subnets,
        };
    }
    if let Some(d) = args.min_days {
        hc.min_days = d;
    }
    let existing = args
        .rules
        .iter()
        .map(|p| harden::load_rules(p))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let (topology, tags) =
        harden::load_context(config.topology.as_deref(), config.service_tags.as_deref())?;
    let hardener = Harden::new(hc, topology.as_ref(), tags.as_ref())?;
    let paths = super::input_paths(args.paths.clone(), &config)?;

    // The same pipeline as `process` (engine, enrichment, dead letters), with harden as
    // a tap; the events themselves are not wanted here (`Output::Discard`: none is
    // encoded, and the writer never sees a byte).
    let dead_letter = args.dead_letter.clone().or(config.dead_letter.clone());
    let dead = DeadLetterWriter::new(
        dead_letter
            .as_deref()
            .map(|d| open_writer(d, Open::Create))
            .transpose()?,
    );
    let sink: Box<dyn Write + Send> = Box::new(io::sink());
    let mut pipeline = Pipeline::new(
        Engine::new(config.enricher()?),
        Output::Discard,
        encoder(Format::Flat, &config.encode_options()),
        EventWriter::new(sink),
        dead,
    );
    let (tap, observed) = HardenTap::new(Observations::new(args.outbound, from_ms, to_ms));
    pipeline.add_tap(Box::new(tap));
    let (inputs, errors) = input::expand(&paths);
    for e in &errors {
        eprintln!("nsgflow: error: {e}");
    }
    let mut hooks = super::WholeInputHooks {
        failed: !errors.is_empty(),
    };
    run_inputs(&mut pipeline, None, &inputs, &mut hooks);
    finish_run(&mut pipeline, None, FlushReason::EndOfInput).map_err(|e| e.to_string())?;
    let failed = hooks.failed;
    let engine = &pipeline.engine;
    let obs = observed
        .lock()
        .map_err(|_| "the harden stage failed while reading".to_string())?;

    let mut proposal = hardener.propose(&obs, &existing);
    if let Some(rg) = &args.resource_group {
        proposal.nsgs.retain(|n| {
            n.nsg
                .resource_group
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(rg))
        });
        if proposal.nsgs.is_empty() {
            return Err(format!(
                "--resource-group {rg}: no NSG with observed traffic in that resource group"
            ));
        }
    }
    let check = harden::check(&hardener, &obs, &proposal);
    if !check.allowed_denied.is_empty() || !check.denied_allowed.is_empty() {
        // A bug, never expected: refuse to write rules that break the safety properties.
        return Err(format!(
            "internal check failed: the proposal would deny {} observed allowed flows (first: {:?}) and allow {} observed denied ones (first: {:?}); please report this",
            check.allowed_denied.len(),
            check.allowed_denied.first(),
            check.denied_allowed.len(),
            check.denied_allowed.first()
        ));
    }
    let format = match args.format {
        HardenFormat::Text => OutputFormat::Text,
        HardenFormat::Json => OutputFormat::Json,
        HardenFormat::Az => OutputFormat::Az,
        HardenFormat::Bicep => OutputFormat::Bicep,
        HardenFormat::Terraform => OutputFormat::Terraform,
    };
    let text = harden::render(&proposal, format)?;
    let target = args.output.clone().unwrap_or_else(|| "-".into());
    super::write_atomically(&target, text.as_bytes())?;
    if !args.quiet {
        let rules: usize = proposal.nsgs.iter().map(|n| n.rules.len()).sum();
        eprintln!(
            "nsgflow harden: {} inputs, {} events ({} allowed, {} denied) over {}; {} NSGs, {} rules, {} findings; checked: {} allowed (source, host, port) stay allowed, {} denied stay denied",
            engine.stats.inputs,
            obs.counts.events,
            obs.counts.allowed,
            obs.counts.denied,
            proposal.period.describe(),
            proposal.nsgs.len(),
            rules,
            proposal.findings.len(),
            check.allowed_checked,
            check.denied_checked
        );
        for w in &proposal.warnings {
            eprintln!("nsgflow: warning: {w}");
        }
        let rejected = engine.stats.rejected_total();
        if rejected > 0 {
            let reasons: Vec<String> = engine
                .stats
                .rejected
                .iter()
                .map(|(r, n)| format!("{n} {r}"))
                .collect();
            eprintln!(
                "nsgflow: warning: {rejected} rejected records or tuples ({}) are not part of the proposal{}",
                reasons.join(", "),
                if dead_letter.is_some() { "" } else { "; --dead-letter FILE keeps them" }
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
