//! The flow-tuple parser in every layout (NSG v1, NSG v2, VNet) over arbitrary text: a
//! tuple or an error naming the field, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsgflow::tuple::{FlowTuple, TupleLayout};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for layout in [TupleLayout::NsgV1, TupleLayout::NsgV2, TupleLayout::Vnet] {
        match FlowTuple::parse(text, layout) {
            Ok(t) => {
                let _ = format!("{t:?}");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
