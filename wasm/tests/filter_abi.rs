//! The filter_wasm functions under wasmtime, called exactly as Fluent Bit's filter_wasm
//! calls them (six i32 arguments; tag and record copied into module memory with a NUL;
//! the NUL-terminated result read back). Their events must equal the native engine's, and
//! no input may trap, return invalid JSON or return anything but an object.

mod harness;

use harness::{split_records, FilterHarness, TempDir};
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_tests::{fixture, fixtures_and_samples, run_text_with};
use serde_json::Value;

const NETWORKS: &str =
    "networks:\n  spoke-shop: [10.20.0.0/16]\n  hub: [10.0.0.0/16, 10.5.0.0/16]\n";

fn tuple_fn(format: Format) -> &'static str {
    match format {
        Format::Flat => "nsgflow_tuple_flat",
        Format::Ecs => "nsgflow_tuple_ecs",
        Format::Splunk => "nsgflow_tuple_splunk",
        Format::Ocsf => "nsgflow_tuple_ocsf",
    }
}

fn object(out: &str) -> serde_json::Map<String, Value> {
    match serde_json::from_str::<Value>(out) {
        Ok(Value::Object(o)) => o,
        other => panic!("not a JSON object ({other:?}): {out}"),
    }
}

/// A harness whose accessible path holds `nsgflow.yaml` with the test networks.
fn configured(dir: &TempDir) -> (FilterHarness, Config) {
    std::fs::write(dir.0.join("nsgflow.yaml"), NETWORKS).unwrap();
    (
        FilterHarness::new(&[&dir.0]),
        Config::from_yaml(NETWORKS).unwrap(),
    )
}

#[test]
fn split_tuples_give_the_native_events_on_every_fixture_and_sample() {
    let dir = TempDir::new("filter-eq");
    let (mut h, config) = configured(&dir);
    let mut skipped = Vec::new();
    let mut compared = 0;
    for file in fixtures_and_samples() {
        let text = std::fs::read_to_string(&file).unwrap();
        let Some(splits) = split_records(&text) else {
            skipped.push(file.file_name().unwrap().to_string_lossy().into_owned());
            continue;
        };
        for format in Format::ALL {
            let native = run_text_with("x", &text, format, &config);
            let mut events = Vec::new();
            let mut errors = 0;
            for s in &splits {
                let rec = serde_json::to_vec(s).unwrap();
                let out = h
                    .call(tuple_fn(format), "azure.nsg", 1_700_000_000, 0, &rec)
                    .unwrap_or_else(|| panic!("dropped: {s}"));
                let o = object(&out);
                if o.contains_key("nsgflow_error") {
                    errors += 1;
                    // The input comes back whole, with the reason added.
                    for (k, v) in s.as_object().unwrap() {
                        assert_eq!(o.get(k), Some(v), "{out}");
                    }
                } else {
                    events.push(out);
                }
            }
            assert_eq!(events, native.lines, "{} as {format}", file.display());
            // Every split tuple is accounted for: an event or an error record.
            assert_eq!(events.len() + errors, splits.len());
            compared += events.len();
        }
    }
    assert_eq!(
        skipped,
        ["truncated-blob.json"],
        "only the cut blob is not JSON"
    );
    assert!(compared > 400, "{compared} events compared");
}

