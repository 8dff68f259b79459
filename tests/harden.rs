//! `nsgflow harden`: the safety properties (every observed allowed flow stays allowed,
//! every observed denied flow stays denied, unobserved ports are denied) on the fixtures
//! and on random traffic, the findings, bad input, and golden text and JSON outputs.
//!
//! Regenerate the goldens with `NSGFLOW_BLESS=1 cargo test -p nsgflow-tests --test harden`.

use std::fmt::Write as _;
use std::path::PathBuf;

use nsgflow::config::Config;
use nsgflow::harden::rules::{Access, RuleDirection};
use nsgflow::harden::{self, Destinations, HardenConfig, OutputFormat};
use nsgflow_tests::harden_support::{check_safety, run_paths, run_texts, HardenRun};
use nsgflow_tests::{enrichment_dir, fixture, golden_dir, ENRICHED_FIXTURES};
use proptest::prelude::*;

/// Topology and service tags of the enrichment fixtures (no feeds: harden does not need them).
fn topo_config() -> Config {
    Config {
        topology: Some(enrichment_dir().join("topology.yaml")),
        service_tags: Some(enrichment_dir().join("ServiceTags_Public_20260302.json")),
        ..Config::default()
    }
}

fn all_fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ENRICHED_FIXTURES.iter().map(|f| fixture(f)).collect();
    v.extend(
        [
            "azure-layout",
            "records.ndjson",
            "single-record-nsg-v2.json",
            "pretty-escaped.json",
            "vnet-seconds-empty-counters.json",
        ]
        .map(fixture),
    );
    v
}

fn golden(name: &str, got: &str) {
    let path = golden_dir().join("harden").join(name);
    if std::env::var_os("NSGFLOW_BLESS").is_some() {
        std::fs::write(&path, got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run NSGFLOW_BLESS=1 cargo test -p nsgflow-tests --test harden",
            path.display()
        )
    });
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{} differs at line {}:\n  golden: {}\n  got:    {}",
            path.display(),
            line + 1,
            want.lines().nth(line).unwrap_or("<none>"),
            got.lines().nth(line).unwrap_or("<none>")
        );
    }
}

#[test]
fn azure_layout_sample_blobs_review_table_and_json_golden() {
    let run = run_paths(
        &[&fixture("azure-layout")],
        &Config::default(),
        HardenConfig::default(),
    );
    let s = check_safety(&run);
    assert_eq!(s.allowed_checked, 6, "{s:?}");
    assert_eq!(s.denied_checked, 1, "{s:?}");
    assert!(s.unobserved_probes > 0);
    let text = harden::render(&run.proposal, OutputFormat::Text).unwrap();
    assert!(
        text.contains("WARNING: the observed period is 1.0 hours, shorter than 7 days"),
        "{text}"
    );
    assert!(text.contains("Proposed rules (4):"), "{text}");
    golden("azure-layout.txt", &text);
    golden(
        "azure-layout.json",
        &harden::render(&run.proposal, OutputFormat::Json).unwrap(),
    );
}

#[test]
fn coverage_property_holds_on_every_fixture() {
    for (outbound, destinations) in [
        (false, Destinations::Subnets),
        (true, Destinations::Subnets),
        (true, Destinations::Hosts),
    ] {
        let hc = HardenConfig {
            outbound,
            destinations,
            ..HardenConfig::default()
        };
        let files = all_fixtures();
        let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
        let run = run_paths(&paths, &topo_config(), hc);
        let s = check_safety(&run);
        assert!(s.allowed_checked > 20 && s.denied_checked > 3, "{s:?}");
        let c = harden::check(&run.harden, &run.obs, &run.proposal);
        assert!(
            c.allowed_denied.is_empty() && c.denied_allowed.is_empty(),
            "{c:?}"
        );
        if outbound && destinations == Destinations::Subnets {
            golden(
                "fixtures.txt",
                &harden::render(&run.proposal, OutputFormat::Text).unwrap(),
            );
            golden(
                "fixtures.json",
                &harden::render(&run.proposal, OutputFormat::Json).unwrap(),
            );
        }
    }
}

