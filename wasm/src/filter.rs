//! The `filter_wasm` functions' logic, host-testable: a split-tuple record or a flat event
//! in, one event out (or the input with an `nsgflow_error` field). The ABI wrapper is
//! [`crate::abi`].
//!
//! Both functions re-assemble a one-tuple flow-log record ([`crate::split`],
//! [`crate::reshape`]) and hand it to the engine's own record walker, enricher and
//! encoders: the events are the native engine's, byte for byte.
//!
//! ```
//! use nsgflow::encode::Format;
//! use nsgflow_wasm::filter::Filter;
//! let mut f = Filter::default();
//! let rec = r#"{"time":"2018-11-13T12:00:35.3899262Z","category":"NetworkSecurityGroupFlowEvent","version":2,"rule":"DefaultRule_AllowInternetOutBound","mac":"000D3AF87856","tuple":"1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66"}"#;
//! let event = String::from_utf8(f.tuple_event(rec, Format::Flat).to_vec()).unwrap();
//! assert!(event.starts_with(r#"{"timestamp":"2018-11-13T11:59:39.000Z","src_ip":"10.5.16.4""#), "{event}");
//!
//! let broken = r#"{"rule":"R","tuple":"1542110379,10.5.16.4"}"#;
//! let back = String::from_utf8(f.tuple_event(broken, Format::Flat).to_vec()).unwrap();
//! assert!(back.starts_with(r#"{"rule":"R","tuple":"1542110379,10.5.16.4","nsgflow_error":"#), "{back}");
//! ```

use nsgflow::classify::AddressClass;
use nsgflow::config::Config;
use nsgflow::encode::json::write_str;
use nsgflow::encode::{encoder, Encode, Format};
use nsgflow::event::Enricher;
use nsgflow::json::Scanner;
use nsgflow::record::{self, FlowGroup, FlowSink, Location, Record, Rejection};
use nsgflow::tuple::FlowTuple;

use crate::reshape;
use crate::split;

/// The key a failed call adds to the record it returns (defined where records are
/// reassembled, which notes it).
pub use crate::split::ERROR_KEY;

/// One filter instance: config, encoders and buffers, reused call after call.
pub struct Filter {
    enricher: Enricher,
    encoders: Vec<Box<dyn Encode + Send>>,
    /// Why the config could not be used: every call reports it.
    config_error: Option<String>,
    record: String,
    out: Vec<u8>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::new(&Config::default(), None)
    }
}

impl Filter {
    /// The filter, configured from the accessible directories (filter_wasm's
    /// `accessible_paths`); a config that cannot be used makes every call say why.
    pub fn from_preopens() -> Self {
        match crate::config::load(&crate::preopens::dirs()) {
            Ok((config, _)) => Filter::new(&config, None),
            Err(e) => Filter::new(&Config::default(), Some(e)),
        }
    }

    /// A filter with `config`'s networks, seed and Splunk settings; `config_error`, when
    /// set, turns every call into an error that says so.
    pub fn new(config: &Config, config_error: Option<String>) -> Self {
        let opts = config.encode_options();
        // Networks, reputation feeds, topology and service tags, as the config names them.
        let (enricher, config_error) = match crate::config::for_wasm(config.clone()).enricher() {
            Ok(e) => (e, config_error),
            Err(e) => (Enricher::default(), config_error.or(Some(e))),
        };
        Filter {
            enricher,
            encoders: Format::ALL.iter().map(|&f| encoder(f, &opts)).collect(),
            config_error,
            record: String::new(),
            out: Vec::with_capacity(4096),
        }
    }

    /// A split-tuple record ([`crate::split`]) to its event in `format`. A record that
    /// already carries `nsgflow_error` (the Lua explode's dead letters) is handed back
    /// unchanged, its reason kept.
    pub fn tuple_event(&mut self, rec: &str, format: Format) -> &[u8] {
        let mut error_key = false;
        let result = match &self.config_error {
            Some(e) => Err(e.clone()),
            None => split::reassemble_noting(rec, &mut self.record, &mut error_key),
        };
        // A record `reassemble` accepts had all its top-level keys read, none of them
        // `nsgflow_error` unless it says so: the full check (a substring search of the
        // whole record, without SIMD on wasm32, then a strict parse) runs only when the
        // key was seen or the record was refused.
        if (result.is_err() || error_key) && carries_error(rec) {
            return self.unchanged(rec);
        }
        self.finish(rec, format, result.map(|_| (None, None, None, None)))
    }

