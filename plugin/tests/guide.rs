//! The user guide's shell commands run, so the guide cannot rot.
//!
//! Every ```sh block of `README.md` and `docs/src/*.md` is preceded by a marker line:
//!
//! - `<!-- guide-test: run -->`: the block works on the repository's sample data. This test
//!   runs it with bash (`set -euo pipefail`), the `nsgflow` just built first on `PATH`, in a
//!   scratch folder that links the repository's folders (so `tests/fixtures/...` resolves and
//!   the files a command writes land in the scratch folder). `cargo run --release -p nsgflow --`
//!   is replaced by the built binary, and `cargo test` lines are left out (they are what runs
//!   this test). The block must exit 0.
//! - `<!-- guide-test: skip (REASON) -->`: the block needs what CI does not have (Azure, a
//!   SIEM, root, a package) or is a synopsis; the reason is required.
//!
//! A shell block without a marker fails the test, so every new command is either run or
//! explicitly excused.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Block {
    place: String,
    marker: Option<String>,
    script: String,
}

const SHELLS: &[&str] = &["sh", "bash", "shell", "console"];

fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.strip_prefix(repo()).unwrap().display().to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(info) = line.trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let lang = info.split([',', ' ']).next().unwrap_or("");
        let start = i;
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push(lines[i]);
            i += 1;
        }
        i += 1;
        if !SHELLS.contains(&lang) {
            continue;
        }
        let marker = start
            .checked_sub(1)
            .map(|p| lines[p].trim())
            .and_then(|l| l.strip_prefix("<!-- guide-test:"))
            .and_then(|l| l.strip_suffix("-->"))
            .map(|m| m.trim().to_string());
        out.push(Block {
            place: format!("{name}:{}", start + 1),
            marker,
            script: body.join("\n"),
        });
    }
    out
}

fn guide_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files.insert(0, repo().join("README.md"));
    files
}

/// The script as run: the built binary for `cargo run`, no `cargo test`.
fn runnable(script: &str) -> String {
    script
        .lines()
        .filter(|l| !l.trim_start().starts_with("cargo test"))
        .map(|l| l.replace("cargo run --release -p nsgflow --", "nsgflow"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A scratch folder with links to the repository's top-level folders.
fn scratch(n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nsgflow-guide-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(repo()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if entry.path().is_dir() && name != "target" && name != ".git" {
            #[cfg(unix)]
            std::os::unix::fs::symlink(entry.path().canonicalize().unwrap(), dir.join(&name))
                .unwrap();
        }
    }
    dir
}

#[test]
fn every_shell_block_is_marked_run_or_skip_with_a_reason() {
    let mut unmarked = Vec::new();
    let (mut run, mut skip) = (0, 0);
    for f in guide_files() {
        for b in blocks(&f) {
            match b.marker.as_deref() {
                Some("run") => run += 1,
                Some(m) if m.starts_with("skip (") && m.ends_with(')') && m.len() > 8 => skip += 1,
                other => unmarked.push(format!("{}: marker {other:?}", b.place)),
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "shell blocks without `<!-- guide-test: run -->` or `<!-- guide-test: skip (reason) -->` \
         on the line before (see plugin/tests/guide.rs):\n{}",
        unmarked.join("\n")
    );
    assert!(run >= 8, "only {run} runnable blocks");
    assert!(skip >= 1);
}

#[test]
fn the_guides_runnable_commands_work_on_the_sample_data() {
    if cfg!(not(unix)) {
        eprintln!("SKIPPED: the guide's commands are POSIX shell");
        return;
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_nsgflow"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    for f in guide_files() {
        for (n, b) in blocks(&f).into_iter().enumerate() {
            if b.marker.as_deref() != Some("run") {
                continue;
            }
            ran += 1;
            let dir = scratch(ran * 100 + n);
            let script = format!("set -euo pipefail\n{}\n", runnable(&b.script));
            let out = Command::new("bash")
                .arg("-c")
                .arg(&script)
                .current_dir(&dir)
                .env("PATH", &path)
                .env_remove("NSGFLOW_BLESS")
                .output()
                .expect("bash");
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                failures.push(format!(
                    "{} exited with {}:\n{}\nstderr:\n{}",
                    b.place, out.status, b.script, stderr
                ));
            } else if stderr.contains("nsgflow: error") {
                failures.push(format!("{} printed an error:\n{stderr}", b.place));
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    assert!(ran >= 8, "only {ran} blocks ran");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn cargo_run_becomes_the_built_binary_and_cargo_test_is_left_out() {
    let s = runnable(
        "# 1.\ncargo run --release -p nsgflow -- process x --format ecs\ncargo test --workspace",
    );
    assert_eq!(s, "# 1.\nnsgflow process x --format ecs");
}
