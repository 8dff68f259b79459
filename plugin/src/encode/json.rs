//! Writing JSON straight into a byte buffer, without allocating.
//!
//! ```
//! use nsgflow::encode::json::Obj;
//! use nsgflow::k;
//! let mut out = Vec::new();
//! let mut o = Obj::open(&mut out);
//! o.str(k!("rule"), "UserRule_m\u{fc}nchen \"web\"");
//! o.u64(k!("port"), 443);
//! o.opt_u64(k!("bytes"), None);
//! let mut inner = o.object(k!("source"));
//! inner.str(k!("ip"), "10.0.0.4");
//! inner.close();
//! o.close();
//! assert_eq!(String::from_utf8(out).unwrap(),
//!            r#"{"rule":"UserRule_münchen \"web\"","port":443,"source":{"ip":"10.0.0.4"}}"#);
//! ```

/// An object key as written, `"src_ip":`, built at compile time: `k!("src_ip")`.
#[macro_export]
macro_rules! k {
    ($key:literal) => {
        concat!("\"", $key, "\":")
    };
}

/// Whether any byte of `bytes` needs a JSON escape (a control character, `"` or `\`).
/// Eight bytes at a time: resource IDs and rule names are long and almost never need one.
pub fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte of the result set where that byte of `x` is zero.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Bytes below 0x20: those with no bit at or above 0x20 (and not 0x80 or more).
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        if control | zero(w ^ (ONES * b'"' as u64)) | zero(w ^ (ONES * b'\\' as u64)) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `s` as a JSON string literal (quotes included), escaping only what JSON requires.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
    } else {
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f => b"",
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i]);
            if esc.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            } else {
                out.extend_from_slice(esc);
            }
            start = i + 1;
        }
        out.extend_from_slice(&bytes[start..]);
    }
    out.push(b'"');
}

#[inline]
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    match u32::try_from(v) {
        Ok(small) if small < 100_000_000 => write_below_1e8(out, small),
        _ => {
            let mut buf = itoa::Buffer::new();
            out.extend_from_slice(buf.format(v).as_bytes());
        }
    }
}

/// Eight decimal digits of `v` (below 10^8) computed side by side in the lanes of a `u64`
/// (halves, then pairs, then digits, each split with a multiply and shift in place of a
/// division), written as one 8-byte copy and cut back to the digits that count: ports
/// and most counters take no `memcpy` call.
#[inline(always)]
fn write_below_1e8(out: &mut Vec<u8>, v: u32) {
    // Lanes of 32 bits: the high four digits, the low four.
    let x = (v / 10_000) as u64 | ((v % 10_000) as u64) << 32;
    // x / 100 in each lane (exact below 10^4), then lanes of 16 bits: pairs of digits.
    let hundreds = ((x * 10_486) >> 20) & (0x7f << 32 | 0x7f);
    let x = ((x - hundreds * 100) << 16) | hundreds;
    // x / 10 in each lane (exact below 100), then lanes of 8 bits: the digits, the most
    // significant in the lowest byte.
    let tens = ((x * 103) >> 10) & 0x000f_000f_000f_000f;
    let digits = ((x - tens * 10) << 8) | tens;
    // Leading zeros, keeping one digit for 0.
    let zeros = (digits.trailing_zeros() / 8).min(7) as usize;
    let text = ((digits >> (8 * zeros)) | 0x3030_3030_3030_3030).to_le_bytes();
    let end = out.len() + 8 - zeros;
    out.extend_from_slice(&text);
    out.truncate(end);
}