    /// A flat event to the same event in `format` (ECS, Splunk, OCSF; flat gives it back
    /// re-rendered).
    pub fn reshape(&mut self, flat: &str, format: Format) -> &[u8] {
        if carries_error(flat) {
            return self.unchanged(flat);
        }
        let mut record = std::mem::take(&mut self.record);
        let result = match &self.config_error {
            Some(e) => Err(e.clone()),
            None => reshape::record_from_flat(flat, &mut record),
        };
        let classes = result.map(|c| {
            (
                class(c.src_class.as_deref()),
                c.src_network.map(|n| n.into_owned()),
                class(c.dst_class.as_deref()),
                c.dst_network.map(|n| n.into_owned()),
            )
        });
        self.record = record;
        self.finish(flat, format, classes)
    }

    fn unchanged(&mut self, input: &str) -> &[u8] {
        self.out.clear();
        self.out.extend_from_slice(input.as_bytes());
        &self.out
    }

    /// The last reply with a NUL after it, for the C ABI: valid until the next call.
    pub fn nul_terminated(&mut self) -> *const u8 {
        self.out.push(0);
        self.out.as_ptr()
    }

    fn finish(&mut self, input: &str, format: Format, r: Result<Overrides, String>) -> &[u8] {
        self.out.clear();
        let error = match r {
            Err(e) => Some(e),
            Ok(overrides) => {
                let enc =
                    &mut self.encoders[Format::ALL.iter().position(|f| *f == format).unwrap_or(0)];
                let mut sink = One {
                    enricher: &mut self.enricher,
                    encoder: enc.as_mut(),
                    out: &mut self.out,
                    overrides,
                    events: 0,
                    error: None,
                };
                record::walk(&self.record, &mut sink);
                match (sink.events, sink.error) {
                    (1, None) => None,
                    (_, Some(e)) => Some(e),
                    (n, None) => Some(format!(
                        "the re-assembled record gave {n} events instead of one"
                    )),
                }
            }
        };
        if let Some(e) = error {
            self.out.clear();
            with_error(input, &e, &mut self.out);
        }
        &self.out
    }
}

type Overrides = (
    Option<AddressClass>,
    Option<String>,
    Option<AddressClass>,
    Option<String>,
);

fn class(name: Option<&str>) -> Option<AddressClass> {
    let name = name?;
    AddressClass::ALL.into_iter().find(|c| c.as_str() == name)
}

/// Collects the one event (or the rejection) of a re-assembled record.
struct One<'s> {
    enricher: &'s mut Enricher,
    encoder: &'s mut dyn Encode,
    out: &'s mut Vec<u8>,
    overrides: Overrides,
    events: usize,
    error: Option<String>,
}

impl FlowSink for One<'_> {
    fn tuple(
        &mut self,
        record: &Record<'_>,
        group: &FlowGroup<'_>,
        tuple: &FlowTuple<'_>,
        _: Location,
    ) {
        let mut event = self.enricher.event(record, group, tuple);
        let (sc, sn, dc, dn) = &self.overrides;
        if let Some(c) = sc {
            event.src.class = *c;
            event.src.network = sn.as_deref();
        }
        if let Some(c) = dc {
            event.dst.class = *c;
            event.dst.network = dn.as_deref();
        }
        self.events += 1;
        if self.events == 1 {
            self.encoder.encode(&event, self.out);
        }
    }

    fn reject(&mut self, r: Rejection<'_>) {
        if self.error.is_none() {
            self.error = Some(format!("{}: {}", r.reason, r.detail));
        }
    }
}

