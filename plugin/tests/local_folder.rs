//! `nsgflow process --checkpoint`: a local folder (azcopy sync, blobfuse) read incrementally,
//! run after run, with the guarantees of the blob reader: each record exactly once across
//! runs as blobs grow and roll over to the next hour, no loss and bounded repeats after a
//! crash, and a replaced file re-read with a warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nsgflow"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nsgflow-local-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A realistic record (from the shared fixture), made unique by its `time`.
fn record(template: &str, i: usize) -> String {
    template.replacen(
        "2026-03-02T10:01:36.1174520Z",
        &format!("2026-03-02T{:02}:{:02}:36.{:07}Z", 10 + i / 60, i % 60, i),
        1,
    )
}

fn template() -> String {
    let blob = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/nsg-v2-blob.json"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&blob).unwrap();
    let rec = serde_json::to_string(&v["records"][0]).unwrap();
    assert!(rec.contains("2026-03-02T10:01:36.1174520Z"));
    rec
}

/// Writes a blob as Azure leaves it after a commit, or cut `cut` bytes before its end (read
/// while being written).
fn write_blob(path: &Path, records: &[String], cut: usize) {
    let text = format!("{{\"records\":[{}]}}", records.join(","));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, &text.as_bytes()[..text.len() - cut]).unwrap();
}

fn hour_path(dir: &Path, hour: usize) -> PathBuf {
    dir.join(format!("resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG/y=2026/m=03/d=02/h={hour:02}/m=00/macAddress=0022489A4C17/PT1H.json"))
}