/// An NSG v2 blob of one record per rule: `(rule, tuples)`.
fn blob(nsg: &str, groups: &[(&str, Vec<String>)]) -> String {
    let mut records = Vec::new();
    for (rule, tuples) in groups {
        records.push(serde_json::json!({
            "time": "2026-03-02T10:00:44.0000000Z",
            "systemId": "5e0b7c93-2a4d-4f18-8c6e-d19a3f70b2c8",
            "macAddress": "000D3A2BE4F1",
            "category": "NetworkSecurityGroupFlowEvent",
            "resourceId": format!("/SUBSCRIPTIONS/7C4E2B19-3F8A-4D6E-9B21-5A0C8E7F3D42/RESOURCEGROUPS/RG-SHOP-PROD/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/{nsg}"),
            "operationName": "NetworkSecurityGroupFlowEvents",
            "properties": {"Version": 2, "flows": [{"rule": rule, "flows": [{"mac": "000D3A2BE4F1", "flowTuples": tuples}]}]}
        }));
    }
    serde_json::json!({ "records": records }).to_string()
}

const T0: u64 = 1_772_445_644; // 2026-03-02T10:00:44Z

/// A begun and ended allowed inbound TCP flow with `packets` each way.
fn allowed(t: u64, src: &str, dst: &str, port: u16, packets: u64) -> Vec<String> {
    vec![
        format!("{t},{src},{dst},50123,{port},T,I,A,B,,,,"),
        format!(
            "{},{src},{dst},50123,{port},T,I,A,E,{packets},{},{packets},{}",
            t + 30,
            packets * 60,
            packets * 900
        ),
    ]
}

fn denied(t: u64, src: &str, dst: &str, port: u16) -> String {
    format!("{t},{src},{dst},50124,{port},T,I,D,B,,,,")
}

#[test]
fn web_to_db_1433_denied_today_stays_denied_inside_an_allowed_subnet() {
    // Five API hosts reach the two DB hosts on 1433: the sources widen to the API subnet.
    // One more API host and a web host were denied on 1433: they must stay denied.
    let mut ok = Vec::new();
    for i in 4..=8 {
        for db in ["10.20.3.6", "10.20.3.7"] {
            ok.extend(allowed(T0 + i * 60, &format!("10.20.2.{i}"), db, 1433, 12));
        }
    }
    let text = blob(
        "NSG-SHOP-DB",
        &[
            ("UserRule_allow-sql", ok),
            (
                "UserRule_deny-sql",
                vec![
                    denied(T0 + 900, "10.20.2.9", "10.20.3.6", 1433),
                    denied(T0 + 960, "10.20.1.4", "10.20.3.7", 1433),
                ],
            ),
        ],
    );
    let run = run_texts(
        &[("db.json".into(), text)],
        &topo_config(),
        HardenConfig::default(),
    );
    let s = check_safety(&run);
    assert_eq!(s.denied_checked, 2);
    let rules = &run.proposal.nsgs[0].rules;
    let allow = rules
        .iter()
        .find(|r| r.access == Access::Allow && r.destination_ports.to_string() == "1433")
        .unwrap();
    assert_eq!(allow.source.to_string(), "10.20.2.0/24", "{rules:#?}");
    assert_eq!(
        allow.destination.to_string(),
        "10.20.3.0/24",
        "two DB hosts of one subnet collapse"
    );
    let deny = rules
        .iter()
        .find(|r| r.access == Access::Deny && r.priority < 4096)
        .expect("a kept denial");
    assert_eq!(deny.source.to_string(), "10.20.2.9/32");
    assert!(deny.priority < allow.priority);
    assert_eq!(rules.last().unwrap().name, "deny-in-all-else-p4096");
}

