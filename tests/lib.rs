//! Shared helpers for the integration tests. The fixtures in `fixtures/` and the golden
//! outputs in `golden/` are the reference every front end (the native engine, the VRL
//! programs, the WASM build) is held to.

pub mod estate;
pub mod harden_support;

use std::path::{Path, PathBuf};

use nsgflow::aggregate::{Aggregation, FlushReason};
use nsgflow::config::Config;
use nsgflow::encode::{encoder, Format};
use nsgflow::engine::{EncodeLines, Engine, InputOutcome};
use nsgflow::output::{DeadLetterWriter, EventWriter};
use nsgflow::stats::Stats;

/// The directory of this crate (`<repo>/tests`).
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures_dir() -> PathBuf {
    tests_dir().join("fixtures")
}

pub fn golden_dir() -> PathBuf {
    tests_dir().join("golden")
}

/// The enrichment fixtures: feeds, topology, service tags and the config naming them.
pub fn enrichment_dir() -> PathBuf {
    fixtures_dir().join("enrichment")
}

/// `fixtures/enrichment/enrichment.yaml`, loaded (feeds, topology, service tags).
pub fn enrichment_config() -> Config {
    Config::load(&enrichment_dir().join("enrichment.yaml")).expect("enrichment config")
}

/// The fixtures the enriched and aggregated golden outputs are made from.
pub const ENRICHED_FIXTURES: [&str; 4] = [
    "nsg-v1-blob.json",
    "nsg-v2-blob.json",
    "vnet-blob.json",
    "nsg-version-switch.json",
];

pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// `../shared/samples` beside the repository, when it is there (CI has it; a plain clone
/// may not, and then the tests that read it skip).
pub fn shared_samples() -> Option<PathBuf> {
    let dir = tests_dir().join("../../shared/samples");
    dir.is_dir().then_some(dir)
}

/// The fixture files with golden outputs: every file of `fixtures/` but the README.
pub fn golden_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// Every fixture with golden output, then every `*.json` / `*.ndjson` shared sample (when
/// `../shared/samples` is there): what each front end is checked on.
pub fn fixtures_and_samples() -> Vec<PathBuf> {
    let mut files = golden_fixtures();
    if let Some(dir) = shared_samples() {
        let mut s: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("samples dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "ndjson"))
            .collect();
        s.sort();
        files.extend(s);
    }
    files
}

/// The records of a `{"records":[...]}` blob, each as compact JSON text.
pub fn blob_records(blob: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(blob).expect("a JSON blob");
    v["records"]
        .as_array()
        .expect("a records array")
        .iter()
        .map(|r| serde_json::to_string(r).expect("re-encode"))
        .collect()
}

/// The states a reader can find a blob in while Azure writes it: `{"records":[` R1 `]}`,
/// then R1,R2 `]}`, and so on (a record block inserted before the closing `]}` each
/// time), with, before each complete state, the states cut every `cut_every` bytes into
/// the record being added (mid-record, or without the closing `]}`).
pub fn azure_blob_states(records: &[String], cut_every: usize) -> Vec<String> {
    let mut states = Vec::new();
    for n in 1..=records.len() {
        let full = format!("{{\"records\":[{}]}}", records[..n].join(","));
        let before = format!("{{\"records\":[{}", records[..n - 1].join(",")).len();
        let mut cut = before + cut_every;
        while cut < full.len() {
            if full.is_char_boundary(cut) {
                states.push(full[..cut].to_string());
            }
            cut += cut_every;
        }
        states.push(full);
    }
    states
}

/// What one run of the engine produced.
#[derive(Debug)]
pub struct Run {
    /// One JSON line per event.
    pub lines: Vec<String>,
    /// One JSON line per dead letter.
    pub dead: Vec<String>,
    pub stats: Stats,
    pub outcome: InputOutcome,
}

impl Run {
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.lines
            .iter()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line {l}: {e}"))
            })
            .collect()
    }

    pub fn dead_letters(&self) -> Vec<serde_json::Value> {
        self.dead
            .iter()
            .map(|l| serde_json::from_str(l).expect("dead letter JSON"))
            .collect()
    }
}

/// Runs the engine over `text` with `format` and `config`.
/// (With `aggregate.enabled`, the lines are the aggregates, flushed at the end.)
pub fn run_text_with(name: &str, text: &str, format: Format, config: &Config) -> Run {
    let mut engine = Engine::new(config.enricher().expect("config loads"));
    let mut enc = encoder(format, &config.encode_options());
    let mut out = EventWriter::new(Vec::new());
    let dead_buf = SharedBuf::default();
    let mut dead = DeadLetterWriter::new(Some(Box::new(dead_buf.clone())));
    let outcome = if config.aggregate.enabled {
        let mut agg = Aggregation::new(&config.aggregate, engine.enricher.clone()).unwrap();
        let outcome = engine.process(
            name,
            text,
            &mut agg.lines(enc.as_mut(), &mut out),
            &mut dead,
        );
        agg.finish(FlushReason::EndOfInput, enc.as_mut(), &mut out);
        engine.stats.aggregation = Some(agg.aggregator.stats);
        outcome
    } else {
        engine.process(
            name,
            text,
            &mut EncodeLines {
                encoder: enc.as_mut(),
                writer: &mut out,
            },
            &mut dead,
        )
    };
    dead.flush().expect("flush dead letters");
    let bytes = out.into_inner().expect("flush events");
    let lines = String::from_utf8(bytes)
        .expect("UTF-8 output")
        .lines()
        .map(str::to_string)
        .collect();
    let dead = String::from_utf8(dead_buf.take())
        .expect("UTF-8 dead letters")
        .lines()
        .map(str::to_string)
        .collect();
    Run {
        lines,
        dead,
        stats: engine.stats,
        outcome,
    }
}

