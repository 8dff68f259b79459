//! `nsgflow process --threads N` writes what one thread writes: the same event lines in
//! the same order, the same dead letters, the same run summary, the same checkpoint, for
//! every fixture, sample and synthetic blob, whole or cut into record ranges, and for bad
//! blobs (cut mid-write, invalid JSON inside, foreign elements, values after the blob).
//! Aggregation stays exact with threads: the workers make the tuples, the calling thread
//! aggregates them in order. Detection stays exact (it runs on one thread).

use std::io::Write;
use std::path::{Path, PathBuf};

use nsgflow::aggregate::{AggregateConfig, FlushReason, Seconds};
use nsgflow::checkpoint::{finish_run, Checkpoint, InputRun, RunHooks};
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow::input::{self, Input};
use nsgflow::output::DeadLetterWriter;
use nsgflow::parallel::{self, Options};
use nsgflow::stats::Stats;
use nsgflow_tests::estate::{Scenario, ScenarioConfig};
use nsgflow_tests::fixtures_and_samples;

mod nsgflow_bench_data {
    include!("../plugin/benches/support/data.rs");
}

use nsgflow_tests::SharedBuf as Shared;

/// Records what the run loop reports, in order.
#[derive(Default)]
struct Record(Vec<(String, InputRun)>);

impl<W: Write> RunHooks<W> for Record {
    fn done(&mut self, name: &str, run: InputRun) {
        self.0.push((name.to_string(), run));
    }
}

/// What one run wrote.
#[derive(Debug, PartialEq)]
struct Run {
    events: String,
    dead: String,
    alerts_and_stats: Stats,
    runs: Vec<(String, InputRun)>,
    checkpoint: Option<Checkpoint>,
    /// How many workers shared the run, and how many tuple batches they handed to the
    /// calling thread's aggregation.
    report: parallel::Report,
}

fn run(config: &Config, inputs: &[Input], options: &Options, checkpoint: Option<&Path>) -> Run {
    let (out, dead) = (Shared::default(), Shared::default());
    let mut p = config
        .pipeline(
            out.clone(),
            DeadLetterWriter::new(Some(Box::new(dead.clone()))),
        )
        .unwrap();
    let mut cp = checkpoint.map(|c| Checkpoint::load(c).unwrap());
    let mut hooks = Record::default();
    let report = parallel::run_inputs(&mut p, cp.as_mut(), inputs, &mut hooks, options).unwrap();
    let save = cp.as_mut().zip(checkpoint);
    finish_run(&mut p, save, FlushReason::EndOfInput).unwrap();
    Run {
        events: out.text(),
        dead: dead.text(),
        alerts_and_stats: p.engine.stats.clone(),
        runs: hooks.0,
        checkpoint: cp,
        report,
    }
}

/// Small ranges, so that even the fixtures are cut.
fn small(threads: usize, range_bytes: usize) -> Options {
    Options {
        threads,
        range_bytes,
        split_bytes: 0,
    }
}

