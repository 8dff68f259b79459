//! `--codec vector-native` writes what Vector's `native` codec decodes (length-delimited
//! protobuf `EventArray` frames of `event.proto`), `--codec json-batch` JSON arrays one a
//! line, and the events in those frames and arrays are the events of the NDJSON stream,
//! field for field, in the same order: in every format, with
//! aggregation, with detection alerts, with `--threads` workers, on every fixture and shared
//! sample and on a generated blob. The frames are read back here by a hand-written protobuf
//! reader that follows `event.proto` and rejects anything else (wrong field numbers or
//! wire types, lengths past their message, trailing bytes), so nothing here depends on
//! Vector; the real Vector run is recorded in the user guide (Vector, Faster feeds).

use std::io::Write;

use nsgflow::aggregate::FlushReason;
use nsgflow::checkpoint::{finish_run, InputRun, RunHooks};
use nsgflow::config::Config;
use nsgflow::encode::codec::{Codec, FRAME_EVENTS};
use nsgflow::encode::vector_native::Transcoder;
use nsgflow::encode::Format;
use nsgflow::input::Input;
use nsgflow::output::DeadLetterWriter;
use nsgflow::parallel::{self, Options};
use serde_json::{Map, Number, Value};

mod nsgflow_bench_data {
    include!("../plugin/benches/support/data.rs");
}

// ---- A protobuf reader for the messages of Vector's event.proto that logs use. ----

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }
    fn done(&self) -> bool {
        self.pos == self.b.len()
    }
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.b[self.pos];
            self.pos += 1;
            v |= u64::from(byte & 0x7F) << shift;
            if byte < 0x80 {
                return v;
            }
        }
        panic!("varint longer than 10 bytes at {}", self.pos);
    }
    /// The next field: (number, wire type).
    fn key(&mut self) -> (u64, u64) {
        let k = self.varint();
        (k >> 3, k & 7)
    }
    fn len_delimited(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        assert!(
            self.pos + n <= self.b.len(),
            "length {n} past the message end"
        );
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        s
    }
}

/// `Value` -> JSON (strings from `raw_bytes`, as Vector's JSON encoding of the event shows them).
fn value(b: &[u8]) -> Value {
    let mut r = Reader::new(b);
    let (field, wire) = r.key();
    let v = match (field, wire) {
        (1, 2) => Value::String(String::from_utf8(r.len_delimited().to_vec()).expect("UTF-8")),
        (4, 0) => Value::Number(Number::from(r.varint() as i64)),
        (5, 1) => {
            let f = f64::from_le_bytes(r.b[r.pos..r.pos + 8].try_into().unwrap());
            r.pos += 8;
            Value::Number(Number::from_f64(f).expect("finite"))
        }
        (6, 0) => Value::Bool(match r.varint() {
            0 => false,
            1 => true,
            x => panic!("bool {x}"),
        }),
        (7, 2) => map(r.len_delimited()),
        (8, 2) => {
            let mut items = Reader::new(r.len_delimited());
            let mut out = Vec::new();
            while !items.done() {
                assert_eq!(items.key(), (1, 2), "ValueArray.items");
                out.push(value(items.len_delimited()));
            }
            Value::Array(out)
        }
        (9, 0) => {
            assert_eq!(r.varint(), 0, "ValueNull");
            Value::Null
        }
        other => panic!("Value: unexpected field/wire type {other:?}"),
    };
    assert!(r.done(), "Value: trailing bytes");
    v
}

/// `ValueMap` -> JSON object, keys in their order in the message.
fn map(b: &[u8]) -> Value {
    let mut r = Reader::new(b);
    let mut out = Map::new();
    while !r.done() {
        assert_eq!(r.key(), (1, 2), "ValueMap.fields");
        let mut entry = Reader::new(r.len_delimited());
        assert_eq!(entry.key(), (1, 2), "map entry key");
        let key = String::from_utf8(entry.len_delimited().to_vec()).unwrap();
        assert_eq!(entry.key(), (2, 2), "map entry value");
        let v = value(entry.len_delimited());
        assert!(entry.done(), "map entry: trailing bytes");
        assert!(out.insert(key.clone(), v).is_none(), "key {key} twice");
    }
    Value::Object(out)
}

