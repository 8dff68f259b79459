//! `nsgflow tail --once --detect --detect-state FILE` against Azurite, run after run as
//! Fluent Bit's exec input or cron runs it: an attack (a port scan and a deny burst) is
//! appended to a blob across several runs. Each alert is raised exactly once over all the
//! runs, a restart that re-reads everything raises nothing again, the state moves only
//! after the output it covers is flushed (an output that cannot be written leaves it where
//! it was, and the next run raises the alert), and the events are the ones a run without
//! detection prints.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::azurite::Azurite;
use support::writer::{BlobWriter, Hour, Kind, NSG_RESOURCE};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nsgflow-tail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One `tail --once` run over the emulator, with no Azure variables from the outside.
fn tail_once(az: &Azurite, checkpoints: &Path, extra: &[&str], stdout: Stdio) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nsgflow"));
    c.arg("tail").args([
        "--once",
        "--quiet",
        "--lookback-hours",
        "3",
        "--checkpoint-dir",
        checkpoints.to_str().unwrap(),
    ]);
    c.args(extra);
    for v in [
        "AZURE_STORAGE_ACCOUNT",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
    ] {
        c.env_remove(v);
    }
    c.env("AZURE_STORAGE_CONNECTION_STRING", az.connection_string())
        .stdout(stdout)
        .stderr(Stdio::piped());
    c.output().expect("run nsgflow tail")
}

/// A run's output: the event lines as printed, and the alerts.
fn split(out: &Output) -> (Vec<String>, Vec<Value>) {
    let mut events = Vec::new();
    let mut alerts = Vec::new();
    for line in text(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["kind"] == "alert" {
            alerts.push(v);
        } else {
            events.push(line.to_string());
        }
    }
    (events, alerts)
}

/// An NSG v2 record of `mac` at `minute` of `hour`, with these tuples under one rule.
fn record(hour: &Hour, minute: u64, mac: &str, rule: &str, tuples: &[String]) -> String {
    format!(
        "{{\"time\":\"{}\",\"systemId\":\"a2d94f17-5c3e-4b8a-9e61-0f7c3b25d8e4\",\"macAddress\":\"{mac}\",\"category\":\"NetworkSecurityGroupFlowEvent\",\"resourceId\":\"{NSG_RESOURCE}\",\"operationName\":\"NetworkSecurityGroupFlowEvents\",\"properties\":{{\"Version\":2,\"flows\":[{{\"rule\":\"{rule}\",\"flows\":[{{\"mac\":\"{mac}\",\"flowTuples\":[{}]}}]}}]}}}}",
        hour.rfc3339(minute, 36),
        tuples
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(",")
    )
}