pub fn run_text(text: &str, format: Format) -> Run {
    run_text_with("test", text, format, &Config::default())
}

pub fn run_file(path: &Path, format: Format) -> Run {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    run_text_with(
        &path.display().to_string(),
        &text,
        format,
        &Config::default(),
    )
}

/// A `Write` into a shared buffer: a test keeps a handle on what a pipeline (which wants an
/// owned writer) writes into its clone.
#[derive(Clone, Default)]
pub struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuf {
    /// Takes everything written so far out of the buffer.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.lock().expect("lock"))
    }
    /// Everything written so far (left in the buffer).
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().expect("lock").clone()
    }
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).expect("UTF-8 output")
    }
}

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Flattens a JSON document into dotted leaf paths (array elements share their key's path).
pub fn field_paths(v: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(v, &path, out);
                }
            }
            serde_json::Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                for i in items {
                    walk(i, prefix, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

/// Whether this run is CI (`CI=true`), where a test must not skip for a missing tool.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A missing optional tool or database: `None` (the test is skipped, saying why) outside
/// CI, a failure in CI.
pub fn skip_unless_ci(test: &str, why: &str) {
    if in_ci() {
        panic!("{test}: {why} (CI=true: this test must not be skipped; .ci/run installs it)");
    }
    eprintln!("{test}: SKIPPED: {why}");
}

/// The free geography databases `.ci/run` installs from npm (ip-location-db): the country
/// `.mmdb` and the IPv4 and IPv6 ASN CSVs, from `$NSGFLOW_GEOIP_DIR` or
/// `<repo>/.ci/node/node_modules/@ip-location-db`. `None` (skipped, or failed in CI) when
/// they are not installed.
pub fn geoip_config(test: &str) -> Option<nsgflow::geo::GeoConfig> {
    let dir = std::env::var_os("NSGFLOW_GEOIP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tests_dir().join("../.ci/node/node_modules/@ip-location-db"));
    let config = nsgflow::geo::GeoConfig {
        country: Some(dir.join("geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb")),
        asn: vec![dir.join("asn/asn-ipv4.csv"), dir.join("asn/asn-ipv6.csv")],
    };
    let missing: Vec<String> = config
        .country
        .iter()
        .chain(&config.asn)
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(config);
    }
    skip_unless_ci(
        test,
        &format!(
            "the ip-location-db databases are not installed ({} missing; `npm install --prefix .ci/node \
             @ip-location-db/geo-whois-asn-country-mmdb @ip-location-db/asn`, as .ci/run does, \
             or set NSGFLOW_GEOIP_DIR)",
            missing.join(", ")
        ),
    );
    None
}

/// A handler that drops events (detection tests look at alerts only).
pub struct Discard;

impl nsgflow::engine::EventHandler for Discard {
    fn event(&mut self, _event: &nsgflow::event::FlowEvent<'_>) {}
}

/// What a detection run raised.
pub struct DetectRun {
    pub alerts: Vec<nsgflow::detect::Alert>,
    pub stats: nsgflow::detect::DetectStats,
}

/// Runs the engine with detection over `inputs` in the order given, as `nsgflow process
/// --detect` does: with `state`, it is loaded first and saved at the end (open buckets
/// stay open); without, the open buckets are closed at the end.
pub fn detect_run<'t>(
    config: &Config,
    inputs: impl IntoIterator<Item = (String, &'t str)>,
    state: Option<&Path>,
) -> Result<DetectRun, String> {
    use nsgflow::detect::Detection;
    use nsgflow::pipeline::Detecting;
    let mut engine = Engine::new(config.enricher()?);
    let mut detection = Detection::new(&config.detect, engine.enricher.clone())?;
    if let Some(p) = state {
        detection.load_state(p)?;
    }
    let mut dead = DeadLetterWriter::new(None);
    let mut alerts = Vec::new();
    for (name, text) in inputs {
        let mut h = Detecting {
            detection: Some(&mut detection),
            inner: Discard,
        };
        engine.process(&name, text, &mut h, &mut dead);
        alerts.extend(detection.take_alerts());
    }
    match state {
        Some(p) => detection.save_state(p)?,
        None => detection.finish(),
    }
    alerts.extend(detection.take_alerts());
    Ok(DetectRun {
        alerts,
        stats: detection.stats(),
    })
}

/// `queries/` beside this crate: the query packs (issue 14).
pub fn queries_dir() -> PathBuf {
    tests_dir().join("../queries")
}

/// The columns of each `CREATE TABLE` in a ClickHouse schema file (`queries/clickhouse/
/// schema.sql`): table name to column names, in order (ALIAS columns included).
pub fn clickhouse_tables(schema: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut tables = std::collections::BTreeMap::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in schema.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
            current = Some((rest.trim().to_string(), Vec::new()));
        } else if t.starts_with(')') {
            if let Some((name, cols)) = current.take() {
                tables.insert(name, cols);
            }
        } else if let Some((_, cols)) = current.as_mut() {
            if t != "(" && !t.starts_with("--") && !t.is_empty() {
                cols.push(t.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    }
    tables
}
