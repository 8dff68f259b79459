//! The detection state loader (`--detect-state`, issue 11's state file) over arbitrary file
//! contents, with every detector on. A file it refuses gets an error that names the file
//! and says what to do; a file it loads runs the stage over a real blob, saves, and what
//! it saved loads back. Nothing panics.
#![no_main]

#[path = "common.rs"]
mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nsgflow::config::Config;
use nsgflow::detect::Detection;
use nsgflow::engine::{Engine, EventHandler};
use nsgflow::event::FlowEvent;
use nsgflow::output::DeadLetterWriter;
use nsgflow::pipeline::Detecting;

const BLOB: &str = r#"{"records":[{"time":"2026-03-02T10:01:36.1174520Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG","properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"000D3AF87856","flowTuples":["1772445660,203.0.113.5,10.0.0.4,5000,22,T,I,D,B,,,,","1772445661,10.0.0.4,20.60.140.36,49822,443,T,O,A,C,412,61840,398,1873221","1772445662,203.0.113.5,10.0.0.5,5000,23,T,I,D,B,,,,","1772445663,203.0.113.5,10.0.0.6,5000,3389,T,I,D,B,,,,"]}]}]}}]}"#;

struct Discard;

impl EventHandler for Discard {
    fn event(&mut self, _event: &FlowEvent<'_>) {}
}

struct Setup {
    config: Config,
    path: PathBuf,
    saved: PathBuf,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let dir = common::scratch("detectstate");
        let mut config = Config::default();
        config.detect.enabled = true;
        Setup {
            config,
            path: dir.join("state.json"),
            saved: dir.join("saved.json"),
        }
    })
}

fn stage(config: &Config) -> (Engine, Detection) {
    let engine = Engine::new(config.enricher().expect("the default enricher builds"));
    let detection = Detection::new(&config.detect, engine.enricher.clone())
        .expect("every detector with its defaults builds");
    (engine, detection)
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    std::fs::write(&s.path, data).unwrap();
    let (mut engine, mut detection) = stage(&s.config);
    match detection.load_state(&s.path) {
        Ok(_) => {
            let mut dead = DeadLetterWriter::new(None);
            let mut h = Detecting {
                detection: Some(&mut detection),
                inner: Discard,
            };
            engine.process("PT1H.json", BLOB, &mut h, &mut dead);
            let _ = detection.take_alerts();
            detection.save_state(&s.saved).expect("a loaded state saves");
            let (_, mut again) = stage(&s.config);
            again
                .load_state(&s.saved)
                .expect("a state nsgflow saved loads back");
        }
        Err(e) => {
            assert!(e.starts_with("detection state "), "{e}");
            assert!(e.contains("state.json"), "{e}");
        }
    }
});