fn run(dir: &Path, cp: &Path) -> (Vec<String>, String, Option<i32>) {
    let out = bin()
        .args([
            "process",
            dir.to_str().unwrap(),
            "--checkpoint",
            cp.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

fn counts(lines: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(l).or_insert(0) += 1;
    }
    m
}

#[test]
fn growing_blobs_give_each_record_exactly_once_across_runs_and_an_hour_rollover() {
    let dir = tmp("grow");
    let data = dir.join("data");
    let cp = dir.join("checkpoint.json");
    let t = template();
    let mut emitted = Vec::new();
    for minute in 0..75 {
        let hour = 10 + minute / 60;
        let first = (hour - 10) * 60;
        let records: Vec<String> = (first..=minute).map(|i| record(&t, i)).collect();
        // Every fifth minute the run sees the blob mid-write: cut inside the newest record.
        let cut = if minute % 5 == 2 { 40 } else { 0 };
        write_blob(&hour_path(&data, hour), &records, cut);
        let (lines, err, code) = run(&data, &cp);
        assert_eq!(code, Some(0), "minute {minute}: {err}");
        emitted.extend(lines);
    }
    // Everything a single full read of the final folder gives, each exactly once.
    let full = bin()
        .args(["process", data.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    let want: Vec<String> = String::from_utf8(full.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(want.len(), 75 * 6);
    assert_eq!(counts(emitted), counts(want));
}

#[test]
fn a_crash_loses_nothing_and_repeats_at_most_the_unsaved_run() {
    let dir = tmp("crash");
    let data = dir.join("data");
    let cp = dir.join("checkpoint.json");
    let t = template();
    for hour in 0..12 {
        let records: Vec<String> = (0..400).map(|i| record(&t, hour * 1000 + i)).collect();
        write_blob(&data.join(format!("h={hour:02}/PT1H.json")), &records, 0);
    }
    let mut emitted = Vec::new();
    let mut kills = 0;
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    loop {
        let out = dir.join(format!("run-{kills}.ndjson"));
        let mut child = bin()
            .args([
                "process",
                data.to_str().unwrap(),
                "--checkpoint",
                cp.to_str().unwrap(),
            ])
            .args(["-q", "-o", out.to_str().unwrap()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(5 + rng % 60));
        let killed = kills < 8 && child.try_wait().unwrap().is_none();
        if killed {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
        } else {
            assert!(child.wait().unwrap().success());
        }
        // A killed run may leave a cut last line: only whole lines count.
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        emitted.extend(
            text.lines()
                .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
                .map(str::to_string),
        );
        if !killed {
            break;
        }
    }
    let (again, _, _) = run(&data, &cp);
    assert!(
        again.is_empty(),
        "a run after a clean one finds nothing new"
    );
    let full = bin()
        .args(["process", data.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    let want = counts(
        String::from_utf8(full.stdout)
            .unwrap()
            .lines()
            .map(str::to_string),
    );
    let got = counts(emitted);
    for (line, n) in &want {
        let seen = got.get(line).copied().unwrap_or(0);
        assert!(seen >= *n, "lost: {line}");
        assert!(
            seen <= n * (1 + kills),
            "repeated {seen} times after {kills} kills: {line}"
        );
    }
    assert!(got.keys().all(|l| want.contains_key(l)));
    eprintln!(
        "{kills} kills, {} events emitted for {} in the folder",
        got.values().sum::<usize>(),
        want.values().sum::<usize>()
    );
}

#[test]
fn a_replaced_file_is_read_again_with_a_warning() {
    let dir = tmp("replace");
    let data = dir.join("data");
    let cp = dir.join("checkpoint.json");
    let t = template();
    let path = hour_path(&data, 10);
    write_blob(&path, &(0..5).map(|i| record(&t, i)).collect::<Vec<_>>(), 0);
    let (first, _, _) = run(&data, &cp);
    assert_eq!(first.len(), 30);
    // The same path now holds another hour's blob (a re-sync): nothing of it is lost.
    write_blob(
        &path,
        &(100..103).map(|i| record(&t, i)).collect::<Vec<_>>(),
        0,
    );
    let (second, err, code) = run(&data, &cp);
    assert_eq!(code, Some(0));
    assert_eq!(second.len(), 18, "{err}");
    assert!(err.contains("read again from its start"), "{err}");
}

#[test]
fn checkpoint_refuses_stdin_and_bad_checkpoint_files() {
    let dir = tmp("refuse");
    let out = bin()
        .args([
            "process",
            "-",
            "--checkpoint",
            dir.join("cp.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot remember how far stdin"));
    std::fs::write(dir.join("cp.json"), "not json").unwrap();
    let out = bin()
        .args([
            "process",
            dir.to_str().unwrap(),
            "--checkpoint",
            dir.join("cp.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cp.json") && err.contains("delete it"),
        "{err}"
    );
}

#[test]
fn an_hour_of_growth_reads_each_byte_about_once() {
    use nsgflow::checkpoint::{process_file, Checkpoint, FileRun};
    use nsgflow::engine::{Engine, EventHandler};
    use nsgflow::event::FlowEvent;
    use nsgflow::output::DeadLetterWriter;

    struct Count(usize);
    impl EventHandler for Count {
        fn event(&mut self, _: &FlowEvent<'_>) {
            self.0 += 1;
        }
    }
    let hour = |name: &str, cut_every: usize| {
        let dir = tmp(name);
        let path = hour_path(&dir, 10);
        let t = template();
        let (mut engine, mut dead) = (Engine::default(), DeadLetterWriter::new(None));
        let mut cp = Checkpoint::default();
        let (mut buf, mut read, mut events) = (Vec::new(), 0usize, Count(0));
        for minute in 0..60 {
            let records: Vec<String> = (0..=minute).map(|i| record(&t, i)).collect();
            // Some runs catch the blob mid-write (the last one never: the hour is complete).
            let cut = cut_every > 0 && minute % cut_every == 3 && minute < 59;
            write_blob(&path, &records, if cut { 25 } else { 0 });
            let run = process_file(
                &mut engine,
                &mut cp,
                &path,
                &mut buf,
                &mut events,
                &mut dead,
            );
            assert!(matches!(run, Ok(FileRun::Read { .. })), "{run:?}");
            read += buf.len();
        }
        assert_eq!(events.0, 60 * 6, "{name}: every record exactly once");
        let size = std::fs::metadata(&path).unwrap().len() as usize;
        let ratio = read as f64 / size as f64;
        eprintln!("local folder, simulated hour ({name}): {read} bytes read for a {size}-byte blob: {ratio:.4}x");
        ratio
    };
    // A run a minute over an hour's blob reads each byte about once (the 2-byte `]}` again
    // each time). The identity check also reads the file's head (up to 4 KiB) on each run.
    assert!(hour("committed", 0) <= 1.05);
    // A run that catches a record mid-write reads that record again next time.
    assert!(hour("cut-every-7th", 7) <= 1.25);
}

/// Azure creates an hour blob as `{"records":[]}` before its first commit: plain `process`
/// reads it as a flow log with no records, and so must `--checkpoint`, on the first run and
/// once it has grown.
#[test]
fn an_empty_blob_is_a_flow_log_with_no_records() {
    let dir = tmp("empty-blob");
    let data = dir.join("data");
    let cp = dir.join("cp.json");
    write_blob(&hour_path(&data, 10), &[], 0);
    let (lines, stderr, code) = run(&data, &cp);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(lines.is_empty());
    assert!(!stderr.contains("not a flow log"), "{stderr}");
    let rec = record(&template(), 0);
    write_blob(&hour_path(&data, 10), std::slice::from_ref(&rec), 0);
    let (lines, stderr, code) = run(&data, &cp);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !lines.is_empty(),
        "the first record after the empty blob: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
