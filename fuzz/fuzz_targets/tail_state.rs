//! `nsgflow tail`'s shared state files over arbitrary contents (issue 15): the stored
//! folder walk (`state/resources.json`, which lets `--once` runs skip the walk) and the
//! replica fence's plan and heartbeats (`state/shards.json`, `state/alive-K-of-N.json`).
//! The first byte picks the file, the rest is its contents. A damaged or foreign file is
//! reported with its path and never trusted; a walk that loads saves and loads back;
//! checking the fence never fails on contents, and nothing panics.
#![no_main]

#[path = "common.rs"]
mod common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use nsgflow::blob::discovered::{Discovered, Stale};
use nsgflow::blob::fence::{Fence, FenceState, STATE_DIR};
use nsgflow::blob::shard::Shard;

const FILES: [&str; 4] = [
    "resources.json",
    "shards.json",
    "alive-0-of-3.json",
    "alive-1-of-4.json",
];
const NOW: u64 = 1_800_000_000;
const REDISCOVER: f64 = 3600.0;

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| common::scratch("tailstate"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, contents)) = data.split_first() else {
        return;
    };
    let dir = dir();
    let state = dir.join(STATE_DIR);
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).unwrap();
    let name = FILES[which as usize % FILES.len()];
    std::fs::write(state.join(name), contents).unwrap();

    let containers = vec!["insights-logs-flowlogflowevent".to_string()];
    match Discovered::load(dir, "acct", &containers, "", REDISCOVER, NOW) {
        Ok(d) => {
            assert!(!d.resources.is_empty(), "an empty walk is never used");
            assert!(d.due_in(REDISCOVER, NOW) > 0.0, "a walk past due is never used");
            d.save(dir).expect("a loaded walk saves");
            let again = Discovered::load(dir, "acct", &containers, "", REDISCOVER, NOW)
                .expect("a saved walk loads back");
            assert_eq!(again.resources, d.resources);
            assert_eq!(again.missing, d.missing);
        }
        Err(Stale::Bad(why)) => assert!(why.contains("resources.json"), "{why}"),
        Err(Stale::Absent | Stale::Due) => {}
    }

    let mut fence = Fence::open(dir, Shard::parse("1/4").unwrap(), Duration::from_secs(60))
        .expect("the state folder opens");
    let plan = fence.plan().expect("a plan file's contents never make plan() fail");
    if let Some(p) = &plan {
        assert!(p.replicas > 0, "a plan of 0 replicas is refused");
    }
    match fence.check().expect("a state file's contents never make check() fail") {
        FenceState::Active => {
            let now = fence.plan().unwrap().expect("an active replica has written its plan");
            assert_eq!(now.replicas, 4);
            assert_eq!(fence.still_active().unwrap(), FenceState::Active);
        }
        FenceState::Waiting(why) | FenceState::Superseded(why) => assert!(!why.is_empty()),
    }
    fence.release();
});
