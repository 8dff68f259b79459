//! The report model: tuples per second from blob text to the model (the whole path:
//! explode, enrich, aggregate into every report table), and the model's memory, which
//! is bounded by distinct keys (`report.max_keys` per table), not by tuples.
//!
//! The generated blobs are the worst case for memory: every public peer is a random
//! address, so almost every inbound or outbound tuple brings new hosts and pairs.
//!
//! Run: `taskset -c 1 cargo bench -p nsgflow --bench report` (with
//! `NSGFLOW_REPORT_BLOBS=DIR` it also writes its 10-million-tuple input to DIR).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nsgflow::engine::Engine;
use nsgflow::output::DeadLetterWriter;
use nsgflow::report::{ReportConfig, ReportModel, Summary};

#[allow(dead_code)]
mod data {
    include!("support/data.rs");
}

const TUPLES: usize = 200_000;

fn run(blobs: &[String], config: ReportConfig) -> (ReportModel, Engine) {
    let mut engine = Engine::default();
    let mut model = ReportModel::new(config);
    let mut dead = DeadLetterWriter::new(None);
    for (i, b) in blobs.iter().enumerate() {
        engine.process(&format!("blob-{i}"), b, &mut model, &mut dead);
    }
    (model, engine)
}

/// Blob `i` of the scaling runs: 200,000 tuples with their own random peers, moved on by
/// i x 10,000 s (the timestamps' `177244` prefix, seconds and milliseconds alike), so 50
/// blobs span about six days of hour-aligned buckets.
fn scaling_blob(i: usize) -> String {
    data::blob(TUPLES, 100 + i as u64).replace("177244", &format!("1772{}", 44 + i))
}

fn bench(c: &mut Criterion) {
    let blob = data::blob(TUPLES, 11);

    // Scaling: 1, 5 and 10 million tuples (blobs of 200,000, made one at a time so the
    // input is never all in memory), once each, with the default cap and with a cap of
    // 20,000 keys. `NSGFLOW_REPORT_BLOBS=DIR` also writes the 50 blobs there, for timing
    // `nsgflow report DIR` on the same 10 million tuples (README: Report, Scale).
    if let Some(dir) = std::env::var_os("NSGFLOW_REPORT_BLOBS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("NSGFLOW_REPORT_BLOBS: a directory");
        for i in 0..50 {
            std::fs::write(dir.join(format!("blob-{i:02}.json")), scaling_blob(i))
                .expect("write a blob");
        }
    }
    for n in [5usize, 25, 50] {
        for cap in [200_000usize, 20_000] {
            let config = ReportConfig {
                max_keys: cap,
                ..ReportConfig::default()
            };
            let mut engine = Engine::default();
            let mut model = ReportModel::new(config);
            let mut dead = DeadLetterWriter::new(None);
            let mut read = 0.0;
            for i in 0..n {
                let b = scaling_blob(i);
                let t = Instant::now();
                engine.process(&format!("blob-{i}"), &b, &mut model, &mut dead);
                read += t.elapsed().as_secs_f64();
            }
            let t = Instant::now();
            let summary = Summary::new(&model, &engine.stats);
            let page = nsgflow::report::html::render(&summary, &Default::default());
            let render = t.elapsed().as_secs_f64();
            println!(
                "{} tuples, {} buckets of {} min, max_keys {cap}: read into the model {read:.2} s ({:.2} M tuples/s), summary + page {render:.2} s ({} kB page); model {:.1} MB, {} hosts, {} pairs, {} updates past the cap",
                engine.stats.tuples,
                summary.buckets.len(),
                summary.bucket_ms / 60_000,
                engine.stats.tuples as f64 / read / 1e6,
                page.len() / 1000,
                model.heap_bytes() as f64 / 1e6,
                model.hosts.map.len(),
                model.pairs.map.len(),
                model.dropped_keys(),
            );
        }
    }

    let mut group = c.benchmark_group("report");
    group.throughput(Throughput::Elements(TUPLES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("blob_to_model_200k", |b| {
        b.iter(|| {
            let (model, _) = run(std::slice::from_ref(&blob), ReportConfig::default());
            black_box(model.totals.total.flows)
        })
    });
    // The same path with a handler that does nothing: what the model itself costs.
    struct Discard(u64);
    impl nsgflow::engine::EventHandler for Discard {
        fn event(&mut self, e: &nsgflow::event::FlowEvent<'_>) {
            self.0 += e.tuple.src_port as u64;
        }
    }
    group.bench_function("blob_to_nothing_200k", |b| {
        b.iter(|| {
            let mut engine = Engine::default();
            let mut h = Discard(0);
            engine.process("blob", &blob, &mut h, &mut DeadLetterWriter::new(None));
            black_box(h.0)
        })
    });
    let (model, engine) = run(std::slice::from_ref(&blob), ReportConfig::default());
    group.bench_function("summary_and_page_200k", |b| {
        b.iter(|| {
            let s = Summary::new(&model, &engine.stats);
            black_box(nsgflow::report::html::render(&s, &Default::default()).len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
