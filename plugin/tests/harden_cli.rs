//! `nsgflow harden`, run as a user runs it, over the repository's sample blobs.

use std::path::PathBuf;
use std::process::{Command, Output};

use nsgflow::engine::Engine;
use nsgflow::harden::{self, Harden, HardenConfig, Observations, OutputFormat};
use nsgflow::output::DeadLetterWriter;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsgflow"))
        .arg("harden")
        .args(args)
        .output()
        .expect("run nsgflow")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn layout() -> String {
    repo("tests/fixtures/azure-layout").display().to_string()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nsgflow-harden-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn sample_blobs_give_a_review_table() {
    let out = run(&[&layout()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("nsgflow harden: least-privilege NSG rules"),
        "{stdout}"
    );
    assert!(
        stdout.contains("NSG NSG-HR-FRONTEND (resource group RG-HR-INTRANET"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  prio  access  dir  proto  source"),
        "{stdout}"
    );
    assert!(stdout.contains("4096  Deny    in   *"), "{stdout}");
    assert!(stdout.contains("WARNING: the observed period is 1.0 hours, shorter than 7 days"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("nsgflow harden: 3 inputs, 9 events (6 allowed, 1 denied)"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("checked: 3 allowed (source, host, port) stay allowed, 1 denied stay denied"),
        "{stderr}"
    );
    // The user guide's "Lock down your NSGs" chapter shows this table as it is.
    let readme = std::fs::read_to_string(repo("docs/src/lockdown.md")).unwrap();
    for line in stdout.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        assert!(readme.contains(line), "docs/src/lockdown.md lacks: {line}");
    }
    // The JSON is the golden file the library tests hold.
    let out = run(&[&layout(), "--format", "json"]);
    let golden = std::fs::read_to_string(repo("tests/golden/harden/azure-layout.json")).unwrap();
    assert_eq!(text(&out.stdout), golden);
}

#[test]
fn terraform_and_bicep_are_what_the_library_renders() {
    // The library run the output checks (tests/harden_outputs.rs) validate.
    let mut engine = Engine::default();
    let mut obs = Observations::new(false, None, None);
    let mut dead = DeadLetterWriter::new(None);
    let (inputs, _) = nsgflow::input::expand(&[layout()]);
    for i in inputs {
        if let nsgflow::input::Input::File(p) = i {
            let t = std::fs::read_to_string(&p).unwrap();
            engine.process(&p.display().to_string(), &t, &mut obs, &mut dead);
        }
    }
    let h = Harden::new(HardenConfig::default(), None, None).unwrap();
    let p = h.propose(&obs, &[]);
    for (flag, format) in [
        ("terraform", OutputFormat::Terraform),
        ("bicep", OutputFormat::Bicep),
        ("az", OutputFormat::Az),
    ] {
        let out = run(&[&layout(), "--format", flag]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            harden::render(&p, format).unwrap(),
            "{flag}"
        );
    }
    let tf = text(&run(&[&layout(), "--format", "terraform"]).stdout);
    assert_eq!(
        tf.matches("resource \"azurerm_network_security_rule\"")
            .count(),
        4
    );
    let path = tmp("rules.tf");
    let out = run(&[
        &layout(),
        "--format",
        "terraform",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), tf);
}

#[test]
fn from_and_to_limit_the_period() {
    let out = run(&[
        &layout(),
        "--from",
        "2026-03-02T11:00:00Z",
        "--to",
        "2026-03-03",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Only the 11:00 blob: the load balancer probe is the one allowed inbound need.
    assert!(stdout.contains("Observed needs (1):"), "{stdout}");
    let out = run(&[&layout(), "--from", "yesterday"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--from: `yesterday` is not a UTC time"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn malformed_rules_file_is_an_error_naming_it() {
    let path = tmp("nsg-show.json");
    std::fs::write(
        &path,
        "{\"name\": \"NSG-HR-FRONTEND\", \"securityRules\": [",
    )
    .unwrap();
    let out = run(&[&layout(), "--rules", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("nsgflow: error: rules {}:", path.display())),
        "{err}"
    );
    assert!(err.contains("az network nsg show"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn no_allowed_inbound_traffic_says_so() {
    let path = tmp("denied.json");
    std::fs::write(
        &path,
        r#"{"records":[{"time":"2026-03-02T10:00:44.0000000Z","macAddress":"000D3A7C19B2","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-A","operationName":"NetworkSecurityGroupFlowEvents","properties":{"Version":2,"flows":[{"rule":"DefaultRule_DenyAllInBound","flows":[{"mac":"000D3A7C19B2","flowTuples":["1772445600,45.1.2.3,172.16.1.4,51000,22,T,I,D,B,,,,"]}]}]}}]}"#,
    )
    .unwrap();
    let out = run(&[path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("No allowed inbound traffic was observed: the proposal is empty"),
        "{stdout}"
    );
    assert!(stdout.contains("[no-allowed-traffic]"), "{stdout}");
    let out = run(&[path.to_str().unwrap(), "--format", "az"]);
    assert!(!text(&out.stdout).contains("az network"), "no commands");
}
