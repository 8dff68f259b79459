//! The VRL programs, run by the real VRL engine on what Vector's `remap` would get, against
//! the native engine on every fixture and every shared sample: the same events field for
//! field, the same dead letters. The few documented exceptions (vrl-examples/README.md) are
//! allowed here by name and tested on their own in `exceptions.rs`.

mod common;

use common::*;
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_vrl::Program;
use serde_json::Value;

fn no_exception(_: &str, _: Option<&Value>, _: Option<&Value>) -> bool {
    false
}

/// The MAC the engine keeps "as written" (ECS `azure.flow_log.mac`, OCSF
/// `unmapped.azure.mac`) is the normalised one from the flat event: exception 4.
fn mac_as_written(path: &str, vrl: Option<&Value>, native: Option<&Value>) -> bool {
    matches!(path, "azure.flow_log.mac" | "unmapped.azure.mac")
        && vrl.and_then(Value::as_str).map(str::to_string)
            == native.and_then(Value::as_str).and_then(normalised_mac)
}

#[test]
fn explode_gives_the_native_flat_events_and_dead_letters_for_every_input() {
    let explode = Program::example("explode");
    let (mut files, mut events, mut dead, mut not_json) = (0, 0, 0, 0);
    for (name, text) in inputs() {
        let native = native(&name, &text, Format::Flat, &Config::default());
        let Some(vrl) = vrl(&text, &explode, &[]) else {
            // Exception 1: not JSON, or a blob cut mid-write. Vector's decoder rejects it;
            // the native engine reports it too (and reads a cut blob's complete records).
            assert!(
                native.dead.iter().any(|d| d["reason"] == "incomplete"
                    || (d["reason"] == "not_a_flow_log" && native.events.is_empty())),
                "{name}: not JSON to Vector, but the native engine did not flag it: {:?}",
                native.dead
            );
            not_json += 1;
            continue;
        };
        files += 1;
        events += vrl.events.len();
        dead += vrl.dead.len();
        assert_same_events(&name, &vrl.events, &native.events, &no_exception);
        assert_same_dead_letters(&name, &vrl.dead, &native.dead);
    }
    eprintln!("{files} inputs, {events} events and {dead} dead letters equal; {not_json} not JSON");
    assert!(files >= 12, "only {files} inputs compared");
    assert!(events >= 130, "only {events} events compared");
    assert!(dead >= 11, "only {dead} dead letters compared");
}

#[test]
fn explode_classes_user_networks_as_the_engine_does() {
    let config = Config::from_yaml(
        "networks:\n  spoke-shop: [10.20.0.0/16, 'fd00:20::/32']\n  shop-api: [10.20.2.0/24]\n  hr: [172.16.0.0/12]\n",
    )
    .expect("config");
    // Most specific first, as explode.vrl asks.
    let explode = explode_with_networks(
        r#"[{"cidr": "10.20.2.0/24", "name": "shop-api"}, {"cidr": "10.20.0.0/16", "name": "spoke-shop"}, {"cidr": "fd00:20::/32", "name": "spoke-shop"}, {"cidr": "172.16.0.0/12", "name": "hr"}]"#,
    );
    let mut internal = 0;
    for (name, text) in inputs() {
        let native = native(&name, &text, Format::Flat, &config);
        let Some(vrl) = vrl(&text, &explode, &[]) else {
            continue;
        };
        assert_same_events(&name, &vrl.events, &native.events, &no_exception);
        internal += vrl
            .events
            .iter()
            .filter(|e| e["src_class"] == "internal" || e["dst_class"] == "internal")
            .count();
    }
    assert!(internal > 50, "only {internal} events touch a user network");
}

