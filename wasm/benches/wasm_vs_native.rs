//! The WASM build under wasmtime against the native engine, on the same input, in one run.
//!
//! - `in_exec_wasi`: a 20,000-tuple one-line blob in a directory, read and exploded to flat
//!   NDJSON. Native: the same incremental reader the WASI program uses, in-process. WASM:
//!   `nsgflow-wasi.wasm` run as in_exec_wasi runs it (a fresh instance, preopened
//!   directory, stdout captured; the checkpoint removed before each run).
//! - `filter_wasm`: 1,000 split-tuple records to flat events, one call each. Native: the
//!   same `Filter` in-process. WASM: `nsgflow_wasm.wasm`, each record copied in with a NUL
//!   and the result read back, as filter_wasm does.
//!
//! Run: `taskset -c 1 cargo bench -p nsgflow-wasm --bench wasm_vs_native`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nsgflow::checkpoint::{process_new, read_new};
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::output::{DeadLetterWriter, EventWriter};
use nsgflow_wasm::filter::Filter;

#[path = "../tests/harness/mod.rs"]
mod harness;

mod data {
    include!("../../plugin/benches/support/data.rs");
}

const TUPLES: usize = 20_000;

fn native_exec(path: &std::path::Path) -> u64 {
    let mut buf = Vec::new();
    let start = read_new(path, None, &mut buf).unwrap();
    let text = std::str::from_utf8(&buf).unwrap();
    let mut engine = Engine::default();
    let mut enc = encoder(Format::Flat, &EncodeOptions::default());
    let mut out = EventWriter::new(Vec::new());
    let mut dead = DeadLetterWriter::new(None);
    process_new(
        &mut engine,
        "bench",
        text,
        &start,
        &mut EncodeLines {
            encoder: enc.as_mut(),
            writer: &mut out,
        },
        &mut dead,
    );
    out.lines
}

fn bench(c: &mut Criterion) {
    let dir = harness::TempDir::new("bench");
    let blob = data::blob(TUPLES, 7);
    let path = dir.0.join("PT1H.json");
    std::fs::write(&path, &blob).unwrap();
    let checkpoint = dir.0.join(".nsgflow-checkpoint.json");
    assert_eq!(native_exec(&path), TUPLES as u64);
    // Compile both modules before anything is measured (and say so, for `perf record -p`).
    let _ = harness::run_wasi(&[&dir.0]);
    let _ = std::fs::remove_file(&checkpoint);
    let _ = harness::filter_module();
    eprintln!("wasm_vs_native: modules compiled");

    let mut g = c.benchmark_group("in_exec_wasi");
    g.throughput(Throughput::Elements(TUPLES as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("native", |b| b.iter(|| black_box(native_exec(&path))));
    g.bench_function("wasm_wasmtime", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(&checkpoint);
            let run = harness::run_wasi(&[&dir.0]);
            assert_eq!(run.exit, 0);
            black_box(run.stdout.len())
        })
    });
    g.finish();

    // Split-tuple records of the same blob, as the Lua script leaves them.
    let splits: Vec<String> = harness::split_records(&blob)
        .unwrap()
        .iter()
        .take(1000)
        .map(|v| v.to_string())
        .collect();
    let mut g = c.benchmark_group("filter_wasm");
    g.throughput(Throughput::Elements(splits.len() as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    let mut native = Filter::default();
    g.bench_function("native", |b| {
        b.iter(|| {
            let mut n = 0;
            for s in &splits {
                n += native.tuple_event(s, Format::Flat).len();
            }
            black_box(n)
        })
    });
    let mut h = harness::FilterHarness::new(&[]);
    g.bench_function("wasm_wasmtime", |b| {
        b.iter(|| {
            let mut n = 0;
            for s in &splits {
                n += h
                    .call("nsgflow_tuple_flat", "azure.flow", 0, 0, s.as_bytes())
                    .unwrap()
                    .len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
