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
    assert_eq!(m.totals.total.tuples, 12);
    assert_eq!(s.totals.total.flows, 8);
    assert_eq!((s.totals.total.allowed, s.totals.total.denied), (4, 4));
    // [inbound, outbound][allowed, denied]
    assert_eq!(s.totals.flows_by_direction, [[1, 4], [3, 0]]);
    assert_eq!(
        s.totals.total.bytes,
        1_000 + 7_000 + 1_000 + 120 + 25_000 + 200 + 300
    );
    assert_eq!(s.totals.first_ms, Some(1_772_445_600_000));
    assert_eq!(
        s.totals.last_ms,
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
    assert_eq!(s.totals.total.flows, 16);
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
    assert_eq!(m.totals.total.tuples, 7);
    assert_eq!(s.totals.outside_range, 5);
    assert_eq!(s.totals.total.flows, 6);
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
    assert_eq!(s.totals.total.flows, 8);
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
    assert_eq!(m.totals.total.tuples, events);
    assert_eq!(m.totals.malicious_total.tuples, malicious_tuples);
    assert!(s.feeds_configured && s.topology_configured);
    assert!(!s.malicious.is_empty() && !s.flow_types.is_empty());
    let ft_flows: u64 = s.flow_types.iter().map(|r| r.tally.flows).sum();
    assert_eq!(ft_flows, s.totals.total.flows);
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

/// The report model fed by a whole pipeline with detection on, as `nsgflow report --detect`
/// builds it: no event output, the model a tap that also receives the alerts.
fn detected(files: &[std::path::PathBuf], yaml: &str, rc: ReportConfig) -> Summary {
    let config = Config::from_yaml(yaml).unwrap();
    let mut p = config
        .pipeline(std::io::sink(), DeadLetterWriter::new(None))
        .unwrap();
    p.discard_events();
    let model = nsgflow::report::ReportTap::attach(&mut p, rc);
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        p.process(&f.display().to_string(), &text);
    }
    p.finish(nsgflow::aggregate::FlushReason::EndOfInput);
    let s = Summary::new(&model.lock(), &p.engine.stats);
    s
}

/// A deny burst written by hand: 198.51.100.66 denied 1,200 times on 10.0.1.5:22 from
/// 13:30:00, five tuples a second (4 minutes), in one record.
fn deny_burst_blob() -> std::path::PathBuf {
    let tuples: Vec<String> = (0..1200u64)
        .map(|i| {
            format!(
                "\"{},198.51.100.66,10.0.1.5,{},22,T,I,D,B,,,,\"",
                1_772_458_200 + i / 5,
                30_000 + i
            )
        })
        .collect();
    let blob = format!(
        r#"{{"records":[{{"time":"2026-03-02T10:55:00Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG-REPORT/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-REPORT","properties":{{"Version":2,"flows":[{{"rule":"DefaultRule_DenyAllInBound","flows":[{{"mac":"000D3A1B2C3D","flowTuples":[{}]}}]}}]}}}}]}}"#,
        tuples.join(",")
    );
    let path =
        std::env::temp_dir().join(format!("nsgflow-report-burst-{}.json", std::process::id()));
    std::fs::write(&path, blob).unwrap();
    path
}

