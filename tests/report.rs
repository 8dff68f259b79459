//! The report's numbers come from its data model, built before any HTML: checked here
//! against `fixtures/report/hand-counted.json`, whose answers were worked out by hand
//! (`fixtures/report/README.md`), and against the shipped fixtures' own event counts.

use std::net::IpAddr;

use nsgflow::config::Config;
use nsgflow::engine::Engine;
use nsgflow::output::DeadLetterWriter;
use nsgflow::report::html::{self, PageInfo};
use nsgflow::report::{ReportConfig, ReportModel, Summary};
use nsgflow_tests::{fixture, fixtures_dir};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn model_of(
    files: &[std::path::PathBuf],
    config: &Config,
    rc: ReportConfig,
) -> (ReportModel, Summary) {
    let mut engine = Engine::new(config.enricher().unwrap());
    let mut model = ReportModel::new(rc);
    let mut dead = DeadLetterWriter::new(None);
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        engine.process(&f.display().to_string(), &text, &mut model, &mut dead);
    }
    let summary = Summary::new(&model, &engine.stats);
    (model, summary)
}

fn hand_counted() -> (ReportModel, Summary) {
    model_of(
        &[fixtures_dir().join("report/hand-counted.json")],
        &Config::default(),
        ReportConfig::default(),
    )
}

#[test]
fn totals_and_directions() {
    let (m, s) = hand_counted();
    assert_eq!(m.total.tuples, 12);
    assert_eq!(s.total.flows, 8);
    assert_eq!((s.total.allowed, s.total.denied), (4, 4));
    // [inbound, outbound][allowed, denied]
    assert_eq!(s.flows_by_direction, [[1, 4], [3, 0]]);
    assert_eq!(
        s.total.bytes,
        1_000 + 7_000 + 1_000 + 120 + 25_000 + 200 + 300
    );
    assert_eq!(s.first_ms, Some(1_772_445_600_000));
    assert_eq!(
        s.last_ms,
        Some(1_772_445_600_000 + (2 * 3600 + 55 * 60) * 1000)
    );
    assert_eq!((s.inputs, s.records), (1, 7));
}

#[test]
fn top_talker() {
    let (_, s) = hand_counted();
    let top = &s.talkers[0];
    assert_eq!(top.key.ip, ip("10.0.1.4"));
    assert_eq!(top.tally.bytes, 34_620);
    assert_eq!((top.tally.flows, top.tally.denied), (7, 3));
    assert_eq!(s.talkers[1].key.ip, ip("52.1.2.3"));
    assert_eq!(s.talkers[1].tally.bytes, 25_120);
}

#[test]
fn ports_of_a_vm_and_open_ports() {
    let (_, s) = hand_counted();
    let port = |host: &str, port: u16| {
        s.ports
            .iter()
            .find(|p| p.host.ip == ip(host) && p.port == port)
            .unwrap_or_else(|| panic!("no row for {host}:{port} in {:?}", s.ports))
    };
    let https = port("10.0.1.4", 443);
    assert_eq!(https.protocol, "tcp");
    assert_eq!((https.tally.flows, https.tally.bytes), (2, 25_420));
    assert_eq!(
        (https.from_internal, https.from_azure, https.from_external),
        (1, 0, 1)
    );
    let ssh = port("10.0.1.4", 22);
    assert_eq!(
        (ssh.tally.flows, ssh.tally.denied, ssh.from_external),
        (2, 2, 2)
    );
    assert_eq!(port("10.0.1.4", 3389).tally.denied, 1);
    let sql = port("10.0.1.5", 1433);
    assert_eq!(
        (sql.tally.flows, sql.tally.bytes, sql.from_internal),
        (1, 9_000, 1)
    );
    // 10.0.1.4 receives on exactly these three ports; the Azure platform address is not a VM.
    let mut mine: Vec<u16> = s
        .ports
        .iter()
        .filter(|p| p.host.ip == ip("10.0.1.4"))
        .map(|p| p.port)
        .collect();
    mine.sort();
    assert_eq!(mine, [22, 443, 3389]);
    assert!(s.ports.iter().all(|p| p.host.ip != ip("168.63.129.16")));
    // The busiest receiving host comes first.
    assert_eq!(s.ports[0].host.ip, ip("10.0.1.4"));

    assert_eq!(s.open_ports.len(), 1, "{:?}", s.open_ports);
    let open = &s.open_ports[0];
    assert_eq!((open.host.ip, open.port), (ip("10.0.1.4"), 443));
    assert_eq!(
        (open.public_allowed, open.public_allowed_bytes),
        (1, 25_120)
    );
}