#[test]
fn explode_uses_the_community_id_seed_as_the_engine_does() {
    let config = Config::from_yaml("community_id_seed: 7\n").expect("config");
    let explode = explode_with_setting("community_id_seed = 0", "community_id_seed = 7");
    let text = std::fs::read_to_string(nsgflow_tests::fixture("vnet-blob.json")).unwrap();
    let native_seeded = native("vnet", &text, Format::Flat, &config);
    let native_default = native("vnet", &text, Format::Flat, &Config::default());
    assert_ne!(
        native_seeded.events[0]["community_id"],
        native_default.events[0]["community_id"]
    );
    let vrl = vrl(&text, &explode, &[]).unwrap();
    assert_same_events("seed 7", &vrl.events, &native_seeded.events, &no_exception);
}

#[test]
fn reshape_programs_give_the_native_ecs_splunk_and_ocsf_documents() {
    let explode = Program::example("explode");
    for (program, format) in [
        ("ecs", Format::Ecs),
        ("splunk", Format::Splunk),
        ("ocsf", Format::Ocsf),
    ] {
        let reshape = Program::example(program);
        let (mut compared, mut macs) = (0, 0);
        for (name, text) in inputs() {
            let native = native(&name, &text, format, &Config::default());
            let Some(vrl) = vrl(&text, &explode, &[&reshape]) else {
                continue;
            };
            let context = format!("{name} ({program}.vrl)");
            macs += assert_same_events(&context, &vrl.events, &native.events, &mac_as_written);
            // Dead-letter markers pass the re-shape programs unchanged.
            assert_same_dead_letters(&context, &vrl.dead, &native.dead);
            compared += vrl.events.len();
        }
        assert!(
            compared >= 130,
            "{program}: only {compared} events compared"
        );
        if format == Format::Splunk {
            assert_eq!(macs, 0, "Splunk has no MAC as written");
        } else {
            assert!(macs > 0, "{program}: the MAC exception never came up");
        }
    }
}

#[test]
fn reshape_programs_work_on_native_flat_events_too() {
    // The re-shape programs also take `nsgflow process --format flat` output (an exec source).
    let reshape = Program::example("ecs");
    let text = std::fs::read_to_string(nsgflow_tests::fixture("vnet-blob.json")).unwrap();
    let flat = native("vnet", &text, Format::Flat, &Config::default());
    let ecs = native("vnet", &text, Format::Ecs, &Config::default());
    let vrl: Vec<Value> = flat
        .events
        .into_iter()
        .flat_map(|e| reshape.run_json(e).unwrap())
        .collect();
    assert_same_events("vnet-blob.json", &vrl, &ecs.events, &mac_as_written);
}

/// Tuples off the fast path: leading zeros, IPv4-mapped IPv6, protocols without ports,
/// ICMP, IPv6 classes, a seconds timestamp in VNet, explicit zeros.
#[test]
fn explode_matches_the_engine_on_unusual_but_valid_tuples() {
    let nsg = r#"{"time":"2026-03-02T10:01:36.1Z","macAddress":"00:22:48:84:d0:e2","category":"NetworkSecurityGroupFlowEvent","resourceId":"/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Network/networkSecurityGroups/N1","properties":{"Version":2,"flows":[{"rule":"R1","flows":[{"flowTuples":["1772445600,10.0.0.4,52.1.2.3,09822,00443,T,O,A,C,01,2,3,4","1772445601,::ffff:10.0.0.4,::ffff:8.8.8.8,5000,53,U,O,A,B,,,,","1772445602,::1,::,1,2,T,I,D,B,,,,","1772445603,169.254.169.254,255.255.255.255,1,2,U,O,A,E,0,0,0,0","1772445604,192.0.2.1,224.0.0.5,1,2,U,O,A,E,1,1,1,1","1772445605,0.0.0.0,240.0.0.1,1,2,U,O,A,E,1,1,1,1","1772445606,127.0.0.1,198.18.0.1,1,2,T,I,A,B,,,,"]}]},{"flows":[{"mac":"not-a-mac","flowTuples":["1772445607,10.0.0.4,10.0.0.5,1,2,T,I,A,B,,,,"]}]}]}}"#;
    let vnet = r#"{"time":"2026-03-02T10:01:36.1Z","flowLogVersion":4,"category":"FlowLogFlowEvent","macAddress":"6045BDA1C3F2","flowLogResourceID":"/SUBSCRIPTIONS/S2/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NW/FLOWLOGS/FL1","targetResourceID":"/subscriptions/S3/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic-1","flowRecords":{"flows":[{"aclID":"/subscriptions/S3/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-x","flowGroups":[{"rule":"R","flowTuples":["1772445600000,10.0.0.4,10.0.0.5,0,0,1,O,B,X,0,0,0,0","1772445600,10.0.0.4,10.0.0.5,8,0,1,O,E,NX_NEW_REASON,1,2,3,4","1772445601000,10.0.0.4,10.0.0.5,1,2,47,O,C,NX,1,2,3,4","1772445602000,fd00::1,ff02::1,128,0,58,O,D,NX_LOCAL_DST,0,0,0,0","1772445603000,10.0.0.4,10.0.0.5,1,2,200,I,E,NX,,,,","1772445604000,10.0.0.4,10.0.0.5,1,443,017,I,E,NX,1,2,3,4"]}]}]}}"#;
    let explode = Program::example("explode");
    for (name, text) in [("nsg", nsg), ("vnet", vnet)] {
        let native = native(name, text, Format::Flat, &Config::default());
        assert!(native.dead.is_empty(), "{name}: {:?}", native.dead);
        let vrl = vrl(text, &explode, &[]).expect("JSON");
        assert_same_events(name, &vrl.events, &native.events, &no_exception);
        assert!(vrl.dead.is_empty());
    }
}

