//! reputation.vrl with a stand-in for Vector's enrichment-table lookup: listed public peers
//! are marked, private ones never looked up, and a CIDR row matches nothing inside it (the
//! limit vrl-examples/README.md states).

mod common;

use common::enrichment::GetEnrichmentTableRecord;
use nsgflow_vrl::{programs_dir, Program};

fn reputation() -> Program {
    let path = programs_dir().join("reputation.vrl");
    let source = std::fs::read_to_string(&path).unwrap();
    Program::compile_with(
        "reputation.vrl",
        &source,
        vec![Box::new(GetEnrichmentTableRecord)],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn listed_public_peers_are_marked_and_cidr_rows_match_nothing_inside() {
    let text = std::fs::read_to_string(nsgflow_tests::fixture("nsg-v2-blob.json")).unwrap();
    let out = common::vrl(&text, &Program::example("explode"), &[&reputation()]).unwrap();
    let marked: Vec<_> = out
        .events
        .iter()
        .filter(|e| e.get("src_threat").is_some())
        .collect();
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert_eq!(marked[0]["src_ip"], "45.148.10.62");
    assert_eq!(
        marked[0]["src_threat"],
        serde_json::json!({"list": "feodo", "category": "botnet_cc"})
    );
    assert!(out.events.iter().all(|e| e.get("dst_threat").is_none()));

    // 45.148.10.99 is inside the listed 45.148.10.0/24, but a CSV table cannot say so.
    let record = r#"{"category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"000D3AF87856","flowTuples":["1772445600,45.148.10.99,10.0.0.4,1,22,T,I,D,B,,,,","1772445601,10.0.0.4,89.248.165.83,2,443,T,O,A,B,,,,","1772445602,10.0.0.4,10.0.0.5,3,443,T,O,A,B,,,,","1772445603,45.148.10.62,10.0.0.4,4,22,T,I,D,B,,,,","bad"]}]}]}}"#;
    let out = common::vrl(record, &Program::example("explode"), &[&reputation()]).unwrap();
    let threat = |i: usize, side: &str| out.events[i].get(side).cloned();
    assert_eq!(
        threat(0, "src_threat"),
        None,
        "a CIDR row matched an address inside it"
    );
    assert_eq!(threat(1, "dst_threat").unwrap()["list"], "ipsum");
    assert_eq!(
        (threat(2, "src_threat"), threat(2, "dst_threat")),
        (None, None)
    );
    assert_eq!(threat(3, "src_threat").unwrap()["category"], "botnet_cc");
    // Dead-letter markers pass unchanged.
    assert_eq!(out.dead.len(), 1);
    assert_eq!(out.dead[0]["reason"], "tuple_field_count");
}

#[test]
fn every_vrl_file_compiles_with_the_vrl_crate() {
    let files = nsgflow_vrl::program_files();
    assert!(files.len() >= 5, "{files:?}");
    for f in files {
        let source = std::fs::read_to_string(&f).unwrap();
        Program::compile_with(
            &f.display().to_string(),
            &source,
            vec![Box::new(GetEnrichmentTableRecord)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}
