//! Blob to NDJSON on one core: the engine with each encoder, against a naive explode that
//! parses into `serde_json::Value` and builds a `Value` per tuple (what a quick script or a
//! generic JSON plugin does), with the same labels, classification, L7 guess and Community
//! ID, so the ratio measures the approach and not missing work.
//!
//! Run: `taskset -c 0 cargo bench -p nsgflow --bench explode`
//!
//! Wall-clock time by default (the reference on an idle machine). With
//! `NSGFLOW_BENCH_CLOCK=cpu` the bench counts the thread's CPU time instead (Linux
//! `CLOCK_THREAD_CPUTIME_ID`, as `benches/detect.rs` does): on a machine shared with other
//! work, time spent waiting for the pinned core is left out.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nsgflow::classify::builtin_class;
use nsgflow::community_id::CommunityId;
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::l7::l7_protocol;
use nsgflow::labels::Protocol;
use nsgflow::output::{DeadLetterWriter, EventWriter};
use serde_json::{json, Map, Value};

mod clock {
    include!("support/clock.rs");
}
use clock::Clock;

mod data {
    include!("support/data.rs");
}

const TUPLES: usize = 20_000;

fn engine_run(
    blob: &str,
    format: Format,
    engine: &mut Engine,
    enc: &mut dyn nsgflow::encode::Encode,
    out: &mut EventWriter<std::io::Sink>,
    dead: &mut DeadLetterWriter,
) -> u64 {
    let before = out.lines;
    engine.process(
        "bench",
        blob,
        &mut EncodeLines {
            encoder: enc,
            writer: out,
        },
        dead,
    );
    let _ = format;
    out.lines - before
}

/// The naive way: a generic JSON tree in, a generic JSON tree per tuple out.
fn naive_run(blob: &str, out: &mut Vec<u8>) -> u64 {
    out.clear();
    let v: Value = serde_json::from_str(blob).expect("blob");
    let mut n = 0;
    for rec in v["records"].as_array().into_iter().flatten() {
        let vnet = rec.get("flowRecords").is_some();
        let mut groups: Vec<(&Value, &Value, Option<&Value>)> = Vec::new();
        if vnet {
            for f in rec["flowRecords"]["flows"].as_array().into_iter().flatten() {
                for g in f["flowGroups"].as_array().into_iter().flatten() {
                    groups.push((&g["rule"], &g["flowTuples"], f.get("aclID")));
                }
            }
        } else {
            for r in rec["properties"]["flows"].as_array().into_iter().flatten() {
                for m in r["flows"].as_array().into_iter().flatten() {
                    groups.push((&r["rule"], &m["flowTuples"], None));
                }
            }
        }
        for (rule, tuples, acl) in groups {
            for t in tuples.as_array().into_iter().flatten() {
                let f: Vec<&str> = t.as_str().unwrap_or("").split(',').collect();
                if f.len() < 8 {
                    continue;
                }
                let src: std::net::IpAddr = f[1].parse().unwrap();
                let dst: std::net::IpAddr = f[2].parse().unwrap();
                let sport: u16 = f[3].parse().unwrap();
                let dport: u16 = f[4].parse().unwrap();
                let proto = if vnet {
                    Protocol(f[5].parse().unwrap())
                } else {
                    Protocol::from_letter(f[5]).unwrap()
                };
                let mut e = Map::new();
                e.insert("timestamp".into(), json!(f[0]));
                e.insert("src_ip".into(), json!(f[1]));
                e.insert("src_port".into(), json!(sport));
                e.insert("dst_ip".into(), json!(f[2]));
                e.insert("dst_port".into(), json!(dport));
                e.insert("protocol".into(), json!(proto.name()));
                e.insert(
                    "direction".into(),
                    json!(if f[6] == "I" { "inbound" } else { "outbound" }),
                );
                e.insert(
                    "action".into(),
                    json!(if f[7] == "D" { "deny" } else { "allow" }),
                );
                if f.len() == 13 {
                    for (k, i) in [
                        ("packets_src_to_dst", 9),
                        ("bytes_src_to_dst", 10),
                        ("packets_dst_to_src", 11),
                        ("bytes_dst_to_src", 12),
                    ] {
                        if let Ok(c) = f[i].parse::<u64>() {
                            e.insert(k.into(), json!(c));
                        }
                    }
                }
                e.insert("src_class".into(), json!(builtin_class(src).as_str()));
                e.insert("dst_class".into(), json!(builtin_class(dst).as_str()));
                e.insert("l7_protocol".into(), json!(l7_protocol(proto, dport)));
                e.insert(
                    "community_id".into(),
                    json!(CommunityId::new(0, src, dst, proto, sport, dport).as_str()),
                );
                e.insert("rule".into(), rule.clone());
                if let Some(a) = acl {
                    e.insert("acl_id".into(), a.clone());
                }
                e.insert("record_time".into(), rec["time"].clone());
                e.insert(
                    "resource_id".into(),
                    rec.get("resourceId")
                        .or(rec.get("flowLogResourceID"))
                        .cloned()
                        .unwrap_or(Value::Null),
                );
                serde_json::to_writer(&mut *out, &Value::Object(e)).unwrap();
                out.push(b'\n');
                n += 1;
            }
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let blob = data::blob(TUPLES, 7);
    let cpu_clock = std::env::var("NSGFLOW_BENCH_CLOCK").is_ok_and(|v| v == "cpu");
    let mut naive_out = Vec::new();
    assert_eq!(naive_run(&blob, &mut naive_out), TUPLES as u64);

    for (unit, throughput) in [
        ("tuples", Throughput::Elements(TUPLES as u64)),
        ("bytes", Throughput::Bytes(blob.len() as u64)),
    ] {
        let mut group = c.benchmark_group(format!("explode_{unit}"));
        group.throughput(throughput);
        group.sample_size(30);
        group.warm_up_time(Duration::from_secs(2));
        group.measurement_time(Duration::from_secs(6));
        for format in Format::ALL {
            let mut engine = Engine::default();
            let mut enc = encoder(format, &EncodeOptions::default());
            let mut out = EventWriter::new(std::io::sink());
            let mut dead = DeadLetterWriter::new(None);
            assert_eq!(
                engine_run(
                    &blob,
                    format,
                    &mut engine,
                    enc.as_mut(),
                    &mut out,
                    &mut dead
                ),
                TUPLES as u64
            );
            group.bench_with_input(BenchmarkId::new("nsgflow", format), &blob, |b, blob| {
                let mut run = || {
                    black_box(engine_run(
                        blob,
                        format,
                        &mut engine,
                        enc.as_mut(),
                        &mut out,
                        &mut dead,
                    ))
                };
                if cpu_clock {
                    b.iter_custom(|iters| {
                        let t = Clock::now();
                        for _ in 0..iters {
                            run();
                        }
                        t.elapsed()
                    })
                } else {
                    b.iter(run)
                }
            });
        }
        group.bench_with_input(
            BenchmarkId::new("naive_serde_value", "flat"),
            &blob,
            |b, blob| {
                if cpu_clock {
                    b.iter_custom(|iters| {
                        let t = Clock::now();
                        for _ in 0..iters {
                            black_box(naive_run(blob, &mut naive_out));
                        }
                        t.elapsed()
                    })
                } else {
                    b.iter(|| black_box(naive_run(blob, &mut naive_out)))
                }
            },
        );
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
