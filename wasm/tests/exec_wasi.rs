//! The in_exec_wasi program under wasmtime, run as Fluent Bit runs it: a fresh instance per
//! run, the accessible directories preopened, no arguments, stdout captured. Its events
//! must equal the native engine's, and over runs on a growing blob each tuple must come
//! out exactly once.

mod harness;

use harness::{run_wasi, TempDir};
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow::engine::InputOutcome;
use nsgflow_tests::{
    azure_blob_states, blob_records, fixture, fixtures_and_samples, run_text_with,
};

const NETWORKS: &str =
    "networks:\n  spoke-shop: [10.20.0.0/16]\n  hub: [10.0.0.0/16, 10.5.0.0/16]\n";

#[test]
fn every_fixture_and_sample_in_every_format_equals_native() {
    let files = fixtures_and_samples();
    assert!(files.len() >= 12, "fixtures found: {}", files.len());
    for format in Format::ALL {
        let yaml = format!("format: {format}\n{NETWORKS}");
        let config = Config::from_yaml(&yaml).unwrap();
        for file in &files {
            let dir = TempDir::new(&format!("eq-{format}"));
            let name = file.file_name().unwrap();
            std::fs::copy(file, dir.0.join(name)).unwrap();
            std::fs::write(dir.0.join("nsgflow.yaml"), &yaml).unwrap();
            let text = std::fs::read_to_string(file).unwrap();
            let native = run_text_with(&file.display().to_string(), &text, format, &config);
            let run = run_wasi(&[&dir.0]);
            assert_eq!(
                run.lines(),
                native.lines,
                "{} as {format}: stderr {}",
                file.display(),
                run.stderr
            );
            let not_flow_log = matches!(native.outcome, InputOutcome::NotFlowLog(_));
            assert_eq!(
                run.exit,
                i32::from(not_flow_log),
                "{}: {}",
                file.display(),
                run.stderr
            );
            assert!(
                run.stderr.contains("nsgflow-wasi: 1 files"),
                "{}",
                run.stderr
            );
        }
    }
}

#[test]
fn growing_blob_over_many_runs_prints_each_tuple_exactly_once() {
    let mut records = Vec::new();
    for name in [
        "nsg-v2-blob.json",
        "vnet-blob.json",
        "nsg-version-switch.json",
    ] {
        records.extend(blob_records(
            &std::fs::read_to_string(fixture(name)).unwrap(),
        ));
    }
    let final_blob = format!("{{\"records\":[{}]}}", records.join(","));
    let native = run_text_with("blob", &final_blob, Format::Flat, &Config::default()).lines;
    let states = azure_blob_states(&records, 97);
    assert!(states.len() > 3 * records.len(), "{} states", states.len());

    let dir = TempDir::new("grow");
    let blob_dir = dir
        .0
        .join("resourceId=/y=2026/m=03/d=02/h=10/m=00/macAddress=000D3AF87856");
    std::fs::create_dir_all(&blob_dir).unwrap();
    let mut printed = Vec::new();
    let mut runs_with_output = 0;
    for state in &states {
        std::fs::write(blob_dir.join("PT1H.json"), state).unwrap();
        let run = run_wasi(&[&dir.0]);
        assert_eq!(run.exit, 0, "{}", run.stderr);
        runs_with_output += usize::from(!run.stdout.is_empty());
        printed.extend(run.lines());
    }
    // A last run with nothing new prints nothing.
    let idle = run_wasi(&[&dir.0]);
    assert!(idle.stdout.is_empty(), "{}", idle.stdout);
    assert!(
        runs_with_output >= records.len(),
        "{runs_with_output} runs printed"
    );
    let mut seen = std::collections::HashSet::new();
    for line in &printed {
        assert!(seen.insert(line.clone()) || native.iter().filter(|l| *l == line).count() > 1);
    }
    assert_eq!(printed.len(), native.len(), "each tuple exactly once");
    assert_eq!(printed, native, "same events, same order");
    assert!(dir.0.join(".nsgflow-checkpoint.json").is_file());
}

