//! Aggregation conserves exactly: tuples, packets and bytes in equal those out, over random
//! tuple streams, keys, windows, lateness and `max_keys`, including late and early-flushed
//! aggregates; and over the fixtures end to end.

use nsgflow::aggregate::{
    Aggregate, AggregateConfig, Aggregator, FlowKey, FlushReason, KeySpec, Seconds, TupleIn,
};
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_tests::{enrichment_config, fixture, run_text_with, ENRICHED_FIXTURES};
use proptest::prelude::*;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    tuples: u64,
    packets: [u64; 2],
    bytes: [u64; 2],
    begun: u64,
    ended: u64,
    denied: u64,
}

fn tuple_strategy() -> impl Strategy<Value = (u64, u8, u16, u8, [u64; 2], [u64; 2], i64)> {
    (
        0u64..7_200_000, // event time within two hours
        0u8..6,          // destination (few keys)
        prop_oneof![Just(443u16), Just(22), 40000u16..40010],
        0u8..8,                             // state bits
        [0u64..5000, 0u64..5000],           // packets
        [0u64..5_000_000, 0u64..5_000_000], // bytes
        -600_000i64..60_000,                // jitter: mostly behind, so some arrive late
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn tuples_packets_and_bytes_are_conserved(
        raw in proptest::collection::vec(tuple_strategy(), 1..400),
        window in prop_oneof![Just(60u64), Just(600), Just(3600), 1u64..120],
        lateness in prop_oneof![Just(0u64), Just(30), Just(300), 0u64..900],
        max_keys in prop_oneof![Just(1usize), 2usize..20, Just(1_000_000)],
        ta in any::<bool>(),
    ) {
        let config = AggregateConfig {
            enabled: true,
            window: Seconds(window),
            allowed_lateness: Seconds(lateness),
            max_keys,
            key: if ta { KeySpec::TRAFFIC_ANALYTICS } else { KeySpec::FIVE_TUPLE },
        };
        let mut agg = Aggregator::new(&config).unwrap();
        let mut input = Totals::default();
        let mut output = Totals::default();
        let mut late = 0u64;
        let mut early = 0u64;
        let mut emit = |a: &Aggregate<'_>| {
            let c = a.counts;
            output.tuples += c.tuples as u64;
            output.begun += c.begun as u64;
            output.ended += c.ended as u64;
            output.denied += c.denied as u64;
            for i in 0..2 {
                output.packets[i] += c.packets[i];
                output.bytes[i] += c.bytes[i];
            }
            late += a.late as u64;
            early += (a.reason == FlushReason::MaxKeys) as u64;
            assert!(c.tuples > 0, "no empty aggregates");
            assert!(a.first_seen_ms() >= a.window_start_ms && a.last_seen_ms() < a.window_end_ms);
        };
        let mut ts_base = 0u64;
        for (t, dst, port, state, packets, bytes, jitter) in raw {
            ts_base = ts_base.max(t);
            let ts = (t as i64 + jitter).max(0) as u64;
            let key = FlowKey {
                src: [0x0A14_0205, 0, 0, 0],
                dst: [0x2D94_0A00 | dst as u32, 0, 0, 0],
                src_port: if ta { 0 } else { port },
                dst_port: 443,
                protocol: 6,
                ..FlowKey::default()
            };
            let tuple = TupleIn { timestamp_ms: ts, key, src_port: port, state, packets, bytes };
            input.tuples += 1;
            input.begun += (state & 1 != 0) as u64;
            input.ended += (state & 2 != 0) as u64;
            input.denied += (state & 4 != 0) as u64;
            for i in 0..2 {
                input.packets[i] += packets[i];
                input.bytes[i] += bytes[i];
            }
            agg.add(&tuple, &mut emit);
        }
        agg.flush_all(FlushReason::EndOfInput, &mut emit);
        prop_assert_eq!(input, output);
        prop_assert_eq!(agg.live_keys(), 0);
        prop_assert_eq!(agg.stats.late_aggregates, late);
        prop_assert_eq!(agg.stats.early_aggregates, early);
        prop_assert!(agg.stats.peak_keys <= max_keys as u64);
    }
}

