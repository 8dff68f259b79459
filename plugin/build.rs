//! Puts the git commit the binary is built from into `NSGFLOW_COMMIT`, for `nsgflow --version`.
//!
//! In order: the `NSGFLOW_COMMIT` environment variable (packagers building from a tarball
//! can pass it), `git rev-parse` in the source tree, else "commit unknown" (a crate tarball
//! has no `.git`; the build never fails for it).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=NSGFLOW_COMMIT");
    let commit = std::env::var("NSGFLOW_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "commit unknown".into());
    println!("cargo:rustc-env=NSGFLOW_COMMIT={commit}");
}

/// `commit 3072372c1a2b`, rebuilt when HEAD or the branch it names moves.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
    };
    let hash = git(&["rev-parse", "--short=12", "HEAD"])?;
    // HEAD, and the ref it points to, live in the git dir (a worktree has its own HEAD).
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    Some(format!("commit {hash}"))
}
