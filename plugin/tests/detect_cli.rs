//! `nsgflow process --detect`, `--alerts` and `--detect-state`, run as a user runs them.
//! (The detectors themselves are tested on the generated estate in `tests/detect.rs`.)

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsgflow"))
        .args(args)
        .output()
        .expect("run nsgflow")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nsgflow-detect-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A blob where 203.0.113.9 tries 20 ports of 10.0.0.4 in 20 seconds, all denied, then
/// one allowed HTTPS flow from elsewhere.
fn scan_blob() -> PathBuf {
    let mut tuples: Vec<String> = (0..20)
        .map(|i| {
            format!(
                "\"{},203.0.113.9,10.0.0.4,{},{},T,I,D,B,,,,\"",
                1_772_445_600 + i,
                40_000 + i,
                20 + i
            )
        })
        .collect();
    tuples.push("\"1772445630,198.51.100.7,10.0.0.4,50000,443,T,I,A,B,,,,\"".into());
    let blob = format!(
        r#"{{"records":[{{"time":"2026-03-02T10:01:00Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG","properties":{{"Version":2,"flows":[{{"rule":"DefaultRule_DenyAllInBound","flows":[{{"mac":"000D3AF87856","flowTuples":[{}]}}]}}]}}}}]}}"#,
        tuples.join(",")
    );
    let path = tmp("scan.json");
    std::fs::write(&path, blob).unwrap();
    path
}

fn lines(b: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(b)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn alerts_join_the_output_or_go_to_their_own_file() {
    let blob = scan_blob();
    let b = blob.to_str().unwrap();
    let out = run(&["process", b, "--detect", "--progress", "never"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = lines(&out.stdout);
    assert_eq!(docs.len(), 22, "21 events and an alert");
    let alerts: Vec<_> = docs.iter().filter(|d| d["kind"] == "alert").collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["detector"], "port_scan");
    assert_eq!(alerts[0]["src_ip"], "203.0.113.9");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 alerts (") && stderr.contains("port_scan: 1"),
        "{stderr}"
    );

    // Without --detect the output is the events alone, byte for byte the same ones.
    let plain = run(&["process", b, "--progress", "never", "--quiet"]);
    let events: Vec<_> = docs.into_iter().filter(|d| d["kind"] != "alert").collect();
    assert_eq!(lines(&plain.stdout), events);

    // --alerts FILE: the alert goes there, in the chosen format.
    let file = tmp("alerts.ndjson");
    let out = run(&[
        "process",
        b,
        "--detect",
        "--alerts",
        file.to_str().unwrap(),
        "--format",
        "ocsf",
        "--quiet",
    ]);
    assert!(out.status.success());
    assert_eq!(lines(&out.stdout).len(), 21);
    let alerts = lines(&std::fs::read(&file).unwrap());
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["class_uid"], 2004);
}

#[test]
fn state_suppresses_what_was_raised_and_bad_state_is_an_error() {
    let blob = scan_blob();
    let b = blob.to_str().unwrap();
    let state = tmp("state.json");
    let _ = std::fs::remove_file(&state);
    let s = state.to_str().unwrap();
    let first = run(&["process", b, "--detect", "--detect-state", s, "--quiet"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        lines(&first.stdout)
            .iter()
            .filter(|d| d["kind"] == "alert")
            .count(),
        1
    );
    assert!(state.exists());
    // The same input again (a restart that re-reads): no second alert.
    let again = run(&["process", b, "--detect", "--detect-state", s, "--quiet"]);
    assert_eq!(
        lines(&again.stdout)
            .iter()
            .filter(|d| d["kind"] == "alert")
            .count(),
        0
    );

    // A checkpoint file given as the state: an error naming it, no output, exit 1.
    let foreign = tmp("foreign.json");
    std::fs::write(&foreign, r#"{"version":1,"files":{}}"#).unwrap();
    let out = run(&[
        "process",
        b,
        "--detect",
        "--detect-state",
        foreign.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(foreign.to_str().unwrap()) && err.contains("not an nsgflow detection state"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // Flags that need --detect say so.
    let out = run(&["process", b, "--alerts", "x.ndjson"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --detect"));
}
