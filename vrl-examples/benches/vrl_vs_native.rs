//! The native engine against the VRL programs, in one criterion run, on the same blob (the
//! engine's own bench input: 20,000 tuples shaped like real ones, one line).
//!
//! - `native/flat`, `native/ecs`: blob text to NDJSON lines, as `nsgflow process` does.
//! - `vrl/explode`, `vrl/explode+ecs`: what `remap` does with the blob once Vector has
//!   decoded it: the program runs on the decoded event and leaves an array of events. The
//!   JSON decoding before and the encoding after are NOT timed (Vector does them outside
//!   `remap`), which favours VRL.
//!
//! Run: `taskset -c 1 cargo bench -p nsgflow-vrl --bench vrl_vs_native`, and with the
//! allocator Vector links (VRL allocates for every field of every event; the native engine
//! does not allocate per tuple): add `--features jemalloc`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::output::{DeadLetterWriter, EventWriter};
use nsgflow_vrl::Program;
use vrl::value::Value;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod data {
    include!("../../plugin/benches/support/data.rs");
}

const TUPLES: usize = 20_000;

fn native(blob: &str, format: Format) -> impl FnMut() -> u64 + '_ {
    let mut engine = Engine::default();
    let mut enc = encoder(format, &EncodeOptions::default());
    let mut out = EventWriter::new(std::io::sink());
    let mut dead = DeadLetterWriter::new(None);
    move || {
        let before = out.lines;
        engine.process(
            "bench",
            blob,
            &mut EncodeLines {
                encoder: enc.as_mut(),
                writer: &mut out,
            },
            &mut dead,
        );
        out.lines - before
    }
}

/// Runs `explode`, then `then` on each event it emits (as a second `remap` would).
fn vrl(explode: &Program, then: Option<&Program>, event: Value) -> usize {
    let Value::Array(events) = explode.run(event).expect("explode runs") else {
        panic!("explode did not emit an array");
    };
    match then {
        None => events.len(),
        Some(p) => {
            let mut n = 0;
            for e in events {
                black_box(p.run(e).expect("re-shape runs"));
                n += 1;
            }
            n
        }
    }
}

fn bench(c: &mut Criterion) {
    let blob = data::blob(TUPLES, 7);
    let decoded = Value::from(serde_json::from_str::<serde_json::Value>(&blob).expect("blob"));
    let explode = Program::example("explode");
    let ecs = Program::example("ecs");
    assert_eq!(native(&blob, Format::Flat)(), TUPLES as u64);
    assert_eq!(vrl(&explode, None, decoded.clone()), TUPLES);

    let mut group = c.benchmark_group("blob_to_events");
    group.throughput(Throughput::Elements(TUPLES as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(10));
    for format in [Format::Flat, Format::Ecs] {
        let mut run = native(&blob, format);
        group.bench_function(BenchmarkId::new("native", format), |b| {
            b.iter(|| black_box(run()))
        });
    }
    for (name, then) in [("explode", None), ("explode+ecs", Some(&*ecs))] {
        group.bench_function(BenchmarkId::new("vrl", name), |b| {
            b.iter_batched(
                || decoded.clone(),
                |event| black_box(vrl(&explode, then, event)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