/// The cases above do reach late and early-flushed data (the property would be weak if not).
#[test]
fn the_random_streams_exercise_late_and_early_flushes() {
    let config = AggregateConfig {
        enabled: true,
        window: Seconds(60),
        allowed_lateness: Seconds(30),
        max_keys: 3,
        ..AggregateConfig::default()
    };
    let mut agg = Aggregator::new(&config).unwrap();
    for (i, ts) in [0u64, 200_000, 10_000, 61_000, 62_000, 63_000, 64_000]
        .iter()
        .enumerate()
    {
        let key = FlowKey {
            dst_port: i as u16,
            ..FlowKey::default()
        };
        agg.add(
            &TupleIn {
                timestamp_ms: *ts,
                key,
                ..TupleIn::default()
            },
            &mut |_| {},
        );
    }
    agg.flush_all(FlushReason::EndOfInput, &mut |_| {});
    assert!(agg.stats.late_aggregates > 0, "{:?}", agg.stats);
    assert!(agg.stats.early_aggregates > 0, "{:?}", agg.stats);
    assert_eq!(agg.stats.tuples, 7);
}

fn flat_totals(lines: &[String]) -> (u64, u64, u64) {
    let mut t = (0, 0, 0);
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        t.0 += v.get("tuples").and_then(|x| x.as_u64()).unwrap_or(1);
        t.1 += n("packets_src_to_dst") + n("packets_dst_to_src");
        t.2 += n("bytes_src_to_dst") + n("bytes_dst_to_src");
    }
    t
}

#[test]
fn fixtures_conserve_end_to_end_for_every_key_and_a_tight_max_keys() {
    for name in ENRICHED_FIXTURES {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let events = run_text_with(name, &text, Format::Flat, &Config::default());
        let want = flat_totals(&events.lines);
        for key in [
            "5tuple",
            "traffic-analytics",
            "dst_ip,dst_port,protocol",
            "action",
        ] {
            for max_keys in [1, 3, 1_000_000] {
                let mut config = enrichment_config();
                config.aggregate = AggregateConfig {
                    enabled: true,
                    key: key.parse().unwrap(),
                    max_keys,
                    ..AggregateConfig::default()
                };
                let run = run_text_with(name, &text, Format::Flat, &config);
                assert_eq!(
                    flat_totals(&run.lines),
                    want,
                    "{name} key {key} max_keys {max_keys}"
                );
                let stats = run.stats.aggregation.unwrap();
                assert_eq!(stats.aggregates, run.lines.len() as u64);
                assert!(stats.peak_keys <= max_keys as u64);
            }
        }
    }
}

#[test]
fn every_encoder_renders_an_aggregate_with_its_counts() {
    let text = std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap();
    let mut config = enrichment_config();
    config.aggregate.enabled = true;
    config.aggregate.window = Seconds(3600);
    for (format, tuples_at) in [
        (Format::Flat, "/tuples"),
        (Format::Ecs, "/nsgflow/aggregate/tuples"),
        (Format::Splunk, "/event/nsgflow/aggregate/tuples"),
        (Format::Ocsf, "/count"),
    ] {
        let run = run_text_with("nsg-v2-blob.json", &text, format, &config);
        let total: u64 = run
            .events()
            .iter()
            .map(|e| {
                e.pointer(tuples_at)
                    .and_then(|v| v.as_u64())
                    .expect(tuples_at)
            })
            .sum();
        assert_eq!(total, 23, "{format}");
        // The flow 10.20.2.5:49822 -> 20.60.140.36:443 (B, C, C, E) is one aggregate with
        // the sums of its C and E counters (tests/fixtures/README.md).
        let flow = run
            .lines
            .iter()
            .find(|l| l.contains("49822") && l.contains("20.60.140.36"))
            .expect("the long flow");
        assert!(
            flow.contains("94387") && flow.contains("2924310"),
            "{format}: {flow}"
        );
    }
}
