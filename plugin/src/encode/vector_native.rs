//! Vector's `native` codec: events as protobuf `EventArray` frames, which Vector's `exec`
//! (or `socket`, `file`...) source decodes with `decoding.codec: native` and its default
//! framing for it (`length_delimited`: a 4-byte big-endian length, then the frame).
//!
//! The messages are those of Vector's `lib/vector-core/proto/event.proto`, written by hand
//! (only the few a log needs; field numbers as there):
//!
//! ```text
//! EventArray { LogArray logs = 1; }        LogArray { repeated Log logs = 1; }
//! Log        { Value value = 2; }          ValueMap { map<string, Value> fields = 1; }
//! Value      { oneof kind { bytes raw_bytes = 1; int64 integer = 4; double float = 5;
//!              bool boolean = 6; ValueMap map = 7; ValueArray array = 8; ValueNull null = 9; } }
//! ValueArray { repeated Value items = 1; }
//! ```
//!
//! An event is transcoded from the JSON object an encoder wrote, so every format (and
//! aggregates and alerts) comes out as the same event Vector's `json` codec would make of
//! the NDJSON line: strings are `raw_bytes` (timestamps stay strings), integers that fit an
//! `i64` are `integer`, other numbers `float`. Vector's decoding of a frame borrows the
//! strings from it and makes no JSON pass, and one frame carries many events, so Vector's
//! per-frame work in the `exec` source is shared by all of them.
//!
//! No allocation per event and one pass: each length is written after what it covers, in
//! the byte reserved for it before; a length of 128 or more (a large object, a long string)
//! moves what follows by the extra bytes its varint needs.
//!
//! ```
//! use nsgflow::encode::vector_native::Transcoder;
//! let mut t = Transcoder::default();
//! let mut out = Vec::new();
//! t.log(br#"{"port":443,"ok":true}"#, &mut out);
//! // LogArray.logs (1) -> Log.value (2) -> Value.map (7) -> ValueMap.fields (1) entries.
//! assert_eq!(&out[..6], &[0x0A, 0x1B, 0x12, 0x19, 0x3A, 0x17]);
//! ```

/// A JSON text that is not one well-formed value (the encoders never write one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson {
    /// Byte offset of the problem.
    pub offset: usize,
}

/// Turns JSON objects into protobuf `Log` messages.
#[derive(Debug, Default)]
pub struct Transcoder {
    /// The reason text of an unreadable line (reused).
    scratch: Vec<u8>,
}

const MAX_DEPTH: usize = 128;

impl Transcoder {
    /// Appends `json` (one JSON value, normally an object) to `out` as one `LogArray.logs`
    /// entry: field 1, a `Log` whose `value` is the event. A text that is not JSON becomes
    /// a log `{"message": <the text>, "nsgflow_error": "..."}`, so nothing is lost and
    /// Vector shows why.
    pub fn log(&mut self, json: &[u8], out: &mut Vec<u8>) {
        let mark = out.len();
        let mut p = Parser { text: json, pos: 0 };
        // LogArray.logs = 1 { Log.value = 2 { Value } }, lengths patched once known.
        out.push(0x0A);
        let log_len = reserve(out);
        out.push(0x12);
        let value_len = reserve(out);
        p.ws();
        let written = value(&mut p, out, 0).and_then(|()| {
            p.ws();
            if p.pos == json.len() {
                Ok(())
            } else {
                Err(NotJson { offset: p.pos })
            }
        });
        match written {
            Ok(()) => {
                patch(out, value_len);
                patch(out, log_len);
            }
            Err(e) => {
                out.truncate(mark);
                self.log_unreadable(json, e, out);
            }
        }
    }

    fn log_unreadable(&mut self, json: &[u8], e: NotJson, out: &mut Vec<u8>) {
        use std::io::Write;
        self.scratch.clear();
        let _ = write!(
            self.scratch,
            "not one JSON value (byte {}): sent as `message` unchanged",
            e.offset
        );
        out.push(0x0A);
        let log_len = reserve(out);
        out.push(0x12);
        let value_len = reserve(out);
        out.push(0x3A);
        let map_len = reserve(out);
        for (k, v) in [
            (&b"message"[..], json),
            (b"nsgflow_error", &self.scratch[..]),
        ] {
            out.push(0x0A);
            let entry = reserve(out);
            put_bytes(out, 0x0A, k);
            out.push(0x12);
            let val = reserve(out);
            put_bytes(out, 0x0A, v);
            patch(out, val);
            patch(out, entry);
        }
        patch(out, map_len);
        patch(out, value_len);
        patch(out, log_len);
    }
}

