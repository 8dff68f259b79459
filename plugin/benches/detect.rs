//! Detection throughput: the explode alone against explode + detection (the difference is
//! the stage's own cost), the whole path (blob -> flat events) with and without detection,
//! and the bytes each tracked subject costs.
//!
//! Every iteration reads a fresh blob whose event time follows the previous one's, so the
//! detectors run at their steady state: windows open, tables full and evicting. The timed
//! figure is the bench thread's CPU time (see `Clock`): on a shared machine, time spent
//! waiting for the core is not counted.
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

mod clock {
    include!("support/clock.rs");
}
use clock::Clock;

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

/// The first blob's start; each iteration reads the next `SPAN` of event time.
const START: u64 = 1_772_445_600;
const SPAN: u64 = (TUPLES as u64 / 40 + 1) * 60;

/// Times `run` over fresh blobs, each starting where the previous one ended: event time
/// moves on as in a live stream, so the windows are open and the tables at their steady
/// state (replaying one blob would make every tuple late after the first pass). The blob is
/// made outside the timed part.
fn fresh_blobs(iters: u64, next: &mut u64, mut run: impl FnMut(&str)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let blob = data::blob_at(TUPLES, 7, START + *next * SPAN);
        *next += 1;
        let t = Clock::now();
        run(&blob);
        total += t.elapsed();
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(TUPLES as u64));
    g.measurement_time(Duration::from_secs(8));
    g.sample_size(30);
    g.bench_function("explode only", |b| {
        let mut engine = Engine::default();
        let mut dead = DeadLetterWriter::new(None);
        let mut next = 0;
        b.iter_custom(|iters| {
            fresh_blobs(iters, &mut next, |blob| {
                black_box(engine.process("bench", blob, &mut Discard, &mut dead));
            })
        })
    });
    g.bench_function("explode + detection", |b| {
        let mut engine = Engine::default();
        let mut dead = DeadLetterWriter::new(None);
        let mut d = Detection::new(&config(), engine.enricher.clone()).unwrap();
        let mut next = 0;
        b.iter_custom(|iters| {
            fresh_blobs(iters, &mut next, |blob| {
                let mut h = Detecting {
                    detection: Some(&mut d),
                    inner: Discard,
                };
                engine.process("bench", blob, &mut h, &mut dead);
                black_box(d.take_alerts().len());
            })
        })
    });
    g.bench_function("whole path (flat events)", |b| {
        let mut engine = Engine::default();
        let mut dead = DeadLetterWriter::new(None);
        let mut enc = encoder(Format::Flat, &EncodeOptions::default());
        let mut out = EventWriter::new(std::io::sink());
        let mut next = 0;
        b.iter_custom(|iters| {
            fresh_blobs(iters, &mut next, |blob| {
                black_box(engine.process(
                    "bench",
                    blob,
                    &mut EncodeLines {
                        encoder: enc.as_mut(),
                        writer: &mut out,
                    },
                    &mut dead,
                ));
            })
        })
    });
    g.bench_function("whole path (flat events) + detection", |b| {
        let mut engine = Engine::default();
        let mut dead = DeadLetterWriter::new(None);
        let mut enc = encoder(Format::Flat, &EncodeOptions::default());
        let mut out = EventWriter::new(std::io::sink());
        let mut d = Detection::new(&config(), engine.enricher.clone()).unwrap();
        let mut next = 0;
        b.iter_custom(|iters| {
            fresh_blobs(iters, &mut next, |blob| {
                let mut h = Detecting {
                    detection: Some(&mut d),
                    inner: EncodeLines {
                        encoder: enc.as_mut(),
                        writer: &mut out,
                    },
                };
                engine.process("bench", blob, &mut h, &mut dead);
                write_alerts(&mut d, enc.as_mut(), &mut out);
            })
        })
    });
    g.finish();

    // Bytes per tracked subject, once the tables hold many.
    let mut engine = Engine::default();
    let mut d = Detection::new(&config(), engine.enricher.clone()).unwrap();
    for seed in 0..5 {
        let blob = data::blob_at(TUPLES, 100 + seed, START + seed * SPAN);
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
