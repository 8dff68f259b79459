//! The blob checkpoint loader (`nsgflow tail`'s per-blob state files) over arbitrary file
//! contents: a checkpoint or an error that says what to do, and a loaded one can be
//! planned against a committed block list.
#![no_main]

#[path = "common.rs"]
mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nsgflow::blob::blocks::{plan, BlockInfo};
use nsgflow::blob::checkpoint::CheckpointStore;

fn store() -> &'static (CheckpointStore, PathBuf) {
    static S: OnceLock<(CheckpointStore, PathBuf)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = common::scratch("blobcp");
        let store = CheckpointStore::open(&dir).expect("checkpoint dir");
        let path = store.path_of("c", "a/PT1H.json");
        (store, path)
    })
}

fuzz_target!(|data: &[u8]| {
    let (store, path) = store();
    std::fs::write(path, data).unwrap();
    match store.load("c", "a/PT1H.json") {
        Ok(Some(cp)) => {
            let committed: Vec<BlockInfo> = cp
                .blocks
                .iter()
                .map(|b| BlockInfo {
                    id: b.id.clone(),
                    size: b.size,
                })
                .collect();
            let _ = plan(&cp.blocks, &committed);
            let _ = plan(&cp.blocks, &committed[..committed.len() / 2]);
        }
        Ok(None) => {}
        Err(e) => assert!(!e.is_empty()),
    }
});