/// The alerts view's numbers, known by hand: `attack.json` holds a port scan (20 ports of
/// 10.0.1.4 from 80.82.77.139, denied, 13:00:00-13:00:19) and a sweep (3389 on 30
/// addresses from 193.32.162.10, 13:15:00-13:15:29); the generated blob a deny burst.
#[test]
fn alerts_in_the_model() {
    let burst = deny_burst_blob();
    let files = [
        fixtures_dir().join("report/hand-counted.json"),
        fixtures_dir().join("report/attack.json"),
        burst.clone(),
    ];
    let s = detected(&files, "detect: {enabled: true}", ReportConfig::default());
    std::fs::remove_file(&burst).ok();
    let a = s.alerts.as_ref().expect("detection ran");
    // Every detector that runs is counted, zeros included (no feeds: no malicious_flow).
    assert_eq!(
        a.by_detector,
        [
            ("port_scan", 1),
            ("sweep", 1),
            ("deny_burst", 1),
            ("fanout", 0),
            ("new_exposure", 0),
            ("volume_anomaly", 0),
            ("beaconing", 0),
        ]
    );
    assert_eq!(
        (a.total, a.rows.len(), a.outside_range, a.late),
        (3, 3, 0, 0)
    );
    let row = |d: &str| {
        a.rows
            .iter()
            .find(|r| r.alert.detector.as_str() == d)
            .unwrap_or_else(|| panic!("no {d} alert in {:?}", a.rows))
    };
    let scan = &row("port_scan").alert;
    assert_eq!(scan.subject, ip("80.82.77.139"));
    assert_eq!(scan.dst_ip, Some(ip("10.0.1.4")));
    // Raised when the 15th port came: observed 15 of a threshold of 15, 15 tuples.
    assert_eq!(
        (scan.observed, scan.threshold, scan.count),
        (Some(15.0), Some(15.0), 15)
    );
    // The 5-minute window holding 13:00:00.
    assert_eq!(scan.window_start_ms, 1_772_445_600_000 + 180 * 60_000);
    assert_eq!(scan.window_end_ms - scan.window_start_ms, 300_000);
    let sweep = &row("sweep").alert;
    assert_eq!(sweep.subject, ip("193.32.162.10"));
    assert_eq!(sweep.dst_port, Some(3389));
    assert_eq!((sweep.observed, sweep.threshold), (Some(25.0), Some(25.0)));
    assert_eq!(sweep.window_start_ms, 1_772_445_600_000 + 195 * 60_000);
    let burst = &row("deny_burst").alert;
    assert_eq!(burst.subject, ip("198.51.100.66"));
    // More than 1,000: raised at the 1,001st denied flow.
    assert_eq!(
        (burst.observed, burst.threshold),
        (Some(1001.0), Some(1000.0))
    );
    assert_eq!(burst.window_start_ms, 1_772_445_600_000 + 210 * 60_000);
    // Alerts are linked to the hosts they name: the scanned host carries one (the port
    // scan), the scanner one, and the talkers table shows it.
    assert_eq!(row("port_scan").subject.alerts, 1);
    let talker = s
        .talkers
        .iter()
        .find(|r| r.key.ip == ip("10.0.1.4"))
        .expect("10.0.1.4 is a top talker");
    assert_eq!(talker.key.alerts, 1);
    // 10.0.1.5 is named by the deny burst.
    let db = s
        .ports
        .iter()
        .find(|p| p.host.ip == ip("10.0.1.5"))
        .unwrap();
    assert_eq!(db.host.alerts, 1);

    // The page shows every one of these numbers on load.
    let page = html::render(&s, &PageInfo::default());
    for needle in [
        "id=\"alerts-t\"",
        "<span>port_scan</span><b data-v=\"1\">1</b>",
        "<span>fanout</span><b data-v=\"0\">0</b>",
        "80.82.77.139",
        "193.32.162.10",
        "198.51.100.66",
        "<td class=\"n\" data-v=\"1001\">1,001</td>",
        "<td class=\"n\" data-v=\"1000\">1,000</td>",
        "2026-03-02 13:00:00Z &ndash; 13:05",
        "&#9888; 1 alert<",
    ] {
        assert!(
            page.contains(needle),
            "{needle} missing from the alerts view"
        );
    }
}

/// Without detection the model has no alerts and the page says how to turn it on; with
/// `--from`/`--to`, alerts whose window lies outside are counted apart.
#[test]
fn alerts_off_and_alerts_outside_the_range() {
    let files = [fixtures_dir().join("report/attack.json")];
    let s = detected(&files, "", ReportConfig::default());
    assert!(s.alerts.is_none());
    let page = html::render(&s, &PageInfo::default());
    assert!(page.contains("No detection: add <code>--detect</code>"));
    assert!(!page.contains("alerts-t"));
    // Only 13:10 onwards: the sweep (13:15) is in, the port scan (13:00-13:05) is not.
    let rc = ReportConfig {
        from_ms: Some(1_772_445_600_000 + 190 * 60_000),
        ..ReportConfig::default()
    };
    let s = detected(&files, "detect: {enabled: true}", rc);
    let a = s.alerts.unwrap();
    assert_eq!((a.total, a.outside_range), (1, 1));
    assert_eq!(a.rows[0].alert.detector.as_str(), "sweep");
}

/// Inputs out of time order: detection cannot count tuples whose window closed long ago,
/// and the alerts view says how many and what to do.
#[test]
fn late_input_is_counted_and_said() {
    // The attack (13:00-13:15) first, then the hand-counted hour from 10:00: its tuples
    // before 12:00 are more than `allowed_lateness: 1h` behind.
    let files = [
        fixtures_dir().join("report/attack.json"),
        fixtures_dir().join("report/hand-counted.json"),
    ];
    let s = detected(&files, "detect: {enabled: true}", ReportConfig::default());
    let a = s.alerts.as_ref().unwrap();
    assert_eq!(a.total, 2);
    // Tuples 1-3 and 5-12 of the hand-counted fixture are before 12:00 (11 of 12);
    // detection sees each in every detector that would count it, so check the page says it.
    assert!(a.late > 0, "{a:?}");
    let page = html::render(&s, &PageInfo::default());
    assert!(page.contains("id=\"alerts-late\""));
    assert!(page.contains("name the inputs in time order"));
}