/// A length-delimited stream of `EventArray` frames -> the logs in order, and the number of
/// logs in each frame.
fn frames(stream: &[u8]) -> (Vec<Value>, Vec<usize>) {
    let mut pos = 0;
    let (mut logs, mut sizes) = (Vec::new(), Vec::new());
    while pos < stream.len() {
        let n = u32::from_be_bytes(stream[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 4;
        assert!(
            n <= 8 << 20,
            "frame of {n} bytes: over Vector's default max_frame_length"
        );
        let mut array = Reader::new(&stream[pos..pos + n]);
        pos += n;
        assert_eq!(array.key(), (1, 2), "EventArray.logs");
        let mut list = Reader::new(array.len_delimited());
        assert!(array.done(), "EventArray: trailing bytes");
        let mut count = 0;
        while !list.done() {
            assert_eq!(list.key(), (1, 2), "LogArray.logs");
            let mut log = Reader::new(list.len_delimited());
            assert_eq!(log.key(), (2, 2), "Log.value");
            logs.push(value(log.len_delimited()));
            assert!(log.done(), "Log: trailing bytes");
            count += 1;
        }
        sizes.push(count);
    }
    (logs, sizes)
}

/// What Vector's `json` codec makes of an NDJSON line: numbers that fit an i64 stay
/// integers, others become floats.
fn as_vector_json(v: Value) -> Value {
    match v {
        Value::Number(n) if n.as_i64().is_none() => {
            Value::Number(Number::from_f64(n.as_f64().unwrap()).unwrap())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(as_vector_json).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, as_vector_json(v))).collect())
        }
        v => v,
    }
}

// ---- Running the pipeline with each codec. ----

use nsgflow_tests::SharedBuf as Shared;

struct Quiet;
impl<W: Write> RunHooks<W> for Quiet {
    fn done(&mut self, _: &str, _: InputRun) {}
}

/// The output stream of a run over `inputs` and how many events it counted.
fn run(config: &Config, inputs: &[Input], threads: usize) -> (Vec<u8>, u64) {
    let out = Shared::default();
    let mut p = config
        .pipeline(out.clone(), DeadLetterWriter::new(None))
        .unwrap();
    parallel::run_inputs(&mut p, None, inputs, &mut Quiet, &Options::new(threads)).unwrap();
    finish_run(&mut p, None, FlushReason::EndOfInput).unwrap();
    let lines = p.lines();
    let bytes = out.bytes();
    (bytes, lines)
}

fn inputs(dir: &std::path::Path) -> Vec<Input> {
    let mut files = nsgflow_tests::fixtures_and_samples();
    let blob = dir.join("generated.json");
    std::fs::write(&blob, nsgflow_bench_data::blob(3_000, 7)).unwrap();
    files.push(blob);
    files.into_iter().map(Input::File).collect()
}

fn check(label: &str, config: &Config, inputs: &[Input], threads: usize) -> usize {
    let mut native = config.clone();
    native.codec = Some(Codec::VectorNative);
    let (ndjson, lines) = run(config, inputs, 1);
    let (stream, native_lines) = run(&native, inputs, threads);
    let expected: Vec<Value> = std::str::from_utf8(&ndjson)
        .unwrap()
        .lines()
        .map(|l| as_vector_json(serde_json::from_str(l).unwrap()))
        .collect();
    let (logs, sizes) = frames(&stream);
    assert_eq!(native_lines, lines, "{label}: events counted");
    assert_eq!(logs.len(), expected.len(), "{label}: events in the frames");
    for (i, (got, want)) in logs.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "{label}: event {i}");
    }
    assert!(
        sizes.iter().all(|&n| (1..=FRAME_EVENTS).contains(&n)),
        "{label}: {sizes:?}"
    );
    // Full frames except where a flush (end of an input's run) closed one early.
    assert!(sizes.iter().filter(|&&n| n == FRAME_EVENTS).count() >= logs.len() / FRAME_EVENTS / 2);

    // json-batch: each line a JSON array, the arrays' elements the NDJSON events in order.
    let mut batch = config.clone();
    batch.codec = Some(Codec::JsonBatch);
    let (text, batch_lines) = run(&batch, inputs, threads);
    assert_eq!(batch_lines, lines, "{label}: json-batch events counted");
    let mut events = Vec::new();
    for line in std::str::from_utf8(&text).unwrap().lines() {
        let Value::Array(items) = serde_json::from_str::<Value>(line).unwrap() else {
            panic!("{label}: a json-batch line that is not an array: {line:.80}");
        };
        assert!(
            (1..=FRAME_EVENTS).contains(&items.len()),
            "{label}: {}",
            items.len()
        );
        events.extend(items.into_iter().map(as_vector_json));
    }
    assert!(events == expected, "{label}: json-batch events differ");
    logs.len()
}