/// Reserves one byte for a length written later by [`patch`]; returns its position.
#[inline]
fn reserve(out: &mut Vec<u8>) -> usize {
    out.push(0);
    out.len() - 1
}

/// Writes the length of what follows the byte reserved at `at` there, as a varint; a
/// length of 128 or more moves what follows to make room (rare: most fields are short).
#[inline]
fn patch(out: &mut Vec<u8>, at: usize) {
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    let n = varint_len(len as u64);
    let old = out.len();
    out.resize(old + n - 1, 0);
    out.copy_within(at + 1..old, at + n);
    let mut v = len as u64;
    for b in &mut out[at..at + n] {
        *b = (v as u8 & 0x7F) | if v >= 0x80 { 0x80 } else { 0 };
        v >>= 7;
    }
}

/// Reads one JSON value at `p` and writes it to `out` as `Value` content.
fn value(p: &mut Parser<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), NotJson> {
    let at = p.pos;
    match p.peek() {
        Some(b'{') => {
            if depth >= MAX_DEPTH {
                return Err(NotJson { offset: at });
            }
            p.pos += 1;
            // Value.map = 7 { ValueMap.fields = 1 { key = 1, value = 2 }* }
            out.push(0x3A);
            let map = reserve(out);
            p.ws();
            if p.peek() == Some(b'}') {
                p.pos += 1;
            } else {
                loop {
                    p.ws();
                    out.push(0x0A);
                    let entry = reserve(out);
                    string(p, out)?;
                    p.ws();
                    if p.peek() != Some(b':') {
                        return Err(NotJson { offset: p.pos });
                    }
                    p.pos += 1;
                    p.ws();
                    out.push(0x12);
                    let val = reserve(out);
                    value(p, out, depth + 1)?;
                    patch(out, val);
                    patch(out, entry);
                    p.ws();
                    match p.peek() {
                        Some(b',') => p.pos += 1,
                        Some(b'}') => {
                            p.pos += 1;
                            break;
                        }
                        _ => return Err(NotJson { offset: p.pos }),
                    }
                }
            }
            patch(out, map);
        }
        Some(b'[') => {
            if depth >= MAX_DEPTH {
                return Err(NotJson { offset: at });
            }
            p.pos += 1;
            // Value.array = 8 { ValueArray.items = 1 { Value }* }
            out.push(0x42);
            let array = reserve(out);
            p.ws();
            if p.peek() == Some(b']') {
                p.pos += 1;
            } else {
                loop {
                    p.ws();
                    out.push(0x0A);
                    let item = reserve(out);
                    value(p, out, depth + 1)?;
                    patch(out, item);
                    p.ws();
                    match p.peek() {
                        Some(b',') => p.pos += 1,
                        Some(b']') => {
                            p.pos += 1;
                            break;
                        }
                        _ => return Err(NotJson { offset: p.pos }),
                    }
                }
            }
            patch(out, array);
        }
        Some(b'"') => string(p, out)?,
        Some(b't') => {
            p.literal(b"true")?;
            out.extend_from_slice(&[0x30, 1]);
        }
        Some(b'f') => {
            p.literal(b"false")?;
            out.extend_from_slice(&[0x30, 0]);
        }
        Some(b'n') => {
            p.literal(b"null")?;
            out.extend_from_slice(&[0x48, 0]);
        }
        Some(b'-' | b'0'..=b'9') => match p.number()? {
            Number::Integer(i) => {
                out.push(0x20);
                put_varint(out, i as u64);
            }
            Number::Float(f) => {
                out.push(0x29);
                out.extend_from_slice(&f.to_le_bytes());
            }
        },
        _ => return Err(NotJson { offset: at }),
    }
    Ok(())
}

