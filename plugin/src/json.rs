//! A small borrowing JSON scanner, just enough to walk flow-log records.
//!
//! Flow-log blobs are large and regular: a few object keys and long arrays of short
//! strings. A generic `serde_json::Value` tree allocates a map per object and a `String`
//! per tuple. This scanner allocates nothing: strings are borrowed from the input unless
//! they contain escapes (then they are decoded into a `Cow::Owned`), and values that are not
//! needed are skipped without recursion, so deep nesting cannot overflow the stack.
//!
//! Every error carries the byte offset where it was found.

use std::borrow::Cow;
use std::fmt;

/// What went wrong while scanning, and where (byte offset into the scanned text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub kind: JsonErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// The text ended inside a value: a blob cut mid-write, or a truncated file.
    UnexpectedEnd,
    /// A byte that cannot start or continue the value expected here.
    Expected(&'static str),
    /// A backslash escape that JSON does not define, or a broken `\u` sequence.
    InvalidEscape,
    /// A number that does not fit the field (not an unsigned integer, or too large).
    InvalidNumber,
}

impl JsonError {
    pub fn is_unexpected_end(&self) -> bool {
        self.kind == JsonErrorKind::UnexpectedEnd
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            JsonErrorKind::UnexpectedEnd => {
                write!(f, "input ends inside a JSON value at byte {}", self.offset)
            }
            JsonErrorKind::Expected(what) => {
                write!(f, "expected {what} at byte {}", self.offset)
            }
            JsonErrorKind::InvalidEscape => {
                write!(f, "invalid string escape at byte {}", self.offset)
            }
            JsonErrorKind::InvalidNumber => {
                write!(f, "invalid or out-of-range number at byte {}", self.offset)
            }
        }
    }
}

impl std::error::Error for JsonError {}

pub type Result<T> = std::result::Result<T, JsonError>;

/// The offset of the first `"` or `\` in `b`: where a JSON string's plain run ends.
///
/// Natively this is `memchr2` (AVX2 / SSE2). `wasm32` has no SIMD in the hosts nsgflow
/// targets (Fluent Bit builds WAMR with `WAMR_BUILD_SIMD 0`), and there `memchr2` falls
/// back to 4-byte words (`usize` is 32 bits); WebAssembly has native 64-bit integers, so
/// this scans 8 bytes per step (SWAR) instead. Same result either way
/// (`quote_or_backslash_matches_memchr2` below).
#[inline]
fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        memchr::memchr2(b'"', b'\\', b)
    }
    #[cfg(target_arch = "wasm32")]
    {
        swar_quote_or_backslash(b)
    }
}

/// `memchr2(b'"', b'\\', b)` eight bytes at a time, in plain 64-bit integer operations.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
#[inline]
fn swar_quote_or_backslash(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTE: u64 = LO * b'"' as u64;
    const BACKSLASH: u64 = LO * b'\\' as u64;
    // A byte of `x` is zero exactly where the high bit of `zero(x)` is set; bits above the
    // first zero byte may be false positives, so only the lowest set bit is used.
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let w = u64::from_le_bytes(w);
        let hit = zero(w ^ QUOTE) | zero(w ^ BACKSLASH);
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|k| i + k)
}

