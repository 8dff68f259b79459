//! `nsgflow process --threads N` against one thread, through the same run loop the command
//! uses (`parallel::run_inputs`), flat output to a sink:
//!
//! - `dir`: a directory of 40 blobs of 30,000 tuples (about 2.5 MB each, 100 MB in all);
//! - `blob`: one blob of about 100 MB, cut into record ranges.
//!
//! Each group runs 1 thread and then N threads on the same files in one run, so the ratio
//! of their medians is the speed-up. The goal on a 2-core machine: >= 1.8x on `dir`,
//! >= 1.6x on `blob` (an idle machine: other load takes cores from the workers).
//!
//! Run: `cargo bench -p nsgflow --bench parallel` (N = the available cores; set
//! `NSGFLOW_BENCH_THREADS` to choose; `NSGFLOW_BENCH_BLOB_MB` for the blob's size).

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nsgflow::aggregate::FlushReason;
use nsgflow::checkpoint::{finish_run, InputRun, RunHooks};
use nsgflow::config::Config;
use nsgflow::input::Input;
use nsgflow::output::DeadLetterWriter;
use nsgflow::parallel::{self, available_threads, Options};

mod data {
    include!("support/data.rs");
}

struct Quiet;

impl<W: std::io::Write> RunHooks<W> for Quiet {
    fn done(&mut self, name: &str, run: InputRun) {
        assert!(matches!(run, InputRun::Read { .. }), "{name}: {run:?}");
    }
}

/// One `process` run over `inputs`; returns the events written.
fn process(inputs: &[Input], threads: usize) -> u64 {
    let config = Config::default();
    let mut p = config
        .pipeline(std::io::sink(), DeadLetterWriter::new(None))
        .unwrap();
    parallel::run_inputs(&mut p, None, inputs, &mut Quiet, &Options::new(threads)).unwrap();
    finish_run(&mut p, None, FlushReason::EndOfInput).unwrap();
    p.engine.stats.events
}

fn files(dir: &std::path::Path, blobs: usize, tuples: usize) -> (Vec<Input>, u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut bytes = 0;
    let inputs = (0..blobs)
        .map(|i| {
            let path = dir.join(format!("PT1H-{i:03}.json"));
            let blob = data::blob(tuples, i as u64);
            bytes += blob.len() as u64;
            std::fs::write(&path, blob).unwrap();
            Input::File(path)
        })
        .collect();
    (inputs, bytes)
}

fn bench(c: &mut Criterion) {
    let threads: usize = std::env::var("NSGFLOW_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(available_threads)
        .max(2);
    let blob_mb: usize = std::env::var("NSGFLOW_BENCH_BLOB_MB")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(100);
    let root: PathBuf =
        std::env::temp_dir().join(format!("nsgflow-bench-parallel-{}", std::process::id()));
    let (dir, dir_bytes) = files(&root.join("dir"), 40, 30_000);
    // About 85 bytes a tuple in the synthetic blobs.
    let (blob, blob_bytes) = files(&root.join("blob"), 1, blob_mb * 1_000_000 / 85);
    eprintln!(
        "dir: {} blobs, {:.1} MB; blob: {:.1} MB; {threads} threads",
        dir.len(),
        dir_bytes as f64 / 1e6,
        blob_bytes as f64 / 1e6
    );
    for (name, inputs, bytes) in [("dir", &dir, dir_bytes), ("blob", &blob, blob_bytes)] {
        let events = process(inputs, 1);
        assert_eq!(process(inputs, threads), events, "{name}: same events");
        let mut g = c.benchmark_group(format!("parallel/{name}"));
        g.throughput(Throughput::Bytes(bytes));
        g.sample_size(10);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(20));
        for t in [1, threads] {
            g.bench_with_input(BenchmarkId::new("threads", t), &t, |b, &t| {
                b.iter(|| process(inputs, t))
            });
        }
        g.finish();
    }
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, bench);
criterion_main!(benches);
