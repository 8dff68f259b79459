//! One test per format and quirk of `../shared/FORMATS.md`, asserting values, not just
//! counts. The fixtures are described in `fixtures/README.md`.

use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow::engine::InputOutcome;
use nsgflow_tests::{fixture, fixtures_dir, run_file, run_text, run_text_with};
use serde_json::Value;

fn flat(name: &str) -> Vec<Value> {
    let run = run_file(&fixture(name), Format::Flat);
    assert!(
        run.dead.is_empty(),
        "{name}: unexpected rejections {:?}",
        run.dead
    );
    run.events()
}

fn s<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing or not a string in {v}"))
}

#[test]
fn nsg_v1_blob_one_line_no_state_no_counters() {
    let text = std::fs::read_to_string(fixture("nsg-v1-blob.json")).unwrap();
    assert!(
        !text.contains('\n'),
        "fixture must be one line like a real blob"
    );
    let ev = flat("nsg-v1-blob.json");
    assert_eq!(ev.len(), 17);
    for e in &ev {
        assert_eq!(e["flow_log_kind"], "nsg");
        assert_eq!(e["flow_log_version"], 1);
        for absent in [
            "flow_state",
            "packets_src_to_dst",
            "bytes_src_to_dst",
            "encryption",
        ] {
            assert!(e.get(absent).is_none(), "v1 event has {absent}: {e}");
        }
    }
    assert_eq!(ev.iter().filter(|e| e["action"] == "deny").count(), 7);
    assert_eq!(ev.iter().filter(|e| e["action"] == "allow").count(), 10);
    // Records 2 and 3 share a `time`; both are read.
    let shared = ev
        .iter()
        .filter(|e| e["record_time"] == "2026-03-02T10:02:35.4012733Z")
        .count();
    assert_eq!(shared, 8);
    // The CGNAT client is classed `shared`.
    assert!(ev
        .iter()
        .any(|e| e["src_ip"] == "100.64.12.7" && e["src_class"] == "shared"));
}

#[test]
fn nsg_v2_begin_has_no_counters_zero_stays_zero_and_flow_totals_sum() {
    let ev = flat("nsg-v2-blob.json");
    assert_eq!(ev.len(), 23);
    for e in ev.iter().filter(|e| e["flow_state"] == "begin") {
        assert!(
            e.get("bytes_src_to_dst").is_none(),
            "B tuple with counters: {e}"
        );
    }
    let zero = ev
        .iter()
        .find(|e| e["dst_ip"] == "8.8.4.4" && e["flow_state"] == "end")
        .expect("E tuple to 8.8.4.4");
    assert_eq!(zero["bytes_dst_to_src"], 0, "explicit 0 stays 0");
    assert_eq!(zero["packets_dst_to_src"], 0);
    assert_eq!(zero["l7_protocol"], "dns");
    // Flow 10.20.2.5:49822 -> 20.60.140.36:443 goes B, C, C, E; its total is the sum of C and E.
    let flow: Vec<&Value> = ev
        .iter()
        .filter(|e| e["src_port"] == 49822 && e["dst_ip"] == "20.60.140.36")
        .collect();
    let states: Vec<&str> = flow.iter().map(|e| s(e, "flow_state")).collect();
    assert_eq!(states, ["begin", "continue", "continue", "end"]);
    let sum = |k: &str| flow.iter().filter_map(|e| e[k].as_u64()).sum::<u64>();
    assert_eq!(
        [
            sum("packets_src_to_dst"),
            sum("bytes_src_to_dst"),
            sum("packets_dst_to_src"),
            sum("bytes_dst_to_src")
        ],
        [664, 94387, 633, 2924310]
    );
    // One Community ID for the whole flow, and for its reverse direction.
    let ids: std::collections::BTreeSet<&str> = flow.iter().map(|e| s(e, "community_id")).collect();
    assert_eq!(ids.len(), 1);
    // IPv6 tuples, classified.
    let v6: Vec<&Value> = ev.iter().filter(|e| s(e, "src_ip").contains(':')).collect();
    assert_eq!(v6.len(), 4);
    assert!(v6
        .iter()
        .any(|e| e["src_class"] == "link_local" && e["dst_class"] == "multicast"));
    assert!(v6
        .iter()
        .any(|e| e["src_class"] == "unique_local" && e["dst_class"] == "public"));
    // The Azure platform address, as a probe source and a DNS target.
    assert!(ev
        .iter()
        .any(|e| e["src_ip"] == "168.63.129.16" && e["src_class"] == "azure_platform"));
    assert!(ev
        .iter()
        .any(|e| e["dst_ip"] == "168.63.129.16" && e["dst_class"] == "azure_platform"));
}

