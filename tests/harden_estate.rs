//! `nsgflow harden` over the generated estate (`nsgflow_tests::estate`: 31 VMs in two
//! VNets, four days of NSG v2 blobs with attacks injected): the safety properties hold,
//! and the tightness figure (the share of (host, port) pairs the proposal opens that were
//! never used) is 0 for explicit hosts and reported for the subnet collapse.
//!
//! `cargo test -p nsgflow-tests --test harden_estate -- --nocapture` prints the figures.

use nsgflow::config::Config;
use nsgflow::harden::rules::Access;
use nsgflow::harden::{self, Destinations, HardenConfig, OutputFormat};
use nsgflow_tests::estate::{Scenario, ScenarioConfig};
use nsgflow_tests::harden_support::{check_safety, run_texts, tightness};

#[test]
fn estate_coverage_and_tightness() {
    let scenario = Scenario::generate(&ScenarioConfig::default());
    let dir = std::env::temp_dir().join(format!("nsgflow-harden-estate-{}", std::process::id()));
    let config_path = scenario
        .write_config(&dir, "")
        .expect("write estate config");
    let config = Config::load(&config_path).expect("estate config");
    let texts: Vec<(String, String)> = scenario
        .blobs
        .iter()
        .map(|b| (b.path.clone(), b.text.clone()))
        .collect();
    let hosts: Vec<std::net::IpAddr> = scenario.estate.vms.iter().map(|v| v.ip.into()).collect();
    let mut figures = Vec::new();
    for destinations in [Destinations::Hosts, Destinations::Subnets] {
        // The subnet run proposes (and checks) outbound rules as well.
        let hc = HardenConfig {
            destinations,
            outbound: destinations == Destinations::Subnets,
            ..HardenConfig::default()
        };
        let run = run_texts(&texts, &config, hc);
        let s = check_safety(&run);
        assert!(
            s.allowed_checked > 10_000 && s.denied_checked > 100,
            "{s:?}"
        );
        let c = harden::check(&run.harden, &run.obs, &run.proposal);
        assert!(
            c.allowed_denied.is_empty() && c.denied_allowed.is_empty(),
            "{c:?}"
        );
        // Four days: the short-period warning is there.
        assert!(
            run.proposal.warnings[0].contains("shorter than 7 days"),
            "{:?}",
            run.proposal.warnings
        );
        for n in &run.proposal.nsgs {
            assert!(harden::rules::check_limits(&n.rules).is_empty());
            assert!(
                n.rules.len() < 100,
                "{}: {} rules",
                n.nsg.name,
                n.rules.len()
            );
        }
        // The vendor's temporary RDP rule (an injected case) is flagged, with its evidence.
        let rdp = run
            .proposal
            .findings
            .iter()
            .find(|f| f.kind == "internet-management-port")
            .expect("internet-management-port finding");
        assert_eq!(rdp.evidence["rule"], "UserRule_allow-rdp-vendor-temp");
        assert_eq!(
            rdp.evidence["sources"],
            serde_json::json!(["212.227.81.55"])
        );
        let (opened, unused) = tightness(&run, &hosts);
        let rules: usize = run.proposal.nsgs.iter().map(|n| n.rules.len()).sum();
        let allows: usize = run
            .proposal
            .nsgs
            .iter()
            .flat_map(|n| &n.rules)
            .filter(|r| r.access == Access::Allow)
            .count();
        figures.push(format!(
            "{destinations:?}: {} NSGs, {rules} rules ({allows} allow); {opened} (host, port) pairs opened, {unused} never used ({:.1}%); checked {} allowed and {} denied observations, {} unobserved-port probes",
            run.proposal.nsgs.len(),
            100.0 * unused as f64 / opened.max(1) as f64,
            s.allowed_checked,
            s.denied_checked,
            s.unobserved_probes
        ));
        if destinations == Destinations::Hosts {
            assert_eq!(unused, 0, "explicit hosts open nothing unused");
        }
        if std::env::var_os("NSGFLOW_HARDEN_SHOW").is_some() {
            println!(
                "{}",
                harden::render(&run.proposal, OutputFormat::Text).unwrap()
            );
        }
        // Every output renders (Bicep: one resource group per file).
        for f in [
            OutputFormat::Text,
            OutputFormat::Json,
            OutputFormat::Az,
            OutputFormat::Terraform,
        ] {
            assert!(!harden::render(&run.proposal, f).unwrap().is_empty());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "harden over the estate ({} VMs, {} days):\n  {}",
        hosts.len(),
        scenario.config.days,
        figures.join("\n  ")
    );
}