/// Writes `input` with `"nsgflow_error": why` added: always a JSON object, whatever the
/// input (Fluent Bit aborts on invalid JSON after valid JSON in one chunk, and drops
/// arrays). An input that is not a valid object is kept as a string in `nsgflow_input`.
pub fn with_error(input: &str, why: &str, out: &mut Vec<u8>) {
    if let Some(close) = object_close(input) {
        let body = input[..close].trim_end();
        out.extend_from_slice(body.as_bytes());
        if !body.ends_with('{') {
            out.push(b',');
        }
    } else {
        out.extend_from_slice(b"{\"nsgflow_input\":");
        let mut end = input.len().min(4096);
        while !input.is_char_boundary(end) {
            end -= 1;
        }
        write_str(out, &input[..end]);
        out.push(b',');
    }
    write_str(out, ERROR_KEY);
    out.push(b':');
    write_str(out, why);
    out.push(b'}');
}

/// `text` is exactly one valid JSON object (the strict check of [`with_error`]): for the
/// fuzz targets.
#[doc(hidden)]
pub fn is_one_object(text: &str) -> bool {
    object_close(text).is_some()
}

/// The offset of the closing `}` of `text` when it is exactly one valid JSON object
/// (strict: escapes, control characters, numbers and literals are checked; nesting is
/// tracked on the heap, so deep input cannot overflow the stack).
fn object_close(text: &str) -> Option<usize> {
    let mut sc = Scanner::new(text);
    if sc.peek() != Some(b'{') {
        return None;
    }
    // Each open container: is it an object, and is the next member its first?
    let mut stack: Vec<(bool, bool)> = Vec::new();
    let mut close = 0;
    loop {
        match sc.peek()? {
            b'{' => {
                sc.begin_object().ok()?;
                stack.push((true, true));
            }
            b'[' => {
                sc.begin_array().ok()?;
                stack.push((false, true));
            }
            b'"' => {
                let start = sc.pos();
                sc.string().ok()?;
                if text.as_bytes()[start..sc.pos()].iter().any(|&c| c < 0x20) {
                    return None;
                }
            }
            _ => scalar(&mut sc)?,
        }
        // Move to the next value, closing the containers that end here.
        loop {
            let Some(top) = stack.last_mut() else {
                return sc.at_end().then_some(close);
            };
            let (is_object, first) = *top;
            top.1 = false;
            let more = if is_object {
                let key_start = sc.peek().map(|_| sc.pos());
                match sc.next_key(first).ok()? {
                    Some(_) => {
                        let raw = &text.as_bytes()[key_start?..sc.pos()];
                        if raw.iter().any(|&c| c < 0x20) {
                            return None;
                        }
                        true
                    }
                    None => false,
                }
            } else {
                sc.next_element(first).ok()?
            };
            if more {
                break;
            }
            stack.pop();
            if stack.is_empty() {
                close = sc.pos() - 1;
            }
        }
    }
}

/// A JSON number, `true`, `false` or `null` at the scanner; moves past it.
fn scalar(sc: &mut Scanner<'_>) -> Option<()> {
    let b = sc.text().as_bytes();
    let start = sc.pos();
    for lit in [&b"true"[..], b"false", b"null"] {
        if b[start..].starts_with(lit) {
            sc.set_pos(start + lit.len());
            return Some(());
        }
    }
    let mut i = start;
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    if b.get(i) == Some(&b'0') {
        i += 1;
    } else if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    sc.set_pos(i);
    Some(())
}

