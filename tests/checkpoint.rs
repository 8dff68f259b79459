//! The incremental reader (`nsgflow::checkpoint`): over many runs on a file that grows the
//! way Azure writes blobs (and is read mid-write), every tuple comes out exactly once and
//! in the order the native engine gives for the final file.

use std::path::{Path, PathBuf};

use nsgflow::checkpoint::{process_new, read_new, Checkpoint, FileMark};
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::output::{DeadLetterWriter, EventWriter};
use nsgflow_tests::{azure_blob_states, blob_records, fixture, fixtures_and_samples, run_text};

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("nsgflow-cp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One run: reads what is new in `path` since `mark`, returns the flat lines and the mark.
fn run_once(path: &Path, mark: Option<&FileMark>) -> (Vec<String>, FileMark, u64) {
    let mut buf = Vec::new();
    let start = read_new(path, mark, &mut buf).unwrap();
    let text = std::str::from_utf8(&buf).expect("UTF-8 at record boundaries");
    let mut engine = Engine::default();
    let mut enc = encoder(Format::Flat, &EncodeOptions::default());
    let mut out = EventWriter::new(Vec::new());
    let mut dead = DeadLetterWriter::new(None);
    let p = process_new(
        &mut engine,
        "f",
        text,
        &start,
        &mut EncodeLines {
            encoder: enc.as_mut(),
            writer: &mut out,
        },
        &mut dead,
    );
    let lines = String::from_utf8(out.into_inner().unwrap())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (lines, p.mark, p.pending)
}

/// Writes each state of the file in turn, one run after each (the mark kept in a
/// checkpoint file, saved and loaded as between real runs); returns every line printed.
fn runs_over(states: &[String], tag: &str) -> Vec<String> {
    let dir = Dir::new(tag);
    let path = dir.0.join("PT1H.json");
    let cp_path = dir.0.join(".nsgflow-checkpoint.json");
    let mut all = Vec::new();
    for state in states {
        std::fs::write(&path, state).unwrap();
        let mut cp = Checkpoint::load(&cp_path).unwrap();
        let key = path.display().to_string();
        let (lines, mark, _) = run_once(&path, cp.files.get(&key));
        cp.files.insert(key, mark);
        cp.save(&cp_path).unwrap();
        all.extend(lines);
    }
    all
}

#[test]
fn growing_blob_prints_each_tuple_exactly_once() {
    for name in [
        "nsg-v2-blob.json",
        "vnet-blob.json",
        "nsg-version-switch.json",
        "nsg-v1-blob.json",
    ] {
        let blob = std::fs::read_to_string(fixture(name)).unwrap();
        let records = blob_records(&blob);
        let final_blob = format!("{{\"records\":[{}]}}", records.join(","));
        let native = run_text(&final_blob, Format::Flat).lines;
        assert!(!native.is_empty(), "{name}");
        for cut_every in [7, 50, 333] {
            let states = azure_blob_states(&records, cut_every);
            assert!(states.len() > records.len(), "{name}: cut states made");
            let got = runs_over(&states, &format!("{}-{cut_every}", name.replace('.', "_")));
            assert_eq!(
                got.len(),
                native.len(),
                "{name} cut every {cut_every}: tuple count"
            );
            assert_eq!(
                got, native,
                "{name} cut every {cut_every}: same events, same order"
            );
        }
    }
}

#[test]
fn unchanged_blob_prints_nothing_and_closed_blob_has_nothing_pending() {
    let dir = Dir::new("unchanged");
    let path = dir.0.join("PT1H.json");
    std::fs::copy(fixture("nsg-v2-blob.json"), &path).unwrap();
    let (first, mark, pending) = run_once(&path, None);
    assert!(!first.is_empty());
    assert_eq!(pending, 0);
    assert!(mark.blob);
    let (again, mark2, pending) = run_once(&path, Some(&mark));
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(pending, 0);
    assert_eq!(mark2, mark);
}

#[test]
fn cut_blob_leaves_the_cut_record_pending() {
    let dir = Dir::new("cut");
    let path = dir.0.join("PT1H.json");
    let text = std::fs::read_to_string(fixture("truncated-blob.json")).unwrap();
    std::fs::write(&path, &text).unwrap();
    let (lines, mark, pending) = run_once(&path, None);
    assert_eq!(lines, run_text(&text, Format::Flat).lines);
    assert!(pending > 0, "the cut record waits for the next run");
    assert_eq!(mark.offset + pending, text.len() as u64);
}

#[test]
fn replaced_file_is_read_again_from_the_start() {
    let dir = Dir::new("replaced");
    let path = dir.0.join("PT1H.json");
    std::fs::copy(fixture("nsg-v2-blob.json"), &path).unwrap();
    let (_, mark, _) = run_once(&path, None);
    let other = std::fs::read_to_string(fixture("vnet-blob.json")).unwrap();
    std::fs::write(&path, &other).unwrap();
    let (lines, _, _) = run_once(&path, Some(&mark));
    assert_eq!(lines, run_text(&other, Format::Flat).lines);
}

#[test]
fn growing_ndjson_prints_each_line_once() {
    let text = std::fs::read_to_string(fixture("records.ndjson")).unwrap();
    let native = run_text(&text, Format::Flat).lines;
    let mut states = Vec::new();
    let mut cut = 13;
    while cut < text.len() {
        if text.is_char_boundary(cut) {
            states.push(text[..cut].to_string());
        }
        cut += 41;
    }
    states.push(text.clone());
    assert_eq!(runs_over(&states, "ndjson"), native);
}

#[test]
fn every_fixture_and_sample_read_once_equals_native() {
    for f in fixtures_and_samples() {
        let text = std::fs::read_to_string(&f).unwrap();
        let (lines, _, _) = run_once(&f, None);
        assert_eq!(
            lines,
            run_text(&text, Format::Flat).lines,
            "{}",
            f.display()
        );
    }
}

#[test]
fn bad_checkpoint_file_is_an_error_saying_what_to_do() {
    let dir = Dir::new("badcp");
    let p = dir.0.join("cp.json");
    std::fs::write(&p, "{not json").unwrap();
    let e = Checkpoint::load(&p).unwrap_err().to_string();
    assert!(e.contains("cp.json") && e.contains("delete it"), "{e}");
    assert!(Checkpoint::load(&dir.0.join("missing.json"))
        .unwrap()
        .files
        .is_empty());
}
