//! The borrowed JSON scanner (`nsgflow::json::Scanner`) over arbitrary text: skipping a
//! value and walking it key by key must end in a value or an error, never a panic, and
//! agree on where the value ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsgflow::json::Scanner;

/// Walks one value with the structural calls; returns its end.
fn walk(sc: &mut Scanner<'_>, depth: usize) -> Option<usize> {
    if depth > 64 {
        return sc.skip_value().ok().map(|_| sc.pos());
    }
    sc.skip_ws();
    match sc.peek()? {
        b'{' => {
            sc.begin_object().ok()?;
            let mut first = true;
            while sc.next_key(first).ok()?.is_some() {
                walk(sc, depth + 1)?;
                first = false;
            }
        }
        b'[' => {
            sc.begin_array().ok()?;
            let mut first = true;
            while sc.next_element(first).ok()? {
                walk(sc, depth + 1)?;
                first = false;
            }
        }
        b'"' => {
            sc.string().ok()?;
        }
        b'0'..=b'9' => {
            let mut probe = sc.clone();
            let _ = probe.u64();
            sc.skip_value().ok()?;
        }
        _ => {
            sc.skip_value().ok()?;
        }
    }
    Some(sc.pos())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut a = Scanner::new(text);
    let skipped = a.skip_value().ok().map(|v| (v.len(), a.pos()));
    let mut b = Scanner::new(text);
    let walked = walk(&mut b, 0);
    if let (Some((_, end)), Some(w)) = (skipped, walked) {
        assert_eq!(end, w, "skip_value and the walk disagree on the value's end");
    }
    // Any start position on a char boundary.
    if !text.is_empty() {
        let at = data[0] as usize % text.len();
        if text.is_char_boundary(at) {
            let mut c = Scanner::at(text, at);
            let _ = c.skip_value();
            let _ = c.at_end();
        }
    }
});
