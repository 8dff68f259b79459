//! The filter_wasm entry points' logic, built natively (`nsgflow_wasm::filter::Filter`,
//! what `nsgflow_tuple_*` and `nsgflow_flat_to_*` run): any record text in, always one
//! JSON object out (Fluent Bit aborts on invalid JSON after valid JSON in one chunk).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsgflow::encode::Format;
use nsgflow_wasm::filter::{with_error, Filter};

/// One valid JSON object, by the module's own strict check.
fn is_one_object(out: &[u8]) -> bool {
    std::str::from_utf8(out).is_ok_and(nsgflow_wasm::filter::is_one_object)
}

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = std::str::from_utf8(data) else {
        return;
    };
    thread_local! {
        static FILTER: std::cell::RefCell<Filter> = std::cell::RefCell::new(Filter::default());
    }
    FILTER.with(|f| {
        let mut f = f.borrow_mut();
        for format in Format::ALL {
            let out = f.tuple_event(rec, format).to_vec();
            assert!(is_one_object(&out), "tuple_event {format}: {:?} -> {:?}", rec, String::from_utf8_lossy(&out));
            let out = f.reshape(rec, format).to_vec();
            assert!(is_one_object(&out), "reshape {format}: {:?} -> {:?}", rec, String::from_utf8_lossy(&out));
        }
    });
    let mut out = Vec::new();
    with_error(rec, "why", &mut out);
    assert!(is_one_object(&out), "with_error: {:?} -> {:?}", rec, String::from_utf8_lossy(&out));
});
