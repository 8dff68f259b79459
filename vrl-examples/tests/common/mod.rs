//! What the VRL tests share: the inputs, the two engines run side by side, and comparisons
//! that name the differing fields.

#![allow(dead_code)]

pub mod enrichment;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_tests::{fixtures_dir, run_text_with, shared_samples};
use nsgflow_vrl::{decoded_events, Program};
use serde_json::Value;

/// Every fixture (recursively, README aside) and every shared sample, as (name, text).
pub fn inputs() -> Vec<(String, String)> {
    let mut files = Vec::new();
    collect(&fixtures_dir(), &mut files);
    if let Some(dir) = shared_samples() {
        collect(&dir, &mut files);
    } else {
        eprintln!("../shared/samples is absent: only the fixtures are compared");
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), text)
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.file_name().is_some_and(|n| n != "README.md") {
            out.push(path);
        }
    }
}

/// What one engine made of an input: events and dead letters (as JSON values).
#[derive(Debug, Default)]
pub struct Output {
    pub events: Vec<Value>,
    pub dead: Vec<Value>,
}

/// The native engine, `format` encoder.
pub fn native(name: &str, text: &str, format: Format, config: &Config) -> Output {
    let run = run_text_with(name, text, format, config);
    Output {
        events: run.events(),
        dead: run.dead_letters(),
    }
}

/// The VRL path: what Vector's json decoder hands `remap`, through `explode` and then each
/// of `then` in turn (as chained `remap` transforms). `None` when the input is not JSON
/// (Vector's decoder rejects it before any VRL runs). Dead-letter markers are split off
/// and unwrapped.
pub fn vrl(text: &str, explode: &Program, then: &[&Program]) -> Option<Output> {
    let decoded = decoded_events(text).ok()?;
    let mut out = Output::default();
    for event in decoded {
        let mut events = explode.run_json(event).unwrap_or_else(|e| panic!("{e}"));
        for p in then {
            events = events
                .into_iter()
                .flat_map(|e| p.run_json(e).unwrap_or_else(|e| panic!("{e}")))
                .collect();
        }
        for e in events {
            match e.get("dead_letter") {
                Some(d) => out.dead.push(d.clone()),
                None => out.events.push(e),
            }
        }
    }
    Some(out)
}

/// Dotted leaf paths of a JSON document with their values.
pub fn leaves(v: &Value) -> BTreeMap<String, Value> {
    fn walk(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(v, &path, out);
                }
            }
            _ => {
                out.insert(prefix.to_string(), v.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(v, "", &mut out);
    out
}

/// The fields where `vrl` and `native` differ: (path, VRL value, native value).
pub fn differences(vrl: &Value, native: &Value) -> Vec<(String, Option<Value>, Option<Value>)> {
    let (a, b) = (leaves(vrl), leaves(native));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| (k.clone(), a.get(k).cloned(), b.get(k).cloned()))
        .collect()
}

/// Which differences a comparison accepts: (path, VRL value, native value) -> allowed.
pub type Allowed = dyn Fn(&str, Option<&Value>, Option<&Value>) -> bool;

/// Asserts two event lists are equal field by field, allowing only the differences
/// `allowed` accepts (path, VRL value, native value), and returns how many such allowed
/// differences were seen.
pub fn assert_same_events(
    context: &str,
    vrl: &[Value],
    native: &[Value],
    allowed: &Allowed,
) -> usize {
    assert_eq!(
        vrl.len(),
        native.len(),
        "{context}: VRL emitted {} events, the native engine {}",
        vrl.len(),
        native.len()
    );
    let mut allowed_seen = 0;
    for (i, (v, n)) in vrl.iter().zip(native).enumerate() {
        for (path, a, b) in differences(v, n) {
            assert!(
                allowed(&path, a.as_ref(), b.as_ref()),
                "{context}: event {i}: field `{path}` is {a:?} from VRL but {b:?} natively\nVRL:    {v}\nnative: {n}"
            );
            allowed_seen += 1;
        }
    }
    allowed_seen
}

/// Native dead letters that VRL can see: not the ones about text that is not JSON or is
/// cut short, which Vector's decoder rejects before `remap`.
pub fn vrl_visible(dead: &[Value]) -> Vec<Value> {
    dead.iter()
        .filter(|d| {
            d["level"] != "input" && d["reason"] != "incomplete" && d["reason"] != "invalid_json"
        })
        .cloned()
        .collect()
}

/// Asserts the VRL dead-letter markers say what the native dead letters say: same level,
/// reason, detail and tuple index, the same tuple text, the same record (as JSON).
/// `bad_flow_group` details differ (the native one gives a byte offset): returns how many.
pub fn assert_same_dead_letters(context: &str, vrl: &[Value], native: &[Value]) -> usize {
    let native = vrl_visible(native);
    assert_eq!(
        vrl.len(),
        native.len(),
        "{context}: VRL marked {} dead letters, the native engine {}:\nVRL: {vrl:#?}\nnative: {native:#?}",
        vrl.len(),
        native.len()
    );
    let mut offset_details = 0;
    for (v, n) in vrl.iter().zip(&native) {
        let ctx = format!("{context}: dead letter\nVRL:    {v}\nnative: {n}");
        assert_eq!(v["level"], n["level"], "{ctx}");
        assert_eq!(v["reason"], n["reason"], "{ctx}");
        if n["reason"] == "bad_flow_group" {
            offset_details += 1;
        } else {
            assert_eq!(v["detail"], n["detail"], "{ctx}");
        }
        if n["level"] == "tuple" {
            assert_eq!(v["tuple_index"], n["tuple_index"], "{ctx}");
            assert_eq!(v["text"], n["text"], "{ctx}");
            assert!(v["record_time"].is_string() || v["record_time"].is_null());
        } else {
            let text = |d: &Value| -> Value {
                serde_json::from_str(d["text"].as_str().expect("text"))
                    .expect("record text is JSON")
            };
            assert_eq!(text(v), text(n), "{ctx}");
        }
    }
    offset_details
}

/// Loads a `.vrl` program with its `user_networks = []` line replaced.
pub fn explode_with_networks(networks_vrl: &str) -> Program {
    explode_with_setting(
        "user_networks = []",
        &format!("user_networks = {networks_vrl}"),
    )
}

/// explode.vrl with one settings line replaced (the line must be there).
pub fn explode_with_setting(line: &str, replacement: &str) -> Program {
    let path = nsgflow_vrl::programs_dir().join("explode.vrl");
    let source = std::fs::read_to_string(&path).expect("explode.vrl");
    let line = format!("\n{line}\n");
    assert!(
        source.contains(&line),
        "explode.vrl lost its `{}` line",
        line.trim()
    );
    let source = source.replacen(&line, &format!("\n{replacement}\n"), 1);
    Program::compile(&format!("explode.vrl ({replacement})"), &source)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Normalises a MAC the way the engine does (for comparing fields the engine keeps as
/// written and the flat schema only has normalised).
pub fn normalised_mac(mac: &str) -> Option<String> {
    nsgflow::event::MacAddress::parse(mac).map(|m| m.as_str().to_string())
}