#[test]
fn every_format_gives_the_ndjson_events_in_native_frames() {
    let dir = std::env::temp_dir().join(format!("nsgflow-native-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inputs = inputs(&dir);
    for format in Format::ALL {
        let config = Config {
            format: Some(format),
            ..Config::default()
        };
        let n = check(&format!("{format}"), &config, &inputs, 1);
        assert!(n > 3_000, "{format}: {n} events");
        // Workers' NDJSON chunks are framed by the writer too.
        check(&format!("{format}, 2 threads"), &config, &inputs, 2);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn aggregates_and_alerts_too() {
    let dir = std::env::temp_dir().join(format!("nsgflow-native-agg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inputs = inputs(&dir);
    let mut config = Config::from_yaml("aggregate: {enabled: true}\nformat: ecs\n").unwrap();
    assert!(check("aggregates", &config, &inputs, 1) > 100);
    config = Config::from_yaml("detect: {enabled: true}\n").unwrap();
    let n = check("events and alerts", &config, &inputs, 1);
    assert!(n > 3_000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_values_of_every_kind_become_the_values_vectors_json_codec_makes() {
    let text = r#" {"s":"a\"b\\c\/d\n\u00e9\ud83d\ude00","e":"","i":-42,"z":0,"max":9223372036854775807,
        "u":18446744073709551615,"f":1.5,"x":-2.5e-3,"t":true,"no":false,"n":null,
        "a":[1,"two",[],{},null,[true,{"k":"v"}]],"o":{"deep":{"er":[{"est":7}]}},"k\u0041y":1} "#;
    let mut t = Transcoder::default();
    let mut body = Vec::new();
    t.log(text.as_bytes(), &mut body);
    // Frame it by hand as the writer does: EventArray.logs = LogArray{body}.
    let mut array = vec![0x0A];
    nsgflow::encode::vector_native::put_varint(&mut array, body.len() as u64);
    array.extend_from_slice(&body);
    let mut stream = (array.len() as u32).to_be_bytes().to_vec();
    stream.extend_from_slice(&array);
    let (logs, _) = frames(&stream);
    let want = serde_json::json!({
        "s": "a\"b\\c/d\né😀", "e": "", "i": -42, "z": 0, "max": i64::MAX,
        "u": 18446744073709551615.0_f64, "f": 1.5, "x": -2.5e-3, "t": true, "no": false,
        "n": null, "a": [1, "two", [], {}, null, [true, {"k": "v"}]],
        "o": {"deep": {"er": [{"est": 7}]}}, "kAy": 1
    });
    assert_eq!(logs, vec![want]);
}

#[test]
fn a_line_that_is_not_json_is_sent_as_its_text_with_the_reason() {
    let mut t = Transcoder::default();
    for bad in [
        &b"{\"a\":"[..],
        b"{\"a\":1}x",
        b"not json",
        b"{\"a\":\"\\q\"}",
        b"",
    ] {
        let mut body = Vec::new();
        t.log(bad, &mut body);
        let mut r = Reader::new(&body);
        assert_eq!(r.key(), (1, 2));
        let mut log = Reader::new(r.len_delimited());
        assert_eq!(log.key(), (2, 2));
        let v = value(log.len_delimited());
        assert_eq!(v["message"], String::from_utf8_lossy(bad).as_ref(), "{v}");
        assert!(
            v["nsgflow_error"]
                .as_str()
                .unwrap()
                .starts_with("not one JSON value"),
            "{v}"
        );
    }
}