/// Reads a JSON string at `p` and writes it as a length-delimited field 1 (`raw_bytes`, or
/// a map entry's `key`), unescaped.
fn string(p: &mut Parser<'_>, out: &mut Vec<u8>) -> Result<(), NotJson> {
    if p.peek() != Some(b'"') {
        return Err(NotJson { offset: p.pos });
    }
    p.pos += 1;
    let start = p.pos;
    let rest = &p.text[start..];
    let Some(stop) = quote_or_backslash(rest) else {
        return Err(NotJson {
            offset: p.text.len(),
        });
    };
    if rest[stop] == b'"' {
        p.pos = start + stop + 1;
        put_bytes(out, 0x0A, &rest[..stop]);
        return Ok(());
    }
    // Escapes: unescape into `out`, then patch the length.
    out.push(0x0A);
    let len = reserve(out);
    out.extend_from_slice(&rest[..stop]);
    p.pos = start + stop;
    loop {
        let Some(&b) = p.text.get(p.pos) else {
            return Err(NotJson { offset: p.pos });
        };
        match b {
            b'"' => {
                p.pos += 1;
                patch(out, len);
                return Ok(());
            }
            b'\\' => {
                let esc = *p.text.get(p.pos + 1).ok_or(NotJson { offset: p.pos })?;
                p.pos += 2;
                let c = match esc {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b'f' => 0x0C,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        let ch = p.unicode_escape()?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        continue;
                    }
                    _ => return Err(NotJson { offset: p.pos - 1 }),
                };
                out.push(c);
            }
            _ => {
                let run = memchr::memchr2(b'"', b'\\', &p.text[p.pos..]).ok_or(NotJson {
                    offset: p.text.len(),
                })?;
                out.extend_from_slice(&p.text[p.pos..p.pos + run]);
                p.pos += run;
            }
        }
    }
}

/// The first `"` or `\\` in `s`: most keys and values are short, so the first bytes are
/// looked at one by one before `memchr2` is set up.
#[inline]
fn quote_or_backslash(s: &[u8]) -> Option<usize> {
    for (i, &b) in s.iter().take(24).enumerate() {
        if b == b'"' || b == b'\\' {
            return Some(i);
        }
    }
    if s.len() <= 24 {
        return None;
    }
    memchr::memchr2(b'"', b'\\', &s[24..]).map(|i| i + 24)
}

/// A JSON number as Vector's `json` codec reads it.
enum Number {
    Integer(i64),
    Float(f64),
}

/// Bytes a varint of `v` takes.
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `v` as a protobuf varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-delimited field: `tag`, the length, the bytes.
fn put_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A cursor over the JSON text.
struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), NotJson> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(NotJson { offset: self.pos })
        }
    }

    /// A number: an `Integer` when it has no fraction or exponent and fits an `i64` (as
    /// Vector's `json` codec makes it), otherwise a `Float`.
    fn number(&mut self) -> Result<Number, NotJson> {
        let start = self.pos;
        let mut integral = true;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => integral = false,
                _ => break,
            }
            self.pos += 1;
        }
        // The bytes are ASCII digits and signs, so this is valid UTF-8.
        let s = std::str::from_utf8(&self.text[start..self.pos])
            .map_err(|_| NotJson { offset: start })?;
        if integral {
            if let Ok(i) = s.parse::<i64>() {
                return Ok(Number::Integer(i));
            }
        }
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Number::Float)
            .ok_or(NotJson { offset: start })
    }

    /// `\uXXXX` (after the `\u`), with a surrogate pair when there is one.
    fn unicode_escape(&mut self) -> Result<char, NotJson> {
        let hex4 = |p: &mut Self| -> Result<u32, NotJson> {
            let h = p
                .text
                .get(p.pos..p.pos + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or(NotJson { offset: p.pos })?;
            p.pos += 4;
            Ok(h)
        };
        let hi = hex4(self)?;
        let code = if (0xD800..0xDC00).contains(&hi) && self.text[self.pos..].starts_with(b"\\u") {
            self.pos += 2;
            let lo = hex4(self)?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(NotJson { offset: self.pos });
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
    }
}
