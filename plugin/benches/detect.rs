//! Detection throughput: the explode alone against explode + detection (the difference is
//! the stage's own cost), the whole path (blob -> flat events) with and without detection,
//! and the bytes each tracked subject costs.
//!
//! Run: `taskset -c 1 cargo bench -p nsgflow --bench detect`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nsgflow::detect::{DetectConfig, Detection};
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine, EventHandler};
use nsgflow::event::FlowEvent;
use nsgflow::output::{DeadLetterWriter, EventWriter};
use nsgflow::pipeline::{write_alerts, Detecting};

mod data {
    include!("support/data.rs");
}

const TUPLES: usize = 200_000;

struct Discard;

impl EventHandler for Discard {
    fn event(&mut self, e: &FlowEvent<'_>) {
        black_box(e.tuple.timestamp_ms);
    }
}

fn config() -> DetectConfig {
    DetectConfig {
        enabled: true,
        ..DetectConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let blob = data::blob(TUPLES, 7);
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(TUPLES as u64));
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("explode only", |b| {
        let mut engine = Engine::default();
        let mut dead = DeadLetterWriter::new(None);
        b.iter(|| engine.process("bench", &blob, &mut Discard, &mut dead))
    });
    g.bench_function("explode + detection", |b| {
        let mut engine = Engine::default();
        let mut dead = DeadLetterWriter::new(None);
        let mut d = Detection::new(&config(), engine.enricher.clone()).unwrap();
        b.iter(|| {
            let mut h = Detecting {
                detection: Some(&mut d),
                inner: Discard,
            };
            engine.process("bench", &blob, &mut h, &mut dead);
            black_box(d.take_alerts().len())
        })
    });
    g.bench_function("whole path (flat events)", |b| {
        let mut engine = Engine::default();
        let mut dead = DeadLetterWriter::new(None);
        let mut enc = encoder(Format::Flat, &EncodeOptions::default());
        let mut out = EventWriter::new(std::io::sink());
        b.iter(|| {
            engine.process(
                "bench",
                &blob,
                &mut EncodeLines {
                    encoder: enc.as_mut(),
                    writer: &mut out,
                },
                &mut dead,
            )
        })
    });
    g.bench_function("whole path (flat events) + detection", |b| {
        let mut engine = Engine::default();
        let mut dead = DeadLetterWriter::new(None);
        let mut enc = encoder(Format::Flat, &EncodeOptions::default());
        let mut out = EventWriter::new(std::io::sink());
        let mut d = Detection::new(&config(), engine.enricher.clone()).unwrap();
        b.iter(|| {
            let mut h = Detecting {
                detection: Some(&mut d),
                inner: EncodeLines {
                    encoder: enc.as_mut(),
                    writer: &mut out,
                },
            };
            engine.process("bench", &blob, &mut h, &mut dead);
            write_alerts(&mut d, enc.as_mut(), &mut out);
        })
    });
    g.finish();

    // Bytes per tracked subject, once the tables hold many.
    let mut engine = Engine::default();
    let mut d = Detection::new(&config(), engine.enricher.clone()).unwrap();
    for seed in 0..5 {
        let blob = data::blob(TUPLES, 100 + seed);
        let mut h = Detecting {
            detection: Some(&mut d),
            inner: Discard,
        };
        engine.process("bench", &blob, &mut h, &mut DeadLetterWriter::new(None));
    }
    let s = d.stats();
    eprintln!(
        "detect: {} subjects tracked, {:.1} MB, {:.0} bytes per subject",
        s.tracked,
        s.bytes as f64 / 1e6,
        s.bytes as f64 / s.tracked.max(1) as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
