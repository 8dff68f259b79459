//! The documented differences between the VRL programs and the native engine
//! (vrl-examples/README.md, "Exceptions"), each shown to be exactly what the README says:
//! if one disappears or changes, its test fails and the README must change with it.

mod common;

use common::*;
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_vrl::{decoded_events, Program};
use serde_json::{json, Value};

fn flat(text: &str) -> (Output, Output) {
    let native = native("x", text, Format::Flat, &Config::default());
    let vrl = vrl(text, &Program::example("explode"), &[]).expect("JSON");
    (native, vrl)
}

fn nsg_record(version: u8, tuples: &[&str]) -> String {
    let list: Vec<String> = tuples.iter().map(|t| format!("\"{t}\"")).collect();
    format!(
        r#"{{"time":"2026-03-02T10:01:36.1Z","macAddress":"000D3AF87856","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N","properties":{{"Version":{version},"flows":[{{"rule":"R","flows":[{{"mac":"000D3AF87856","flowTuples":[{}]}}]}}]}}}}"#,
        list.join(",")
    )
}

/// 1. Text that is not JSON, or a blob cut mid-write, never reaches `remap`: Vector's json
///    decoder rejects it. The native engine reads a cut blob's complete records.
#[test]
fn exception_1_text_vector_cannot_decode() {
    let cut = std::fs::read_to_string(nsgflow_tests::fixture("truncated-blob.json")).unwrap();
    assert!(decoded_events(&cut).is_err());
    let cut_native = native("cut", &cut, Format::Flat, &Config::default());
    assert_eq!(cut_native.events.len(), 5);
    assert!(cut_native.dead.iter().any(|d| d["reason"] == "incomplete"));

    let text = "1708978215,203.0.113.105,10.0.0.5,35370,443,T,I,A,B,,,,\n";
    assert!(decoded_events(text).is_err());
    let native = native("tuples.txt", text, Format::Flat, &Config::default());
    assert_eq!(native.dead[0]["reason"], "not_a_flow_log");
}

