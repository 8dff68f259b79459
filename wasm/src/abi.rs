//! The `filter_wasm` ABI (Fluent Bit's `flb_wasm_call_function_format_json`): each export
//! takes six i32 values (tag pointer and length, time seconds and nanoseconds, record
//! pointer and length; tag and record are NUL-terminated copies in this module's memory)
//! and returns a pointer to a NUL-terminated JSON object.
//!
//! Fluent Bit's rules, all honoured here:
//! - the result is always one JSON object: on failure, the input record with an
//!   `nsgflow_error` field (never invalid JSON, an array or an empty string);
//! - a record pointer of 0 means the record did not fit the WASM heap (`wasm_heap_size`):
//!   it is an error record saying so, not a crash;
//! - the returned buffer stays valid until the next call (one buffer, reused);
//! - nothing panics across the boundary: the code paths do not panic on any input (the
//!   tests feed them garbage), and on a host build a panic is caught and reported.
//!
//! Fluent Bit copies tag and record into WAMR's own app heap; other hosts (and the test
//! harness) can use [`nsgflow_alloc`] / [`nsgflow_free`].

use std::cell::RefCell;

use nsgflow::encode::Format;

use crate::filter::{with_error, Filter};

thread_local! {
    static FILTER: RefCell<Option<Filter>> = const { RefCell::new(None) };
    /// The reply when the filter itself cannot be reached (a re-entrant call).
    static FALLBACK: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// What a function does with the record text.
#[derive(Clone, Copy)]
enum Op {
    Tuple(Format),
    Reshape(Format),
}

/// Runs `op` on the record at `rec` and returns the NUL-terminated reply.
///
/// # Safety
/// `rec` is null or points to `rec_len` readable bytes.
unsafe fn call(rec: *const u8, rec_len: u32, op: Op) -> *const u8 {
    let input: Result<&[u8], String> = if rec.is_null() {
        Err(format!(
            "the record ({rec_len} bytes) did not fit in the WASM heap, so Fluent Bit passed no record: raise the filter's wasm_heap_size (a few MB, e.g. 8M)"
        ))
    } else {
        // SAFETY: the caller passes a pointer to `rec_len` bytes it copied in.
        Ok(unsafe { std::slice::from_raw_parts(rec, rec_len as usize) })
    };
    let run = std::panic::catch_unwind(|| {
        FILTER.with(|cell| {
            let mut guard = cell.try_borrow_mut().ok()?;
            let filter = guard.get_or_insert_with(crate::filter::Filter::from_preopens);
            match &input {
                Err(why) => Some(Err(why.clone())),
                Ok(bytes) => {
                    // Borrowed when the record is UTF-8, as Fluent Bit's JSON always is
                    // (`from_utf8` first: its ASCII fast path is several times quicker
                    // than the lossy decoder's, which counts in an interpreter).
                    let text = match utf8(bytes) {
                        Ok(t) => std::borrow::Cow::Borrowed(t),
                        Err(_) => String::from_utf8_lossy(bytes),
                    };
                    match op {
                        Op::Tuple(f) => filter.tuple_event(&text, f),
                        Op::Reshape(f) => filter.reshape(&text, f),
                    };
                    // The reply stays in the filter's buffer until the next call.
                    Some(Ok(filter.nul_terminated()))
                }
            }
        })
    });
    let (text, why) = match run {
        Ok(Some(Ok(ptr))) => return ptr,
        Ok(Some(Err(why))) => (String::new(), why),
        Ok(None) => (
            String::new(),
            "re-entrant call into the nsgflow filter".to_string(),
        ),
        Err(_) => (
            input
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
            "internal error in nsgflow (a bug: please report it with this record)".to_string(),
        ),
    };
    FALLBACK.with(|b| {
        let mut b = b.borrow_mut();
        b.clear();
        with_error(if text.is_empty() { "{}" } else { &text }, &why, &mut b);
        b.push(0);
        b.as_ptr()
    })
}

/// `std::str::from_utf8`, with a quicker answer for the usual all-ASCII record: 16 bytes
/// a step in 64-bit words (on `wasm32`, `from_utf8`'s own ASCII path takes 32-bit words).
fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    const HI: u64 = 0x8080_8080_8080_8080;
    let word = |c: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    };
    let mut chunks = bytes.chunks_exact(16);
    let mut high = 0;
    for c in &mut chunks {
        high |= word(&c[..8]) | word(&c[8..]);
    }
    if high & HI == 0 && chunks.remainder().is_ascii() {
        // SAFETY: every byte is below 0x80, and ASCII is UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes)
}

