//! What the packages ship, checked so it cannot rot: `--version` names the commit, the
//! completions and man pages come out of the binary, every file the Debian package lists
//! exists, and the flags the systemd unit and the Kubernetes manifests pass are flags
//! `nsgflow tail` takes. `deploy/check.sh` (run by .ci/run) builds and installs the real
//! artefacts; this test catches a moved file or a renamed flag in a plain `cargo test`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_nsgflow"))
        .args(args)
        .output()
        .expect("run nsgflow");
    assert!(
        out.status.success(),
        "nsgflow {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(args: &[&str]) -> String {
    String::from_utf8(run(args).stdout).expect("UTF-8 output")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn version_names_the_version_and_the_commit() {
    let version = stdout(&["--version"]);
    let expected = format!("nsgflow {} (", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version}");
    // Built from a git checkout (as here), the commit is the checkout's HEAD.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output();
    match head {
        Ok(h) if h.status.success() => {
            let head = String::from_utf8_lossy(&h.stdout).trim().to_string();
            assert!(
                version.contains(&format!("(commit {head})")),
                "{version} (HEAD is {head})"
            );
        }
        _ => assert!(version.contains("commit "), "{version}"),
    }
}

#[test]
fn completions_cover_every_command_and_flag() {
    for (shell, marker) in [
        ("bash", "complete -F _nsgflow"),
        ("zsh", "#compdef nsgflow"),
        ("fish", "complete -c nsgflow"),
    ] {
        let script = stdout(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no {marker}");
        for word in [
            "tail",
            "process",
            "harden",
            "report",
            "checkpoint-dir",
            "format",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    // The hidden generators stay out of the completions and the help.
    assert!(!stdout(&["--help"]).contains("completions"));
}

#[test]
fn man_pages_one_per_command() {
    let page = stdout(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH nsgflow 1"),
        "{page}"
    );
    let dir = std::env::temp_dir().join(format!("nsgflow-man-{}", std::process::id()));
    run(&["man", "--dir", dir.to_str().unwrap()]);
    for cmd in [
        "nsgflow",
        "nsgflow-process",
        "nsgflow-tail",
        "nsgflow-harden",
        "nsgflow-report",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{cmd}.1")))
            .unwrap_or_else(|e| panic!("{cmd}.1: {e}"));
        assert!(text.contains(".TH"), "{cmd}.1 is no man page");
    }
    let tail = std::fs::read_to_string(dir.join("nsgflow-tail.1")).unwrap();
    assert!(
        tail.contains("checkpoint\\-dir"),
        "nsgflow-tail.1 lacks --checkpoint-dir"
    );
    assert!(
        !dir.join("nsgflow-man.1").exists(),
        "hidden commands get no page"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The source paths of `[package.metadata.deb] assets` outside the build output.
fn deb_sources() -> Vec<String> {
    let manifest = read("plugin/Cargo.toml");
    let deb = manifest
        .split("[package.metadata.deb]")
        .nth(1)
        .expect("plugin/Cargo.toml has [package.metadata.deb]");
    deb.lines()
        .filter_map(|l| l.trim().strip_prefix("[\"../"))
        .map(|l| l.split('"').next().unwrap().to_string())
        .filter(|p| !p.starts_with("target/"))
        .collect()
}

#[test]
fn every_file_the_package_lists_exists() {
    let sources = deb_sources();
    assert!(sources.len() >= 10, "{sources:?}");
    for source in sources {
        if let Some((dir, _)) = source.split_once("/**") {
            let dir = repo().join(dir);
            assert!(
                dir.is_dir() && std::fs::read_dir(&dir).unwrap().next().is_some(),
                "{source}: {} is missing or empty",
                dir.display()
            );
        } else if let Some((dir, ext)) = source.split_once("/*") {
            let found = std::fs::read_dir(repo().join(dir))
                .unwrap_or_else(|e| panic!("{source}: {e}"))
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().ends_with(ext));
            assert!(found, "{source} matches no file");
        } else {
            assert!(repo().join(&source).is_file(), "{source} is missing");
        }
    }
}

/// Every `--flag` in `text` (up to the next space, `=` or quote).
fn flags(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '[' || c == ',')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.split('=').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_unit_and_the_manifests_pass_flags_tail_takes() {
    let help = stdout(&["tail", "--help"]);
    let unit = read("deploy/systemd/nsgflow-tail@.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart");
    assert!(exec.starts_with("/usr/bin/nsgflow tail "), "{exec}");
    let mut checked = 0;
    for flag in flags(exec) {
        assert!(
            help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
            "the unit passes {flag}, which nsgflow tail does not take"
        );
        checked += 1;
    }
    for manifest in ["nsgflow-vector.yaml", "nsgflow-fluent-bit.yaml"] {
        let text = read(&format!("deploy/k8s/{manifest}"));
        let args: String = text
            .split("args:")
            .nth(1)
            .and_then(|a| a.split("env:").next())
            .expect("the nsgflow container has args")
            .to_string();
        assert!(args.contains("- tail"), "{manifest}: {args}");
        for flag in flags(&args) {
            assert!(
                help.contains(&format!("{flag} ")),
                "{manifest} passes {flag}, which nsgflow tail does not take"
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} flags found");
}