/// The record is a JSON object with a top-level `nsgflow_error` key: an earlier stage
/// (the Lua explode) already rejected it.
fn carries_error(input: &str) -> bool {
    // Fast path: almost every record has no such key anywhere.
    if !input.contains(ERROR_KEY) {
        return false;
    }
    // Handed back unchanged only if it is one valid JSON object: anything else gets the
    // error wrapper (Fluent Bit aborts on invalid JSON after valid JSON in one chunk).
    if object_close(input).is_none() {
        return false;
    }
    let mut sc = Scanner::new(input);
    if sc.begin_object().is_err() {
        return false;
    }
    let mut first = true;
    while let Ok(Some(key)) = sc.next_key(first) {
        if key == ERROR_KEY {
            return true;
        }
        if sc.skip_value().is_err() {
            return false;
        }
        first = false;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_dead_letter_keeps_its_reason() {
        let lua = r#"{"category":"X","nsgflow_error":"not_a_flow_log: a `records` element that is not an object"}"#;
        let mut f = Filter::default();
        assert_eq!(f.tuple_event(lua, Format::Flat), lua.as_bytes());
        assert_eq!(f.reshape(lua, Format::Ecs), lua.as_bytes());
        // Only a top-level key counts; a nested one is data.
        let nested = r#"{"rule":"R","x":{"nsgflow_error":1},"tuple":"1542110379,10.5.16.4"}"#;
        let back: serde_json::Value =
            serde_json::from_slice(f.tuple_event(nested, Format::Flat)).unwrap();
        assert!(back[ERROR_KEY].is_string(), "{back}");
        assert_eq!(back["x"][ERROR_KEY], 1, "{back}");
        // A record that would make an event but carries the key, first or last: back
        // unchanged; the same record with the key nested or in a value: an event.
        let good = r#""time":"2018-11-13T12:00:35.3899262Z","category":"NetworkSecurityGroupFlowEvent","version":2,"rule":"R","mac":"000D3AF87856","tuple":"1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66""#;
        for rec in [
            format!(r#"{{{good},"nsgflow_error":"x"}}"#),
            format!(r#"{{"nsgflow_error":"x",{good}}}"#),
        ] {
            assert_eq!(f.tuple_event(&rec, Format::Flat), rec.as_bytes());
        }
        for rec in [
            format!(r#"{{{good},"y":{{"nsgflow_error":"x"}}}}"#),
            format!(r#"{{{good},"y":"nsgflow_error"}}"#),
            // Escaped, the key is not found by the check's substring search (as before).
            format!(r#"{{"nsgflow\u005ferror":"x",{good}}}"#),
        ] {
            let out = String::from_utf8(f.tuple_event(&rec, Format::Flat).to_vec()).unwrap();
            assert!(out.starts_with(r#"{"timestamp":"#), "{rec}: {out}");
        }
        // Found by fuzzing (filter_wasm): the key, then invalid JSON. Not handed back as
        // is: wrapped, so the reply is still one valid object.
        for broken in [
            r#"{"nsgflow_error":"x","b":}"#,
            "{\"nsgflow_error\":\u{1c}\"\":\"ssh\"}",
            r#"{"nsgflow_error":"x"} {}"#,
        ] {
            for out in [
                f.tuple_event(broken, Format::Flat).to_vec(),
                f.reshape(broken, Format::Ecs).to_vec(),
            ] {
                let back: serde_json::Value = serde_json::from_slice(&out)
                    .unwrap_or_else(|e| panic!("{broken}: {e}: {}", String::from_utf8_lossy(&out)));
                assert!(back.is_object(), "{broken}");
            }
        }
    }

    fn err_of(input: &str) -> serde_json::Value {
        let mut out = Vec::new();
        with_error(input, "why \"quoted\"", &mut out);
        serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{input}: {e}"))
    }

    #[test]
    fn error_output_is_always_an_object() {
        assert_eq!(err_of(r#"{"a":1}"#)["a"], 1);
        assert_eq!(err_of("{}")[ERROR_KEY], "why \"quoted\"");
        assert_eq!(
            err_of(r#"{"a":[1,-2.5e3,{"b":null}],"c":true}"#)["a"][1],
            -2500.0
        );
        for garbage in [
            "",
            "[1,2]",
            "{\"a\":",
            "{\"a\" 1}",
            "\"s\"",
            "{}}",
            "\u{fc}{",
            r#"{"a":"\u12"}"#,
            "{\"a\":\"\u{1}\"}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":tru}",
            "{\"a\":[1,]}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":[}",
            "{\"a\":1} {}",
        ] {
            let v = err_of(garbage);
            assert!(v.is_object());
            assert!(v["nsgflow_input"].is_string(), "{garbage}");
        }
    }
}