#[test]
fn version_is_read_per_record_and_mac_is_normalised() {
    let ev = flat("nsg-version-switch.json");
    let versions: Vec<u64> = ev
        .iter()
        .map(|e| e["flow_log_version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 2, 2, 2, 1, 1, 1, 1, 1]);
    for e in &ev {
        assert_eq!(e["mac"], "00-0D-3A-2B-E4-F1", "mixed-case MAC normalised");
        assert_eq!(e.get("flow_state").is_some(), e["flow_log_version"] == 2);
    }
}

#[test]
fn vnet_blob_every_quirk() {
    let ev = flat("vnet-blob.json");
    assert_eq!(ev.len(), 30);
    // Millisecond timestamps keep their milliseconds.
    assert!(ev
        .iter()
        .all(|e| e["flow_log_kind"] == "vnet" && e["flow_log_version"] == 4));
    assert!(ev.iter().any(|e| !s(e, "timestamp").ends_with(".000Z")));
    // All eight encryption codes, and `encrypted` only for X.
    let codes: std::collections::BTreeSet<&str> = ev.iter().map(|e| s(e, "encryption")).collect();
    assert_eq!(codes.len(), 8, "{codes:?}");
    for e in &ev {
        assert_eq!(e["encrypted"], e["encryption"] == "X");
    }
    // D means denied: action deny, state deny, explicit zero counters.
    let denied: Vec<&Value> = ev.iter().filter(|e| e["flow_state"] == "deny").collect();
    assert_eq!(denied.len(), 7);
    for e in &denied {
        assert_eq!(e["action"], "deny");
        assert_eq!(e["bytes_src_to_dst"], 0);
    }
    assert!(ev
        .iter()
        .filter(|e| e["flow_state"] != "deny")
        .all(|e| e["action"] == "allow"));
    // B tuples carry 0,0,0,0 in VNet logs: explicit zeros, kept.
    assert!(ev
        .iter()
        .filter(|e| e["flow_state"] == "begin")
        .all(|e| e["packets_src_to_dst"] == 0));
    // Protocol numbers.
    assert!(ev
        .iter()
        .any(|e| e["protocol"] == "icmp" && e["iana_number"] == 1));
    assert!(ev
        .iter()
        .any(|e| e["protocol"] == "udp" && e["iana_number"] == 17));
    // aclID forms: an NSG path gives the NSG name; PlatformRule; unspecified; AVNM GUID suffixes kept.
    assert!(ev
        .iter()
        .any(|e| e["nsg"] == "nsg-shop-db" && s(e, "acl_id").starts_with("/subscriptions/")));
    assert!(ev
        .iter()
        .any(|e| e["rule"] == "PlatformRule"
            && e["acl_id"] == "00000000-0000-0000-0000-000000000000"));
    assert!(ev
        .iter()
        .any(|e| e["rule"] == "unspecified" && e["acl_id"] == "unspecified"));
    assert!(ev
        .iter()
        .any(|e| e["rule"] == "Internet_4b9ac3d8-1d6f-4a4e-9b9e-3f1c5d2a7e10"));
    // Names from the resource IDs: workload subscription and RG from the target, flow log name.
    for e in &ev {
        assert_eq!(e["target_resource"], "vnet-shop-prod-weu");
        assert_eq!(e["target_resource_type"], "vnet");
        assert_eq!(e["flow_log"], "FL-VNET-SHOP-PROD-WEU");
        assert_eq!(e["subscription_id"], "7c4e2b19-3f8a-4d6e-9b21-5a0c8e7f3d42");
    }
    // Record 2 has its keys in reverse order: its 9 tuples still carry its header.
    let rec2_time = ev
        .iter()
        .filter(|e| e["record_time"] == ev[12]["record_time"])
        .count();
    assert_eq!(rec2_time, 9);
    assert!(ev[12].get("mac").is_some() && ev[12].get("flow_log_guid").is_some());
}

#[test]
fn vnet_second_timestamps_and_empty_counters() {
    let ev = flat("vnet-seconds-empty-counters.json");
    assert_eq!(ev.len(), 6);
    for e in &ev {
        let ts = s(e, "timestamp");
        assert!(
            ts.starts_with("2026-03-02T") && ts.ends_with(".000Z"),
            "seconds read as seconds: {ts}"
        );
    }
    let begins: Vec<&Value> = ev.iter().filter(|e| e["flow_state"] == "begin").collect();
    assert_eq!(begins.len(), 2);
    assert!(
        begins.iter().all(|e| e.get("packets_src_to_dst").is_none()),
        "empty counters stay absent"
    );
    let denies: Vec<&Value> = ev.iter().filter(|e| e["flow_state"] == "deny").collect();
    assert_eq!(denies.len(), 2);
    assert_eq!(
        denies.iter().filter(|e| e["bytes_src_to_dst"] == 0).count(),
        1,
        "0,0,0,0 stays 0"
    );
    assert_eq!(
        denies
            .iter()
            .filter(|e| e.get("bytes_src_to_dst").is_none())
            .count(),
        1
    );
    assert_eq!(ev[0]["target_resource_type"], "subnet");
}

#[test]
fn pretty_printed_escapes_are_decoded() {
    let ev = flat("pretty-escaped.json");
    assert_eq!(ev.len(), 6);
    assert!(
        ev.iter()
            .filter(|e| e["rule"] == "UserRule_münchen-web")
            .count()
            >= 2
    );
    for e in &ev {
        assert!(!s(e, "rule").contains('\\'), "escape left in {e}");
        assert!(s(e, "resource_id").starts_with("/SUBSCRIPTIONS/E19D7A63-"));
        assert_eq!(e["nsg"], "NSG-MUC-WEB");
        assert_eq!(e["resource_group"], "RG-MUC-WEB");
    }
}

#[test]
fn containers_give_the_same_events() {
    // The same records as a one-line blob, a pretty blob, NDJSON, single records one after
    // another, and a bare JSON array all explode identically.
    let blob = std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap();
    let parsed: Value = serde_json::from_str(&blob).unwrap();
    let records = parsed["records"].as_array().unwrap();
    let pretty = serde_json::to_string_pretty(&parsed).unwrap();
    let ndjson: String = records.iter().map(|r| format!("{r}\n")).collect();
    let concatenated: String = records
        .iter()
        .map(|r| serde_json::to_string_pretty(r).unwrap())
        .collect();
    let array = serde_json::to_string(records).unwrap();
    let want = run_text(&blob, Format::Flat).lines;
    assert_eq!(want.len(), 23);
    for (what, text) in [
        ("pretty", &pretty),
        ("ndjson", &ndjson),
        ("concatenated", &concatenated),
        ("array", &array),
    ] {
        let run = run_text(text, Format::Flat);
        assert_eq!(run.lines, want, "{what}");
        assert!(run.dead.is_empty(), "{what}: {:?}", run.dead);
    }
    let single = run_file(&fixture("single-record-nsg-v2.json"), Format::Flat);
    assert_eq!(single.lines.len(), 5);
    let nd = run_file(&fixture("records.ndjson"), Format::Flat).events();
    assert_eq!(nd.len(), 9);
    assert_eq!(
        nd.iter().filter(|e| e["flow_log_kind"] == "vnet").count(),
        3
    );
}

#[test]
fn cut_blob_keeps_complete_records_and_reports_incomplete_tail() {
    let run = run_file(&fixture("truncated-blob.json"), Format::Flat);
    assert_eq!(run.lines.len(), 5, "records 1-3 only");
    assert_eq!(run.outcome, InputOutcome::Read { incomplete: true });
    let dead = run.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["reason"], "incomplete");
    assert_eq!(dead[0]["record_index"], 3);
    assert!(s(&dead[0], "text").ends_with("52.2"));
    assert_eq!(
        run.stats.rejected.get("invalid_json"),
        None,
        "not reported as corruption"
    );
    // Cut anywhere: never a panic, never an event from the cut record, never corruption.
    let text = std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap();
    let full = run_text(&text, Format::Flat).lines;
    for cut in (1..text.len()).step_by(7) {
        let run = run_text(&text[..cut], Format::Flat);
        assert!(full.starts_with(&run.lines), "cut at {cut}");
        assert!(
            run.stats.rejected.keys().all(|r| *r == "incomplete"),
            "cut at {cut}: {:?}",
            run.stats.rejected
        );
    }
}

#[test]
fn bad_tuples_are_dead_lettered_with_reasons_and_neighbours_kept() {
    let run = run_file(&fixture("bad-tuples.json"), Format::Flat);
    assert_eq!(run.lines.len(), 13);
    let dead = run.dead_letters();
    let reasons: Vec<&str> = dead.iter().map(|d| s(d, "reason")).collect();
    assert_eq!(
        reasons,
        [
            "tuple_field_count",
            "tuple_address",
            "tuple_port",
            "tuple_protocol",
            "tuple_direction",
            "tuple_decision",
            "tuple_state",
            "tuple_counter",
            "tuple_timestamp"
        ]
    );
    for d in &dead {
        assert_eq!(d["level"], "tuple");
        assert!(d["record_index"].is_u64() && d["tuple_index"].is_u64());
        assert!(!s(d, "detail").is_empty());
    }
    assert!(s(&dead[1], "detail").contains("10.0.0.300"));
    assert_eq!(
        dead[1]["text"],
        "1772456456,10.0.0.300,10.20.2.5,50110,443,T,I,A,B,,,,"
    );
    assert_eq!(run.stats.tuples, 22);
    assert_eq!(run.stats.events, 13);
    assert_eq!(run.stats.rejected_total(), 9);
}

#[test]
fn bad_records_are_dead_lettered_and_the_good_kept() {
    let run = run_file(&fixture("bad-records.json"), Format::Flat);
    assert_eq!(run.lines.len(), 6);
    let dead = run.dead_letters();
    let reasons: Vec<&str> = dead.iter().map(|d| s(d, "reason")).collect();
    assert_eq!(reasons, ["not_a_flow_log", "unsupported_version"]);
    assert!(s(&dead[1], "detail").contains("Version 7"));
    assert_eq!(dead[0]["record_index"], 1);
    assert_eq!(dead[1]["record_index"], 2);
    assert_eq!(run.outcome, InputOutcome::Read { incomplete: false });
    // A real NSG *event* (not flow) record has a `properties` object without flows.
    let nsg_event = r#"{"time":"2026-03-02T10:00:00Z","category":"NetworkSecurityGroupEvent","properties":{"vnetResourceGuid":"{X}","ruleName":"UserRule_x","direction":"In","type":"allow"}}"#;
    let run = run_text(nsg_event, Format::Flat);
    match run.outcome {
        InputOutcome::NotFlowLog(why) => {
            assert!(why.contains("NetworkSecurityGroupEvent"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn not_a_flow_log_is_an_error_naming_why() {
    let run = run_file(&fixture("not-a-flow-log.json"), Format::Flat);
    assert!(run.lines.is_empty());
    match run.outcome {
        InputOutcome::NotFlowLog(why) => assert!(why.contains("flowRecords"), "{why}"),
        other => panic!("{other:?}"),
    }
    for junk in ["", "   \n", "hello", "[1,2]", "42", "{\"a\":1}\n{\"b\":2}"] {
        let run = run_text(junk, Format::Flat);
        assert!(
            matches!(run.outcome, InputOutcome::NotFlowLog(_)),
            "{junk:?}: {:?}",
            run.outcome
        );
    }
}

#[test]
fn azure_layout_is_walked_in_order() {
    let (inputs, errors) =
        nsgflow::input::expand(&[fixtures_dir().join("azure-layout").display().to_string()]);
    assert!(errors.is_empty());
    let names: Vec<String> = inputs.iter().map(|i| i.name()).collect();
    assert_eq!(names.len(), 3);
    assert!(names.iter().all(|n| n.ends_with("/PT1H.json")));
    assert!(names[0].contains("h=10/m=00/macAddress=000D3A7C19B2"));
    assert!(names[1].contains("h=10/m=00/macAddress=000D3A7C5E08"));
    assert!(names[2].contains("h=11/m=00/macAddress=000D3A7C19B2"));
    let total: usize = inputs
        .iter()
        .map(|i| match i {
            nsgflow::input::Input::File(p) => run_file(p, Format::Flat).lines.len(),
            nsgflow::input::Input::Stdin => 0,
        })
        .sum();
    assert_eq!(total, 9);
}

#[test]
fn user_networks_take_precedence_and_name_the_side() {
    let config =
        Config::from_yaml("networks:\n  shop-api: [10.20.2.0/24]\n  wireserver: [168.63.129.16]\n")
            .unwrap();
    let text = std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap();
    let run = run_text_with("t", &text, Format::Flat, &config);
    let ev = run.events();
    let api = ev.iter().find(|e| e["src_ip"] == "10.20.2.5").unwrap();
    assert_eq!(api["src_class"], "internal");
    assert_eq!(api["src_network"], "shop-api");
    let probe = ev.iter().find(|e| e["src_ip"] == "168.63.129.16").unwrap();
    assert_eq!(probe["src_class"], "internal");
    assert_eq!(probe["src_network"], "wireserver");
    // Splunk zones carry the network name.
    let run = run_text_with("t", &text, Format::Splunk, &config);
    assert!(run
        .events()
        .iter()
        .any(|e| e["event"]["src_zone"] == "shop-api"));
}

#[test]
fn encoders_map_the_same_event_consistently() {
    // One outbound E tuple with counters, through every encoder.
    let text = std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap();
    let pick = |format| {
        run_text(&text, format)
            .events()
            .into_iter()
            .nth(
                run_text(&text, Format::Flat)
                    .events()
                    .iter()
                    .position(|e| e["src_port"] == 49822 && e["flow_state"] == "end")
                    .unwrap(),
            )
            .unwrap()
    };
    let flat = pick(Format::Flat);
    let ecs = pick(Format::Ecs);
    assert_eq!(ecs["source"]["ip"], flat["src_ip"]);
    assert_eq!(ecs["source"]["bytes"], flat["bytes_src_to_dst"]);
    assert_eq!(ecs["destination"]["bytes"], flat["bytes_dst_to_src"]);
    assert_eq!(
        ecs["network"]["bytes"].as_u64().unwrap(),
        flat["bytes_src_to_dst"].as_u64().unwrap() + flat["bytes_dst_to_src"].as_u64().unwrap()
    );
    assert_eq!(ecs["network"]["direction"], "egress");
    assert_eq!(ecs["network"]["iana_number"], "6");
    assert_eq!(ecs["network"]["community_id"], flat["community_id"]);
    assert_eq!(
        ecs["event"]["type"],
        serde_json::json!(["connection", "allowed", "end"])
    );
    assert_eq!(
        ecs["source"]["mac"], flat["mac"],
        "outbound: the NIC is the source"
    );
    assert_eq!(ecs["cloud"]["account"]["id"], flat["subscription_id"]);
    assert_eq!(
        ecs["related"]["ip"],
        serde_json::json!([flat["src_ip"], flat["dst_ip"]])
    );
    assert_eq!(ecs["@timestamp"], flat["timestamp"]);

    let sp = pick(Format::Splunk);
    assert_eq!(sp["event"]["action"], "allowed");
    assert_eq!(sp["event"]["bytes_out"], flat["bytes_src_to_dst"]);
    assert_eq!(sp["event"]["bytes_in"], flat["bytes_dst_to_src"]);
    assert_eq!(sp["event"]["dest_port"], flat["dst_port"]);
    assert_eq!(sp["event"]["flow_id"], flat["community_id"]);
    assert_eq!(sp["host"], flat["nsg"]);
    assert_eq!(sp["sourcetype"], "azure:network:flow");
    let ts = flat["timestamp"].as_str().unwrap();
    assert_eq!(
        sp["time"].as_f64().unwrap() as i64 % 60,
        ts[17..19].parse::<i64>().unwrap()
    );

    let oc = pick(Format::Ocsf);
    assert_eq!(oc["class_uid"], 4001);
    assert_eq!(oc["activity_id"], 2, "E is Close");
    assert_eq!(oc["type_uid"], 400102);
    assert_eq!(oc["traffic"]["bytes_out"], flat["bytes_src_to_dst"]);
    assert_eq!(oc["traffic"]["bytes_in"], flat["bytes_dst_to_src"]);
    assert_eq!(oc["connection_info"]["direction_id"], 2);
    assert_eq!(oc["disposition_id"], 1);
    assert_eq!(oc["dst_endpoint"]["port"], flat["dst_port"]);

    // A denied inbound tuple.
    let denied = run_text(&text, Format::Ocsf)
        .events()
        .into_iter()
        .find(|e| e["action_id"] == 2)
        .unwrap();
    assert_eq!(denied["disposition"], "Blocked");
    assert_eq!(denied["activity_id"], 5);
    let denied = run_text(&text, Format::Splunk)
        .events()
        .into_iter()
        .find(|e| e["event"]["action"] == "blocked")
        .unwrap();
    assert_eq!(denied["event"]["direction"], "inbound");
}