#[test]
fn split_tuples_with_feeds_topology_and_service_tags_equal_native() {
    let dir = TempDir::new("filter-enriched");
    for e in std::fs::read_dir(nsgflow_tests::enrichment_dir()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.0.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(dir.0.join("enrichment.yaml"), dir.0.join("nsgflow.yaml")).unwrap();
    let config = Config::load(&dir.0.join("nsgflow.yaml")).unwrap();
    let mut h = FilterHarness::new(&[&dir.0]);
    for name in nsgflow_tests::ENRICHED_FIXTURES {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let native = run_text_with(name, &text, Format::Ecs, &config);
        let got: Vec<String> = split_records(&text)
            .unwrap()
            .iter()
            .map(|s| {
                h.call(
                    "nsgflow_tuple_ecs",
                    "t",
                    0,
                    0,
                    &serde_json::to_vec(s).unwrap(),
                )
                .unwrap()
            })
            .filter(|o| !o.contains("\"nsgflow_error\""))
            .collect();
        assert_eq!(got, native.lines, "{name}");
    }
}

#[test]
fn bad_tuples_come_back_with_the_engines_reason() {
    let mut h = FilterHarness::new(&[]);
    let text = std::fs::read_to_string(fixture("bad-tuples.json")).unwrap();
    let native = run_text_with("x", &text, Format::Flat, &Config::default());
    let mut reasons = Vec::new();
    for s in split_records(&text).unwrap() {
        let out = h
            .call(
                "nsgflow_tuple_flat",
                "t",
                0,
                0,
                &serde_json::to_vec(&s).unwrap(),
            )
            .unwrap();
        if let Some(Value::String(e)) = object(&out).get("nsgflow_error") {
            reasons.push(e.split(':').next().unwrap().to_string());
        }
    }
    let native_reasons: Vec<String> = native
        .dead_letters()
        .iter()
        .filter(|d| d["level"] == "tuple")
        .map(|d| d["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(!native_reasons.is_empty());
    assert_eq!(reasons, native_reasons);
}

#[test]
fn flat_events_reshape_to_the_native_ecs_splunk_and_ocsf() {
    let dir = TempDir::new("reshape");
    let (mut h, config) = configured(&dir);
    let mut compared = 0;
    for file in fixtures_and_samples() {
        let text = std::fs::read_to_string(&file).unwrap();
        let flat = run_text_with("x", &text, Format::Flat, &config).lines;
        for (format, function) in [
            (Format::Ecs, "nsgflow_flat_to_ecs"),
            (Format::Splunk, "nsgflow_flat_to_splunk"),
            (Format::Ocsf, "nsgflow_flat_to_ocsf"),
        ] {
            let native: Vec<String> = run_text_with("x", &text, format, &config)
                .lines
                .iter()
                .map(|l| bare_mac_upper(l))
                .collect();
            let got: Vec<String> = flat
                .iter()
                .map(|l| {
                    h.call(function, "t", 0, 0, l.as_bytes())
                        .expect("not dropped")
                })
                .collect();
            for (g, n) in got.iter().zip(&native) {
                if g != n {
                    let at = g.bytes().zip(n.bytes()).take_while(|(a, b)| a == b).count();
                    panic!(
                        "{} to {format}: differs at byte {at}: got ...{} want ...{}",
                        file.display(),
                        &g[at.saturating_sub(60)..],
                        &n[at.saturating_sub(60)..]
                    );
                }
            }
            assert_eq!(got.len(), native.len(), "{} to {format}", file.display());
            compared += got.len();
        }
    }
    assert!(compared > 300, "{compared}");
}

/// The one thing a flat event does not keep: the MAC's letter case as Azure wrote it
/// (flat has the IEEE form). Re-shaped events carry it as 12 upper-case digits, so the
/// native events are compared with a `"mac"` of 12 bare hex digits upper-cased.
fn bare_mac_upper(line: &str) -> String {
    let mut out = line.to_string();
    let mut from = 0;
    while let Some(i) = out[from..].find("\"mac\":\"") {
        let start = from + i + 7;
        let value = out.get(start..start + 12).unwrap_or("");
        if value.len() == 12
            && value.bytes().all(|b| b.is_ascii_hexdigit())
            && out.as_bytes().get(start + 12) == Some(&b'"')
        {
            let upper = value.to_ascii_uppercase();
            out.replace_range(start..start + 12, &upper);
        }
        from = start;
    }
    out
}

#[test]
fn record_larger_than_the_heap_is_an_error_record_not_a_crash() {
    let mut h = FilterHarness::new(&[]);
    h.heap_size = 8192; // filter_wasm's default wasm_heap_size
    let big = format!(
        r#"{{"rule":"R","version":2,"tuple":"x","pad":"{}"}}"#,
        "a".repeat(9000)
    );
    let out = h
        .call("nsgflow_tuple_flat", "t", 0, 0, big.as_bytes())
        .expect("a result");
    let e = object(&out)["nsgflow_error"].as_str().unwrap().to_string();
    assert!(
        e.contains("wasm_heap_size") && e.contains(&big.len().to_string()),
        "{e}"
    );
    // The instance keeps working.
    h.heap_size = 8 << 20;
    let out = h
        .call("nsgflow_tuple_flat", "t", 0, 0, big.as_bytes())
        .unwrap();
    assert!(
        object(&out)["nsgflow_error"]
            .as_str()
            .unwrap()
            .contains("tuple"),
        "{out}"
    );
}

#[test]
fn result_stays_valid_until_the_next_call() {
    let mut h = FilterHarness::new(&[]);
    let rec = br#"{"time":"T","category":"NetworkSecurityGroupFlowEvent","version":2,"rule":"R","mac":"000D3AF87856","tuple":"1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66"}"#;
    let first = h.call("nsgflow_tuple_flat", "t", 0, 0, rec).unwrap();
    let ptr = h.last_ptr;
    // The input buffers were freed after the call, as Fluent Bit does; the result is intact.
    assert_eq!(h.read_cstr(ptr).as_deref(), Some(first.as_str()));
    assert!(first.contains(r#""dst_port":443"#));
}

/// A small deterministic generator for garbage.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn garbage_never_traps_and_always_returns_one_object() {
    let mut h = FilterHarness::new(&[]);
    let good = br#"{"time":"2018-11-13T12:00:35Z","category":"NetworkSecurityGroupFlowEvent","version":2,"rule":"R","mac":"000D3AF87856","tuple":"1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66"}"#;
    let flat = br#"{"timestamp":"2018-11-13T11:59:39.000Z","src_ip":"10.5.16.4","src_port":59932,"dst_ip":"13.67.143.117","dst_port":443,"iana_number":6,"direction":"outbound","action":"allow","flow_state":"end","rule":"R","flow_log_kind":"nsg","flow_log_version":2}"#;
    let mut rng = Lcg(42);
    let fixed: [&[u8]; 12] = [
        b"",
        b"[]",
        b"[1,2]",
        b"null",
        b"\"s\"",
        b"{",
        b"}",
        b"{}",
        b"{\"tuple\":1}",
        b"\xff\xfe{}",
        b"{\"a\":\"\\u12\"}",
        b"{\"version\":2,\"rule\":\"R\",\"tuple\":\"1,2,3\",\"properties\":{}}",
    ];
    let functions = [
        "nsgflow_tuple_flat",
        "nsgflow_tuple_ecs",
        "nsgflow_tuple_splunk",
        "nsgflow_tuple_ocsf",
        "nsgflow_flat_to_ecs",
        "nsgflow_flat_to_splunk",
        "nsgflow_flat_to_ocsf",
    ];
    let mut cases: Vec<Vec<u8>> = fixed.iter().map(|c| c.to_vec()).collect();
    for base in [&good[..], &flat[..]] {
        for _ in 0..400 {
            let mut c = base.to_vec();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() as usize) % c.len();
                match rng.next() % 3 {
                    0 => c[i] = (rng.next() % 256) as u8,
                    1 => c.truncate(i),
                    _ => c.insert(i, b"{}[],:\"\\0-9eE"[(rng.next() % 13) as usize]),
                }
                if c.is_empty() {
                    break;
                }
            }
            cases.push(c);
        }
    }
    for (n, case) in cases.iter().enumerate() {
        let f = functions[n % functions.len()];
        let out = h.call(f, "t", 0, 0, case).unwrap_or_else(|| {
            panic!(
                "{f} trapped or dropped on {:?}",
                String::from_utf8_lossy(case)
            )
        });
        let o = object(&out);
        assert!(
            !o.is_empty(),
            "{f}: empty object for {:?}",
            String::from_utf8_lossy(case)
        );
    }
}
