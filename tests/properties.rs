//! Property tests: random valid tuples survive parse and encode with the same values;
//! random and mutated input never panics.

use nsgflow::encode::Format;
use nsgflow_tests::run_text;
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone)]
struct Tuple {
    vnet: bool,
    v1: bool,
    ts: u64,
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    inbound: bool,
    deny: bool,
    state: usize,
    counters: Option<[u64; 4]>,
}

fn ip() -> impl Strategy<Value = std::net::IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(std::net::IpAddr::from),
        any::<[u16; 8]>().prop_map(std::net::IpAddr::from),
    ]
}

fn tuple() -> impl Strategy<Value = Tuple> {
    (
        any::<bool>(),
        any::<bool>(),
        1_000_000_000u64..4_000_000_000,
        ip(),
        ip(),
        any::<u16>(),
        any::<u16>(),
        prop_oneof![Just(6u8), Just(17u8), any::<u8>()],
        any::<bool>(),
        any::<bool>(),
        0usize..3,
        proptest::option::of(any::<[u32; 4]>().prop_map(|c| c.map(u64::from))),
    )
        .prop_map(
            |(vnet, v1, ts, src, dst, sport, dport, proto, inbound, deny, state, counters)| Tuple {
                vnet,
                v1: v1 && !vnet,
                ts,
                src,
                dst,
                sport,
                dport,
                proto: if vnet {
                    proto
                } else if proto == 17 {
                    17
                } else {
                    6
                },
                inbound,
                deny,
                state,
                counters,
            },
        )
}

impl Tuple {
    fn text(&self) -> String {
        let dir = if self.inbound { "I" } else { "O" };
        let c = match self.counters {
            Some(c) => format!("{},{},{},{}", c[0], c[1], c[2], c[3]),
            None => ",,,".into(),
        };
        if self.vnet {
            let state = if self.deny {
                "D"
            } else {
                ["B", "C", "E"][self.state]
            };
            format!(
                "{},{},{},{},{},{},{dir},{state},NX,{c}",
                self.ts * 1000 + 7,
                self.src,
                self.dst,
                self.sport,
                self.dport,
                self.proto
            )
        } else {
            let proto = if self.proto == 17 { "U" } else { "T" };
            let decision = if self.deny { "D" } else { "A" };
            let base = format!(
                "{},{},{},{},{},{proto},{dir},{decision}",
                self.ts, self.src, self.dst, self.sport, self.dport
            );
            if self.v1 {
                base
            } else {
                format!("{base},{},{c}", ["B", "C", "E"][self.state])
            }
        }
    }

    fn record(&self) -> String {
        if self.vnet {
            format!(
                r#"{{"time":"2026-03-02T10:00:00Z","flowLogVersion":4,"category":"FlowLogFlowEvent","macAddress":"000D3A000001","flowRecords":{{"flows":[{{"aclID":"a","flowGroups":[{{"rule":"r","flowTuples":["{}"]}}]}}]}}}}"#,
                self.text()
            )
        } else {
            format!(
                r#"{{"time":"2026-03-02T10:00:00Z","category":"NetworkSecurityGroupFlowEvent","properties":{{"Version":{},"flows":[{{"rule":"r","flows":[{{"mac":"000D3A000001","flowTuples":["{}"]}}]}}]}}}}"#,
                if self.v1 { 1 } else { 2 },
                self.text()
            )
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn valid_tuples_round_trip(tuples in proptest::collection::vec(tuple(), 1..20)) {
        let blob = format!(r#"{{"records":[{}]}}"#, tuples.iter().map(Tuple::record).collect::<Vec<_>>().join(","));
        let run = run_text(&blob, Format::Flat);
        prop_assert!(run.dead.is_empty(), "{:?}", run.dead);
        let events = run.events();
        prop_assert_eq!(events.len(), tuples.len());
        for (t, e) in tuples.iter().zip(&events) {
            let want_ms = if t.vnet { t.ts * 1000 + 7 } else { t.ts * 1000 };
            let ts = e["timestamp"].as_str().unwrap();
            let mut buf = Vec::new();
            nsgflow::time::write_rfc3339_ms(&mut buf, want_ms);
            prop_assert_eq!(ts.as_bytes(), &buf[..]);
            prop_assert_eq!(e["src_ip"].as_str().unwrap().parse::<std::net::IpAddr>().unwrap(), t.src);
            prop_assert_eq!(e["dst_ip"].as_str().unwrap().parse::<std::net::IpAddr>().unwrap(), t.dst);
            prop_assert_eq!(e["src_port"].as_u64().unwrap(), t.sport as u64);
            prop_assert_eq!(e["dst_port"].as_u64().unwrap(), t.dport as u64);
            prop_assert_eq!(e["iana_number"].as_u64().unwrap(), t.proto as u64);
            prop_assert_eq!(&e["direction"], if t.inbound { "inbound" } else { "outbound" });
            prop_assert_eq!(&e["action"], if t.deny { "deny" } else { "allow" });
            let counters: Vec<Option<u64>> = ["packets_src_to_dst", "bytes_src_to_dst", "packets_dst_to_src", "bytes_dst_to_src"]
                .iter().map(|k| e.get(*k).and_then(Value::as_u64)).collect();
            let want: Vec<Option<u64>> = match (t.v1, t.counters) {
                (true, _) => vec![None; 4],
                (false, Some(c)) => c.iter().map(|v| Some(*v)).collect(),
                (false, None) => vec![None; 4],
            };
            prop_assert_eq!(counters, want);
            let id = nsgflow::community_id::CommunityId::new(0, t.src, t.dst, nsgflow::labels::Protocol(t.proto), t.sport, t.dport);
            prop_assert_eq!(e["community_id"].as_str().unwrap(), id.as_str());
        }
        // Every encoder writes valid JSON for them.
        for f in [Format::Ecs, Format::Splunk, Format::Ocsf] {
            prop_assert_eq!(run_text(&blob, f).events().len(), tuples.len());
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            for f in Format::ALL {
                let _ = run_text(text, f).events();
            }
        }
    }

    #[test]
    fn mutated_blobs_never_panic(tuples in proptest::collection::vec(tuple(), 1..6), cut in any::<prop::sample::Index>(), flips in proptest::collection::vec((any::<prop::sample::Index>(), prop::sample::select(b"{}[]\",:\\ 0aT".to_vec())), 0..4)) {
        let blob = format!(r#"{{"records":[{}]}}"#, tuples.iter().map(Tuple::record).collect::<Vec<_>>().join(","));
        let mut bytes = blob.into_bytes();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let end = cut.index(bytes.len() + 1);
        let text = String::from_utf8_lossy(&bytes[..end]).into_owned();
        for f in Format::ALL {
            let run = run_text(&text, f);
            // Whatever is written is valid JSON, and every tuple seen is accounted for.
            let _ = run.events();
            prop_assert_eq!(run.stats.tuples, run.stats.events + run.stats.rejected.iter().filter(|(k, _)| k.starts_with("tuple_")).map(|(_, v)| v).sum::<u64>());
        }
    }
}
