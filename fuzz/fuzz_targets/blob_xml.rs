//! The Azure Blob Storage XML answers (List Blobs, Get Block List) as the client reads
//! them, over arbitrary text: elements, nested elements, entity unescaping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsgflow::blob::xml::{element, elements, unescape};

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    for b in elements(xml, "Blob") {
        let _ = element(b, "Name").map(unescape);
        let _ = element(b, "Etag");
        let _ = element(b, "Content-Length").map(|s| s.parse::<u64>());
    }
    for p in elements(xml, "BlobPrefix") {
        let _ = element(p, "Name").map(unescape);
    }
    let _ = element(xml, "NextMarker");
    if let Some(committed) = element(xml, "CommittedBlocks") {
        for b in elements(committed, "Block") {
            let _ = element(b, "Name");
            let _ = element(b, "Size").map(|s| s.parse::<u64>());
        }
    }
    let u = unescape(xml);
    assert!(u.len() <= xml.len());
});