/// A cursor over JSON text. Positions are byte offsets into `text`.
#[derive(Clone)]
pub struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(text: &'a str) -> Self {
        Scanner { text, pos: 0 }
    }

    /// A scanner over `text[start..end]` that reports offsets relative to the whole text.
    pub fn at(text: &'a str, start: usize) -> Self {
        Scanner { text, pos: start }
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn err<T>(&self, kind: JsonErrorKind) -> Result<T> {
        Err(JsonError {
            offset: self.pos,
            kind,
        })
    }

    fn end_err<T>(&self) -> Result<T> {
        Err(JsonError {
            offset: self.text.len(),
            kind: JsonErrorKind::UnexpectedEnd,
        })
    }

    /// Skips whitespace (and a UTF-8 byte-order mark at the very start).
    pub fn skip_ws(&mut self) {
        let b = self.bytes();
        if self.pos == 0 && b.starts_with(b"\xEF\xBB\xBF") {
            self.pos = 3;
        }
        while let Some(&c) = b.get(self.pos) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes().get(self.pos).copied()
    }

    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<()> {
        match self.peek() {
            Some(c) if c == byte => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => self.err(JsonErrorKind::Expected(what)),
            None => self.end_err(),
        }
    }

    /// Consumes `{`.
    pub fn begin_object(&mut self) -> Result<()> {
        self.expect(b'{', "an object `{`")
    }

    /// Consumes `[`.
    pub fn begin_array(&mut self) -> Result<()> {
        self.expect(b'[', "an array `[`")
    }

    /// Inside an object: the next key (consuming the `:` after it), or `None` at `}`.
    /// `first` is true for the first call after [`Scanner::begin_object`].
    pub fn next_key(&mut self, first: bool) -> Result<Option<Cow<'a, str>>> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                return Ok(None);
            }
            Some(b',') if !first => {
                self.pos += 1;
            }
            Some(_) if first => {}
            Some(_) => return self.err(JsonErrorKind::Expected("`,` or `}`")),
            None => return self.end_err(),
        }
        let key = self.string()?;
        self.expect(b':', "`:` after an object key")?;
        Ok(Some(key))
    }

    /// Inside an array: true when another element follows (positioned at it), false at `]`.
    pub fn next_element(&mut self, first: bool) -> Result<bool> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b',') if !first => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) if first => Ok(true),
            Some(_) => self.err(JsonErrorKind::Expected("`,` or `]`")),
            None => self.end_err(),
        }
    }

    /// A string value, borrowed when it holds no escapes.
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        match self.peek() {
            Some(b'"') => {}
            Some(_) => return self.err(JsonErrorKind::Expected("a string")),
            None => return self.end_err(),
        }
        let start = self.pos + 1;
        let b = self.bytes();
        match quote_or_backslash(&b[start..]) {
            Some(i) if b[start + i] == b'"' => {
                self.pos = start + i + 1;
                Ok(Cow::Borrowed(&self.text[start..start + i]))
            }
            Some(i) => {
                let mut owned = String::with_capacity(i + 16);
                owned.push_str(&self.text[start..start + i]);
                self.pos = start + i;
                self.unescape_rest(&mut owned)?;
                Ok(Cow::Owned(owned))
            }
            None => self.end_err(),
        }
    }

    /// Continues a string at a backslash, decoding into `out` up to the closing quote.
    fn unescape_rest(&mut self, out: &mut String) -> Result<()> {
        let b = self.bytes();
        loop {
            let rest = &b[self.pos..];
            let Some(i) = quote_or_backslash(rest) else {
                return self.end_err();
            };
            out.push_str(&self.text[self.pos..self.pos + i]);
            self.pos += i;
            if b[self.pos] == b'"' {
                self.pos += 1;
                return Ok(());
            }
            // A backslash escape.
            let Some(&esc) = b.get(self.pos + 1) else {
                return self.end_err();
            };
            let simple = match esc {
                b'"' => Some('"'),
                b'\\' => Some('\\'),
                b'/' => Some('/'),
                b'b' => Some('\u{8}'),
                b'f' => Some('\u{c}'),
                b'n' => Some('\n'),
                b'r' => Some('\r'),
                b't' => Some('\t'),
                b'u' => None,
                _ => return self.err(JsonErrorKind::InvalidEscape),
            };
            if let Some(c) = simple {
                out.push(c);
                self.pos += 2;
                continue;
            }
            let hi = self.hex4(self.pos + 2)?;
            self.pos += 6;
            let c = if (0xD800..0xDC00).contains(&hi) {
                // A surrogate pair: the low half must follow as another `\uXXXX`.
                if b.get(self.pos) != Some(&b'\\') || b.get(self.pos + 1) != Some(&b'u') {
                    return self.err(JsonErrorKind::InvalidEscape);
                }
                let lo = self.hex4(self.pos + 2)?;
                if !(0xDC00..0xE000).contains(&lo) {
                    return self.err(JsonErrorKind::InvalidEscape);
                }
                self.pos += 6;
                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
            } else {
                char::from_u32(hi)
            };
            match c {
                Some(c) => out.push(c),
                None => return self.err(JsonErrorKind::InvalidEscape),
            }
        }
    }

    fn hex4(&self, at: usize) -> Result<u32> {
        let b = self.bytes();
        if at + 4 > b.len() {
            return self.end_err();
        }
        let mut v = 0u32;
        for (k, &c) in b[at..at + 4].iter().enumerate() {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => {
                    return Err(JsonError {
                        offset: at + k,
                        kind: JsonErrorKind::InvalidEscape,
                    })
                }
            };
            v = v * 16 + d as u32;
        }
        Ok(v)
    }

    /// An unsigned integer value (a JSON number without sign, fraction or exponent).
    pub fn u64(&mut self) -> Result<u64> {
        self.skip_ws();
        let b = self.bytes();
        let start = self.pos;
        let mut v: u64 = 0;
        let mut i = start;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = match v
                .checked_mul(10)
                .and_then(|v| v.checked_add((c - b'0') as u64))
            {
                Some(v) => v,
                None => return self.err(JsonErrorKind::InvalidNumber),
            };
            i += 1;
        }
        if i == start {
            return match b.get(i) {
                None => self.end_err(),
                Some(_) => self.err(JsonErrorKind::Expected("a number")),
            };
        }
        if matches!(b.get(i), Some(b'.' | b'e' | b'E')) {
            return self.err(JsonErrorKind::InvalidNumber);
        }
        self.pos = i;
        Ok(v)
    }

    /// Skips one value of any type and returns the text it spanned.
    pub fn skip_value(&mut self) -> Result<&'a str> {
        self.skip_ws();
        let start = self.pos;
        let b = self.bytes();
        let Some(&first) = b.get(self.pos) else {
            return self.end_err();
        };
        match first {
            b'"' => {
                self.skip_string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    let Some(&c) = b.get(self.pos) else {
                        return self.end_err();
                    };
                    match c {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            b't' | b'f' | b'n' | b'-' | b'0'..=b'9' => {
                while let Some(&c) = b.get(self.pos) {
                    if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let token = &self.text[start..self.pos];
                let valid = match first {
                    b't' => token == "true",
                    b'f' => token == "false",
                    b'n' => token == "null",
                    _ => token.parse::<f64>().is_ok(),
                };
                if !valid {
                    self.pos = start;
                    return if self.pos + token.len() == b.len() {
                        self.end_err()
                    } else {
                        self.err(JsonErrorKind::Expected("a JSON value"))
                    };
                }
            }
            _ => return self.err(JsonErrorKind::Expected("a JSON value")),
        }
        Ok(&self.text[start..self.pos])
    }

    /// Skips a string starting at the current `"`, escapes included.
    fn skip_string(&mut self) -> Result<()> {
        let b = self.bytes();
        let mut i = self.pos + 1;
        loop {
            match quote_or_backslash(&b[i..]) {
                Some(k) if b[i + k] == b'"' => {
                    self.pos = i + k + 1;
                    return Ok(());
                }
                Some(k) => i += k + 2,
                None => return self.end_err(),
            }
            if i > b.len() {
                return self.end_err();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_or_backslash_matches_memchr2() {
        // Every position and every run length around the 8-byte steps, with the match
        // and bytes that differ from `"` / `\` by one bit (0xA2, 0xDC, '#', ']'),
        // multi-byte UTF-8 and bytes with the high bit set.
        let fill = b"ab\xa2\xdc#]\xc3\xbc\x7f\x00 z";
        for len in 0..40 {
            let base: Vec<u8> = (0..len).map(|i| fill[i % fill.len()]).collect();
            assert_eq!(
                swar_quote_or_backslash(&base),
                memchr::memchr2(b'"', b'\\', &base)
            );
            for at in 0..len {
                for (c, d) in [
                    (b'"', None),
                    (b'\\', None),
                    (b'"', Some(b'\\')),
                    (b'\\', Some(b'"')),
                ] {
                    let mut v = base.clone();
                    v[at] = c;
                    if let Some(d) = d {
                        v[(at + 3) % len] = d;
                    }
                    assert_eq!(
                        swar_quote_or_backslash(&v),
                        memchr::memchr2(b'"', b'\\', &v),
                        "{v:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn borrows_plain_strings_and_decodes_escapes() {
        let mut s = Scanner::new(r#" "plain" "a\/b\u00fc\"" "\ud83d\ude00" "#);
        assert!(matches!(s.string().unwrap(), Cow::Borrowed("plain")));
        assert_eq!(s.string().unwrap(), "a/bü\"");
        assert_eq!(s.string().unwrap(), "😀");
        assert!(s.at_end());
    }

    #[test]
    fn walks_objects_and_arrays_in_any_key_order() {
        let text = r#"{"b":[1,"x",{"y":[]}],"a":"v"}"#;
        let mut s = Scanner::new(text);
        s.begin_object().unwrap();
        assert_eq!(s.next_key(true).unwrap().unwrap(), "b");
        assert_eq!(s.skip_value().unwrap(), r#"[1,"x",{"y":[]}]"#);
        assert_eq!(s.next_key(false).unwrap().unwrap(), "a");
        assert_eq!(s.string().unwrap(), "v");
        assert_eq!(s.next_key(false).unwrap(), None);
    }

    #[test]
    fn reports_truncation_as_unexpected_end() {
        for cut in 1..r#"{"a":["x,y",2]}"#.len() {
            let text = &r#"{"a":["x,y",2]}"#[..cut];
            let err = Scanner::new(text).skip_value().unwrap_err();
            assert!(err.is_unexpected_end(), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn reports_bad_syntax_with_offset() {
        let err = Scanner::new(r#"{"a" 1}"#).skip_value();
        assert!(err.is_ok(), "skip is lenient inside containers");
        let mut s = Scanner::new(r#"{"a" 1}"#);
        s.begin_object().unwrap();
        let err = s.next_key(true).unwrap_err();
        assert_eq!(err.offset, 5);
        assert_eq!(err.kind, JsonErrorKind::Expected("`:` after an object key"));
        let err = Scanner::new("tru x").skip_value().unwrap_err();
        assert_eq!(err.kind, JsonErrorKind::Expected("a JSON value"));
    }

    #[test]
    fn reads_unsigned_integers_only() {
        assert_eq!(Scanner::new(" 42,").u64().unwrap(), 42);
        assert_eq!(
            Scanner::new("4.2").u64().unwrap_err().kind,
            JsonErrorKind::InvalidNumber
        );
        assert_eq!(
            Scanner::new("\"1\"").u64().unwrap_err().kind,
            JsonErrorKind::Expected("a number")
        );
        assert_eq!(
            Scanner::new("99999999999999999999").u64().unwrap_err().kind,
            JsonErrorKind::InvalidNumber
        );
    }
}