/// 2. Field order: VRL objects are ordered by key; the native encoders write the schema's
///    order. Same fields, same values.
#[test]
fn exception_2_field_order() {
    let text = std::fs::read_to_string(nsgflow_tests::fixture("nsg-v2-blob.json")).unwrap();
    let (native, vrl) = flat(&text);
    let native_line = run_line(&text);
    let vrl_line = serde_json::to_string(&vrl.events[0]).unwrap();
    assert_ne!(native_line, vrl_line, "same bytes: the exception is gone");
    assert_eq!(native.events[0], vrl.events[0]);
    let keys: Vec<&String> = vrl.events[0].as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(native_line.starts_with(r#"{"timestamp":"#));
}

fn run_line(text: &str) -> String {
    nsgflow_tests::run_text_with("x", text, Format::Flat, &Config::default()).lines[0].clone()
}

/// 3. VRL integers are signed 64-bit: a counter or VNet timestamp of 19 or more digits, or
///    an NSG timestamp of 16 or more digits (seconds), is rejected with the engine's
///    reason and words, where the engine reads numbers up to 2^64-1.
#[test]
fn exception_3_numbers_beyond_vrl_integers() {
    let big_counter = "1772445600,10.0.0.4,10.0.0.5,1,2,T,I,A,E,1000000000000000000,2,3,4";
    let big_ts = "1000000000000000,10.0.0.4,10.0.0.5,1,2,T,I,A,B,,,,";
    let (native, vrl) = flat(&nsg_record(2, &[big_counter, big_ts]));
    assert_eq!(native.events.len(), 2, "the engine reads both");
    assert_eq!(
        native.events[0]["packets_src_to_dst"],
        json!(1_000_000_000_000_000_000u64)
    );
    assert!(vrl.events.is_empty());
    assert_eq!(vrl.dead[0]["reason"], "tuple_counter");
    assert_eq!(
        vrl.dead[0]["detail"],
        "field 10 (packets_src_to_dst) is `1000000000000000000`: expected digits or nothing"
    );
    assert_eq!(vrl.dead[1]["reason"], "tuple_timestamp");
    assert_eq!(
        vrl.dead[1]["detail"],
        "field 1 (timestamp) is `1000000000000000`: timestamp out of range"
    );
    // One digit less is read the same by both.
    let (native, vrl) = flat(&nsg_record(
        2,
        &["1772445600,10.0.0.4,10.0.0.5,1,2,T,I,A,E,999999999999999999,2,3,4"],
    ));
    assert_same_events("18 digits", &vrl.events, &native.events, &|_, _, _| false);
}

/// 4. The MAC "as written" (ECS `azure.flow_log.mac`, OCSF `unmapped.azure.mac`): the
///    flat event only has the normalised MAC, so the re-shape programs write that.
#[test]
fn exception_4_mac_as_written() {
    let text = nsg_record(2, &["1772445600,10.0.0.4,10.0.0.5,1,2,T,O,A,B,,,,"]);
    let explode = Program::example("explode");
    for (program, format, path) in [
        ("ecs", Format::Ecs, "/azure/flow_log/mac"),
        ("ocsf", Format::Ocsf, "/unmapped/azure/mac"),
    ] {
        let native = native("x", &text, format, &Config::default());
        let vrl = vrl(&text, &explode, &[&Program::example(program)]).unwrap();
        assert_eq!(native.events[0].pointer(path).unwrap(), "000D3AF87856");
        assert_eq!(vrl.events[0].pointer(path).unwrap(), "00-0D-3A-F8-78-56");
        let diffs = differences(&vrl.events[0], &native.events[0]);
        assert_eq!(diffs.len(), 1, "{program}: {diffs:?}");
    }
}

/// 5. OCSF `metadata.log_name` is the record's `category`, not in the flat event: the
///    program derives it from the kind, so a record without `category` still gets one.
#[test]
fn exception_5_ocsf_log_name_without_category() {
    let text = nsg_record(2, &["1772445600,10.0.0.4,10.0.0.5,1,2,T,O,A,B,,,,"])
        .replace(r#""category":"NetworkSecurityGroupFlowEvent","#, "");
    let native = native("x", &text, Format::Ocsf, &Config::default());
    let vrl = vrl(
        &text,
        &Program::example("explode"),
        &[&Program::example("ocsf")],
    )
    .unwrap();
    assert!(native.events[0].pointer("/metadata/log_name").is_none());
    assert_eq!(
        vrl.events[0].pointer("/metadata/log_name").unwrap(),
        "NetworkSecurityGroupFlowEvent"
    );
}

/// 6. VRL's `community_id` refuses a tuple that mixes IPv4 and IPv6 (which Azure does not
///    write): the field is left out. The engine hashes both as IPv6.
#[test]
fn exception_6_community_id_of_mixed_families() {
    let (native, vrl) = flat(&nsg_record(
        2,
        &["1772445600,10.0.0.4,fd00::5,1,2,T,O,A,B,,,,"],
    ));
    assert!(native.events[0]["community_id"].is_string());
    assert!(vrl.events[0].get("community_id").is_none());
    let diffs = differences(&vrl.events[0], &native.events[0]);
    assert_eq!(diffs.len(), 1, "{diffs:?}");
}

/// 7. `bad_flow_group`: same events before it, same place, but the detail has no byte
///    offset (VRL does not see the text).
#[test]
fn exception_7_bad_flow_group_detail() {
    let text = r#"{"category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[{"rule":"A","flows":[{"mac":"M","flowTuples":["1772445600,10.0.0.4,10.0.0.5,1,2,T,O,A,B,,,,"]}]},{"rule":"B","flows":7},{"rule":"C","flows":[{"mac":"M","flowTuples":["1772445600,10.0.0.4,10.0.0.6,1,2,T,O,A,B,,,,"]}]}]}}"#;
    let (native, vrl) = flat(text);
    assert_eq!(
        native.events.len(),
        1,
        "the rest of the record is skipped natively"
    );
    assert_same_events("bad group", &vrl.events, &native.events, &|_, _, _| false);
    assert_eq!(
        assert_same_dead_letters("bad group", &vrl.dead, &native.dead),
        1
    );
    assert!(native.dead[0]["detail"]
        .as_str()
        .unwrap()
        .contains("offset"));
    assert!(!vrl.dead[0]["detail"].as_str().unwrap().contains("offset"));
}

/// 8. Dead-letter markers carry no `input`, `record_index` or `offset` (Vector's source
///    metadata says where an event came from); a tuple's marker adds `record_time` and
///    `resource_id`; a record's `text` is the record re-encoded as JSON, not its bytes.
#[test]
fn exception_8_dead_letter_fields() {
    let text = std::fs::read_to_string(nsgflow_tests::fixture("bad-tuples.json")).unwrap();
    let (native, vrl) = flat(&text);
    let key_set = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        key_set(&native.dead[0]),
        [
            "detail",
            "input",
            "level",
            "offset",
            "reason",
            "record_index",
            "text",
            "tuple_index"
        ]
    );
    assert_eq!(
        key_set(&vrl.dead[0]),
        [
            "detail",
            "level",
            "reason",
            "record_time",
            "resource_id",
            "text",
            "tuple_index"
        ]
    );
    let text = std::fs::read_to_string(nsgflow_tests::fixture("bad-records.json")).unwrap();
    let (native, vrl) = flat(&text);
    assert_ne!(native.dead[0]["text"], vrl.dead[0]["text"], "same bytes");
    let parse = |d: &Value| -> Value { serde_json::from_str(d["text"].as_str().unwrap()).unwrap() };
    assert_eq!(parse(&native.dead[0]), parse(&vrl.dead[0]));
}

/// 9. Splunk's `time` is a JSON number either way: the engine writes `1772445600.000`,
///    VRL `1772445600.0`. Equal numbers, different text.
#[test]
fn exception_9_splunk_time_text() {
    let text = nsg_record(2, &["1772445600,10.0.0.4,10.0.0.5,1,2,T,O,A,B,,,,"]);
    let line = nsgflow_tests::run_text_with("x", &text, Format::Splunk, &Config::default()).lines
        [0]
    .clone();
    assert!(line.starts_with(r#"{"time":1772445600.000,"#), "{line}");
    let vrl = vrl(
        &text,
        &Program::example("explode"),
        &[&Program::example("splunk")],
    )
    .unwrap();
    let out = serde_json::to_string(&vrl.events[0]).unwrap();
    assert!(
        out.contains(r#""time":1772445600.0"#) && !out.contains("1772445600.000"),
        "{out}"
    );
    let native: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(native["time"].as_f64(), vrl.events[0]["time"].as_f64());
}

/// 10. User networks: the first listed match wins in VRL, the longest prefix natively.
///     Listed most specific first (as explode.vrl asks) they agree.
#[test]
fn exception_10_user_network_order() {
    let config =
        Config::from_yaml("networks:\n  all: [10.0.0.0/8]\n  web: [10.0.0.0/24]\n").unwrap();
    let text = nsg_record(2, &["1772445600,10.0.0.4,8.8.8.8,1,53,U,O,A,B,,,,"]);
    let native = native("x", &text, Format::Flat, &config);
    assert_eq!(native.events[0]["src_network"], "web");
    let broad_first = explode_with_networks(
        r#"[{"cidr": "10.0.0.0/8", "name": "all"}, {"cidr": "10.0.0.0/24", "name": "web"}]"#,
    );
    let vrl_broad = vrl(&text, &broad_first, &[]).unwrap();
    assert_eq!(vrl_broad.events[0]["src_network"], "all");
    let specific_first = explode_with_networks(
        r#"[{"cidr": "10.0.0.0/24", "name": "web"}, {"cidr": "10.0.0.0/8", "name": "all"}]"#,
    );
    let vrl_specific = vrl(&text, &specific_first, &[]).unwrap();
    assert_same_events(
        "networks",
        &vrl_specific.events,
        &native.events,
        &|_, _, _| false,
    );
}
