//! Every `pipelines/vector/*.yaml`: it parses; its components are wired to outputs that
//! exist; every file it names in this repository exists; every VRL it holds or references
//! compiles; no template breaks Vector 0.57+'s confinement rule and no `${VAR}` needs env
//! interpolation; and real events pushed through its remaps and routes (a small simulation
//! of Vector's transform graph) reach the sinks with every sink template resolving.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_tests::{clickhouse_tables, queries_dir, run_text_with};
use nsgflow_vrl::Program;
use serde_json::Value as Json;
use vrl::value::Value;

fn repo_root() -> PathBuf {
    nsgflow_vrl::programs_dir()
        .parent()
        .expect("repo root")
        .to_path_buf()
}

fn pipelines() -> Vec<(String, Json)> {
    let dir = repo_root().join("pipelines/vector");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("pipelines/vector")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "pipelines missing: {files:?}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let yaml: Json = serde_saphyr::from_str(&text)
                .unwrap_or_else(|e| panic!("{name}: not valid YAML: {e}"));
            (name, yaml)
        })
        .collect()
}

/// Every string in a document, with its path.
fn strings(v: &Json, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Json::String(s) => out.push((path.to_string(), s.clone())),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, x)| strings(x, &format!("{path}[{i}]"), out)),
        Json::Object(map) => map
            .iter()
            .for_each(|(k, x)| strings(x, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

fn section<'a>(doc: &'a Json, key: &str) -> Vec<(&'a String, &'a Json)> {
    doc.get(key)
        .and_then(Json::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

/// The VRL a remap runs: inline `source` or the `file` it names.
fn remap_program(name: &str, id: &str, c: &Json) -> Arc<Program> {
    match (c.get("source"), c.get("file")) {
        (Some(Json::String(src)), None) => {
            Program::compile(&format!("{name}: {id}"), src).map(Arc::new)
        }
        (None, Some(Json::String(file))) => Program::shared(&repo_root().join(file)),
        _ => Err(format!(
            "{name}: remap {id} needs exactly one of `source` and `file`"
        )),
    }
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_pipeline_parses_is_wired_and_its_vrl_compiles() {
    let secrets: Json = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("pipelines/vector/secrets.example.json"))
            .expect("secrets.example.json"),
    )
    .expect("secrets.example.json is JSON");
    for (name, doc) in pipelines() {
        let sources = section(&doc, "sources");
        let transforms = section(&doc, "transforms");
        let sinks = section(&doc, "sinks");
        assert!(
            !sources.is_empty() && !sinks.is_empty(),
            "{name}: needs sources and sinks"
        );

        // The outputs components can read from.
        let mut outputs: BTreeSet<String> = sources.iter().map(|(id, _)| id.to_string()).collect();
        for (id, c) in &transforms {
            outputs.insert(id.to_string());
            match c["type"].as_str() {
                Some("remap") => {
                    remap_program(&name, id, c);
                    if c["reroute_dropped"] == true {
                        outputs.insert(format!("{id}.dropped"));
                    }
                }
                Some("route") => {
                    outputs.insert(format!("{id}._unmatched"));
                    for (route, cond) in c["route"].as_object().expect("route map") {
                        Program::compile(&format!("{name}: {id}.{route}"), cond.as_str().unwrap())
                            .unwrap_or_else(|e| panic!("{e}"));
                        outputs.insert(format!("{id}.{route}"));
                    }
                }
                Some("reduce") => {}
                other => panic!("{name}: transform {id} of type {other:?} is not checked here"),
            }
        }
        for (id, c) in transforms.iter().chain(&sinks) {
            let inputs = c["inputs"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: {id} has no inputs"));
            for input in inputs {
                let input = input.as_str().unwrap();
                assert!(
                    outputs.contains(input),
                    "{name}: {id} reads `{input}`, which nothing emits"
                );
            }
        }

        let mut all = Vec::new();
        strings(&doc, "", &mut all);
        for (path, s) in &all {
            // Template confinement (Vector 0.57+): literal text before the first `{{`.
            if let Some(at) = s.find("{{") {
                assert!(
                    at > 0,
                    "{name}{path}: `{s}` has no literal text before `{{{{`"
                );
            }
            assert!(
                !s.contains("${"),
                "{name}{path}: `{s}` needs env-var interpolation"
            );
            // Secrets used are in the example secrets file.
            if let Some(rest) = s.strip_prefix("SECRET[local.") {
                let key = rest.trim_end_matches(']');
                assert!(
                    secrets.get(key).is_some(),
                    "{name}{path}: secret `{key}` is not in secrets.example.json"
                );
            }
        }
        // Files named relative to the repository exist (`file:`, exec command paths).
        let mut named = Vec::new();
        for (id, c) in &transforms {
            if let Some(Json::String(f)) = c.get("file") {
                named.push((id.to_string(), f.clone()));
            }
        }
        for (id, c) in &sources {
            if let Some(cmd) = c.get("command").and_then(Json::as_array) {
                assert_eq!(cmd[0], "nsgflow", "{name}: {id}");
                for arg in cmd.iter().filter_map(Json::as_str) {
                    if arg.contains('/') && !arg.starts_with('/') {
                        named.push((id.to_string(), arg.to_string()));
                    }
                }
            }
        }
        // A `process` pipeline names its input directory; a `tail` one reads blob storage.
        let tails = sources.iter().any(|(_, c)| {
            c.get("command")
                .and_then(Json::as_array)
                .and_then(|c| c.get(1))
                == Some(&Json::String("tail".into()))
        });
        assert!(tails || !named.is_empty(), "{name}: names no file");
        for (id, f) in named {
            assert!(
                repo_root().join(&f).exists(),
                "{name}: {id} names `{f}`, which does not exist"
            );
        }
    }
}

/// A small simulation of Vector's transform graph: events in at the sources, through every
/// remap (arrays explode, errors go to `.dropped` when asked) and route, `reduce` passing
/// events through; returns what each sink receives.
fn simulate(name: &str, doc: &Json) -> BTreeMap<String, Vec<Value>> {
    let mut pending: Vec<(String, Vec<Value>)> = Vec::new();
    for (id, c) in section(doc, "sources") {
        let events = match c["type"].as_str() {
            Some("exec") => exec_events(c),
            Some("http_server" | "kafka") => record_events(),
            other => panic!("{name}: source {id} of type {other:?} not simulated"),
        };
        assert!(!events.is_empty(), "{name}: source {id} gave nothing");
        pending.push((id.to_string(), events));
    }
    let transforms = section(doc, "transforms");
    let programs: BTreeMap<&String, Arc<Program>> = transforms
        .iter()
        .filter(|(_, c)| c["type"] == "remap")
        .map(|(id, c)| (*id, remap_program(name, id, c)))
        .collect();
    let mut sinks: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    while let Some((output, events)) = pending.pop() {
        let reads = |c: &Json| {
            c["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i == output.as_str())
        };
        for (id, c) in &transforms {
            if !reads(c) {
                continue;
            }
            match c["type"].as_str().unwrap() {
                "remap" => {
                    let (mut ok, mut dropped) = (Vec::new(), Vec::new());
                    for e in &events {
                        match programs[id].run(e.clone()) {
                            Ok(Value::Array(items)) => ok.extend(items),
                            Ok(v) => ok.push(v),
                            Err(err) => {
                                assert_eq!(c["drop_on_error"], true, "{name}: {id}: {err}");
                                dropped.push(e.clone());
                            }
                        }
                    }
                    pending.push((id.to_string(), ok));
                    pending.push((format!("{id}.dropped"), dropped));
                }
                "route" => {
                    let conditions: Vec<(String, Program)> = c["route"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(route, cond)| {
                            (
                                format!("{id}.{route}"),
                                Program::compile(route, cond.as_str().unwrap()).unwrap(),
                            )
                        })
                        .collect();
                    let mut routed: BTreeMap<String, Vec<Value>> = BTreeMap::new();
                    for e in &events {
                        let mut matched = false;
                        for (output, condition) in &conditions {
                            if condition.eval(e.clone()).unwrap() == Value::Boolean(true) {
                                routed.entry(output.clone()).or_default().push(e.clone());
                                matched = true;
                            }
                        }
                        if !matched {
                            routed
                                .entry(format!("{id}._unmatched"))
                                .or_default()
                                .push(e.clone());
                        }
                    }
                    pending.extend(routed);
                }
                "reduce" => pending.push((id.to_string(), reduce(name, id, c, &events))),
                other => panic!("{name}: {other}"),
            }
        }
        for (id, c) in section(doc, "sinks") {
            if reads(c) {
                sinks
                    .entry(id.to_string())
                    .or_default()
                    .extend(events.iter().cloned());
            }
        }
    }
    sinks
}

/// Vector's `reduce` over one window: events grouped by `group_by`, each field merged by its
/// `merge_strategies` entry or else by the documented default (numbers summed, group_by
/// fields included; anything else keeps the first value). Every group_by field must come
/// out equal to the group's key: a summed numeric key (a `dst_port` of 443 twice giving 886)
/// fails here.
fn reduce(name: &str, id: &str, c: &Json, events: &[Value]) -> Vec<Value> {
    let keys: Vec<&str> = c["group_by"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: {id} has no group_by"))
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let strategies = c["merge_strategies"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut groups: BTreeMap<String, (Vec<Value>, Value)> = BTreeMap::new();
    for e in events {
        let key: Vec<String> = keys.iter().map(|k| format!("{:?}", lookup(e, k))).collect();
        let entry = groups
            .entry(key.join("|"))
            .or_insert_with(|| (Vec::new(), e.clone()));
        if !entry.0.is_empty() {
            let (Value::Object(merged), Value::Object(next)) = (&mut entry.1, e) else {
                panic!("{name}: {id}: events are objects");
            };
            for (field, v) in next {
                let strategy = strategies.get(field.as_str()).and_then(Json::as_str);
                let old = merged.get(field.as_str()).cloned();
                let new = match (strategy, old, v) {
                    (Some("discard"), Some(old), _) => old,
                    (Some("retain"), _, v) => v.clone(),
                    (Some("min" | "max"), Some(Value::Integer(a)), Value::Integer(b)) => {
                        Value::Integer(if strategy == Some("min") {
                            a.min(*b)
                        } else {
                            a.max(*b)
                        })
                    }
                    (Some("sum") | None, Some(Value::Integer(a)), Value::Integer(b)) => {
                        Value::Integer(a + b)
                    }
                    (Some("sum") | None, Some(Value::Float(a)), Value::Float(b)) => {
                        Value::Float(a + *b)
                    }
                    (None, Some(old), _) => old,
                    (Some(other), old, v) => {
                        panic!("{name}: {id}: strategy {other} on {field}: {old:?} / {v:?}")
                    }
                    (None, None, v) => v.clone(),
                };
                merged.insert(field.clone(), new);
            }
        }
        entry.0.push(e.clone());
    }
    assert!(
        groups.values().any(|(members, _)| members.len() > 1),
        "{name}: {id}: no group of two or more events: the check below could not fail"
    );
    groups
        .into_values()
        .map(|(members, merged)| {
            for k in &keys {
                assert_eq!(
                    lookup(&merged, k),
                    lookup(&members[0], k),
                    "{name}: {id}: group_by field `{k}` changed when {} events merged: give it \
                     a merge strategy (`discard`); reduce sums numbers by default",
                    members.len()
                );
            }
            merged
        })
        .collect()
}

/// What an exec source running `nsgflow process DIR --format F ...` emits: one event per
/// line, `{"message": line}` (codec `bytes`). For `nsgflow tail` (blob storage) the same
/// engine's lines for the Azure-layout fixture stand in for what it downloads.
fn exec_events(c: &Json) -> Vec<Value> {
    let cmd: Vec<&str> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert_eq!(
        c["decoding"]["codec"], "bytes",
        "the remaps parse `.message`"
    );
    let format: Format = cmd[cmd.iter().position(|a| *a == "--format").unwrap() + 1]
        .parse()
        .unwrap();
    let dir = if cmd[1] == "tail" {
        repo_root().join("tests/fixtures/azure-layout")
    } else {
        repo_root().join(cmd[2])
    };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    let mut lines: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            run_text_with("exec", &text, format, &Config::default()).lines
        })
        .collect();
    if cmd.contains(&"--detect") {
        lines.extend(alert_lines(format));
    }
    // `--codec json-batch`: each stdout line is a JSON array of up to 256 events, which the
    // remap must turn back into one event each.
    if cmd.windows(2).any(|w| w == ["--codec", "json-batch"]) {
        lines = lines
            .chunks(nsgflow::encode::codec::FRAME_EVENTS)
            .map(|chunk| format!("[{}]", chunk.join(",")))
            .collect();
    }
    lines
        .into_iter()
        .map(|line| Value::from(serde_json::json!({ "message": line, "stream": "stdout" })))
        // With `include_stderr`, nsgflow's messages arrive in the same stream.
        .chain((c["include_stderr"] == true).then(|| {
            Value::from(serde_json::json!({
                "message": "nsgflow: warning: nothing to read: no *.json, *.ndjson or *.jsonl file in /data/flowlogs",
                "stream": "stderr"
            }))
        }))
        .collect()
}

/// With `--detect`, alerts join the stream: ten port scans (ten sources, 15 denied ports of
/// one host each), raised by the real detection stage and encoded in `format`.
fn alert_lines(format: Format) -> Vec<String> {
    let mut tuples = Vec::new();
    for scanner in 0..10u32 {
        for port in 0..15u32 {
            tuples.push(format!(
                "\"{},203.0.113.{},10.20.1.4,{},{},T,I,D,B,,,,\"",
                1_772_445_600 + port,
                10 + scanner,
                40_000 + port,
                20 + port
            ));
        }
    }
    let blob = format!(
        r#"{{"records":[{{"time":"2026-03-02T10:01:00Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG","properties":{{"Version":2,"flows":[{{"rule":"DefaultRule_DenyAllInBound","flows":[{{"mac":"000D3AF87856","flowTuples":[{}]}}]}}]}}}}]}}"#,
        tuples.join(",")
    );
    let mut config = Config::default();
    config.detect.enabled = true;
    let run =
        nsgflow_tests::detect_run(&config, [("exec".to_string(), blob.as_str())], None).unwrap();
    assert_eq!(run.alerts.len(), 10);
    let mut enc = nsgflow::encode::encoder(format, &config.encode_options());
    run.alerts
        .iter()
        .map(|a| {
            let mut out = Vec::new();
            enc.encode_alert(a, &mut out);
            String::from_utf8(out).unwrap()
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out)
        } else {
            out.push(p)
        }
    }
}

/// What an http_server or kafka source with the json codec emits for real blobs, a record
/// and a file with bad tuples.
fn record_events() -> Vec<Value> {
    [
        "nsg-v2-blob.json",
        "vnet-blob.json",
        "single-record-nsg-v2.json",
        "bad-tuples.json",
    ]
    .iter()
    .flat_map(|f| {
        let text = std::fs::read_to_string(nsgflow_tests::fixture(f)).unwrap();
        nsgflow_vrl::decoded_events(&text).unwrap()
    })
    .map(Value::from)
    .collect()
}

fn lookup<'v>(event: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(event, |v, k| match v {
        Value::Object(map) => map.get(k),
        _ => None,
    })
}

