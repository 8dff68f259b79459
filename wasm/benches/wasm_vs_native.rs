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
//! - `in_exec_wasi/native_runner`: the in_exec_wasi program's own code
//!   (`nsgflow_wasm::runner::run`) built natively, on the same directory: the same work
//!   as the WASM run, config lookup, folder walk and the checkpoint written atomically
//!   (with its fsyncs) included, which `native` leaves out.
//! - `NSGFLOW_WASM_BASELINE_DIR=<dir>`: also runs the `.wasm` files in `<dir>` (another
//!   commit's build) as `wasm_baseline`, for a before/after in one run.
//!
//! - `NSGFLOW_BENCH_CPU=1`: time by the process's CPU time (all its threads, kernel time
//!   included) instead of the wall clock. On a machine shared with other work this is far
//!   steadier; it leaves out time spent waiting (for the checkpoint's fsyncs, above all).
//!
//! Run: `taskset -c 1 cargo bench -p nsgflow-wasm --bench wasm_vs_native`

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput};
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

fn bench<M: Measurement>(c: &mut Criterion<M>) {
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
    g.bench_function("native_runner", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(&checkpoint);
            let (code, report) = nsgflow_wasm::runner::run(
                std::slice::from_ref(&dir.0),
                Vec::new(),
                std::io::sink(),
            );
            assert_eq!((code, report.events), (0, TUPLES as u64));
            black_box(report.events)
        })
    });
    let modules = [("wasm_wasmtime", harness::wasi_module().clone())]
        .into_iter()
        .chain(baseline().map(|d| ("wasm_baseline", harness::module_in(&d, harness::WASI_WASM))));
    for (name, module) in modules {
        g.bench_function(name, |b| {
            b.iter(|| {
                let _ = std::fs::remove_file(&checkpoint);
                let run = harness::run_wasi_module(&module, &[&dir.0]);
                assert_eq!(run.exit, 0);
                black_box(run.stdout.len())
            })
        });
    }
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
    let modules = [("wasm_wasmtime", harness::filter_module().clone())]
        .into_iter()
        .chain(baseline().map(|d| {
            (
                "wasm_baseline",
                harness::module_in(&d, harness::FILTER_WASM),
            )
        }));
    for (name, module) in modules {
        let mut h = harness::FilterHarness::with_module(&module, &[]);
        g.bench_function(name, |b| {
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
    }
    g.finish();
}

/// `NSGFLOW_WASM_BASELINE_DIR`: a directory of `.wasm` files built from another commit.
fn baseline() -> Option<std::path::PathBuf> {
    std::env::var_os("NSGFLOW_WASM_BASELINE_DIR").map(Into::into)
}

/// The process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`): user and kernel time of every
/// thread, wasmtime's WASI threads included; not the time spent waiting.
struct ProcessCpu;

fn process_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid pointer to a timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

impl Measurement for ProcessCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu()
    }
    fn end(&self, start: Duration) -> Duration {
        process_cpu().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, like the wall clock's.
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

fn main() {
    if std::env::var_os("NSGFLOW_BENCH_CPU").is_some() {
        eprintln!("wasm_vs_native: timing by process CPU time (NSGFLOW_BENCH_CPU)");
        bench(
            &mut Criterion::default()
                .with_measurement(ProcessCpu)
                .configure_from_args(),
        );
    } else {
        bench(&mut Criterion::default().configure_from_args());
    }
    Criterion::default().configure_from_args().final_summary();
}
