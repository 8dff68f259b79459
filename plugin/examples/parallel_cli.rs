//! `nsgflow process --threads` as a user runs it, 1 thread against N, **interleaved**: the
//! criterion bench (`benches/parallel.rs`) runs all of 1 thread, then all of N, so on a
//! machine whose speed drifts (a VM on a shared host) the drift lands in the ratio. Here
//! each round runs the binary once with 1 thread and once with N on the same files, in
//! alternating order, and the ratio of the medians of the wall times is the speed-up.
//!
//! The inputs are the bench's: `dir`, 40 blobs of 30,000 tuples (about 100 MB), and
//! `blob`, one blob of about 100 MB (`support/data.rs`), written once to `DIR`
//! (default: a folder under the temp dir) and read from the page cache; flat output to
//! `/dev/null`.
//!
//! Run: `cargo build --release -p nsgflow && cargo run --release -p nsgflow --example
//! parallel_cli` (`ROUNDS=15`, `THREADS=2`, `BIN=target/release/nsgflow`, `DIR=...`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

mod data {
    include!("../benches/support/data.rs");
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn write_once(dir: &Path, blobs: usize, tuples: usize) {
    if dir.join("done").exists() {
        return;
    }
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..blobs {
        std::fs::write(
            dir.join(format!("PT1H-{i:03}.json")),
            data::blob(tuples, i as u64),
        )
        .unwrap();
    }
    std::fs::write(dir.join("done"), b"").unwrap();
}

/// One run's wall time in seconds.
fn run(bin: &str, input: &Path, threads: usize) -> f64 {
    let start = Instant::now();
    let status = Command::new(bin)
        .args(["process", "--quiet", "--threads", &threads.to_string()])
        .arg(input)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run {bin}: {e} (build it: cargo build --release -p nsgflow)")
        });
    assert!(status.success(), "{bin} failed on {}", input.display());
    start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let bin = env("BIN", "target/release/nsgflow");
    let rounds: usize = env("ROUNDS", "15").parse().expect("ROUNDS: a number");
    let threads: usize = env("THREADS", "2").parse().expect("THREADS: a number");
    let root = PathBuf::from(env(
        "DIR",
        &std::env::temp_dir()
            .join("nsgflow-parallel-cli")
            .to_string_lossy(),
    ));
    let dir = root.join("dir");
    let blob = root.join("blob");
    write_once(&dir, 40, 30_000);
    write_once(&blob, 1, 100_000_000 / 85);
    println!("input        1 thread (median)   {threads} threads (median)   speed-up   rounds");
    for (name, input) in [("dir", &dir), ("blob", &blob)] {
        run(&bin, input, 1); // warm the page cache
        let (mut one, mut many) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            if r % 2 == 0 {
                one.push(run(&bin, input, 1));
                many.push(run(&bin, input, threads));
            } else {
                many.push(run(&bin, input, threads));
                one.push(run(&bin, input, 1));
            }
        }
        let (a, b) = (median(one), median(many));
        println!(
            "{name:<12} {:>10.1} ms {:>20.1} ms {:>12.2}x {rounds:>8}",
            a * 1e3,
            b * 1e3,
            a / b
        );
    }
}