#[test]
fn denied_counts() {
    let (_, s) = hand_counted();
    let src: Vec<(IpAddr, u64)> = s
        .denied_sources
        .iter()
        .map(|r| (r.key.ip, r.tally.flows))
        .collect();
    assert_eq!(src, [(ip("45.148.10.62"), 3), (ip("80.82.77.139"), 1)]);
    let ports: Vec<(u16, &str, u64)> = s
        .denied_ports
        .iter()
        .map(|r| (r.key.0, r.key.1.as_str(), r.tally.flows))
        .collect();
    assert_eq!(ports, [(22, "tcp", 3), (3389, "tcp", 1)]);
    assert_eq!(s.denied_rules.len(), 1);
    assert_eq!(
        s.denied_rules[0].key,
        (
            "NSG-REPORT".to_string(),
            "DefaultRule_DenyAllInBound".to_string()
        )
    );
    assert_eq!(s.denied_rules[0].tally.flows, 4);
    let time_denied: u64 = s.time.iter().map(|c| c.denied).sum();
    assert_eq!(time_denied, 4);
}

#[test]
fn anomaly_ratio() {
    let (_, s) = hand_counted();
    assert_eq!(s.bucket_ms, 5 * 60 * 1000);
    assert_eq!(s.buckets.len(), 36, "10:00 to 12:55 in 5-minute buckets");
    assert_eq!(s.buckets[0] % 3_600_000, 0, "aligned to the hour");
    let row = |host: &str, port: u16| {
        s.volume
            .iter()
            .find(|v| v.host.ip == ip(host) && v.port == port)
            .unwrap_or_else(|| panic!("no volume row for {host}:{port}"))
    };
    // .4:80 and .6:443 at 36x (all in one bucket), .4:443 at 35.6x, .4/.5:1433 at 28x.
    let sql = row("10.0.1.5", 1433);
    assert_eq!((sql.bytes, sql.busiest_bytes), (9_000, 7_000));
    assert_eq!(sql.mean_bytes, 250.0);
    assert_eq!(sql.ratio, 28.0);
    assert_eq!(
        sql.busiest_start_ms,
        1_772_445_600_000 + 90 * 60_000,
        "the 11:30 bucket"
    );
    let https = row("10.0.1.4", 443);
    assert!(
        (https.ratio - 25_120.0 * 36.0 / 25_420.0).abs() < 1e-9,
        "{}",
        https.ratio
    );
    // Sorted by ratio, largest first.
    assert!(s.volume.windows(2).all(|w| w[0].ratio >= w[1].ratio));
    assert_eq!(s.volume.last().unwrap().ratio, 28.0);
}

/// A one-hour bucket at most: over two days, buckets are an hour wide, aligned to the hour.
#[test]
fn buckets_widen_to_an_hour_at_most() {
    let text = std::fs::read_to_string(fixtures_dir().join("report/hand-counted.json")).unwrap();
    // The same records two days later too.
    let later = text.replace("177244", "177261");
    let dir = std::env::temp_dir().join(format!("nsgflow-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.json"), &text).unwrap();
    std::fs::write(dir.join("b.json"), &later).unwrap();
    let (_, s) = model_of(
        &[dir.join("a.json"), dir.join("b.json")],
        &Config::default(),
        ReportConfig::default(),
    );
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(s.bucket_ms, 3_600_000);
    assert!(s.buckets.iter().all(|b| b % 3_600_000 == 0));
    assert_eq!(s.total.flows, 16);
}

