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