fn files(paths: &[PathBuf]) -> Vec<Input> {
    paths.iter().cloned().map(Input::File).collect()
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("nsgflow-parallel-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_same(label: &str, one: &Run, many: &Run) {
    assert_eq!(one.runs, many.runs, "{label}: input results");
    assert_eq!(
        one.alerts_and_stats, many.alerts_and_stats,
        "{label}: stats"
    );
    if one.dead != many.dead {
        let (a, b) = (one.dead.lines(), many.dead.lines());
        let first = a.zip(b).find(|(a, b)| a != b);
        let clip = |s: &str| s.chars().take(400).collect::<String>();
        panic!(
            "{label}: dead letters differ; first:\n1: {:?}\nN: {:?}",
            first.map(|(a, _)| clip(a)),
            first.map(|(_, b)| clip(b))
        );
    }
    if one.events != many.events {
        let at = one
            .events
            .lines()
            .zip(many.events.lines())
            .position(|(a, b)| a != b);
        panic!(
            "{label}: events differ ({} vs {} lines), first at line {at:?}",
            one.events.lines().count(),
            many.events.lines().count()
        );
    }
    assert_eq!(one.checkpoint, many.checkpoint, "{label}: checkpoint");
}

#[test]
fn every_fixture_and_sample_in_ranges_equals_one_thread() {
    let inputs = files(&fixtures_and_samples());
    for format in Format::ALL {
        let config = Config {
            format: Some(format),
            ..Config::default()
        };
        let one = run(&config, &inputs, &Options::new(1), None);
        assert!(one.alerts_and_stats.events > 0);
        for (threads, range) in [(2, 1), (2, 300), (3, 4096), (4, 1 << 20)] {
            let many = run(&config, &inputs, &small(threads, range), None);
            assert_same(
                &format!("{format}, {threads} threads, {range} B ranges"),
                &one,
                &many,
            );
        }
    }
}

#[test]
fn synthetic_blobs_in_ranges_equal_one_thread_in_input_order() {
    let d = Dir::new("synthetic");
    let paths: Vec<PathBuf> = (0..5)
        .map(|i| {
            d.file(
                &format!("b{i}.json"),
                &nsgflow_bench_data::blob(2000 + 500 * i, i as u64),
            )
        })
        .collect();
    let inputs = files(&paths);
    let config = Config::default();
    let one = run(&config, &inputs, &Options::new(1), None);
    assert_eq!(
        one.alerts_and_stats.events,
        (0..5).map(|i| 2000 + 500 * i).sum::<u64>()
    );
    for options in [small(2, 16 << 10), small(3, 1), Options::new(2)] {
        let many = run(&config, &inputs, &options, None);
        assert_same(&format!("{options:?}"), &one, &many);
    }
    // The order guarantee: inputs in the order given, each in its own order. Reversed
    // inputs give the blobs' lines in reverse blob order, each blob's lines in order.
    let rev: Vec<Input> = inputs.iter().rev().cloned().collect();
    let one_rev = run(&config, &rev, &Options::new(1), None);
    let many_rev = run(&config, &rev, &small(2, 4096), None);
    assert_same("reversed", &one_rev, &many_rev);
    let per_blob: Vec<String> = paths
        .iter()
        .map(|p| {
            run(
                &config,
                &files(std::slice::from_ref(p)),
                &Options::new(1),
                None,
            )
            .events
        })
        .collect();
    let expected: String = per_blob.iter().rev().map(String::as_str).collect();
    assert!(
        many_rev.events == expected,
        "blobs in the order given, each whole and in order"
    );
}

#[test]
fn bad_blobs_in_ranges_give_the_same_rejections_as_one_thread() {
    let d = Dir::new("bad");
    let blob = nsgflow_bench_data::blob(600, 7);
    let body = &blob["{\"records\":[".len()..blob.len() - 2];
    let records: Vec<&str> = split_records(body);
    assert!(records.len() >= 10);
    let join = |rs: &[&str]| rs.join(",");
    let mut cases = vec![
        // Cut mid-write, inside a record and right after one.
        ("cut-inside", blob[..blob.len() - 500].to_string()),
        ("cut-after-record", blob[..blob.len() - 2].to_string()),
        (
            "cut-after-comma",
            format!("{{\"records\":[{},", join(&records[..6])),
        ),
        // A record the fast scan delimits but the walker cannot read, in the middle.
        (
            "invalid-record",
            format!(
                "{{\"records\":[{},{{\"time\" \"x\",\"properties\":{{}}}},{}]}}",
                join(&records[..4]),
                join(&records[4..])
            ),
        ),
        // Elements that are not records.
        (
            "foreign-elements",
            format!(
                "{{\"records\":[{},42,\"x\",{}]}}",
                join(&records[..3]),
                join(&records[3..])
            ),
        ),
        // Values after the blob, and keys after `records`.
        ("after-blob", format!("{blob}\n{}\n{blob}\n", records[0])),
        (
            "keys-after-records",
            format!("{{\"records\":[{}],\"extra\":1}}", join(&records)),
        ),
        ("empty-blob", "{\"records\":[]}".to_string()),
        ("only-foreign", "{\"records\":[1,2,3]}".to_string()),
        // Pretty-printed, with an invalid record: a whole walk goes on at the next line.
        (
            "pretty-invalid",
            format!(
                "{{\"records\":[\n{},\n{{\"time\":}},\n{}\n]}}\n",
                records[..5].join(",\n"),
                records[5..].join(",\n")
            ),
        ),
    ];
    cases.push(("bom", format!("\u{feff}{blob}")));
    let paths: Vec<PathBuf> = cases
        .iter()
        .map(|(name, text)| d.file(&format!("{name}.json"), text))
        .collect();
    let config = Config::default();
    for (i, (name, _)) in cases.iter().enumerate() {
        let inputs = files(&paths[i..=i]);
        let one = run(&config, &inputs, &Options::new(1), None);
        for range in [1, 700, 5000] {
            let many = run(&config, &inputs, &small(2, range), None);
            assert_same(&format!("{name}, {range} B ranges"), &one, &many);
        }
    }
    // All together, in one run, with a file that is not UTF-8 (read and checked by a
    // worker, in its place) and one that cannot be read.
    let mut paths = paths;
    let gzip = d.0.join("compressed.json");
    std::fs::write(&gzip, b"\x1f\x8b\x08\x00\xff\xfe{\"records\":[]}").unwrap();
    paths.insert(3, gzip);
    paths.insert(6, d.0.join("gone.json"));
    let inputs = files(&paths);
    let one = run(&config, &inputs, &Options::new(1), None);
    assert!(one.alerts_and_stats.rejected_total() > 0 && !one.dead.is_empty());
    assert!(
        matches!(&one.runs[3].1, InputRun::NotFlowLog(why) if why.contains("not UTF-8"))
            && matches!(&one.runs[6].1, InputRun::Failed(why) if why.contains("cannot read")),
        "{:?}",
        &one.runs[3..7]
    );
    let many = run(&config, &inputs, &small(3, 900), None);
    assert_same("all bad blobs", &one, &many);
}

/// The records of a blob's body, by their brackets (the synthetic blobs hold no braces
/// in strings).
fn split_records(body: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in body.char_indices() {
        match c {
            '{' => {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    out.push(&body[start..=i]);
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn checkpointed_runs_with_threads_equal_one_thread() {
    let d = Dir::new("checkpoint");
    let blob = nsgflow_bench_data::blob(800, 11);
    let paths: Vec<PathBuf> = (0..4)
        .map(|i| d.file(&format!("f{i}.json"), &blob[..blob.len() - 300 * i]))
        .collect();
    let inputs = files(&paths);
    let config = Config::default();
    let (cp1, cp2) = (d.0.join("one.cp"), d.0.join("many.cp"));
    let one = run(&config, &inputs, &Options::new(1), Some(&cp1));
    let many = run(&config, &inputs, &small(2, 1), Some(&cp2));
    assert_same("first run", &one, &many);
    assert_eq!(std::fs::read(&cp1).unwrap(), std::fs::read(&cp2).unwrap());
    // Azure appends: the next run reads only what is new, the same with threads.
    for p in &paths {
        std::fs::write(p, &blob).unwrap();
    }
    let one = run(&config, &inputs, &Options::new(1), Some(&cp1));
    let many = run(&config, &inputs, &small(2, 1), Some(&cp2));
    assert_same("second run", &one, &many);
    assert!(one.alerts_and_stats.events > 0);
    let third = run(&config, &inputs, &small(2, 1), Some(&cp2));
    assert_eq!(
        third.alerts_and_stats.events, 0,
        "nothing new, nothing read twice"
    );
}

#[test]
fn directories_and_stdin_free_order_is_the_order_given() {
    // A directory walked hour by hour gives the same order with threads.
    let Some(samples) = nsgflow_tests::shared_samples() else {
        eprintln!("skipped: ../shared/samples is absent");
        return;
    };
    let (inputs, errors) = input::expand(&[samples.display().to_string()]);
    assert!(errors.is_empty() && inputs.len() > 3);
    let config = Config::default();
    let one = run(&config, &inputs, &Options::new(1), None);
    let many = run(&config, &inputs, &small(2, 512), None);
    assert_same("samples directory", &one, &many);
}

/// Tuples, packets and bytes of a run's lines (alerts beside them left out): an event
/// line is one tuple, an aggregate line says how many it holds (flat format).
fn totals(label: &str, text: &str) -> (u64, u64, u64) {
    let mut t = (0, 0, 0);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v.get("kind").and_then(serde_json::Value::as_str) == Some("alert") {
            continue;
        }
        let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        t.0 += v.get("tuples").map_or(1, |n| {
            n.as_u64()
                .unwrap_or_else(|| panic!("{label}: tuples in {line}"))
        });
        t.1 += n("packets_src_to_dst") + n("packets_dst_to_src");
        t.2 += n("bytes_src_to_dst") + n("bytes_dst_to_src");
    }
    t
}

/// Conservation: every tuple in is in exactly one aggregate out, with its packets and
/// bytes: the aggregates sum to `events`' totals (the same inputs, not aggregated).
fn assert_conserved(label: &str, run: &Run, events: (u64, u64, u64)) {
    let stats = &run.alerts_and_stats;
    let agg = stats.aggregation.as_ref().expect("aggregated");
    assert_eq!(
        agg.tuples, stats.events,
        "{label}: every tuple in one aggregate"
    );
    assert!(agg.aggregates > 0, "{label}: aggregates written");
    assert!(
        events.1 > 0 && events.2 > 0,
        "{label}: counters to conserve"
    );
    assert_eq!(events.0, stats.events, "{label}: the tuples in");
    assert_eq!(
        totals(label, &run.events),
        events,
        "{label}: the aggregates sum to the tuples, packets and bytes in"
    );
}

/// The same inputs, one event a line (no aggregation, no detection): what to conserve.
fn plain_totals(config: &Config, inputs: &[Input]) -> (u64, u64, u64) {
    let mut plain = config.clone();
    plain.aggregate.enabled = false;
    plain.detect = Default::default();
    let events = run(&plain, inputs, &Options::new(1), None);
    assert!(events.alerts_and_stats.aggregation.is_none());
    totals("events", &events.events)
}

#[test]
fn aggregation_in_ranges_equals_one_thread_for_every_key() {
    // Fixtures, samples and synthetic blobs (many keys, several windows), cut into small
    // ranges: the aggregates of 2 to 4 workers are those of one thread, byte for byte,
    // for each key preset, a key with the rule and the resource (contexts made by the
    // workers, numbered as one thread numbers them), and a max_keys that flushes early.
    let d = Dir::new("aggregate");
    let mut paths = fixtures_and_samples();
    paths.extend((0..3).map(|i| {
        d.file(
            &format!("s{i}.json"),
            &nsgflow_bench_data::blob(1500 + 700 * i, 20 + i as u64),
        )
    }));
    let inputs = files(&paths);
    for (key, window, max_keys, lateness) in [
        ("5tuple", 60, 1_000_000, 300),
        ("traffic-analytics", 600, 1_000_000, 300),
        ("dst_ip,dst_port,action,rule,resource", 60, 1_000_000, 300),
        ("src_ip,rule", 60, 50, 0),
    ] {
        let yaml = &format!("key {key}, window {window}, max_keys {max_keys}, lateness {lateness}");
        let config = Config {
            aggregate: AggregateConfig {
                enabled: true,
                key: key.parse().unwrap(),
                window: Seconds(window),
                max_keys,
                allowed_lateness: Seconds(lateness),
            },
            ..Config::default()
        };
        let one = run(&config, &inputs, &Options::new(1), None);
        assert_eq!(
            one.report,
            parallel::Report::default(),
            "{yaml}: one thread"
        );
        let want = plain_totals(&config, &inputs);
        assert_conserved(yaml, &one, want);
        for (threads, range) in [(2, 1), (3, 300), (4, 4096)] {
            let many = run(&config, &inputs, &small(threads, range), None);
            let label = format!("{yaml}, {threads} threads, {range} B ranges");
            // The workers ran and made the tuples (not the one-thread fallback).
            assert_eq!(many.report.workers, threads, "{label}: workers");
            assert!(
                many.report.aggregated_batches > 0,
                "{label}: tuples aggregated from the workers' batches: {:?}",
                many.report
            );
            assert_same(&label, &one, &many);
            assert_conserved(&label, &many, want);
        }
    }
}

#[test]
fn aggregation_and_detection_stay_exact_with_threads() {
    // The generated estate the detection tests use: every detector has a case in it.
    let d = Dir::new("estate");
    let scenario = Scenario::generate(&ScenarioConfig::default());
    scenario.write_to(&d.0.join("blobs")).unwrap();
    let (inputs, errors) = input::expand(&[d.0.join("blobs").display().to_string()]);
    assert!(errors.is_empty() && inputs.len() > 1);
    for (what, yaml) in [
        ("detection", "detect: {enabled: true}\n"),
        ("aggregation", "aggregate: {enabled: true}\n"),
        (
            "both",
            "detect: {enabled: true}\naggregate: {enabled: true, key: traffic-analytics}\n",
        ),
    ] {
        let path = scenario.write_config(&d.0.join(what), yaml).unwrap();
        let config = Config::load(&path).unwrap();
        let one = run(&config, &inputs, &Options::new(1), None);
        let aggregated = config.aggregate.enabled;
        let want = aggregated.then(|| plain_totals(&config, &inputs));
        for threads in [2, 4] {
            let many = run(&config, &inputs, &small(threads, 4096), None);
            assert_same(&format!("{what}, {threads} threads"), &one, &many);
            // Aggregation alone runs on the workers; with detection, on one thread.
            if what == "aggregation" {
                assert_eq!(many.report.workers, threads, "{what}: workers");
                assert!(
                    many.report.aggregated_batches > 0,
                    "{what}: {:?}",
                    many.report
                );
            } else {
                assert_eq!(
                    many.report,
                    parallel::Report::default(),
                    "{what}: one thread"
                );
            }
            if let Some(want) = want {
                assert_conserved(&format!("{what}, {threads} threads"), &many, want);
            }
        }
        if let Some(want) = want {
            assert_conserved(what, &one, want);
        }
        assert_eq!(aggregated, what != "detection");
        let stats = &one.alerts_and_stats;
        if let Some(det) = &stats.detection {
            assert!(
                det.alerts.values().sum::<u64>() > 0,
                "{what}: the estate raises alerts"
            );
        }
    }
}