/// `--from` / `--to` leave tuples out and count them.
#[test]
fn time_range_filters_and_counts() {
    let rc = ReportConfig {
        from_ms: Some(1_772_445_600_000 + 10 * 60_000),
        to_ms: Some(1_772_445_600_000 + 60 * 60_000),
        ..ReportConfig::default()
    };
    let (m, s) = model_of(
        &[fixtures_dir().join("report/hand-counted.json")],
        &Config::default(),
        rc,
    );
    // In [10:10, 11:00): tuples 5-11.
    assert_eq!(m.total.tuples, 7);
    assert_eq!(s.outside_range, 5);
    assert_eq!(s.total.flows, 6);
}

/// Memory is bounded by the cap on distinct keys: past it, keys are counted, not kept.
#[test]
fn keys_are_capped_and_counted() {
    let rc = ReportConfig {
        max_keys: 2,
        ..ReportConfig::default()
    };
    let (m, s) = model_of(
        &[fixtures_dir().join("report/hand-counted.json")],
        &Config::default(),
        rc,
    );
    assert!(m.hosts.map.len() <= 2 && m.pairs.map.len() <= 2);
    assert!(s.dropped_keys > 0);
    // The totals still count everything.
    assert_eq!(s.total.flows, 8);
}

/// Over the shipped fixtures with feeds and topology, the model agrees with the engine:
/// every event is counted once, malicious flows are the ones the encoder calls malicious.
#[test]
fn shipped_fixtures_agree_with_the_events() {
    let config = nsgflow_tests::enrichment_config();
    let files: Vec<_> = nsgflow_tests::ENRICHED_FIXTURES
        .iter()
        .map(|f| fixture(f))
        .collect();
    let (m, s) = model_of(&files, &config, ReportConfig::default());
    let mut events = 0;
    let mut malicious_tuples = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let run = nsgflow_tests::run_text_with("f", &text, nsgflow::encode::Format::Flat, &config);
        for e in run.events() {
            events += 1;
            malicious_tuples += (e["malicious"] == true) as u64;
        }
    }
    assert_eq!(m.total.tuples, events);
    assert_eq!(m.malicious_total.tuples, malicious_tuples);
    assert!(s.feeds_configured && s.topology_configured);
    assert!(!s.malicious.is_empty() && !s.flow_types.is_empty());
    let ft_flows: u64 = s.flow_types.iter().map(|r| r.tally.flows).sum();
    assert_eq!(ft_flows, s.total.flows);
}

/// Empty input: the page says "no flows" and is still a whole HTML document.
#[test]
fn empty_input_says_no_flows() {
    let m = ReportModel::new(ReportConfig::default());
    let s = Summary::new(&m, &Default::default());
    let page = html::render(&s, &PageInfo::default());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    assert!(page.contains("No flows in the input"));
    assert!(
        !page.contains("NaN") && !page.contains("inf"),
        "no broken numbers"
    );
    // Self-contained: nothing is fetched.
    for needle in ["http://", "https://", "src=\"", "@import", "url("] {
        assert!(!page.contains(needle), "{needle}");
    }
}

/// The page holds the model's numbers as text, and nothing is fetched from the network.
#[test]
fn page_shows_the_numbers() {
    let (_, s) = hand_counted();
    let page = html::render(&s, &PageInfo::default());
    for needle in [
        "10.0.1.4",
        "34.6 kB",
        "DefaultRule_DenyAllInBound",
        "28.0&times;",
        "45.148.10.62",
        "NSG-REPORT",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    for needle in ["http://", "https://", "src=\"", "@import", "url("] {
        assert!(!page.contains(needle), "{needle}");
    }
}
