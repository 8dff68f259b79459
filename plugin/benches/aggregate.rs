//! Aggregation throughput on tuples already exploded (the `Aggregator` alone, and the
//! `FlowEvent` -> key conversion with it), the whole path (blob -> aggregates) against the
//! plain explode, and the bytes each live key costs.
//!
//! Run: `taskset -c 1 cargo bench -p nsgflow --bench aggregate`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use nsgflow::aggregate::{
    AggregateConfig, Aggregation, Aggregator, FlowKey, FlushReason, KeySpec, TupleIn,
};
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine, EventHandler};
use nsgflow::event::FlowEvent;
use nsgflow::output::{DeadLetterWriter, EventWriter};

mod data {
    include!("support/data.rs");
}

const TUPLES: usize = 200_000;

/// Collects the compact form of every event: the exploded input the aggregator sees.
struct Collect<'a> {
    agg: &'a mut Aggregation,
    out: Vec<TupleIn>,
}

impl EventHandler for Collect<'_> {
    fn event(&mut self, e: &FlowEvent<'_>) {
        let t = self.agg.tuple_in(e);
        self.out.push(t);
    }
}

fn config(key: KeySpec) -> AggregateConfig {
    AggregateConfig {
        enabled: true,
        key,
        ..AggregateConfig::default()
    }
}

fn exploded(blob: &str, key: KeySpec) -> Vec<TupleIn> {
    let mut engine = Engine::default();
    let mut agg = Aggregation::new(&config(key), engine.enricher.clone()).unwrap();
    let mut c = Collect {
        agg: &mut agg,
        out: Vec::with_capacity(TUPLES),
    };
    engine.process("bench", blob, &mut c, &mut DeadLetterWriter::new(None));
    c.out
}

/// A skewed hour of tuples, as a busy subnet sees it: 50 VMs, peers drawn Zipf-like from
/// 5,000, a few service ports, random ephemeral source ports; a tuple every 18 ms.
fn skewed(n: usize) -> Vec<TupleIn> {
    let mut r = data::Rng::new(21);
    let mut cdf = Vec::new();
    let mut acc = 0.0;
    for rank in 1..=5_000 {
        acc += 1.0 / (rank as f64).powf(1.1);
        cdf.push(acc);
    }
    const PORTS: [u16; 6] = [443, 443, 443, 80, 53, 1433];
    (0..n)
        .map(|i| {
            let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * acc;
            let peer = cdf.partition_point(|&c| c < u) as u32;
            TupleIn {
                timestamp_ms: 1_772_445_600_000 + i as u64 * 18,
                key: FlowKey {
                    src: [0x0A14_0200 | r.below(50) as u32, 0, 0, 0],
                    dst: [0x2D00_0000 | peer, 0, 0, 0],
                    src_port: 0,
                    dst_port: PORTS[(peer % 6) as usize],
                    protocol: 6,
                    flags: 1,
                    context: 0,
                },
                src_port: 32_768 + r.below(28_000) as u16,
                state: 0,
                packets: [10, 12],
                bytes: [1_400, 9_000],
            }
        })
        .collect()
}

/// Bytes per live key: `n` distinct keys in one window, heap bytes over keys.
fn bytes_per_key(n: usize, key: KeySpec) -> (f64, usize) {
    let mut agg = Aggregator::new(&AggregateConfig {
        max_keys: n,
        ..config(key)
    })
    .unwrap();
    let mut rng = data::Rng::new(11);
    for i in 0..n {
        let k = FlowKey {
            src: [0x0A00_0000 | (i as u32 & 0xffff), 0, 0, 0],
            dst: [rng.next_u64() as u32, 0, 0, 0],
            src_port: (i >> 16) as u16,
            dst_port: 443,
            protocol: 6,
            ..FlowKey::default()
        };
        let t = TupleIn {
            timestamp_ms: 1_000,
            key: k,
            src_port: 40_000,
            packets: [1, 1],
            bytes: [60, 60],
            ..TupleIn::default()
        };
        agg.add(&t, &mut |_| {});
    }
    assert_eq!(agg.live_keys(), n);
    (agg.heap_bytes() as f64 / n as f64, agg.live_keys())
}