/// Every kind of bad tuple and record the engine names, named the same way by VRL.
#[test]
fn explode_marks_every_kind_of_bad_tuple_and_record_as_the_engine_does() {
    let tuples = [
        "1,2,3",
        "x772445600,10.0.0.4,10.0.0.5,1,2,T,I,A,B,,,,",
        "1772445600,10.0.0.4,10.0.0.256,1,2,T,I,A,B,,,,",
        "1772445600,10.0.0.4,010.0.0.5,1,2,T,I,A,B,,,,",
        "1772445600,10.0.0.4,10.0.0.5,-1,2,T,I,A,B,,,,",
        "1772445600,10.0.0.4,10.0.0.5,1,123456,T,I,A,B,,,,",
        "1772445600,10.0.0.4,10.0.0.5,1,2,6,I,A,B,,,,",
        "1772445600,10.0.0.4,10.0.0.5,1,2,T,i,A,B,,,,",
        "1772445600,10.0.0.4,10.0.0.5,1,2,T,I,a,B,,,,",
        "1772445600,10.0.0.4,10.0.0.5,1,2,T,I,A,D,,,,",
        "1772445600,10.0.0.4,10.0.0.5,1,2,T,I,A,E,1,2,3,+4",
        "1772445600,10.0.0.4,10.0.0.5,1,2,T,I,A,E,1, 2,3,4",
    ];
    let list: Vec<String> = tuples.iter().map(|t| format!("\"{t}\"")).collect();
    let nsg = format!(
        r#"{{"records":[{{"time":"T","category":"NetworkSecurityGroupFlowEvent","resourceId":"/S","properties":{{"Version":2,"flows":[{{"rule":"R","flows":[{{"mac":"000D3AF87856","flowTuples":[{},17,null]}}]}}]}}}},{{"category":"NetworkSecurityGroupFlowEvent","properties":{{"Version":"1.0"}}}},{{"category":"NetworkSecurityGroupFlowEvent","properties":{{"Version":-1}}}},{{"category":"NetworkSecurityGroupFlowEvent","properties":{{}}}},{{"category":"Other","properties":{{}}}},{{"flowRecords":{{}},"flowLogVersion":3}},{{"flowRecords":{{}},"flowLogVersion":"4"}},{{"records":[]}},7]}}"#,
        list.join(",")
    );
    let vnet_tuples = [
        "1772445600000,10.0.0.4,10.0.0.5,1,2,256,I,B,X,0,0,0,0",
        "1772445600000,10.0.0.4,10.0.0.5,1,2,T,I,B,X,0,0,0,0",
        "1772445600000,10.0.0.4,10.0.0.5,1,2,6,I,A,X,0,0,0,0",
        "1772445600000,10.0.0.4,10.0.0.5,1,2,6,I,B,nx,0,0,0,0",
        "1772445600000,10.0.0.4,10.0.0.5,1,2,6,I,B,X,0,0,0",
    ];
    let vlist: Vec<String> = vnet_tuples.iter().map(|t| format!("\"{t}\"")).collect();
    let vnet = format!(
        r#"{{"flowLogVersion":4,"category":"FlowLogFlowEvent","flowRecords":{{"flows":[{{"aclID":"A","flowGroups":[{{"rule":"R","flowTuples":[{}]}}]}}]}}}}"#,
        vlist.join(",")
    );
    let v1 = r#"{"category":"NetworkSecurityGroupFlowEvent","properties":{"Version":1,"flows":[{"rule":"R","flows":[{"mac":"M","flowTuples":["1772445600,10.0.0.4,10.0.0.5,1,2,T,I,A,B","1772445600,10.0.0.4,10.0.0.5,1,2,T,I,A,B,,,,"]}]}]}}"#;
    let explode = Program::example("explode");
    let mut reasons = std::collections::BTreeSet::new();
    for (name, text) in [("nsg", nsg.as_str()), ("vnet", vnet.as_str()), ("v1", v1)] {
        let native = native(name, text, Format::Flat, &Config::default());
        let vrl = vrl(text, &explode, &[]).expect("JSON");
        assert_same_events(name, &vrl.events, &native.events, &no_exception);
        assert_same_dead_letters(name, &vrl.dead, &native.dead);
        for d in &vrl.dead {
            reasons.insert(d["reason"].as_str().unwrap().to_string());
        }
    }
    let want = [
        "nested_records",
        "not_a_flow_log",
        "tuple_address",
        "tuple_counter",
        "tuple_decision",
        "tuple_direction",
        "tuple_encryption",
        "tuple_field_count",
        "tuple_not_string",
        "tuple_port",
        "tuple_protocol",
        "tuple_state",
        "tuple_timestamp",
        "unsupported_version",
    ];
    assert_eq!(reasons.into_iter().collect::<Vec<_>>(), want);
}