#[test]
fn findings_have_their_evidence() {
    // SSH allowed from the internet only; a port only scanners touched; a port let through
    // only by AllowVnetInBound; a flow allowed and later denied.
    let mut ssh = Vec::new();
    ssh.extend(allowed(T0, "52.174.10.20", "10.20.1.4", 22, 40));
    ssh.extend(allowed(T0 + 60, "40.113.7.9", "10.20.1.4", 22, 25));
    let mut scan = Vec::new();
    for i in 0..12 {
        scan.extend(allowed(
            T0 + i * 7,
            &format!("45.{}.3.{}", 10 + i, i + 1),
            "10.20.1.4",
            8080,
            1,
        ));
    }
    let vnet = allowed(T0, "10.20.2.5", "10.20.1.4", 9000, 10);
    let mut flip = allowed(T0, "10.20.2.6", "10.20.1.4", 9100, 5);
    flip.push(denied(T0 + 3600, "10.20.2.6", "10.20.1.4", 9100));
    let text = blob(
        "NSG-SHOP-WEB01",
        &[
            ("UserRule_allow-ssh", ssh),
            ("UserRule_allow-8080", scan),
            ("DefaultRule_AllowVnetInBound", vnet),
            ("UserRule_allow-9100", flip),
        ],
    );
    let run = run_texts(
        &[("web.json".into(), text)],
        &topo_config(),
        HardenConfig::default(),
    );
    check_safety(&run);
    let kinds: Vec<&str> = run.proposal.findings.iter().map(|f| f.kind).collect();
    for k in [
        "internet-management-port",
        "scanner-only-port",
        "default-rule-only",
        "denied-and-allowed",
    ] {
        assert!(
            kinds.contains(&k),
            "{k} missing: {:#?}",
            run.proposal.findings
        );
    }
    let ssh = run
        .proposal
        .findings
        .iter()
        .find(|f| f.kind == "internet-management-port")
        .unwrap();
    assert_eq!(ssh.evidence["rule"], "UserRule_allow-ssh");
    assert_eq!(ssh.evidence["sources"].as_array().unwrap().len(), 2);
    let scan = run
        .proposal
        .findings
        .iter()
        .find(|f| f.kind == "scanner-only-port")
        .unwrap();
    assert_eq!(scan.evidence["public_sources"], 12);
    // The later verdict (denied) wins: 10.20.2.6 -> 9100 is denied by the proposal.
    let flip = run
        .proposal
        .findings
        .iter()
        .find(|f| f.kind == "denied-and-allowed")
        .unwrap();
    assert!(flip.message.ends_with("denied"), "{}", flip.message);
}

#[test]
fn unused_rules_from_the_rules_file() {
    let rules = r#"{"name":"nsg-hr-frontend","resourceGroup":"rg-hr-intranet","securityRules":[
      {"name":"allow-corp-https","priority":100,"access":"Allow","direction":"Inbound","protocol":"Tcp",
       "sourceAddressPrefix":"192.168.0.0/16","sourceAddressPrefixes":[],"sourcePortRange":"*","sourcePortRanges":[],
       "destinationAddressPrefix":"*","destinationAddressPrefixes":[],"destinationPortRange":"443","destinationPortRanges":[]},
      {"name":"allow-legacy-ftp","priority":110,"access":"Allow","direction":"Inbound","protocol":"Tcp",
       "sourceAddressPrefix":"","sourceAddressPrefixes":["10.1.0.0/16","10.2.0.0/16"],"sourcePortRange":"*",
       "destinationAddressPrefix":"*","destinationPortRange":"","destinationPortRanges":["20-21","50000-50100"]}]}"#;
    let existing = harden::rules_file::parse_rules(rules, "nsg.json").unwrap();
    let mut run = run_paths(
        &[&fixture("azure-layout")],
        &Config::default(),
        HardenConfig::default(),
    );
    run.proposal = run.harden.propose(&run.obs, &existing);
    let unused: Vec<&str> = run
        .proposal
        .findings
        .iter()
        .filter(|f| f.kind == "unused-rule")
        .map(|f| f.evidence["rule"].as_str().unwrap())
        .collect();
    assert_eq!(unused, ["allow-legacy-ftp"]);
    // The exact names from the rules file are used.
    assert_eq!(run.proposal.nsgs[0].nsg.name, "nsg-hr-frontend");
    assert_eq!(
        run.proposal.nsgs[0].nsg.resource_group.as_deref(),
        Some("rg-hr-intranet")
    );
}