/// Removes the leaf at a dotted path, as Vector's `remove_label_fields` does.
fn remove(event: &mut Value, path: &str) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let leaf = parts.pop().unwrap();
    let mut at = event;
    for p in parts {
        match at {
            Value::Object(map) => match map.get_mut(p) {
                Some(v) => at = v,
                None => return,
            },
            _ => return,
        }
    }
    if let Value::Object(map) = at {
        map.remove(leaf);
    }
}

fn has_empty_object(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.is_empty() || map.values().any(has_empty_object),
        Value::Array(items) => items.iter().any(has_empty_object),
        _ => false,
    }
}

fn is_text(v: Option<&Value>) -> bool {
    v.is_some_and(|v| v.to_str_lossy().is_some())
}

/// The `{{ field }}` references of a template.
fn template_fields(t: &str) -> Vec<String> {
    t.split("{{")
        .skip(1)
        .map(|s| s.split("}}").next().unwrap().trim().to_string())
        .collect()
}

#[test]
fn events_flow_through_every_pipeline_to_its_sinks() {
    let clickhouse_schema = clickhouse_tables(
        &std::fs::read_to_string(queries_dir().join("clickhouse/schema.sql"))
            .expect("queries/clickhouse/schema.sql"),
    );
    for (name, doc) in pipelines() {
        // Vector logs neither an exec command's stderr nor its exit status: nsgflow's
        // errors ("cannot open ...", "nothing to read") must be taken in and shown.
        for (id, c) in section(&doc, "sources") {
            if c["type"] == "exec" {
                assert_eq!(
                    c["include_stderr"], true,
                    "{name}: {id}: nsgflow's errors would be lost"
                );
            }
        }
        let received = simulate(&name, &doc);
        for (id, c) in section(&doc, "sinks") {
            let events = received.get(id.as_str()).cloned().unwrap_or_default();
            let kind = c["type"].as_str().unwrap();
            if kind == "console" {
                // nsgflow's messages, to Vector's own log: every one, and nothing else.
                assert_eq!(c["target"], "stderr", "{name}: {id}");
                assert!(!events.is_empty(), "{name}: {id} got no message");
                for e in &events {
                    assert_eq!(
                        lookup(e, "stream"),
                        Some(&Value::from("stderr")),
                        "{name}: {id}: {e:?}"
                    );
                }
                continue;
            }
            if kind == "file" {
                // Dead letters and failures: only the bad-tuples fixture feeds them.
                for e in &events {
                    assert!(
                        lookup(e, "dead_letter.reason").is_some(),
                        "{name}: {id}: {e:?}"
                    );
                }
                continue;
            }
            // Alert sinks (a route's `alerts` output) get events once a pipeline runs
            // `--detect`; the fixtures raise none.
            let alert_sink = c["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i.as_str().is_some_and(|i| i.ends_with(".alerts")));
            if alert_sink {
                assert!(events.is_empty(), "{name}: {id}: no alerts expected");
                continue;
            }
            assert!(
                events.len() >= 9,
                "{name}: sink {id} got {} events",
                events.len()
            );
            let mut templates = Vec::new();
            strings(c, "", &mut templates);
            for e in &events {
                assert!(
                    lookup(e, "dead_letter").is_none(),
                    "{name}: a dead letter reached {id}"
                );
                for (path, t) in &templates {
                    for field in template_fields(t) {
                        assert!(
                            is_text(lookup(e, &field)),
                            "{name}: {id}{path} `{t}`: `{field}` does not resolve in {e:?}"
                        );
                    }
                }
                match kind {
                    "loki" => {
                        assert!(
                            matches!(lookup(e, "timestamp"), Some(Value::Timestamp(_))),
                            "{name}: Loki entry time"
                        );
                        // `remove_label_fields` removes the leaf fields only: what is
                        // left of the line must hold no emptied object.
                        if c["remove_label_fields"] == true {
                            let mut line = e.clone();
                            for (_, t) in &templates {
                                for field in template_fields(t) {
                                    remove(&mut line, &field);
                                }
                            }
                            assert!(
                                !has_empty_object(&line),
                                "{name}: {id}: an empty object is left in the line after \
                                 remove_label_fields: {line:?}"
                            );
                        }
                    }
                    "elasticsearch" => assert!(
                        is_text(lookup(e, "@timestamp")),
                        "{name}: @timestamp in {e:?}"
                    ),
                    "splunk_hec_logs" => {
                        assert!(
                            matches!(lookup(e, "timestamp"), Some(Value::Timestamp(_))),
                            "{name}: HEC time"
                        );
                        let host = c["host_key"].as_str().unwrap();
                        assert!(is_text(lookup(e, host)), "{name}: host_key {host}");
                        assert!(
                            lookup(e, "event").is_none(),
                            "{name}: the envelope was not unwrapped"
                        );
                    }
                    "clickhouse" => {
                        // JSONEachRow into the table of queries/clickhouse/schema.sql:
                        // every key is a column (the sink refuses unknown fields).
                        let table = format!(
                            "{}.{}",
                            c["database"].as_str().unwrap(),
                            c["table"].as_str().unwrap()
                        );
                        let columns = &clickhouse_schema[&table];
                        let Value::Object(map) = e else {
                            panic!("{name}: {id}: not an object")
                        };
                        for key in map.keys() {
                            assert!(
                                columns.iter().any(|c| c.as_str() == key.as_ref() as &str),
                                "{name}: {id}: `{key}` is no column of {table}"
                            );
                        }
                        assert!(is_text(lookup(e, "timestamp")), "{name}: timestamp text");
                        assert_eq!(c["date_time_best_effort"], true, "{name}: RFC 3339 times");
                    }
                    other => panic!("{name}: sink type {other} not checked"),
                }
            }
        }
        // The pure-VRL pipelines see the bad tuples fixture: its 9 dead letters arrive.
        if section(&doc, "sources")
            .iter()
            .all(|(_, c)| c["type"] != "exec")
        {
            let dead = received.get("dead_letters").map(Vec::len).unwrap_or(0);
            assert_eq!(dead, 9, "{name}: dead letters");
        }
    }
}

/// With env-var interpolation on, Vector substitutes `$NAME` and `${NAME}` anywhere in the
/// file, comments included, and fails the load on an unset one. A shipped file holds no
/// `$` that is not written `$$`, so it loads with interpolation on or off.
#[test]
fn no_pipeline_text_is_taken_for_an_env_var() {
    let dir = repo_root().join("pipelines/vector");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let bytes = line.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'$' {
                    if bytes.get(i + 1) == Some(&b'$') {
                        i += 2;
                        continue;
                    }
                    let next = bytes.get(i + 1).copied().unwrap_or(b' ');
                    assert!(
                        !(next == b'{' || next == b'_' || next.is_ascii_alphanumeric()),
                        "{}:{}: `{line}` is an env-var reference to Vector (write `$$`)",
                        path.display(),
                        n + 1
                    );
                }
                i += 1;
            }
        }
    }
}