/// The L7 and protocol-name tables in explode.vrl are the engine's.
#[test]
fn explode_tables_are_the_engine_tables() {
    use nsgflow::l7::l7_protocol;
    use nsgflow::labels::Protocol;
    let source = std::fs::read_to_string(nsgflow_vrl::programs_dir().join("explode.vrl")).unwrap();
    let between = |start: &str, end: &str| -> String {
        let a = source.find(start).expect(start) + start.len();
        let b = source.find(end).expect(end);
        source[a..b].to_string()
    };
    let program = format!(
        "{}\n{}\n. = {{\"l7\": l7_table, \"protocols\": protocol_table}}",
        between("# l7-table\n", "# /l7-table"),
        between("# protocol-names\n", "# /protocol-names")
    );
    let got = Program::compile("tables", &program)
        .unwrap()
        .run_json(serde_json::json!({}))
        .unwrap()
        .remove(0);
    // `;key=value;...;` to a map.
    let table = |s: &Value| -> std::collections::BTreeMap<String, String> {
        let s = s.as_str().expect("a string table");
        assert!(s.starts_with(';') && s.ends_with(';'), "{s}");
        s.trim_matches(';')
            .split(';')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect(kv);
                (k.to_string(), v.to_string())
            })
            .collect()
    };
    let l7 = table(&got["l7"]);
    for port in 0..=u16::MAX {
        for proto in [Protocol::TCP, Protocol::UDP] {
            let key = format!("{}/{port}", proto.iana_number());
            assert_eq!(
                l7.get(&key).map(String::as_str),
                l7_protocol(proto, port),
                "{key}"
            );
        }
    }
    let names = table(&got["protocols"]);
    for n in 0..=255u8 {
        assert_eq!(
            names.get(&n.to_string()).map(String::as_str),
            Protocol(n).name(),
            "{n}"
        );
    }
}
