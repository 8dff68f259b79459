//! Every threat-feed parser (plain list, Spamhaus DROP, Feodo CSV, IPsum, CSV) over the
//! same arbitrary text: entries and bad lines, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsgflow::reputation::feed::{parse_feed, FeedFormat};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in FeedFormat::ALL {
        let parsed = parse_feed(format, text);
        let _ = parsed.unusable();
        assert!(parsed.entries.len() + parsed.bad_lines.len() <= text.lines().count() + 1);
    }
});
