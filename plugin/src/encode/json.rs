//! Writing JSON straight into a byte buffer, without allocating.
//!
//! ```
//! use nsgflow::encode::json::Obj;
//! let mut out = Vec::new();
//! let mut o = Obj::open(&mut out);
//! o.str("rule", "UserRule_m\u{fc}nchen \"web\"");
//! o.u64("port", 443);
//! o.opt_u64("bytes", None);
//! let mut inner = o.object("source");
//! inner.str("ip", "10.0.0.4");
//! inner.close();
//! o.close();
//! assert_eq!(String::from_utf8(out).unwrap(),
//!            r#"{"rule":"UserRule_münchen \"web\"","port":443,"source":{"ip":"10.0.0.4"}}"#);
//! ```

/// Appends `s` as a JSON string literal (quotes included), escaping only what JSON requires.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
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

pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
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

    /// Writes a key (a plain identifier: keys are never escaped) and its `:`.
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    pub fn str(&mut self, key: &str, v: &str) {
        write_str(self.key(key), v);
    }

    pub fn opt_str(&mut self, key: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(key, v);
        }
    }

    pub fn u64(&mut self, key: &str, v: u64) {
        write_u64(self.key(key), v);
    }

    pub fn opt_u64(&mut self, key: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.u64(key, v);
        }
    }

    pub fn bool(&mut self, key: &str, v: bool) {
        self.key(key)
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// Writes a key and pre-rendered JSON for its value.
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
    fn escapes_what_json_requires() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é/");
        assert_eq!(out, b"\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9/\"");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é/");
    }

    #[test]
    fn splice_handles_leading_comma() {
        let mut frag = Vec::new();
        Obj::resume(&mut frag, false).str("rule", "r");
        let mut out = Vec::new();
        let mut o = Obj::open(&mut out);
        o.splice(&frag);
        o.u64("n", 1);
        o.close();
        assert_eq!(out, br#"{"rule":"r","n":1}"#);
    }
}
