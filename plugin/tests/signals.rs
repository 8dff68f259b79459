//! SIGTERM mid-stream: nsgflow, aggregating a stream on stdin that has not ended, is told
//! to stop; every tuple it read must be in the aggregates it writes before exiting.

#![cfg(unix)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    std::fs::read_to_string(p).expect("fixture")
}

/// Sums `tuples` (1 per event line when not aggregating), packets and bytes of flat lines.
fn totals(stdout: &str) -> (u64, u64, u64) {
    let mut t = (0, 0, 0);
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        t.0 += v.get("tuples").and_then(|x| x.as_u64()).unwrap_or(1);
        t.1 += n("packets_src_to_dst") + n("packets_dst_to_src");
        t.2 += n("bytes_src_to_dst") + n("bytes_dst_to_src");
    }
    t
}

fn stream() -> String {
    let mut s = String::new();
    for name in ["nsg-v2-blob.json", "vnet-blob.json", "nsg-v1-blob.json"] {
        s.push_str(fixture(name).trim_end());
        s.push('\n');
    }
    s
}

#[test]
fn sigterm_mid_stream_flushes_every_tuple() {
    let input = stream();
    // The reference: the same stream, to its end, one event per tuple.
    let mut reference = Command::new(env!("CARGO_BIN_EXE_nsgflow"))
        .args(["process", "-", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    reference
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = reference.wait_with_output().unwrap();
    let want = totals(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(want.0, 23 + 30 + 17);

    let mut child = Command::new(env!("CARGO_BIN_EXE_nsgflow"))
        .args(["process", "-", "--aggregate", "--window", "1h"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // Stdin stays open: nsgflow is mid-stream, waiting for more. Give it time to read.
    std::thread::sleep(Duration::from_millis(2000));
    // `kill` as the shell's builtin: no libc, no procps needed.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .expect("sh");
    assert!(status.success());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let code = child.wait().unwrap().code();
    drop(stdin);
    assert_eq!(code, Some(143), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    assert!(stderr.contains("70 tuples"), "{stderr}");
    assert!(stdout.contains(r#""flush":"shutdown""#), "{stdout}");
    let lines = stdout.lines().count() as u64;
    assert!(lines > 0 && lines < want.0, "aggregated: {lines} lines");
    assert_eq!(totals(&stdout), want, "tuples, packets, bytes in == out");
}