#[test]
fn malformed_rules_file_is_an_error_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("nsgflow-harden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken-nsg.json");
    std::fs::write(
        &path,
        "{\"name\": \"nsg\", \"securityRules\": [ {\"name\": \"x\"",
    )
    .unwrap();
    let err = harden::load_rules(&path).unwrap_err();
    assert!(
        err.starts_with(&format!("rules {}:", path.display())),
        "{err}"
    );
    assert!(err.contains("line 1"), "{err}");
    std::fs::write(&path, r#"{"name":"nsg","securityRules":[{"name":"x","priority":100,"access":"Maybe","direction":"Inbound","protocol":"Tcp"}]}"#).unwrap();
    let err = harden::load_rules(&path).unwrap_err();
    assert!(
        err.contains("broken-nsg.json") && err.contains("rule x") && err.contains("Maybe"),
        "{err}"
    );
    let err = harden::load_rules(&dir.join("missing.json")).unwrap_err();
    assert!(
        err.contains("missing.json") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn no_allowed_inbound_traffic_gives_an_empty_proposal_that_says_so() {
    let text = blob(
        "NSG-SHOP-WEB01",
        &[
            (
                "DefaultRule_DenyAllInBound",
                vec![
                    denied(T0, "45.1.2.3", "10.20.1.4", 22),
                    denied(T0 + 5, "45.1.2.4", "10.20.1.4", 3389),
                ],
            ),
            (
                "DefaultRule_AllowInternetOutBound",
                vec![format!(
                    "{T0},10.20.1.4,52.239.152.10,50040,443,T,O,A,B,,,,"
                )],
            ),
        ],
    );
    let run = run_texts(
        &[("denied.json".into(), text)],
        &topo_config(),
        HardenConfig::default(),
    );
    assert!(run.proposal.nsgs.is_empty());
    assert_eq!(run.proposal.findings[0].kind, "no-allowed-traffic");
    let text = harden::render(&run.proposal, OutputFormat::Text).unwrap();
    assert!(
        text.contains("No allowed inbound traffic was observed: the proposal is empty"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&harden::render(&run.proposal, OutputFormat::Json).unwrap()).unwrap();
    assert_eq!(json["nsgs"], serde_json::json!([]));
    assert_eq!(json["findings"][0]["kind"], "no-allowed-traffic");
    let tf = harden::render(&run.proposal, OutputFormat::Terraform).unwrap();
    assert!(
        tf.contains("No allowed traffic was observed") && !tf.contains("resource "),
        "{tf}"
    );
}

#[test]
fn passive_ftp_ports_collapse_into_one_range() {
    let mut ftp = allowed(T0, "192.168.50.23", "10.20.1.4", 21, 20);
    for p in (50_000u16..50_100).step_by(4) {
        ftp.extend(allowed(
            T0 + u64::from(p - 50_000),
            "192.168.50.23",
            "10.20.1.4",
            p,
            30,
        ));
    }
    let run = run_texts(
        &[(
            "ftp.json".into(),
            blob("NSG-SHOP-WEB01", &[("UserRule_ftp", ftp)]),
        )],
        &topo_config(),
        HardenConfig::default(),
    );
    check_safety(&run);
    let r = run.proposal.nsgs[0]
        .rules
        .iter()
        .find(|r| r.access == Access::Allow && r.protocol.as_str() == "Tcp")
        .unwrap();
    assert_eq!(r.destination_ports.to_string(), "21,50000-50096");
    assert_eq!(
        run.proposal.nsgs[0].rules.len(),
        3,
        "platform, one allow, deny the rest"
    );
}

// ---- random traffic ------------------------------------------------------------------

/// Hosts of the fixture topology's shop VNet (web, api, db subnets) and remotes of every kind.
const LOCALS: [&str; 9] = [
    "10.20.1.4",
    "10.20.1.5",
    "10.20.1.6",
    "10.20.2.4",
    "10.20.2.5",
    "10.20.2.6",
    "10.20.3.6",
    "10.20.3.7",
    "10.20.3.8",
];
const REMOTES: [&str; 16] = [
    "10.20.1.4",
    "10.20.1.9",
    "10.20.2.4",
    "10.20.2.7",
    "10.20.2.8",
    "10.20.2.9",
    "10.20.2.10",
    "10.21.0.5",
    "192.168.50.23",
    "192.168.50.31",
    "100.64.33.2",
    "20.60.140.36",
    "20.60.140.37",
    "52.174.1.2",
    "45.33.32.156",
    "168.63.129.16",
];
const PORTS: [u16; 10] = [22, 80, 443, 1433, 3389, 5432, 8080, 50_010, 50_020, 50_030];

/// (remote, local, port index, udp, allowed, tuples) triples.
fn traffic() -> impl Strategy<Value = Vec<(usize, usize, usize, bool, bool, u64)>> {
    prop::collection::vec(
        (
            0..REMOTES.len(),
            0..LOCALS.len(),
            0..PORTS.len(),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.7),
            1u64..4,
        ),
        1..80,
    )
}

fn traffic_blobs(triples: &[(usize, usize, usize, bool, bool, u64)]) -> Vec<(String, String)> {
    // One NSG per subnet, as a spoke would have.
    let mut per_nsg: std::collections::BTreeMap<&str, (Vec<String>, Vec<String>)> =
        Default::default();
    for (i, &(r, l, p, udp, ok, n)) in triples.iter().enumerate() {
        let (remote, local) = (REMOTES[r], LOCALS[l]);
        if remote == local {
            continue;
        }
        let nsg = match &local[..8] {
            "10.20.1." => "NSG-SHOP-WEB",
            "10.20.2." => "NSG-SHOP-API",
            _ => "NSG-SHOP-DB",
        };
        let proto = if udp { "U" } else { "T" };
        let e = per_nsg.entry(nsg).or_default();
        for k in 0..n {
            let t = T0 + (i as u64) * 3_600 + k * 86_400;
            if ok {
                e.0.push(format!(
                    "{t},{remote},{local},4{i:04},{},{proto},I,A,B,,,,",
                    PORTS[p]
                ));
                e.0.push(format!(
                    "{},{remote},{local},4{i:04},{},{proto},I,A,E,5,400,5,900",
                    t + 20,
                    PORTS[p]
                ));
            } else {
                e.1.push(format!(
                    "{t},{remote},{local},4{i:04},{},{proto},I,D,B,,,,",
                    PORTS[p]
                ));
            }
        }
    }
    per_nsg
        .into_iter()
        .map(|(nsg, (a, d))| {
            let mut groups = Vec::new();
            if !a.is_empty() {
                groups.push(("UserRule_allow-observed", a));
            }
            if !d.is_empty() {
                groups.push(("UserRule_deny-observed", d));
            }
            (format!("{nsg}.json"), blob(nsg, &groups))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn coverage_property_over_random_traffic(triples in traffic(), hosts in any::<bool>(), outbound in any::<bool>()) {
        let hc = HardenConfig {
            outbound,
            destinations: if hosts { Destinations::Hosts } else { Destinations::Subnets },
            ..HardenConfig::default()
        };
        let run = run_texts(&traffic_blobs(&triples), &topo_config(), hc);
        let s = check_safety(&run);
        let any_allowed = triples.iter().any(|t| t.4 && REMOTES[t.0] != LOCALS[t.1]);
        prop_assert!(!any_allowed || s.allowed_checked > 0, "{:?}", s);
        for n in &run.proposal.nsgs {
            prop_assert!(nsgflow::harden::rules::check_limits(&n.rules).is_empty());
            prop_assert_eq!(n.rules.last().map(|r| (r.priority, r.access)), Some((4096, Access::Deny)));
            prop_assert!(n.rules.iter().all(|r| r.direction == RuleDirection::Inbound || outbound));
        }
    }
}

#[test]
fn tightness_on_fixtures_is_reported() {
    // Explicit hosts open nothing unused; the subnet collapse may.
    let files = all_fixtures();
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let mut report = String::new();
    for d in [Destinations::Hosts, Destinations::Subnets] {
        let run: HardenRun = run_paths(
            &paths,
            &topo_config(),
            HardenConfig {
                destinations: d,
                ..HardenConfig::default()
            },
        );
        let hosts: Vec<std::net::IpAddr> = run
            .seen
            .iter()
            .filter(|s| s.direction == RuleDirection::Inbound)
            .map(|s| s.dst)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let (opened, unused) = nsgflow_tests::harden_support::tightness(&run, &hosts);
        writeln!(
            report,
            "{d:?}: {opened} (host, port) pairs opened, {unused} never used"
        )
        .unwrap();
        if d == Destinations::Hosts {
            assert_eq!(unused, 0, "{report}");
        }
    }
    println!("{report}");
}
