//! The in_exec_wasi program's run logic, natively (the same code the `.wasm` runs; the
//! wasmtime runs are in `exec_wasi.rs`): an empty blob is a flow log, unchanged files are
//! not reported as new, and `max_events_per_run` spreads a backlog over runs with each
//! tuple printed exactly once.

mod harness;

use std::path::Path;

use harness::TempDir as Dir;

use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_tests::{fixture, run_text_with};
use nsgflow_wasm::runner::{run, RunReport};

/// One run over `state` (config, checkpoint) and `data`: exit status, report, events,
/// stderr.
fn once(state: &Path, data: &Path) -> (i32, RunReport, Vec<String>, String) {
    let mut out = Vec::new();
    let err = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Err(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Err {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (code, report) = run(
        &[state.to_path_buf(), data.to_path_buf()],
        &mut out,
        Err(err.clone()),
    );
    let lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let stderr = String::from_utf8(err.lock().unwrap().clone()).unwrap();
    (code, report, lines, stderr)
}

#[test]
fn an_empty_blob_as_azure_creates_it_is_read_not_refused() {
    let (state, data) = (Dir::new("empty-state"), Dir::new("empty-data"));
    std::fs::write(data.0.join("PT1H.json"), r#"{"records":[]}"#).unwrap();
    let (code, report, lines, stderr) = once(&state.0, &data.0);
    assert_eq!(code, 0, "{stderr}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(lines.is_empty());
    assert!(!stderr.contains("not a flow log"), "{stderr}");
}

#[test]
fn unchanged_files_are_not_reported_as_new() {
    let (state, data) = (Dir::new("same-state"), Dir::new("same-data"));
    for f in ["nsg-v2-blob.json", "vnet-blob.json", "nsg-v1-blob.json"] {
        std::fs::copy(fixture(f), data.0.join(f)).unwrap();
    }
    let (code, first, lines, _) = once(&state.0, &data.0);
    assert_eq!((code, first.files, first.files_with_news), (0, 3, 3));
    assert!(!lines.is_empty());
    let (code, again, lines, stderr) = once(&state.0, &data.0);
    assert_eq!(code, 0, "{stderr}");
    assert!(lines.is_empty());
    assert_eq!(
        (again.files, again.files_with_news, again.events),
        (3, 0, 0)
    );
    assert!(
        stderr.contains("3 files (0 with new data), 0 events"),
        "{stderr}"
    );
}

#[test]
fn max_events_per_run_leaves_the_rest_for_the_next_runs_exactly_once() {
    let (state, data) = (Dir::new("cap-state"), Dir::new("cap-data"));
    let files = [
        "nsg-v1-blob.json",
        "nsg-v2-blob.json",
        "vnet-blob.json",
        "single-record-nsg-v2.json",
    ];
    let mut expected = Vec::new();
    for f in files {
        std::fs::copy(fixture(f), data.0.join(f)).unwrap();
        let text = std::fs::read_to_string(fixture(f)).unwrap();
        expected.extend(run_text_with(f, &text, Format::Flat, &Config::default()).lines);
    }
    std::fs::write(state.0.join("nsgflow.yaml"), "max_events_per_run: 1\n").unwrap();
    let mut got = Vec::new();
    let mut runs = 0;
    loop {
        let (code, report, lines, stderr) = once(&state.0, &data.0);
        assert_eq!(code, 0, "{stderr}");
        runs += 1;
        if lines.is_empty() {
            assert_eq!(report.deferred, 0);
            break;
        }
        // Each run reads one file whole (the cap is checked between files).
        assert_eq!(report.files_with_news, 1, "run {runs}: {stderr}");
        if report.deferred > 0 {
            assert!(stderr.contains("max_events_per_run reached"), "{stderr}");
        }
        got.extend(lines);
        assert!(runs <= files.len(), "the backlog never drained");
    }
    assert_eq!(runs, files.len() + 1);
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "every tuple exactly once over the runs");
}
