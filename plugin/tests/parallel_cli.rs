//! `nsgflow process --threads N`, run as a user runs it: the same output, dead letters and
//! summary as one thread, in the order the inputs were given (stdin in its place).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `nsgflow process ARGS` with `stdin` on its standard input.
fn process(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nsgflow"))
        .arg("process")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nsgflow");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// The summary line without its timing (` in 0.012 s, ...`).
fn summary(err: &str) -> String {
    let line = err.lines().find(|l| l.contains(" inputs (")).unwrap_or("");
    line.split(" in ").next().unwrap_or("").to_string()
}

#[test]
fn threads_give_the_output_of_one_thread_in_the_order_given() {
    let dir = std::env::temp_dir().join(format!("nsgflow-parallel-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dead = |t: &str| dir.join(format!("dead-{t}.ndjson")).display().to_string();
    let stdin = std::fs::read(fixture("records.ndjson")).unwrap();
    let inputs = [
        fixture("vnet-blob.json"),
        fixture("bad-tuples.json"),
        "-".to_string(),
        fixture("azure-layout"),
        fixture("not-a-flow-log.json"),
        fixture("truncated-blob.json"),
        fixture("nsg-v2-blob.json"),
    ];
    let run = |threads: &str| {
        let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let dead = dead(threads);
        args.extend(["--threads", threads, "--dead-letter"]);
        args.push(&dead);
        let out = process(&args, &stdin);
        let dead = std::fs::read_to_string(&dead).unwrap();
        (out, dead)
    };
    let (one, dead_one) = run("1");
    assert_eq!(
        one.status.code(),
        Some(1),
        "the file that is not a flow log fails the run"
    );
    for threads in ["2", "3"] {
        let (many, dead_many) = run(threads);
        assert_eq!(many.status.code(), one.status.code());
        assert!(
            one.stdout == many.stdout,
            "{threads} threads: the same events in the same order"
        );
        assert_eq!(
            dead_one, dead_many,
            "{threads} threads: the same dead letters"
        );
        assert_eq!(summary(&text(&one.stderr)), summary(&text(&many.stderr)));
        assert!(
            !summary(&text(&many.stderr)).is_empty(),
            "{}",
            text(&many.stderr)
        );
    }
    // The order guarantee, seen from outside: the inputs' events one input after another,
    // in the order given (stdin in its place), each input's in its own order.
    let (_, many) = (dead_one, run("2").0);
    let mut expected = Vec::new();
    for input in &inputs {
        expected.extend(process(&["--threads", "1", input], &stdin).stdout);
    }
    assert!(
        many.stdout == expected,
        "inputs one after another, in the order given"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn aggregation_and_detection_with_threads_write_what_one_thread_writes() {
    // Every fixture blob and the Azure layout, aggregated, and with detection: the
    // aggregates and the events of 4 threads are those of 1, byte for byte, and so is the
    // alerts file (these fixtures raise no alert; tests/parallel.rs runs the generated
    // estate, which raises every kind, with 2 and 4 threads).
    let dir = std::env::temp_dir().join(format!("nsgflow-parallel-agg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inputs = [
        fixture("nsg-v2-blob.json"),
        fixture("azure-layout"),
        fixture("vnet-blob.json"),
        fixture("nsg-version-switch.json"),
        fixture("bad-tuples.json"),
    ];
    for mode in [
        &["--aggregate"][..],
        &[
            "--aggregate",
            "--key",
            "traffic-analytics",
            "--window",
            "10m",
        ],
        &["--detect"],
    ] {
        let run = |threads: &str| {
            let alerts_path = dir.join(format!("alerts-{threads}.ndjson"));
            let alerts_arg = alerts_path.display().to_string();
            let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
            args.extend(mode);
            args.extend(["--threads", threads]);
            if mode == ["--detect"] {
                args.extend(["--alerts", &alerts_arg]);
            }
            let out = process(&args, b"");
            let alerts = std::fs::read(&alerts_path).unwrap_or_default();
            let _ = std::fs::remove_file(&alerts_path);
            (out, alerts)
        };
        let (one, alerts_one) = run("1");
        assert!(!one.stdout.is_empty(), "{mode:?}: {}", text(&one.stderr));
        let (many, alerts_many) = run("4");
        assert_eq!(many.status.code(), one.status.code(), "{mode:?}");
        assert!(
            one.stdout == many.stdout,
            "{mode:?}: 4 threads write the lines of 1 thread"
        );
        assert!(alerts_one == alerts_many, "{mode:?}: the same alerts");
        // The summary says whether workers ran: aggregation runs on them (the workers
        // make the tuples), detection on the calling thread alone.
        let (err_one, err_many) = (text(&one.stderr), text(&many.stderr));
        assert_eq!(summary(&err_one), summary(&err_many), "{mode:?}");
        assert!(!err_one.contains("worker threads"), "{mode:?}: {err_one}");
        let on_workers = err_many.contains(", 4 worker threads");
        assert_eq!(on_workers, mode != ["--detect"], "{mode:?}: {err_many}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zero_threads_is_an_error_saying_what_to_give() {
    let out = process(&["--threads", "0", &fixture("nsg-v2-blob.json")], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("--threads") && err.contains('0'), "{err}");
}
