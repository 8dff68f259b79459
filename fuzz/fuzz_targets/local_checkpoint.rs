//! The local checkpoint loader (`process --checkpoint`, in_exec_wasi) over arbitrary file
//! contents, and what a loaded mark drives: resuming a real blob from that mark. A bad
//! file is an error; a mark that does not fit the file restarts it; nothing panics.
#![no_main]

#[path = "common.rs"]
mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nsgflow::checkpoint::{process_new, read_new, Checkpoint};
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::output::{DeadLetterWriter, EventWriter};

const BLOB: &str = r#"{"records":[{"time":"2026-03-02T10:01:36.1174520Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG","properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"000D3AF87856","flowTuples":["1772445660,203.0.113.5,10.0.0.4,5000,22,T,I,D,B,,,,","1772445661,10.0.0.4,20.60.140.36,49822,443,T,O,A,C,412,61840,398,1873221"]}]}]}},{"time":"2026-03-02T10:02:36.1174520Z","category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"000D3AF87856","flowTuples":["1772445720,203.0.113.9,10.0.0.4,5001,22,T,I,D,B,,,,"]}]}]}}]}"#;

fn paths() -> &'static (PathBuf, PathBuf) {
    static P: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    P.get_or_init(|| {
        let dir = common::scratch("localcp");
        let data = dir.join("PT1H.json");
        std::fs::write(&data, BLOB).unwrap();
        (dir.join("checkpoint.json"), data)
    })
}

fuzz_target!(|data: &[u8]| {
    let (cp_path, blob) = paths();
    std::fs::write(cp_path, data).unwrap();
    let Ok(cp) = Checkpoint::load(cp_path) else {
        return;
    };
    let mut engine = Engine::default();
    let mut dead = DeadLetterWriter::new(Some(Box::new(std::io::sink())));
    let mut buf = Vec::new();
    for mark in cp.files.values() {
        let start = read_new(blob, Some(mark), &mut buf).unwrap();
        let Ok(text) = std::str::from_utf8(&buf) else {
            // A mark inside a character: the reader reports it as not UTF-8.
            continue;
        };
        let mut enc = encoder(Format::Flat, &EncodeOptions::default());
        let mut out = EventWriter::new(Vec::new());
        let p = process_new(
            &mut engine,
            "fuzz",
            text,
            &start,
            &mut EncodeLines {
                encoder: enc.as_mut(),
                writer: &mut out,
            },
            &mut dead,
        );
        assert!(p.mark.offset <= BLOB.len() as u64);
    }
});
