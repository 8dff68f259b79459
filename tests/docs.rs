//! The documentation says what the code does: the L7 table in `docs/schema.md` is the one
//! in `plugin/src/l7.rs`, and `docs/config.example.yaml` loads and means what it says.

use nsgflow::blob::config::AzureBlobConfig;
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow::l7::{Transport, L7_PORTS};
use nsgflow_tests::tests_dir;

#[test]
fn l7_table_in_schema_doc_matches_code() {
    let doc = std::fs::read_to_string(tests_dir().join("../docs/schema.md")).unwrap();
    let start = doc.find("<!-- l7-table").expect("l7-table marker");
    let end = doc.find("<!-- /l7-table -->").expect("end marker");
    let rows: Vec<(u16, String, String)> = doc[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| port") && !l.starts_with("|---"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (
                cells[0].parse().unwrap(),
                cells[1].to_string(),
                cells[2].to_string(),
            )
        })
        .collect();
    let code: Vec<(u16, String, String)> = L7_PORTS
        .iter()
        .map(|&(p, t, name)| {
            let t = match t {
                Transport::Tcp => "tcp",
                Transport::Udp => "udp",
                Transport::Both => "tcp, udp",
            };
            (p, t.to_string(), name.to_string())
        })
        .collect();
    assert_eq!(rows, code);
}

#[test]
fn example_config_loads_and_classifies() {
    let c = Config::load(&tests_dir().join("../docs/config.example.yaml")).unwrap();
    assert_eq!(c.format, Some(Format::Ecs));
    assert_eq!(c.codec, Some(nsgflow::encode::codec::Codec::Ndjson));
    assert_eq!(c.inputs.len(), 2);
    assert_eq!(c.splunk.sourcetype, "azure:network:flow");
    let cl = c.classifier();
    let (class, net) = cl.classify("10.20.3.4".parse().unwrap());
    assert_eq!((class.as_str(), net), ("internal", Some("spoke-shop")));
    let (_, net) = cl.classify("168.63.129.16".parse().unwrap());
    assert_eq!(net, Some("azure-dns"));
    // Reputation, topology and aggregation.
    assert_eq!(c.reputation.feeds.len(), 4);
    assert_eq!(
        c.reputation.feeds[1].format_or_guess(),
        nsgflow::reputation::FeedFormat::Spamhaus
    );
    assert_eq!(c.reputation.cache.capacity, 0);
    assert!(c.topology.is_some() && c.service_tags.is_some());
    assert!(!c.aggregate.enabled);
    assert_eq!(c.aggregate.window.as_secs(), 600);
    assert_eq!(
        c.aggregate.key,
        nsgflow::aggregate::KeySpec::TRAFFIC_ANALYTICS
    );
    assert_eq!(c.aggregate.allowed_lateness.as_secs(), 300);
    // Geography and the report.
    assert!(c.geoip.country.is_some());
    assert_eq!(c.geoip.asn.len(), 2);
    assert_eq!(c.report, nsgflow::report::ReportConfig::default());
}

#[test]
fn example_topology_loads_and_places_addresses() {
    let path = tests_dir().join("../docs/topology.example.yaml");
    let t = nsgflow::topology::Topology::load(Some(&path), None).unwrap();
    let site = t.site("10.20.2.9".parse().unwrap()).unwrap();
    assert_eq!(
        (site.vnet.as_deref(), site.subnet.as_deref()),
        (Some("vnet-shop-prod-weu"), Some("snet-api"))
    );
    let gw = t.site("192.168.7.1".parse().unwrap()).unwrap();
    assert_eq!(
        gw.gateway.as_ref().map(|g| g.1.as_str()),
        Some("onprem-dc1")
    );
}

#[test]
fn example_config_azure_blob_section_is_the_defaults_but_the_checkpoint_dir() {
    let c = Config::load(&tests_dir().join("../docs/config.example.yaml")).unwrap();
    let want = AzureBlobConfig {
        checkpoint_dir: "/var/lib/nsgflow/checkpoints".into(),
        ..AzureBlobConfig::default()
    };
    assert_eq!(c.azure_blob, want);
    assert_eq!(c.azure_blob.validate(), Ok(()));
    // A typo is an error naming the key.
    let e = Config::from_yaml("azure_blob:\n  lookback_hour: 3\n").unwrap_err();
    assert!(e.contains("lookback_hour"), "{e}");
}
