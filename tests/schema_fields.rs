//! Every field an encoder writes, outside its documented `azure.*` / `nsgflow.*` namespace,
//! is a field its schema defines. The lists in `schemas/` were taken from the published
//! definitions (each file's header names its source and version).

use std::collections::BTreeSet;

use nsgflow::encode::Format;
use nsgflow_tests::{
    enrichment_config, field_paths, fixture, golden_fixtures, run_file, run_text_with, tests_dir,
    ENRICHED_FIXTURES,
};

fn schema(file: &str) -> BTreeSet<String> {
    std::fs::read_to_string(tests_dir().join("schemas").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// All field paths each format writes over every fixture, plain, enriched (feeds,
/// topology, service tags) and aggregated (with every key preset).
fn paths(format: Format) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for f in golden_fixtures() {
        for e in run_file(&f, format).events() {
            all.extend(field_paths(&e));
        }
    }
    let enriched = enrichment_config();
    let mut configs = vec![enriched.clone()];
    for key in ["5tuple", "traffic-analytics", "dst_ip,dst_port"] {
        let mut c = enriched.clone();
        c.aggregate.enabled = true;
        c.aggregate.key = key.parse().unwrap();
        configs.push(c);
    }
    for config in &configs {
        for name in ENRICHED_FIXTURES {
            let text = std::fs::read_to_string(fixture(name)).unwrap();
            for e in run_text_with(name, &text, format, config).events() {
                all.extend(field_paths(&e));
            }
        }
    }
    assert!(all.len() > 20, "{format}: too few fields seen");
    all
}

fn undefined(
    paths: &BTreeSet<String>,
    defined: &BTreeSet<String>,
    namespaces: &[&str],
) -> Vec<String> {
    paths
        .iter()
        .filter(|p| !namespaces.iter().any(|ns| p.starts_with(ns)))
        .filter(|p| !defined.contains(*p))
        .cloned()
        .collect()
}

#[test]
fn ecs_fields_are_ecs() {
    let paths = paths(Format::Ecs);
    let bad = undefined(
        &paths,
        &schema("ecs-8.x-fields.txt"),
        &["azure.", "nsgflow."],
    );
    assert!(bad.is_empty(), "not in ECS 8.x: {bad:?}");
    for required in [
        "source.ip",
        "destination.port",
        "network.community_id",
        "event.category",
        "rule.name",
        "cloud.account.id",
        "related.ip",
        "threat.enrichments.indicator.ip",
        "threat.enrichments.matched.field",
        "event.start",
    ] {
        assert!(paths.contains(required), "ECS output lacks {required}");
    }
}

#[test]
fn splunk_fields_are_cim_network_traffic() {
    let paths = paths(Format::Splunk);
    let defined = schema("splunk-cim-network-traffic.txt");
    // The envelope keys are HEC's; the event's keys are CIM's.
    let mut bad = Vec::new();
    for p in &paths {
        match p.strip_prefix("event.") {
            Some(field) if field.starts_with("azure.") || field.starts_with("nsgflow.") => {}
            Some(field) if defined.contains(field) => {}
            None if defined.contains(p.as_str()) => {}
            _ => bad.push(p.clone()),
        }
    }
    assert!(bad.is_empty(), "not CIM Network_Traffic or HEC: {bad:?}");
    for required in [
        "event.action",
        "event.src_ip",
        "event.dest_port",
        "event.transport",
        "event.bytes_in",
        "event.vendor_product",
        "sourcetype",
        "event.threat_match_value",
        "event.duration",
    ] {
        assert!(paths.contains(required), "Splunk output lacks {required}");
    }
}

#[test]
fn ocsf_fields_are_network_activity() {
    let paths = paths(Format::Ocsf);
    let bad = undefined(
        &paths,
        &schema("ocsf-1.x-network-activity-4001.txt"),
        &["unmapped.azure.", "unmapped.nsgflow."],
    );
    assert!(bad.is_empty(), "not in OCSF Network Activity: {bad:?}");
    for required in [
        "class_uid",
        "activity_id",
        "src_endpoint.ip",
        "connection_info.protocol_num",
        "traffic.bytes_out",
        "disposition_id",
        "metadata.version",
        "osint.value",
        "count",
        "start_time",
    ] {
        assert!(paths.contains(required), "OCSF output lacks {required}");
    }
}

#[test]
fn the_check_catches_an_undefined_field() {
    // The test above can fail: a made-up field is reported.
    let defined = schema("ecs-8.x-fields.txt");
    let made_up: BTreeSet<String> =
        ["source.ip".to_string(), "source.flow_bytes".to_string()].into();
    assert_eq!(
        undefined(&made_up, &defined, &["azure."]),
        ["source.flow_bytes"]
    );
}

/// Alerts as each detector raises them, every optional field set somewhere: a port scan by
/// a listed scanner, a volume anomaly with baseline and ratio, a malicious flow with feeds,
/// beaconing with its intervals.
fn sample_alerts() -> Vec<nsgflow::detect::Alert> {
    use nsgflow::detect::{Alert, AlertContext, Detector, EvidenceKind, Severity};
    use nsgflow::labels::{Direction, Protocol};
    let base = Alert {
        detector: Detector::PortScan,
        severity: Severity::Medium,
        summary: "45.155.205.233 tried 15 or more ports of 10.40.1.5 in 5 min without an answer"
            .into(),
        window_start_ms: 1_773_198_900_000,
        window_end_ms: 1_773_199_200_000,
        subject: "45.155.205.233".parse().unwrap(),
        src_ip: Some("45.155.205.233".parse().unwrap()),
        dst_ip: Some("10.40.1.5".parse().unwrap()),
        dst_port: None,
        protocol: Some(Protocol(6)),
        direction: None,
        observed: Some(15.0),
        threshold: Some(15.0),
        baseline: None,
        ratio: None,
        score: None,
        count: 15,
        first_seen_ms: 1_773_199_020_000,
        last_seen_ms: 1_773_199_062_000,
        evidence: vec!["21".into(), "22".into()],
        evidence_kind: Some(EvidenceKind::Ports),
        context: AlertContext {
            class: Some("public"),
            feeds: vec!["estate_feed".into()],
            feed_category: Some("attacker".into()),
            indicator: Some("45.155.205.233".parse().unwrap()),
            ..AlertContext::default()
        },
    };
    let volume = Alert {
        detector: Detector::VolumeAnomaly,
        severity: Severity::High,
        subject: "10.40.3.5".parse().unwrap(),
        src_ip: None,
        dst_ip: Some("10.40.3.5".parse().unwrap()),
        dst_port: Some(1433),
        direction: Some(Direction::Inbound),
        observed: Some(168e6),
        threshold: Some(5.0),
        baseline: Some(24e6),
        ratio: Some(7.0),
        score: Some(40.0),
        evidence: vec![],
        evidence_kind: None,
        context: AlertContext {
            class: Some("internal"),
            network: Some("estate".into()),
            vnet: Some("vnet-retail-prod-weu".into()),
            subnet: Some("snet-db".into()),
            ..AlertContext::default()
        },
        ..base.clone()
    };
    let sweep = Alert {
        detector: Detector::Sweep,
        evidence: vec!["10.40.1.4".into()],
        evidence_kind: Some(EvidenceKind::Addresses),
        dst_ip: None,
        dst_port: Some(445),
        ..base.clone()
    };
    let beaconing = Alert {
        detector: Detector::Beaconing,
        summary:
            "10.50.1.7 connected to 146.70.117.34:443/TCP 15 times in 1 h, 100% of them 170 s apart"
                .into(),
        subject: "10.50.1.7".parse().unwrap(),
        src_ip: Some("10.50.1.7".parse().unwrap()),
        dst_ip: Some("146.70.117.34".parse().unwrap()),
        dst_port: Some(443),
        direction: Some(Direction::Outbound),
        observed: Some(1.0),
        threshold: Some(0.8),
        evidence: vec!["170".into(), "171".into()],
        evidence_kind: Some(EvidenceKind::Intervals),
        context: AlertContext {
            class: Some("internal"),
            ..AlertContext::default()
        },
        ..base.clone()
    };
    vec![base, volume, sweep, beaconing]
}

fn alert_paths(format: Format) -> (BTreeSet<String>, Vec<serde_json::Value>) {
    let mut enc = nsgflow::encode::encoder(format, &Default::default());
    let mut all = BTreeSet::new();
    let mut docs = Vec::new();
    for a in sample_alerts() {
        let mut out = Vec::new();
        enc.encode_alert(&a, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("alert JSON");
        all.extend(field_paths(&v));
        docs.push(v);
    }
    (all, docs)
}

#[test]
fn alert_records_follow_their_schemas() {
    // ECS: every field is ECS 8.x (or under nsgflow.*); an alert, in the IDS category.
    let (paths, docs) = alert_paths(Format::Ecs);
    let bad = undefined(&paths, &schema("ecs-8.x-fields.txt"), &["nsgflow."]);
    assert!(bad.is_empty(), "alert fields not in ECS 8.x: {bad:?}");
    for d in &docs {
        assert_eq!(d["event"]["kind"], "alert");
        assert_eq!(
            d["event"]["category"],
            serde_json::json!(["network", "intrusion_detection"])
        );
        assert!(d["rule"]["name"].is_string());
    }
    for required in [
        "threat.indicator.ip",
        "threat.feed.name",
        "rule.name",
        "@timestamp",
    ] {
        assert!(paths.contains(required), "ECS alert lacks {required}");
    }
    // OCSF: Detection Finding 2004 attributes only.
    let (paths, docs) = alert_paths(Format::Ocsf);
    let bad = undefined(
        &paths,
        &schema("ocsf-1.x-detection-finding-2004.txt"),
        &["unmapped.nsgflow.", "evidences.data."],
    );
    assert!(
        bad.is_empty(),
        "alert fields not in OCSF Detection Finding: {bad:?}"
    );
    for d in &docs {
        assert_eq!(d["class_uid"], 2004);
        assert_eq!(d["type_uid"], 200_401);
    }
    // Splunk: the HEC envelope with sourcetype nsgflow:alert around the flat alert.
    let (_, flat) = alert_paths(Format::Flat);
    let (_, splunk) = alert_paths(Format::Splunk);
    for (f, s) in flat.iter().zip(&splunk) {
        assert_eq!(s["sourcetype"], "nsgflow:alert");
        assert_eq!(&s["event"], f);
    }
    // Flat: the documented alert fields (docs/src/schema.md, "Alert records") and nothing else.
    let flat_fields: BTreeSet<String> = [
        "kind",
        "detector",
        "severity",
        "summary",
        "alert_id",
        "window_start",
        "window_end",
        "subject_ip",
        "src_ip",
        "dst_ip",
        "dst_port",
        "protocol",
        "direction",
        "observed",
        "threshold",
        "baseline",
        "ratio",
        "score",
        "count",
        "first_seen",
        "last_seen",
        "evidence.ports",
        "evidence.addresses",
        "evidence.intervals",
        "subject_class",
        "subject_network",
        "subject_vnet",
        "subject_subnet",
        "feeds",
        "feed_category",
        "indicator_ip",
    ]
    .map(str::to_string)
    .into();
    let (paths, docs) = alert_paths(Format::Flat);
    let bad = undefined(&paths, &flat_fields, &[]);
    assert!(bad.is_empty(), "undocumented flat alert fields: {bad:?}");
    assert_eq!(
        paths, flat_fields,
        "every documented field is written by some alert"
    );
    assert!(docs.iter().all(|d| d["kind"] == "alert"));
    // The first key is `kind`, so a router can tell alerts by their first bytes.
    let mut out = Vec::new();
    nsgflow::encode::encoder(Format::Flat, &Default::default())
        .encode_alert(&sample_alerts()[0], &mut out);
    assert!(out.starts_with(br#"{"kind":"alert","detector":"port_scan""#));
}
