//! The zero per-tuple allocation rule holds per worker with `--threads`: a run allocates
//! per job (the job and its result; chunk and file read buffers until their pools have
//! them) and per worker (its engine, encoder and thread), never per tuple. Counted over
//! every thread of the process (this binary holds this one test only).

use std::sync::atomic::Ordering;

use nsgflow::aggregate::{AggregateConfig, FlushReason};
use nsgflow::checkpoint::{finish_run, InputRun, RunHooks};
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow::input::Input;
use nsgflow::output::DeadLetterWriter;
use nsgflow::parallel::{self, Options};

#[path = "alloc_counting.rs"]
mod alloc_counting;
use alloc_counting::{ALL_COUNT as COUNT, ALL_THREADS as COUNTING};

mod nsgflow_bench_data {
    include!("../plugin/benches/support/data.rs");
}

struct Quiet;

impl<W: std::io::Write> RunHooks<W> for Quiet {
    fn done(&mut self, _: &str, _: InputRun) {}
}

const TUPLES: usize = 40_000;

#[test]
fn workers_allocate_per_job_not_per_tuple() {
    let dir = std::env::temp_dir().join(format!("nsgflow-alloc-parallel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One large blob cut into ranges, and small blobs read whole by the workers.
    let mut inputs = vec![];
    for (i, tuples) in [(0, TUPLES), (1, 2_000), (2, 2_000), (3, 2_000)] {
        let path = dir.join(format!("b{i}.json"));
        std::fs::write(&path, nsgflow_bench_data::blob(tuples, i)).unwrap();
        inputs.push(Input::File(path));
    }
    let tuples = TUPLES + 6_000;
    let options = Options {
        threads: 2,
        range_bytes: 256 << 10,
        split_bytes: 1 << 20,
    };
    let mut report = Vec::new();
    // Each format, then aggregation (the workers make tuples, this thread folds them).
    let aggregate = Config {
        aggregate: AggregateConfig {
            enabled: true,
            ..Default::default()
        },
        ..Config::default()
    };
    let configs = Format::ALL.iter().map(|&format| {
        let config = Config {
            format: Some(format),
            ..Config::default()
        };
        (format.to_string(), config)
    });
    for (format, config) in configs.chain([("aggregate".to_string(), aggregate)]) {
        let mut p = config
            .pipeline(std::io::sink(), DeadLetterWriter::new(None))
            .unwrap();
        COUNT.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        let run = parallel::run_inputs(&mut p, None, &inputs, &mut Quiet, &options).unwrap();
        COUNTING.store(false, Ordering::Relaxed);
        finish_run(&mut p, None, FlushReason::EndOfInput).unwrap();
        let allocs = COUNT.load(Ordering::Relaxed);
        assert_eq!(p.engine.stats.events as usize, tuples, "{format}");
        assert_eq!(run.workers, 2, "{format}: on the workers");
        report.push(format!(
            "{format}: {allocs} allocations for {tuples} tuples"
        ));
        assert!(
            (allocs as f64) < 0.01 * tuples as f64,
            "{format}: {allocs} allocations for {tuples} tuples ({:.4} per tuple)",
            allocs as f64 / tuples as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("{}", report.join("\n"));
}
