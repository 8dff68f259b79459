//! The shipped Vector and Fluent Bit pipelines run `nsgflow tail` with arguments that work:
//! their commands, taken from the files, are run against Azurite and must print one JSON
//! document per line with the field the pipeline's parser reads.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use support::azurite::Azurite;
use support::writer::{BlobWriter, Hour, Kind};

fn pipeline(path: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines")
        .join(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs a pipeline's nsgflow command (its own arguments, with the checkpoint and dead-letter
/// paths moved to a temp dir) against an emulator holding two blobs; returns stdout lines.
fn run_command(az: &Azurite, args: &[String], extra: &[&str], name: &str) -> (Vec<String>, usize) {
    let c = az.client();
    let hour = Hour::now_minus(0);
    let mut expected = 0;
    for (kind, mac, base) in [
        (Kind::Nsg, "00224884D0E2", 10_000),
        (Kind::Vnet, "6045BDA1C3F2", 30_000),
    ] {
        let mut w = BlobWriter::new(kind, hour, mac, base);
        for minute in 0..3 {
            w.minute(&c, minute, 4);
        }
        expected += w.events.len();
    }
    let dir = std::env::temp_dir().join(format!("nsgflow-pipeline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut args: Vec<String> = args.to_vec();
    for i in 0..args.len() {
        match args[i].as_str() {
            "--checkpoint-dir" => args[i + 1] = dir.join("cp").to_string_lossy().into(),
            "--dead-letter" => args[i + 1] = dir.join("dead.ndjson").to_string_lossy().into(),
            _ => {}
        }
    }
    assert_eq!(args[0], "tail", "{args:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_nsgflow"))
        .args(&args)
        .args(extra)
        .env("AZURE_STORAGE_CONNECTION_STRING", az.connection_string())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    (stdout.lines().map(str::to_string).collect(), expected)
}

fn cmd_has_quiet(src: &Value) -> bool {
    src["command"]
        .as_array()
        .is_some_and(|c| c.iter().any(|a| a == "--quiet"))
}

#[test]
fn the_vector_pipeline_command_streams_ecs_json_lines() {
    let v = pipeline("vector/azure-blob-to-elasticsearch.yaml");
    let src = &v["sources"]["flowlogs"];
    assert_eq!(src["type"], "exec");
    assert_eq!(src["mode"], "streaming");
    // Lines are parsed by the remap (`parse_json!(.message)`), so `exec` adds nothing to them.
    assert_eq!(src["decoding"]["codec"], "bytes");
    assert!(v["transforms"]["flows"]["source"]
        .as_str()
        .unwrap()
        .contains("parse_json!(.message)"));
    // nsgflow's stderr (errors and warnings only: --quiet) reaches Vector's log through a
    // route to a console sink, never the event remap.
    assert_eq!(src["include_stderr"], true);
    assert!(cmd_has_quiet(src));
    assert_eq!(v["transforms"]["messages"]["inputs"][0], "flowlogs");
    assert_eq!(
        v["transforms"]["messages"]["route"]["stderr"],
        ".stream == \"stderr\""
    );
    assert_eq!(v["sinks"]["nsgflow_messages"]["type"], "console");
    assert_eq!(
        v["sinks"]["nsgflow_messages"]["inputs"][0],
        "messages.stderr"
    );
    let cmd: Vec<String> = src["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(cmd[0], "nsgflow");
    assert!(
        !cmd.contains(&"--once".to_string()),
        "Vector's exec source wants streaming"
    );
    assert_eq!(v["transforms"]["flows"]["inputs"][0], "messages._unmatched");
    let Some(az) = Azurite::start("vector_pipeline") else {
        return;
    };
    // Streaming: stop it after one poll, as Vector would keep it running.
    let (lines, expected) = run_command(&az, &cmd[1..], &["--max-polls", "1"], "vector");
    assert_eq!(lines.len(), expected);
    for l in &lines {
        let doc: Value = serde_json::from_str(l).unwrap();
        assert!(
            doc["@timestamp"].is_string() && doc["source"]["ip"].is_string(),
            "{l}"
        );
    }
}

#[test]
fn the_fluent_bit_pipeline_command_prints_what_its_parser_reads() {
    let v = pipeline("fluent-bit/azure-blob.yaml");
    let input = v["pipeline"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "exec")
        .expect("an exec input");
    let parser_name = input["parser"].as_str().unwrap();
    let parser = v["parsers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == parser_name)
        .expect("the input's parser is defined");
    assert_eq!(parser["format"], "json");
    let time_key = parser["time_key"].as_str().unwrap();
    let cmd: Vec<String> = input["command"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(cmd[0], "nsgflow");
    assert!(
        cmd.contains(&"--once".to_string()),
        "the exec input runs it every interval_sec"
    );
    let Some(az) = Azurite::start("fluent_bit_pipeline") else {
        return;
    };
    let (lines, expected) = run_command(&az, &cmd[1..], &[], "fluent-bit");
    assert_eq!(lines.len(), expected);
    for l in &lines {
        let doc: Value = serde_json::from_str(l).unwrap();
        let t = doc[time_key]
            .as_str()
            .unwrap_or_else(|| panic!("no {time_key}: {l}"));
        // "%Y-%m-%dT%H:%M:%S.%LZ"
        assert!(
            t.len() == 24 && t.ends_with('Z') && &t[10..11] == "T",
            "{t}"
        );
    }
}
