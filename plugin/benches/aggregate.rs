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
    let mut agg = Aggregation::new(&config(key), engine.enricher.clone());
    let mut c = Collect {
        agg: &mut agg,
        out: Vec::with_capacity(TUPLES),
    };
    engine.process("bench", blob, &mut c, &mut DeadLetterWriter::new(None));
    c.out
}

/// Bytes per live key: `n` distinct keys in one window, heap bytes over keys.
fn bytes_per_key(n: usize, key: KeySpec) -> (f64, usize) {
    let mut agg = Aggregator::new(&AggregateConfig {
        max_keys: n,
        ..config(key)
    });
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
        group.bench_with_input(BenchmarkId::new("aggregator", name), &tuples, |b, tuples| {
            b.iter_batched(
                || Aggregator::new(&cfg),
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
        });
    }

    // The whole path: blob -> events -> aggregates -> NDJSON, against blob -> events -> NDJSON.
    let cfg = config(KeySpec::FIVE_TUPLE);
    let mut engine = Engine::default();
    let mut enc = encoder(Format::Flat, &EncodeOptions::default());
    let mut out = EventWriter::new(std::io::sink());
    let mut dead = DeadLetterWriter::new(None);
    group.bench_function(BenchmarkId::new("blob_to_aggregates", "flat"), |b| {
        b.iter(|| {
            let mut agg = Aggregation::new(&cfg, engine.enricher.clone());
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