#[test]
fn config_inputs_dead_letter_file_and_bad_config() {
    let dir = TempDir::new("cfg");
    let data = dir.0.join("flowlogs");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(fixture("bad-tuples.json"), data.join("bad-tuples.json")).unwrap();
    std::fs::write(
        dir.0.join("nsgflow.yaml"),
        "inputs: [flowlogs]\ndead_letter: dead.ndjson\nformat: splunk\n",
    )
    .unwrap();
    let run = run_wasi(&[&dir.0]);
    assert_eq!(run.exit, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(fixture("bad-tuples.json")).unwrap();
    let native = run_text_with("x", &text, Format::Splunk, &Config::default());
    assert_eq!(run.lines(), native.lines);
    let dead = std::fs::read_to_string(dir.0.join("dead.ndjson")).unwrap();
    assert_eq!(dead.lines().count(), native.dead.len(), "{dead}");
    assert!(!native.dead.is_empty());

    std::fs::write(dir.0.join("nsgflow.yaml"), "format: xml\n").unwrap();
    let run = run_wasi(&[&dir.0]);
    assert_eq!(run.exit, 2);
    assert!(
        run.stderr.contains("nsgflow.yaml") && run.stderr.contains("xml"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());

    std::fs::write(dir.0.join("nsgflow.yaml"), "output: events.ndjson\n").unwrap();
    let run = run_wasi(&[&dir.0]);
    assert_eq!(run.exit, 2);
    assert!(run.stderr.contains("stdout"), "{}", run.stderr);
}

/// A state directory holding the enrichment fixtures (feeds, topology, service tags) and
/// `nsgflow.yaml` = their config plus `extra`.
fn enrichment_state(tag: &str, extra: &str) -> (TempDir, Config) {
    let state = TempDir::new(tag);
    for e in std::fs::read_dir(nsgflow_tests::enrichment_dir()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, state.0.join(p.file_name().unwrap())).unwrap();
    }
    let yaml = std::fs::read_to_string(state.0.join("enrichment.yaml")).unwrap() + extra;
    std::fs::write(state.0.join("nsgflow.yaml"), yaml).unwrap();
    let config = Config::load(&state.0.join("nsgflow.yaml")).unwrap();
    (state, config)
}

#[test]
fn reputation_topology_and_aggregation_from_files_equal_native() {
    for (tag, extra, format) in [
        ("enriched", "format: ecs\n", Format::Ecs),
        (
            "aggregated",
            "aggregate: {enabled: true, window: 10m, key: traffic-analytics}\n",
            Format::Flat,
        ),
    ] {
        let (state, config) = enrichment_state(tag, extra);
        assert_eq!(config.aggregate.enabled, tag == "aggregated");
        for name in nsgflow_tests::ENRICHED_FIXTURES {
            let data = TempDir::new(&format!("{tag}-data"));
            std::fs::copy(fixture(name), data.0.join(name)).unwrap();
            let text = std::fs::read_to_string(fixture(name)).unwrap();
            let native = run_text_with(name, &text, format, &config);
            assert!(!native.lines.is_empty());
            let run = run_wasi(&[&state.0, &data.0]);
            assert_eq!(run.exit, 0, "{}", run.stderr);
            assert_eq!(run.lines(), native.lines, "{name} {tag}");
            let _ = std::fs::remove_file(state.0.join(".nsgflow-checkpoint.json"));
        }
    }
}

/// Detection in the in_exec_wasi program: each run is a fresh instance, so its windows
/// live in `.nsgflow-detect-state.json`. A port scan whose first half arrives in one run and
/// second half in the next is raised once, in the second run; a third run raises nothing.
#[test]
fn detection_keeps_its_windows_across_fresh_instances() {
    let dir = TempDir::new("detect");
    std::fs::write(
        dir.0.join("nsgflow.yaml"),
        "format: flat\ndetect: {enabled: true}\n",
    )
    .unwrap();
    let record = |from: u32, to: u32| {
        let tuples: Vec<String> = (from..to)
            .map(|i| {
                format!(
                    "\"{},203.0.113.9,10.0.0.4,{},{},T,I,D,B,,,,\"",
                    1_772_445_600 + i,
                    40_000 + i,
                    20 + i
                )
            })
            .collect();
        format!(
            r#"{{"time":"2026-03-02T10:01:00Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG","properties":{{"Version":2,"flows":[{{"rule":"DefaultRule_DenyAllInBound","flows":[{{"mac":"000D3AF87856","flowTuples":[{}]}}]}}]}}}}"#,
            tuples.join(",")
        )
    };
    let blob = dir.0.join("PT1H.json");
    let alerts = |run: &harness::WasiRun| {
        run.lines()
            .iter()
            .filter(|l| l.starts_with(r#"{"kind":"alert""#))
            .count()
    };
    std::fs::write(&blob, format!("{{\"records\":[{}]}}", record(0, 10))).unwrap();
    let first = run_wasi(&[&dir.0]);
    assert_eq!(first.exit, 0, "{}", first.stderr);
    assert_eq!(
        (first.lines().len(), alerts(&first)),
        (10, 0),
        "{}",
        first.stderr
    );
    assert!(dir.0.join(".nsgflow-detect-state.json").exists());
    std::fs::write(
        &blob,
        format!("{{\"records\":[{},{}]}}", record(0, 10), record(10, 20)),
    )
    .unwrap();
    let second = run_wasi(&[&dir.0]);
    assert_eq!(
        (second.lines().len(), alerts(&second)),
        (11, 1),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("1 alerts (") && second.stderr.contains("port_scan: 1"),
        "{}",
        second.stderr
    );
    let third = run_wasi(&[&dir.0]);
    assert_eq!(alerts(&third), 0);
}