/// The user guide's chapters, as paths from the repository root.
fn guide_chapters() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo_root().join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/src/{n}"))
        .collect();
    v.sort();
    v
}

/// NSG and VNet flow logs reach a storage account only: a diagnostic setting cannot send
/// them to Event Hubs. No doc or config may tell users to.
#[test]
fn no_doc_routes_flow_logs_through_event_hubs() {
    let root = repo_root();
    for f in [
        "README.md",
        "pipelines/vector/README.md",
        "vrl-examples/README.md",
        "pipelines/fluent-bit/README.md",
    ]
    .into_iter()
    .map(String::from)
    .chain(guide_chapters())
    {
        let text = std::fs::read_to_string(root.join(&f))
            .unwrap()
            .to_lowercase();
        for para in text.split("\n\n") {
            let para = para.replace('\n', " ");
            assert!(
                !(para.contains("event hub") && para.contains("diagnostic setting"))
                    || para.contains("storage account only"),
                "{f}: a paragraph sends flow logs to Event Hubs by a diagnostic setting: {para}"
            );
        }
    }
    assert!(
        std::fs::read_dir(root.join("pipelines/vector"))
            .unwrap()
            .all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("eventhubs")),
        "an Event Hubs flow-log pipeline is shipped"
    );
}

/// `pipelines/vector/README.md` lists every shipped config, speaks of no issue as future
/// work, says what `vector validate` needs, and names the codec the configs use.
#[test]
fn the_vector_readme_matches_the_configs() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("pipelines/vector/README.md")).unwrap();
    // The top-level README and the user guide's chapters (docs/src) speak of the configs too.
    let top = std::iter::once("README.md".to_string())
        .chain(guide_chapters())
        .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    for (name, doc) in pipelines() {
        assert!(
            readme.contains(&format!("[`{name}`]")),
            "pipelines/vector/README.md does not list {name}"
        );
        for (id, c) in section(&doc, "sinks") {
            if c["type"] == "elasticsearch" {
                // Flows go to logs-nsgflow-default; alerts to a data stream of their own
                // (logs-nsgflow.alert-default), so they can be kept and searched apart.
                let expected = if id.contains("alert") {
                    "nsgflow.alert"
                } else {
                    "nsgflow"
                };
                assert_eq!(
                    c["data_stream"]["dataset"], expected,
                    "{name}: {id} writes another data stream than logs-{expected}-default"
                );
            }
        }
        for (id, c) in section(&doc, "sources") {
            if c["type"] == "exec" {
                let codec = c["decoding"]["codec"].as_str().unwrap();
                for doc in [&readme, &top] {
                    assert!(
                        !doc.contains("decoding.codec: json") || codec == "json",
                        "a README says the exec source uses `decoding.codec: json`; \
                         {name}: {id} uses {codec}"
                    );
                }
            }
        }
    }
    for said in ["issue #", "will make this"] {
        assert!(
            !readme.contains(said),
            "pipelines/vector/README.md speaks of future work: `{said}`"
        );
    }
    for needed in ["data_dir", "--skip-healthchecks"] {
        assert!(
            readme.contains(needed),
            "pipelines/vector/README.md does not say `vector validate` needs {needed}"
        );
    }
}