#[test]
fn tail_detect_raises_each_alert_once_across_runs_and_saves_state_after_the_output() {
    let Some(az) = Azurite::start("tail-detect") else {
        return;
    };
    let c = az.client();
    let dir = tmpdir("detect");
    let state = dir.join("detect-state.json");
    let s = state.to_str().unwrap().to_string();
    let (cp, cp_plain) = (dir.join("cp"), dir.join("cp-plain"));
    let hour = Hour::now_minus(0);
    let mac = "00224884D0E2";
    let mut w = BlobWriter::new(Kind::Nsg, hour, mac, 10_000);
    // The attack, in one 5-minute window from minute 10 of the hour: 203.0.113.9 tries
    // 30 ports of 10.20.2.5 (denied, one a second); 198.51.100.66 is denied 1,200 times on
    // 10.20.2.5:22 (five a second, from 60 s on).
    let t0 = hour.start + 600;
    let scan = |from: u64, to: u64| -> Vec<String> {
        (from..to)
            .map(|i| {
                format!(
                    "{},203.0.113.9,10.20.2.5,{},{},T,I,D,B,,,,",
                    t0 + i,
                    41_000 + i,
                    20 + i
                )
            })
            .collect()
    };
    let burst = |from: u64, to: u64| -> Vec<String> {
        (from..to)
            .map(|i| {
                format!(
                    "{},198.51.100.66,10.20.2.5,{},22,T,I,D,B,,,,",
                    t0 + 60 + i / 5,
                    20_000 + i
                )
            })
            .collect()
    };
    let deny = "DefaultRule_DenyAllInBound";
    // Each step appends benign traffic and part of the attack, then runs tail.
    let mut append = |step: u64, scan_part: (u64, u64), burst_part: (u64, u64)| {
        let benign = w.record(10 + step, 4);
        w.append(&c, benign);
        if scan_part.0 < scan_part.1 {
            w.append(
                &c,
                record(&hour, 10 + step, mac, deny, &scan(scan_part.0, scan_part.1)),
            );
        }
        if burst_part.0 < burst_part.1 {
            w.append(
                &c,
                record(
                    &hour,
                    10 + step,
                    mac,
                    deny,
                    &burst(burst_part.0, burst_part.1),
                ),
            );
        }
    };
    let detect_args = ["--detect", "--detect-state", s.as_str()];
    let run = |extra: &[&str]| tail_once(&az, &cp, extra, Stdio::piped());
    let plain = || tail_once(&az, &cp_plain, &[], Stdio::piped());
    let mut raised: Vec<Value> = Vec::new();
    // The events of a run with detection are those of a run without it, line for line.
    let check = |step: u64, out: &Output, plain_out: &Output| -> Vec<Value> {
        assert!(out.status.success(), "step {step}: {}", text(&out.stderr));
        assert!(plain_out.status.success(), "{}", text(&plain_out.stderr));
        let (events, alerts) = split(out);
        let (plain_events, plain_alerts) = split(plain_out);
        assert!(plain_alerts.is_empty());
        assert!(!events.is_empty(), "step {step}: no events");
        assert_eq!(
            events, plain_events,
            "step {step}: detection changed the events"
        );
        alerts
    };

    // Step 1: 8 ports and 400 denies: nothing yet; the state file is written.
    append(1, (0, 8), (0, 400));
    let out = run(&detect_args);
    let alerts = check(1, &out, &plain());
    assert!(alerts.is_empty(), "{alerts:?}");
    let after_1 = std::fs::read(&state).expect("the state file exists after a run");
    let v: Value = serde_json::from_slice(&after_1).expect("the state is JSON");
    assert!(v.get("format").is_some(), "no format marker: {v}");

    // Step 2: ports 8-20 cross 15. First a run whose output cannot be written (a full
    // disk): it fails, and neither the state nor the checkpoint moves.
    append(2, (8, 20), (400, 800));
    let full = |extra: &[&str], stdout: Stdio| {
        let out = tail_once(&az, &cp, extra, stdout);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert_eq!(
            std::fs::read(&state).unwrap(),
            after_1,
            "the state moved past output that was not written: {}",
            text(&out.stderr)
        );
        text(&out.stderr)
    };
    let err = full(
        &detect_args,
        Stdio::from(std::fs::File::create("/dev/full").unwrap()),
    );
    assert!(err.contains("writing events"), "{err}");
    // The same with the alerts to their own file that cannot be written.
    let err = full(
        &[&detect_args[..], &["--alerts", "/dev/full"]].concat(),
        Stdio::from(std::fs::File::create(dir.join("discarded.ndjson")).unwrap()),
    );
    assert!(err.contains("writing alerts to /dev/full"), "{err}");
    let out = run(&detect_args);
    let alerts = check(2, &out, &plain());
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["detector"], "port_scan");
    assert_eq!(alerts[0]["src_ip"], "203.0.113.9");
    assert_eq!(alerts[0]["dst_ip"], "10.20.2.5");
    raised.extend(alerts);
    let after_2 = std::fs::read(&state).unwrap();
    assert_ne!(after_2, after_1, "the state did not move after a good run");

    // Step 3: ten more ports (same window: suppressed) and denies 800-1,200 (past 1,000).
    append(3, (20, 30), (800, 1200));
    let out = run(&detect_args);
    let alerts = check(3, &out, &plain());
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["detector"], "deny_burst");
    assert_eq!(alerts[0]["src_ip"], "198.51.100.66");
    assert_eq!(alerts[0]["dst_port"], 22);
    raised.extend(alerts);

    // Step 4: benign traffic only; then nothing new at all.
    append(4, (0, 0), (0, 0));
    let out = run(&detect_args);
    assert!(check(4, &out, &plain()).is_empty());
    let out = run(&detect_args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));

    // A restart that lost its checkpoints re-reads the whole blob: every event again, no
    // alert again (the state has raised them).
    std::fs::remove_dir_all(&cp).unwrap();
    let out = run(&detect_args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (events, alerts) = split(&out);
    assert!(alerts.is_empty(), "re-raised after a restart: {alerts:?}");
    assert_eq!(events.len(), 4 * 4 + 30 + 1200);

    // Over all the runs: each alert exactly once, in the attack's window.
    let window = |a: &Value| a["window_start"].as_str().unwrap().to_string();
    let mut detectors: Vec<&str> = raised
        .iter()
        .map(|a| a["detector"].as_str().unwrap())
        .collect();
    detectors.sort();
    assert_eq!(detectors, ["deny_burst", "port_scan"]);
    assert!(raised.iter().all(|a| window(a) == window(&raised[0])));
    assert!(window(&raised[0]).contains(&format!("T{:02}:10:00", hour.h)));
}