fn bench(c: &mut Criterion) {
    for (n, key, name) in [
        (100_000, KeySpec::FIVE_TUPLE, "5tuple"),
        (1_000_000, KeySpec::FIVE_TUPLE, "5tuple"),
        (1_000_000, KeySpec::TRAFFIC_ANALYTICS, "traffic-analytics"),
    ] {
        let (b, keys) = bytes_per_key(n, key);
        println!("bytes per live key ({name}, {keys} keys in one window): {b:.1}");
    }

    let blob = data::blob(TUPLES, 7);
    {
        let mut engine = Engine::default();
        let mut enc = encoder(Format::Flat, &EncodeOptions::default());
        let mut out = EventWriter::new(std::io::sink());
        for (key, name) in [
            (KeySpec::FIVE_TUPLE, "5tuple"),
            (KeySpec::TRAFFIC_ANALYTICS, "traffic-analytics"),
        ] {
            for window in [60, 600] {
                let cfg = AggregateConfig {
                    window: nsgflow::aggregate::Seconds(window),
                    ..config(key)
                };
                let mut agg = Aggregation::new(&cfg, engine.enricher.clone()).unwrap();
                engine.process(
                    "bench",
                    &blob,
                    &mut agg.lines(enc.as_mut(), &mut out),
                    &mut DeadLetterWriter::new(None),
                );
                agg.finish(FlushReason::EndOfInput, enc.as_mut(), &mut out);
                println!(
                    "{name}, {window} s windows: {} aggregates from {TUPLES} tuples ({:.1}%)",
                    agg.aggregator.stats.aggregates,
                    100.0 * agg.aggregator.stats.aggregates as f64 / TUPLES as f64
                );
            }
        }
    }
    let mut group = c.benchmark_group("aggregate");
    group.throughput(Throughput::Elements(TUPLES as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(6));

    for (key, name) in [
        (KeySpec::FIVE_TUPLE, "5tuple"),
        (KeySpec::TRAFFIC_ANALYTICS, "traffic-analytics"),
    ] {
        let tuples = exploded(&blob, key);
        assert_eq!(tuples.len(), TUPLES);
        let cfg = config(key);
        // The aggregator alone, from exploded tuples to flushed aggregates.
        group.bench_with_input(
            BenchmarkId::new("aggregator", name),
            &tuples,
            |b, tuples| {
                b.iter_batched(
                    || Aggregator::new(&cfg).unwrap(),
                    |mut agg| {
                        let mut n = 0u64;
                        for t in tuples {
                            agg.add(t, &mut |a| n += a.counts.tuples as u64);
                        }
                        agg.flush_all(FlushReason::EndOfInput, &mut |a| {
                            n += a.counts.tuples as u64
                        });
                        assert_eq!(n, TUPLES as u64);
                        black_box(agg)
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }

    // A skewed stream (traffic-analytics key: the source port is not in it).
    let stream = skewed(TUPLES);
    for window in [60u64, 600] {
        let cfg = AggregateConfig {
            window: nsgflow::aggregate::Seconds(window),
            ..config(KeySpec::TRAFFIC_ANALYTICS)
        };
        let mut agg = Aggregator::new(&cfg).unwrap();
        let mut n = 0u64;
        for t in &stream {
            agg.add(t, &mut |_| n += 1);
        }
        agg.flush_all(FlushReason::EndOfInput, &mut |_| n += 1);
        println!(
            "skewed stream, traffic-analytics, {window} s windows: {n} aggregates from {TUPLES} tuples ({:.1}%)",
            100.0 * n as f64 / TUPLES as f64
        );
        group.bench_with_input(
            BenchmarkId::new("aggregator_skewed_ta", format!("{window}s")),
            &stream,
            |b, stream| {
                b.iter_batched(
                    || Aggregator::new(&cfg).unwrap(),
                    |mut agg| {
                        for t in stream {
                            agg.add(t, &mut |a| {
                                black_box(a.counts.tuples);
                            });
                        }
                        agg.flush_all(FlushReason::EndOfInput, &mut |a| {
                            black_box(a.counts.tuples);
                        });
                        black_box(agg)
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }

    // The whole path: blob -> events -> aggregates -> NDJSON, against blob -> events -> NDJSON.
    let cfg = config(KeySpec::FIVE_TUPLE);
    let mut engine = Engine::default();
    let mut enc = encoder(Format::Flat, &EncodeOptions::default());
    let mut out = EventWriter::new(std::io::sink());
    let mut dead = DeadLetterWriter::new(None);
    group.bench_function(BenchmarkId::new("blob_to_aggregates", "flat"), |b| {
        b.iter(|| {
            let mut agg = Aggregation::new(&cfg, engine.enricher.clone()).unwrap();
            engine.process(
                "bench",
                &blob,
                &mut agg.lines(enc.as_mut(), &mut out),
                &mut dead,
            );
            agg.finish(FlushReason::EndOfInput, enc.as_mut(), &mut out);
            black_box(agg.aggregator.stats.aggregates)
        })
    });
    group.bench_function(BenchmarkId::new("blob_to_events", "flat"), |b| {
        b.iter(|| {
            engine.process(
                "bench",
                &blob,
                &mut EncodeLines {
                    encoder: enc.as_mut(),
                    writer: &mut out,
                },
                &mut dead,
            );
            black_box(out.lines)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
