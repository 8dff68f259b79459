//! Every file in `../shared/samples` (public samples; skipped when the folder is absent)
//! parses as documented, or fails with the documented error. None panics, whatever the
//! file and whatever the encoder.

use nsgflow::encode::Format;
use nsgflow::engine::InputOutcome;
use nsgflow::tuple::{FlowTuple, TupleLayout};
use nsgflow_tests::{run_file, shared_samples};

/// (file, events, rejections by reason, outcome): what each known sample must give.
type Expectation = (&'static str, usize, &'static [(&'static str, u64)], Outcome);

const EXPECTED: &[Expectation] = &[
    (
        "elastic-nsg-v2-docker-testdata.json",
        11,
        &[],
        Outcome::Read,
    ),
    ("elastic-nsg-v2-pipeline-test.ndjson", 1, &[], Outcome::Read),
    ("elastic-vnet-docker-testdata.json", 19, &[], Outcome::Read),
    ("elastic-vnet-pipeline-test.ndjson", 2, &[], Outcome::Read),
    // A different product (Azure Stack HCI SDN firewall audit): a clear error.
    (
        "msdocs-azurestackhci-sdn-firewall-auditing-variant.json",
        0,
        &[("not_a_flow_log", 1)],
        Outcome::NotFlowLog("Azure Stack HCI"),
    ),
    // Tuple strings only, not JSON: the file is not a flow log (its tuples are checked below).
    (
        "msdocs-bandwidth-example-tuples.txt",
        0,
        &[("not_a_flow_log", 1)],
        Outcome::NotFlowLog("expected a JSON object"),
    ),
    // The docs bug: the nested `records` element is rejected, the two real records read.
    (
        "msdocs-nsg-v1-overview-sample-nested-records-docbug.json",
        9,
        &[("nested_records", 1)],
        Outcome::Read,
    ),
    (
        "msdocs-nsg-v1-read-flow-logs-block-empty-rule-flows.json",
        40,
        &[],
        Outcome::Read,
    ),
    ("msdocs-nsg-v2-overview-sample.json", 11, &[], Outcome::Read),
    (
        "msdocs-vnet-read-flow-logs-single-record-avnm-rules.json",
        10,
        &[],
        Outcome::Read,
    ),
    (
        "vrni-book-nsg-v2-record-real-2019.json",
        3,
        &[],
        Outcome::Read,
    ),
    (
        "SOURCES.md",
        0,
        &[("not_a_flow_log", 1)],
        Outcome::NotFlowLog("expected a JSON object"),
    ),
];

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Read,
    NotFlowLog(&'static str),
}

#[test]
fn every_shared_sample_behaves_as_documented() {
    let Some(dir) = shared_samples() else {
        eprintln!("../shared/samples is absent: skipped");
        return;
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // Every file, known or new, through every encoder: no panic, valid JSON lines.
        for format in Format::ALL {
            let run = run_file(&path, format);
            let _ = run.events();
        }
        let Some(&(_, events, rejected, outcome)) = EXPECTED.iter().find(|(f, ..)| *f == name)
        else {
            eprintln!("{name}: new sample, checked for panics only");
            continue;
        };
        seen += 1;
        let run = run_file(&path, Format::Flat);
        assert_eq!(run.lines.len(), events, "{name}");
        let got: Vec<(&str, u64)> = run.stats.rejected.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, rejected, "{name}");
        match (outcome, &run.outcome) {
            (Outcome::Read, InputOutcome::Read { incomplete: false }) => {}
            (Outcome::NotFlowLog(needle), InputOutcome::NotFlowLog(why)) => {
                assert!(why.contains(needle), "{name}: {why}")
            }
            (want, got) => panic!("{name}: want {want:?}, got {got:?}"),
        }
    }
    assert_eq!(
        seen,
        EXPECTED.len(),
        "a documented sample is missing from {}",
        dir.display()
    );
}

#[test]
fn sample_values_match_their_sources() {
    let Some(dir) = shared_samples() else { return };
    // The mixed-case MAC and the E tuple with 0 bytes received (Elastic's VNet pipeline test).
    let ev = run_file(&dir.join("elastic-vnet-pipeline-test.ndjson"), Format::Flat).events();
    assert_eq!(ev[0]["mac"], "00-22-48-7B-C2-05");
    assert_eq!(ev[1]["bytes_dst_to_src"], 0);
    assert_eq!(ev[1]["packets_dst_to_src"], 33);
    // AVNM rule names keep their GUID suffix.
    let ev = run_file(
        &dir.join("msdocs-vnet-read-flow-logs-single-record-avnm-rules.json"),
        Format::Flat,
    )
    .events();
    assert!(ev
        .iter()
        .any(|e| e["rule"].as_str().unwrap().starts_with("Internet_4b9ac3d8")));
    // Rules with `"flows": []` are fine; all 40 v1 tuples come out with labels.
    let ev = run_file(
        &dir.join("msdocs-nsg-v1-read-flow-logs-block-empty-rule-flows.json"),
        Format::Flat,
    )
    .events();
    assert!(ev
        .iter()
        .all(|e| e["flow_log_version"] == 1 && e.get("flow_state").is_none()));
    // The real 2019 record: denied inbound B tuples with empty counters.
    let ev = run_file(
        &dir.join("vrni-book-nsg-v2-record-real-2019.json"),
        Format::Flat,
    )
    .events();
    assert!(ev
        .iter()
        .all(|e| e["action"] == "deny" && e.get("bytes_src_to_dst").is_none()));
}

#[test]
fn bandwidth_example_tuples_parse_in_their_layouts() {
    let Some(dir) = shared_samples() else { return };
    let text = std::fs::read_to_string(dir.join("msdocs-bandwidth-example-tuples.txt")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 6);
    let nsg: Vec<FlowTuple> = lines[..3]
        .iter()
        .map(|l| FlowTuple::parse(l, TupleLayout::NsgV2).unwrap())
        .collect();
    let vnet: Vec<FlowTuple> = lines[3..]
        .iter()
        .map(|l| FlowTuple::parse(l, TupleLayout::Vnet).unwrap())
        .collect();
    for flow in [&nsg, &vnet] {
        // The doc's bandwidth arithmetic: total = C + E deltas; B carries none.
        assert_eq!(flow[0].bytes_src_to_dst, None);
        let sent: u64 = flow.iter().filter_map(|t| t.bytes_src_to_dst).sum();
        let recv: u64 = flow.iter().filter_map(|t| t.bytes_dst_to_src).sum();
        assert_eq!((sent, recv), (588096 + 29952, 4610880 + 27072));
    }
    // The VNet doc example uses seconds: read as seconds, not as 1970 milliseconds.
    assert_eq!(vnet[0].timestamp_ms, 1_493_763_938_000);
}