macro_rules! export {
    ($name:ident, $op:expr, $doc:literal) => {
        #[doc = $doc]
        ///
        /// # Safety
        /// `rec` is null or points to `rec_len` readable bytes (Fluent Bit's contract).
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            _tag: *const u8,
            _tag_len: u32,
            _time_sec: u32,
            _time_nsec: u32,
            rec: *const u8,
            rec_len: u32,
        ) -> *const u8 {
            // SAFETY: forwarded from the caller.
            unsafe { call(rec, rec_len, $op) }
        }
    };
}

export!(
    nsgflow_tuple_flat,
    Op::Tuple(Format::Flat),
    "A split-tuple record to a flat event."
);
export!(
    nsgflow_tuple_ecs,
    Op::Tuple(Format::Ecs),
    "A split-tuple record to an ECS event."
);
export!(
    nsgflow_tuple_splunk,
    Op::Tuple(Format::Splunk),
    "A split-tuple record to a Splunk HEC event."
);
export!(
    nsgflow_tuple_ocsf,
    Op::Tuple(Format::Ocsf),
    "A split-tuple record to an OCSF event."
);
export!(
    nsgflow_flat_to_ecs,
    Op::Reshape(Format::Ecs),
    "A flat event to ECS."
);
export!(
    nsgflow_flat_to_splunk,
    Op::Reshape(Format::Splunk),
    "A flat event to a Splunk HEC event."
);
export!(
    nsgflow_flat_to_ocsf,
    Op::Reshape(Format::Ocsf),
    "A flat event to OCSF."
);

/// Allocates `size` bytes in this module's memory (for hosts other than Fluent Bit, which
/// uses WAMR's app heap); 0 when out of memory.
#[no_mangle]
pub extern "C" fn nsgflow_alloc(size: u32) -> *mut u8 {
    let Ok(layout) = std::alloc::Layout::from_size_align(size.max(1) as usize, 1) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the layout has a non-zero size.
    unsafe { std::alloc::alloc(layout) }
}

/// Frees what [`nsgflow_alloc`] gave, with the same size.
///
/// # Safety
/// `ptr` came from `nsgflow_alloc(size)` and is not used again.
#[no_mangle]
pub unsafe extern "C" fn nsgflow_free(ptr: *mut u8, size: u32) {
    if ptr.is_null() {
        return;
    }
    if let Ok(layout) = std::alloc::Layout::from_size_align(size.max(1) as usize, 1) {
        // SAFETY: the caller's contract.
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utf8_agrees_with_from_utf8() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            br#"{"tuple":"1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66"}"#
                .to_vec(),
            "{\"rule\":\"Regel-\u{fc}ber\"}".as_bytes().to_vec(),
        ];
        // A bad or a non-ASCII byte at every position of records of every length.
        for len in 1..40 {
            for at in 0..len {
                for bad in [0x80u8, 0xc3, 0xff] {
                    let mut v = vec![b'a'; len];
                    v[at] = bad;
                    cases.push(v);
                }
            }
        }
        for c in cases {
            assert_eq!(super::utf8(&c).ok(), std::str::from_utf8(&c).ok(), "{c:?}");
        }
    }
}