/// An object being written: tracks whether a comma is due before the next key.
pub struct Obj<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Obj<'o> {
    /// Writes `{` and starts an object.
    pub fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Continues an object whose `{` (and maybe some fields) is already written.
    pub fn resume(out: &'o mut Vec<u8>, first: bool) -> Self {
        Obj { out, first }
    }

    /// Writes a key, given as written with its quotes and colon (use [`k!`]), preceded by
    /// a comma unless it is the first.
    #[inline(always)]
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        debug_assert!(
            key.starts_with('"') && key.ends_with("\":"),
            "key {key} not made with k!"
        );
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(key.as_bytes());
        self.out
    }

    #[inline(always)]
    pub fn str(&mut self, key: &str, v: &str) {
        write_str(self.key(key), v);
    }

    /// A string known to need no escaping: labels, validated IP addresses, Community IDs.
    /// (A debug build checks the promise.)
    #[inline(always)]
    pub fn clean_str(&mut self, key: &str, v: &str) {
        debug_assert!(
            !v.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'),
            "{v}"
        );
        let out = self.key(key);
        out.push(b'"');
        out.extend_from_slice(v.as_bytes());
        out.push(b'"');
    }

    /// ASCII bytes known to need no escaping, written as a JSON string.
    #[inline(always)]
    pub fn clean_bytes(&mut self, key: &str, v: &[u8]) {
        let out = self.key(key);
        out.push(b'"');
        out.extend_from_slice(v);
        out.push(b'"');
    }

    #[inline(always)]
    pub fn opt_clean_str(&mut self, key: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.clean_str(key, v);
        }
    }

    #[inline(always)]
    pub fn opt_str(&mut self, key: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(key, v);
        }
    }

    #[inline(always)]
    pub fn u64(&mut self, key: &str, v: u64) {
        write_u64(self.key(key), v);
    }

    #[inline(always)]
    pub fn opt_u64(&mut self, key: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.u64(key, v);
        }
    }

    #[inline(always)]
    pub fn bool(&mut self, key: &str, v: bool) {
        self.key(key)
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// An RFC 3339 timestamp with milliseconds, from milliseconds since the epoch, through
    /// a [`crate::time::Rfc3339Writer`], which keeps the date of the day.
    #[inline]
    pub fn time_with(&mut self, key: &str, w: &mut crate::time::Rfc3339Writer, ms: u64) {
        let out = self.key(key);
        out.push(b'"');
        w.write(out, ms);
        out.push(b'"');
    }

    /// Writes a key and pre-rendered JSON for its value.
    #[inline(always)]
    pub fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key).extend_from_slice(json);
    }

    /// An array of strings.
    pub fn strs(&mut self, key: &str, values: &[&str]) {
        let out = self.key(key);
        out.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, v);
        }
        out.push(b']');
    }

    /// An array of strings from an iterator.
    pub fn str_iter<'s>(&mut self, key: &str, values: impl Iterator<Item = &'s str>) {
        let out = self.key(key);
        out.push(b'[');
        for (i, v) in values.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, v);
        }
        out.push(b']');
    }

    /// An array of objects: `fill` gets a `push` that writes one object per call.
    pub fn array_of_objects(
        &mut self,
        key: &str,
        fill: impl FnOnce(&mut dyn FnMut(&mut dyn FnMut(&mut Obj<'_>))),
    ) {
        let out = self.key(key);
        out.push(b'[');
        let mut first = true;
        fill(&mut |write: &mut dyn FnMut(&mut Obj<'_>)| {
            if !first {
                out.push(b',');
            }
            first = false;
            let mut o = Obj::open(out);
            write(&mut o);
            o.close();
        });
        out.push(b']');
    }

    /// Starts a nested object under `key`; close it before writing to this one again.
    pub fn object(&mut self, key: &str) -> Obj<'_> {
        let out = self.key(key);
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Appends already-rendered `"k":v` pairs (as made by an [`Obj::resume`] with `first`
    /// false, so they start with a comma) and counts as having written a field.
    pub fn splice(&mut self, fields: &[u8]) {
        if fields.is_empty() {
            return;
        }
        let fields = if self.first { &fields[1..] } else { fields };
        self.out.extend_from_slice(fields);
        self.first = false;
    }

    pub fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_u64_agrees_with_display() {
        let edges = [
            0,
            1,
            9,
            10,
            99,
            100,
            65_535,
            65_536,
            99_999_999,
            100_000_000,
            u64::MAX,
        ];
        let steps = (0..100_000_000u64).step_by(9_973);
        let mut out = Vec::new();
        for v in edges
            .into_iter()
            .chain(steps)
            .chain((0..64).map(|b| 1u64 << b))
        {
            out.clear();
            out.extend_from_slice(b"x");
            write_u64(&mut out, v);
            assert_eq!(out, format!("x{v}").as_bytes(), "{v}");
        }
    }

    #[test]
    fn escapes_what_json_requires() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é/");
        assert_eq!(out, b"\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9/\"");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é/");
    }

    #[test]
    fn escape_check_agrees_with_a_byte_scan() {
        let slow = |b: &[u8]| b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
        let mut samples: Vec<Vec<u8>> = vec![
            b"/SUBSCRIPTIONS/7C4E2B19-3F8A-4D6E/RESOURCEGROUPS/RG".to_vec(),
            "UserRule_münchen-web".as_bytes().to_vec(),
            vec![0x7f; 17],
            vec![0xff; 9],
        ];
        for c in [
            0u8, 0x1f, 0x20, b'"', b'\\', b'!', b'#', b'[', b']', 0x80, 0xdf,
        ] {
            for pos in 0..20 {
                let mut v = vec![b'a'; 20];
                v[pos] = c;
                samples.push(v);
            }
        }
        for s in samples {
            assert_eq!(needs_escape(&s), slow(&s), "{s:?}");
        }
    }

    #[test]
    fn splice_handles_leading_comma() {
        let mut frag = Vec::new();
        Obj::resume(&mut frag, false).str(k!("rule"), "r");
        let mut out = Vec::new();
        let mut o = Obj::open(&mut out);
        o.splice(&frag);
        o.u64(k!("n"), 1);
        o.close();
        assert_eq!(out, br#"{"rule":"r","n":1}"#);
    }
}
