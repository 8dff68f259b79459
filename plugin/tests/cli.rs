//! The `nsgflow` command, run as a user runs it.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nsgflow"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run nsgflow")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nsgflow-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn processes_a_blob_and_prints_a_summary() {
    let out = run(&["process", fixture("nsg-v2-blob.json").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 23);
    let err = text(&out.stderr);
    assert!(
        err.contains("4 records, 23 tuples, 23 events, 0 rejected"),
        "{err}"
    );
    assert!(err.contains("MB/s"), "{err}");
}

#[test]
fn bad_file_is_named_others_still_processed_exit_nonzero() {
    let out = run(&[
        "process",
        fixture("not-a-flow-log.json").to_str().unwrap(),
        fixture("nsg-v1-blob.json").to_str().unwrap(),
        "/nonexistent/PT1H.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).lines().count(), 17);
    let err = text(&out.stderr);
    assert!(err.contains("not-a-flow-log.json: not a flow log"), "{err}");
    assert!(err.contains("/nonexistent/PT1H.json"), "{err}");
    assert!(err.contains("check the path"), "{err}");
}

#[test]
fn dead_letters_go_to_their_file_and_good_tuples_are_kept() {
    let dead = tmp("dead.ndjson");
    let out = run(&[
        "process",
        fixture("bad-tuples.json").to_str().unwrap(),
        "--dead-letter",
        dead.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).lines().count(), 13);
    let letters = std::fs::read_to_string(&dead).unwrap();
    assert_eq!(letters.lines().count(), 9);
    assert!(letters
        .lines()
        .all(|l| l.contains("\"input\":") && l.contains("\"reason\":\"tuple_")));
    assert!(text(&out.stderr).contains("9 rejected (tuple_address: 1"));
}

#[test]
fn truncated_blob_warns_but_succeeds() {
    let out = run(&["process", fixture("truncated-blob.json").to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).lines().count(), 5);
    assert!(
        text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn stdin_streams_ndjson_and_pretty_json() {
    for name in ["records.ndjson", "pretty-escaped.json", "nsg-v1-blob.json"] {
        let mut child = bin()
            .args(["process", "-", "--format", "ecs", "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let data = std::fs::read(fixture(name)).unwrap();
        // Feed in small pieces, as a pipe from a follower would.
        let mut stdin = child.stdin.take().unwrap();
        for piece in data.chunks(97) {
            stdin.write_all(piece).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{name}");
        let want = run(&[
            "process",
            fixture(name).to_str().unwrap(),
            "--format",
            "ecs",
            "-q",
        ])
        .stdout;
        assert_eq!(
            text(&out.stdout),
            text(&want),
            "{name}: stdin and file give the same events"
        );
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn walks_directories_and_writes_to_a_file() {
    let file = tmp("events.ndjson");
    let out = run(&[
        "process",
        fixture("azure-layout").to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
        "--format",
        "splunk",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events = std::fs::read_to_string(&file).unwrap();
    assert_eq!(events.lines().count(), 9);
    assert!(events.lines().all(|l| l.starts_with("{\"time\":")));
    assert!(text(&out.stderr).contains("3 inputs"));
}

#[test]
fn config_file_is_used_and_flags_win() {
    let config = tmp("nsgflow.yaml");
    std::fs::write(
        &config,
        format!(
            "inputs: [{}]\nformat: ocsf\nnetworks:\n  shop-api: [10.20.2.0/24]\n",
            fixture("nsg-v2-blob.json").display()
        ),
    )
    .unwrap();
    let out = run(&["process", "--config", config.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = text(&out.stdout).lines().next().unwrap().to_string();
    assert!(first.starts_with("{\"class_uid\":4001"), "{first}");
    assert!(text(&out.stdout).contains("\"dst_network\":\"shop-api\""));
    let out = run(&[
        "process",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "flat",
        "-q",
    ]);
    assert!(text(&out.stdout).starts_with("{\"timestamp\":"));
}

#[test]
fn config_errors_say_which_file_and_what() {
    let config = tmp("bad.yaml");
    std::fs::write(&config, "format: ecs\nnetworks:\n  hub: [10.0.0.0/33]\n").unwrap();
    let out = run(&["process", "--config", config.to_str().unwrap(), "-"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("10.0.0.0/33"),
        "{err}"
    );
    let out = run(&["process"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no input"));
    let out = run(&["process", "--format", "xml", "x"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
}

#[test]
fn closed_output_pipe_ends_quietly() {
    let big = tmp("big.ndjson");
    let line = std::fs::read_to_string(fixture("records.ndjson")).unwrap();
    std::fs::write(&big, line.repeat(3000)).unwrap();
    let mut child = bin()
        .args(["process", big.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

fn enrichment(name: &str) -> String {
    fixture("enrichment")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn enrichment_and_aggregation_flags() {
    let blob = fixture("nsg-v2-blob.json");
    let out = run(&[
        "process",
        blob.to_str().unwrap(),
        "--feeds",
        &enrichment("firehol_level1.netset"),
        "--feeds",
        &format!("scores={}", enrichment("ipsum.txt")),
        "--topology",
        &enrichment("topology.yaml"),
        "--service-tags",
        &enrichment("ServiceTags_Public_20260302.json"),
        "--aggregate",
        "--key",
        "traffic-analytics",
        "--window",
        "1h",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 14, "{stdout}");
    assert!(
        stdout.contains(r#""src_feeds":["firehol_level1","scores"]"#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""flow_type":"P2S""#), "{stdout}");
    assert!(stdout.contains(r#""distinct_src_ports":"#), "{stdout}");
    let err = text(&out.stderr);
    assert!(
        err.contains("23 tuples") && err.contains("14 aggregates"),
        "{err}"
    );
    assert!(err.contains("volume 60.9% of tuples"), "{err}");
    assert!(err.contains("46 feed lookups (2 listed)"), "{err}");
}

#[test]
fn enrichment_flag_errors_say_what_to_do() {
    let blob = fixture("nsg-v2-blob.json");
    let out = run(&["process", blob.to_str().unwrap(), "--window", "10m"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("add --aggregate"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&[
        "process",
        blob.to_str().unwrap(),
        "--feeds",
        "/nonexistent/level1.netset",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("feed `level1`") && err.contains("/nonexistent/level1.netset"),
        "{err}"
    );
    let out = run(&[
        "process",
        blob.to_str().unwrap(),
        "--aggregate",
        "--window",
        "10 minutes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("10m"), "{}", text(&out.stderr));
    let out = run(&[
        "process",
        blob.to_str().unwrap(),
        "--topology",
        &enrichment("drop_v4.json"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("topology"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cache_counters_are_in_the_summary() {
    // 31 distinct addresses in the two fixtures; a cache of 8 must evict.
    let config = tmp("small-cache.yaml");
    std::fs::write(
        &config,
        format!(
            "reputation:\n  feeds:\n    - {{name: level1, path: '{}'}}\n  cache: {{capacity: 8, ttl_secs: 60}}\n  reload_interval_secs: 0\n",
            enrichment("firehol_level1.netset")
        ),
    )
    .unwrap();
    let out = run(&[
        "process",
        fixture("nsg-v2-blob.json").to_str().unwrap(),
        fixture("vnet-blob.json").to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let counters = err
        .split("cache ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_else(|| panic!("no cache counters: {err}"));
    let n: Vec<u64> = counters
        .split(", ")
        .map(|p| p.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(n[0] + n[1], 106, "hits + misses = lookups: {err}");
    assert!(
        n[1] >= 31 && n[2] > 0,
        "misses at least the distinct addresses, evictions: {err}"
    );
}

#[test]
fn tail_window_and_key_need_aggregation() {
    // `tail` aggregates now (plugin/tests/azure_cli.rs runs it against Azurite); shaping
    // aggregation without turning it on is still an error that says what to add.
    let out = run(&["tail", "--once", "--window", "10m"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("add --aggregate"), "{err}");
}

/// A fresh host: the output and dead-letter folders do not exist yet. nsgflow creates
/// them, as it does checkpoint folders, instead of failing with "cannot open".
#[test]
fn output_and_dead_letter_folders_are_created() {
    let root = tmp("fresh-host");
    let _ = std::fs::remove_dir_all(&root);
    let out_file = root.join("spool/events/out.ndjson");
    let dead_file = root.join("log/nsgflow/dead-letter.ndjson");
    let out = run(&[
        "process",
        fixture("bad-tuples.json").to_str().unwrap(),
        "--output",
        out_file.to_str().unwrap(),
        "--dead-letter",
        dead_file.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&out_file).unwrap().lines().count() > 0);
    assert!(std::fs::read_to_string(&dead_file).unwrap().lines().count() > 0);
    // A folder that cannot be made is an error naming it, exit 1 or 2, never silence.
    let blocker = root.join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let bad = blocker.join("dead.ndjson");
    let out = run(&[
        "process",
        fixture("bad-tuples.json").to_str().unwrap(),
        "--dead-letter",
        bad.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot create the folder") && err.contains("a-file"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Nothing to read is said even with --quiet (the shipped pipelines run quiet): an empty
/// folder is a warning, a missing one an error with exit 1.
#[test]
fn nothing_to_read_is_said_even_when_quiet() {
    let empty = tmp("empty-folder");
    let _ = std::fs::remove_dir_all(&empty);
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(&["process", empty.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("nothing to read"), "{err}");
    let missing = empty.join("not-synced-yet");
    let out = run(&["process", missing.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("not-synced-yet"), "{err}");
}

/// `--codec json-batch` prints the same events as NDJSON, as JSON arrays one a line;
/// `--codec vector-native` prints length-delimited frames; a wrong codec is refused with
/// the values it could have been, and so is one in the config.
#[test]
fn codec_flag_changes_the_framing_not_the_events() {
    let blob = fixture("nsg-v2-blob.json");
    let blob = blob.to_str().unwrap();
    let plain = run(&["process", blob, "--quiet"]);
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let events: Vec<serde_json::Value> = text(&plain.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.len() > 3);
    let batch = run(&["process", blob, "--quiet", "--codec", "json-batch"]);
    assert!(batch.status.success(), "{}", text(&batch.stderr));
    let batched: Vec<serde_json::Value> = text(&batch.stdout)
        .lines()
        .flat_map(|l| match serde_json::from_str(l).unwrap() {
            serde_json::Value::Array(items) => items,
            other => panic!("not an array: {other}"),
        })
        .collect();
    assert_eq!(batched, events);
    let native = run(&["process", blob, "--quiet", "--codec", "vector-native"]);
    assert!(native.status.success(), "{}", text(&native.stderr));
    let frame = u32::from_be_bytes(native.stdout[..4].try_into().unwrap()) as usize;
    assert_eq!(frame + 4, native.stdout.len(), "one frame for a small blob");
    assert_eq!(native.stdout[4], 0x0A, "EventArray.logs");

    let bad = run(&["process", blob, "--codec", "protobuf"]);
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    assert!(
        err.contains("json-batch") && err.contains("vector-native"),
        "{err}"
    );
    let cfg = tmp("codec-bad.yaml");
    std::fs::write(&cfg, "codec: protobuf\n").unwrap();
    let bad = run(&["process", blob, "--config", cfg.to_str().unwrap()]);
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    assert!(
        err.contains("codec-bad.yaml") && err.contains("json-batch"),
        "{err}"
    );
}
