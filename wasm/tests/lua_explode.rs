//! The Lua explode script (`pipelines/fluent-bit/nsgflow_explode.lua`) under LuaJIT (the
//! Lua Fluent Bit embeds), fed each fixture and sample line as Fluent Bit's tail + json
//! parser would hand it over. Its split-tuple records, labelled by the filter functions,
//! must give exactly the native engine's events; nothing may disappear.

mod harness;

use std::io::Write;
use std::process::{Command, Stdio};

use harness::{root, split_records};
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_tests::{fixtures_and_samples, run_text_with};
use nsgflow_wasm::filter::Filter;
use serde_json::Value;

/// LuaJIT with lua-cjson is there. Outside CI a missing one skips the test with the
/// reason; with `CI=true` it fails (CI installs both: `.ci/run`).
fn luajit_ready(test: &str) -> bool {
    let ok = Command::new("luajit")
        .args(["-e", "require 'cjson'"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let msg = "LuaJIT with lua-cjson not found (Debian: apt-get install luajit lua-cjson)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: {msg} (CI=true: the Lua tests must not be skipped)");
        }
        eprintln!("{test}: SKIPPED: {msg}");
    }
    ok
}

/// Runs the driver over `lines`; returns (return code, record) pairs.
fn luajit(lines: &str) -> Vec<(String, Value)> {
    let dir = root().join("pipelines/fluent-bit");
    let mut child = Command::new("luajit")
        .arg(dir.join("tests/explode_driver.lua"))
        .arg(dir.join("nsgflow_explode.lua"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("luajit not found: install it (Debian: apt-get install luajit lua-cjson)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "luajit failed: {} (is lua-cjson installed?)",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (code, json) = l.split_once('\t').expect("code<TAB>json");
            (
                code.to_string(),
                serde_json::from_str(json).expect("driver JSON"),
            )
        })
        .collect()
}

/// The lines Fluent Bit's tail would read: one JSON value per line (a blob is one line).
fn as_tail_lines(text: &str) -> Option<String> {
    let mut out = String::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        out.push_str(&serde_json::to_string(&v.ok()?).unwrap());
        out.push('\n');
    }
    Some(out)
}

#[test]
fn lua_split_gives_the_native_tuples_and_events_on_every_fixture_and_sample() {
    if !luajit_ready("lua_split_gives_the_native_tuples_and_events_on_every_fixture_and_sample") {
        return;
    }
    let mut filter = Filter::default();
    let mut compared = 0;
    let mut skipped = Vec::new();
    for file in fixtures_and_samples() {
        let text = std::fs::read_to_string(&file).unwrap();
        let Some(lines) = as_tail_lines(&text) else {
            skipped.push(file.file_name().unwrap().to_string_lossy().into_owned());
            continue;
        };
        let out = luajit(&lines);
        let native = run_text_with("x", &text, Format::Flat, &Config::default());
        let mut splits = Vec::new();
        let mut flagged = 0;
        for (code, rec) in &out {
            match code.as_str() {
                "2" if rec.get("nsgflow_error").is_some() => flagged += 1,
                "2" => splits.push(rec.clone()),
                // -1: dropped, only for input without a single tuple.
                "-1" => assert!(
                    rec.get("records").is_some()
                        || rec.get("properties").is_some()
                        || rec.get("flowRecords").is_some(),
                    "{rec}"
                ),
                c => panic!("{}: unexpected return code {c}", file.display()),
            }
        }
        // The same records as the reference split, field for field.
        let reference = split_records(&text).unwrap();
        assert_eq!(splits, reference, "{}", file.display());
        // Every tuple the engine saw (good or rejected) is one Lua record; so are the
        // tuples of records it rejects whole (the filter flags those).
        assert!(
            splits.len() as u64 >= native.stats.tuples,
            "{}",
            file.display()
        );
        let all: Vec<String> = splits
            .iter()
            .map(|s| {
                String::from_utf8(filter.tuple_event(&s.to_string(), Format::Flat).to_vec())
                    .unwrap()
            })
            .collect();
        let events: Vec<String> = all
            .iter()
            .filter(|e| !e.contains("\"nsgflow_error\""))
            .cloned()
            .collect();
        assert_eq!(events, native.lines, "{}", file.display());
        // What the engine rejects is flagged by Lua or by the filter, never lost.
        let flagged_by_filter = all.len() - events.len();
        if !native.dead.is_empty() {
            assert!(flagged + flagged_by_filter > 0, "{}", file.display());
        }
        compared += events.len();
    }
    assert_eq!(skipped, ["truncated-blob.json"]);
    assert!(compared > 100, "{compared}");
}

#[test]
fn records_that_are_not_flow_logs_are_flagged_not_dropped() {
    if !luajit_ready("records_that_are_not_flow_logs_are_flagged_not_dropped") {
        return;
    }
    let out = luajit(
        "{\"records\":[{\"time\":\"t\",\"records\":[]},{\"category\":\"Other\",\"x\":1},7]}\n{\"hello\":\"world\"}\n",
    );
    let errors: Vec<&str> = out
        .iter()
        .map(|(code, r)| {
            assert_eq!(code, "2");
            r["nsgflow_error"].as_str().unwrap()
        })
        .collect();
    assert_eq!(errors.len(), 4, "{out:?}");
    assert!(errors[0].starts_with("nested_records"));
    assert!(errors[1].starts_with("not_a_flow_log"));
    assert_eq!(out[1].1["x"], 1, "fields kept");
    assert!(errors[3].starts_with("not_a_flow_log"));
    // The filter_wasm stage after Lua (tail-lua-wasm) hands these on with Lua's reason,
    // to the dead-letter output.
    let mut filter = Filter::default();
    for (_, rec) in &out {
        let back: Value =
            serde_json::from_slice(filter.tuple_event(&rec.to_string(), Format::Flat)).unwrap();
        assert_eq!(back, *rec, "the filter kept Lua's record and reason");
    }
}
