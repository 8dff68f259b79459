//! `nsgflow tail` run as a user runs it, against Azurite: killed with SIGKILL at random
//! points and restarted; throttled and failing storage; SAS sign-in; errors that keep
//! secrets out.

mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use nsgflow::blob::auth::{Credentials, AZURITE_KEY};
use nsgflow::blob::client::BlobClient;
use nsgflow::blob::retry::RetryPolicy;

use support::azurite::{free_port, Azurite};
use support::proxy::{Fault, FaultProxy};
use support::writer::{count_events, BlobWriter, Hour, Kind, Rng};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nsgflow-tail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn client(az: &Azurite) -> BlobClient {
    az.client()
}

/// `nsgflow tail` with no Azure variables from the outside world.
fn tail(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nsgflow"));
    c.arg("tail").args(args);
    for v in [
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
    ] {
        c.env_remove(v);
    }
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("config.yaml");
    std::fs::write(&p, body).unwrap();
    p
}

/// Records (mac, minute) whose events came out more than once.
fn duplicated_records(
    seen: &std::collections::BTreeMap<(String, u32), u32>,
    writers: &[BlobWriter],
) -> usize {
    let mut recs = std::collections::BTreeSet::new();
    for w in writers {
        for (key, minute) in &w.events {
            if seen.get(key).copied().unwrap_or(0) > 1 {
                recs.insert((w.mac.clone(), *minute));
            }
        }
    }
    recs.len()
}

#[test]
fn killed_with_sigkill_at_random_points_and_restarted_it_loses_nothing() {
    let Some(az) = Azurite::start("crash") else {
        return;
    };
    let containers = client(&az);
    let dir = tmpdir("crash");
    let mut rng = Rng::from_env_or_time();
    let hour = Hour::now_minus(0);
    let mut writers = vec![
        BlobWriter::new(Kind::Nsg, hour, "00224884D0E2", 10_000),
        BlobWriter::new(Kind::Nsg, hour, "0022489A4C17", 20_000),
        BlobWriter::new(Kind::Vnet, hour, "6045BDA1C3F2", 30_000),
    ];
    // Every resource folder exists before the first run: a run stores the folders it walked,
    // and the next runs use them until rediscovery is due (an hour), as in production.
    for w in writers.iter_mut() {
        w.minute(&containers, 0, 5);
    }
    // One committed block per record and a checkpoint per block (--batch-bytes 1), so a
    // kill can repeat at most one record.
    let cp = dir.join("checkpoints");
    let args = [
        "--checkpoint-dir",
        cp.to_str().unwrap(),
        "--lookback-hours",
        "3",
        "--poll-interval",
        "0.02",
        "--batch-bytes",
        "1",
        "--quiet",
    ];
    let writing = Arc::new(AtomicBool::new(true));
    let conn = az.connection_string();
    let writer_thread = {
        let writing = writing.clone();
        let seed = rng.next();
        std::thread::spawn(move || {
            let c = BlobClient::new(
                Credentials::from_connection_string(&conn).unwrap(),
                RetryPolicy::default(),
                Duration::from_secs(20),
            );
            let mut rng = Rng(seed);
            for minute in 1..45 {
                for w in writers.iter_mut() {
                    let tuples = 2 + rng.below(8) as u32;
                    w.minute(&c, minute, tuples);
                }
                std::thread::sleep(Duration::from_millis(rng.below(40)));
            }
            writing.store(false, Ordering::Relaxed);
            writers
        })
    };
    let mut outputs = Vec::new();
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while writing.load(Ordering::Relaxed) && Instant::now() < deadline {
        let out = dir.join(format!("run-{}.ndjson", outputs.len()));
        let mut child = tail(&args)
            .env("AZURE_STORAGE_CONNECTION_STRING", az.connection_string())
            .stdout(File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        outputs.push(out);
        std::thread::sleep(Duration::from_millis(20 + rng.below(300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    let writers = writer_thread.join().unwrap();
    // A last, undisturbed one-shot run reads what is left.
    let out = dir.join("run-final.ndjson");
    let status = tail(&[&args[..], &["--once"]].concat())
        .env("AZURE_STORAGE_CONNECTION_STRING", az.connection_string())
        .stdout(File::create(&out).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    outputs.push(out);

    let mut all = String::new();
    let mut cut_lines = 0;
    for o in &outputs {
        let t = std::fs::read_to_string(o).unwrap();
        let (_, cut) = count_events(&t);
        cut_lines += cut;
        // Only whole lines count (a line cut by the kill is not an event).
        let whole = match t.rfind('\n') {
            Some(i) => &t[..=i],
            None => "",
        };
        all.push_str(whole);
    }
    let (seen, _) = count_events(&all);
    let mut expected = 0;
    for w in &writers {
        for key in w.events.keys() {
            expected += 1;
            assert!(
                seen.contains_key(key),
                "lost {key:?} of {} ({kills} kills)",
                w.blob
            );
        }
    }
    assert_eq!(seen.len(), expected);
    let dup_records = duplicated_records(&seen, &writers);
    eprintln!(
        "CRASH: {kills} SIGKILLs, {expected} events, {dup_records} records repeated, {cut_lines} lines cut mid-write"
    );
    assert!(kills >= 3, "the writer finished too fast to test anything");
    assert!(
        dup_records <= kills,
        "{dup_records} records repeated after {kills} kills: more than one unflushed batch per kill"
    );
    // No temp files are left for long: each start cleans those of killed runs.
    let tmp = std::fs::read_dir(&cp)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(tmp, 0);
}

fn faults(n: u64) -> Fault {
    match n {
        2 => Fault::Stall(Duration::from_millis(1500)),
        _ if n % 4 == 1 => Fault::Status(503),
        _ if n % 7 == 3 => Fault::Status(500),
        _ if n % 9 == 6 => Fault::Drop,
        _ if n % 13 == 8 => Fault::Status(429),
        _ => Fault::Pass,
    }
}

#[test]
fn throttling_server_errors_timeouts_and_dropped_connections_are_retried() {
    let Some(az) = Azurite::start("retries") else {
        return;
    };
    let c = client(&az);
    let dir = tmpdir("retries");
    let hour = Hour::now_minus(0);
    // Five blobs for two workers: the bound on concurrency shows.
    let mut writers = [
        BlobWriter::new(Kind::Nsg, hour, "00224884D0E2", 10_000),
        BlobWriter::new(Kind::Nsg, hour, "0022489A4C17", 20_000),
        BlobWriter::new(Kind::Nsg, hour, "000D3A7C19B2", 40_000),
        BlobWriter::new(Kind::Vnet, hour, "6045BDA1C3F2", 30_000),
        BlobWriter::new(Kind::Vnet, hour, "000D3AAE51C3", 50_000),
    ];
    for minute in 0..12 {
        for w in writers.iter_mut() {
            w.minute(&c, minute, 3);
        }
    }
    let proxy = FaultProxy::start(az.port, faults);
    let cfg = write_config(
        &dir,
        "azure_blob:\n  timeout_secs: 1\n  retries: 8\n  backoff_ms: 10\n  lookback_hours: 3\n  concurrency: 2\n",
    );
    let out: Output = tail(&[
        "--once",
        "--config",
        cfg.to_str().unwrap(),
        "--checkpoint-dir",
        dir.join("cp").to_str().unwrap(),
        "--endpoint",
        &format!("http://127.0.0.1:{}/devstoreaccount1", proxy.port),
    ])
    .env("AZURE_STORAGE_ACCOUNT", "devstoreaccount1")
    .env("AZURE_STORAGE_KEY", AZURITE_KEY)
    .output()
    .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let (seen, _) = count_events(&text(&out.stdout));
    let expected: usize = writers.iter().map(|w| w.events.len()).sum();
    assert_eq!(seen.len(), expected, "{err}");
    assert!(seen.values().all(|&n| n == 1), "duplicates: {err}");
    let injected = proxy.faults.load(Ordering::Relaxed);
    assert!(injected >= 5, "only {injected} faults injected");
    let retries: u64 = err
        .split(" retries)")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no retry count in: {err}"));
    assert_eq!(retries, injected, "{err}");
    // Bounded concurrency: never more requests at once than `concurrency: 2`. (A request
    // whose client timed out may still be held by the proxy: allow for that one.)
    let most = proxy.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=3).contains(&most), "{most} requests at once");
    assert!(!err.contains(AZURITE_KEY));
}

#[test]
fn an_unreachable_endpoint_gives_up_after_the_retries_and_says_so_without_secrets() {
    let dir = tmpdir("closed");
    let port = free_port(); // nothing listens there
    let cfg = write_config(&dir, "azure_blob:\n  retries: 2\n  backoff_ms: 10\n");
    let started = Instant::now();
    let out = tail(&[
        "--once",
        "--config",
        cfg.to_str().unwrap(),
        "--checkpoint-dir",
        dir.join("cp").to_str().unwrap(),
    ])
    .env(
        "AZURE_STORAGE_CONNECTION_STRING",
        format!("AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1"),
    )
    .output()
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("gave up after 2 retries"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(
        err.contains("List Blobs in insights-logs-networksecuritygroupflowevent"),
        "{err}"
    );
    assert!(
        !err.contains(AZURITE_KEY) && !err.contains("AccountKey"),
        "{err}"
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn missing_credentials_say_what_to_set() {
    let out = tail(&["--once"]).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("AZURE_STORAGE_CONNECTION_STRING"), "{err}");
}

/// An account SAS for Azurite (service b, resource types sco, read and list), signed as
/// the service checks it for version 2019-12-12.
fn account_sas() -> String {
    let (sp, ss, srt, se, spr, sv) = (
        "rl",
        "b",
        "sco",
        "2099-01-01T00:00:00Z",
        "https,http",
        "2019-12-12",
    );
    let sts = format!("devstoreaccount1\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n");
    let key = base64::engine::general_purpose::STANDARD
        .decode(AZURITE_KEY)
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(sts.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let enc = |s: &str| {
        s.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
            .replace(':', "%3A")
            .replace(',', "%2C")
    };
    format!(
        "sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={}&spr={}&sig={}",
        enc(se),
        enc(spr),
        enc(&sig)
    )
}

#[test]
fn a_sas_token_signs_in_and_never_appears_in_messages() {
    let Some(az) = Azurite::start("sas") else {
        return;
    };
    let c = client(&az);
    let dir = tmpdir("sas");
    let mut w = BlobWriter::new(Kind::Nsg, Hour::now_minus(0), "00224884D0E2", 10_000);
    for minute in 0..3 {
        w.minute(&c, minute, 4);
    }
    let sas = account_sas();
    let run = |sas: &str| {
        tail(&[
            "--once",
            "--checkpoint-dir",
            dir.join("cp").to_str().unwrap(),
        ])
        .env("AZURE_STORAGE_ACCOUNT", "devstoreaccount1")
        .env("AZURE_STORAGE_SAS_TOKEN", format!("?{sas}"))
        .args(["--endpoint", &az.endpoint()])
        .output()
        .unwrap()
    };
    let out = run(&sas);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let (seen, _) = count_events(&text(&out.stdout));
    assert_eq!(seen.len(), 12, "{err}");
    // A SAS with a wrong signature: refused, and the message names the call and what to
    // check, but not the token.
    let bad = sas.replace("sig=", "sig=AAAA");
    let out = run(&bad);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("HTTP 403") && err.contains("SAS token"),
        "{err}"
    );
    let sig = bad.split("sig=").nth(1).unwrap();
    assert!(
        !err.contains(sig) && !err.contains("sig=") && !err.contains("sv=2019"),
        "{err}"
    );
}

/// Sums the `tuples` of whole aggregate lines by source port (every tuple the writers
/// make has its own source port, so each key holds one tuple).
fn tuples_by_port(ndjson: &str) -> std::collections::BTreeMap<u32, u64> {
    let mut seen = std::collections::BTreeMap::new();
    for line in ndjson.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {e}: {line}"));
        let port = v["src_port"].as_u64().expect("src_port") as u32;
        *seen.entry(port).or_insert(0) += v["tuples"].as_u64().expect("tuples");
    }
    seen
}

#[test]
fn aggregating_tail_killed_with_sigkill_loses_no_tuple() {
    let Some(az) = Azurite::start("crash-agg") else {
        return;
    };
    let containers = client(&az);
    let dir = tmpdir("crash-agg");
    let mut rng = Rng::from_env_or_time();
    let hour = Hour::now_minus(0);
    let mut writers = vec![
        BlobWriter::new(Kind::Nsg, hour, "00224884D0E2", 10_000),
        BlobWriter::new(Kind::Nsg, hour, "0022489A4C17", 20_000),
        BlobWriter::new(Kind::Vnet, hour, "6045BDA1C3F2", 30_000),
    ];
    // Every resource folder exists before the first run (see the test above).
    for w in writers.iter_mut() {
        w.minute(&containers, 0, 5);
    }
    let cp = dir.join("checkpoints");
    let args = [
        "--aggregate",
        "--checkpoint-dir",
        cp.to_str().unwrap(),
        "--lookback-hours",
        "3",
        "--poll-interval",
        "0.02",
        "--batch-bytes",
        "1",
        "--quiet",
    ];
    let writing = Arc::new(AtomicBool::new(true));
    let conn = az.connection_string();
    let writer_thread = {
        let (writing, seed, mut writers) = (writing.clone(), rng.next(), writers);
        std::thread::spawn(move || {
            let c = BlobClient::new(
                Credentials::from_connection_string(&conn).unwrap(),
                RetryPolicy::default(),
                Duration::from_secs(20),
            );
            let mut rng = Rng(seed);
            for minute in 1..45 {
                for w in writers.iter_mut() {
                    w.minute(&c, minute, 2 + rng.below(8) as u32);
                }
                // Slow enough that a run lives to read, emit closed windows and hold others.
                std::thread::sleep(Duration::from_millis(100 + rng.below(100)));
            }
            writing.store(false, Ordering::Relaxed);
            writers
        })
    };
    let mut outputs = Vec::new();
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while writing.load(Ordering::Relaxed) && Instant::now() < deadline {
        let out = dir.join(format!("run-{}.ndjson", outputs.len()));
        let mut child = tail(&args)
            .env("AZURE_STORAGE_CONNECTION_STRING", az.connection_string())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(dir.join(format!("run-{}.err", outputs.len()))).unwrap())
            .spawn()
            .unwrap();
        outputs.push(out);
        std::thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        child.kill().unwrap(); // SIGKILL: open windows are lost, held checkpoints too
        child.wait().unwrap();
        kills += 1;
    }
    let writers = writer_thread.join().unwrap();
    // A last, undisturbed one-shot run reads what is left and closes every window.
    let out = dir.join("run-final.ndjson");
    let status = tail(&[&args[..], &["--once"]].concat())
        .env("AZURE_STORAGE_CONNECTION_STRING", az.connection_string())
        .stdout(File::create(&out).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    outputs.push(out);
    let mut all = String::new();
    for o in &outputs {
        let t = std::fs::read_to_string(o).unwrap();
        // Only whole lines count (a line cut by the kill is not an aggregate).
        all.push_str(t.rfind('\n').map_or("", |i| &t[..=i]));
    }
    let seen = tuples_by_port(&all);
    let sizes: Vec<u64> = outputs
        .iter()
        .map(|o| std::fs::metadata(o).map_or(0, |m| m.len()))
        .collect();
    eprintln!("output bytes per run: {sizes:?}");
    let mut expected = 0;
    let mut dup_records = std::collections::BTreeSet::new();
    for w in &writers {
        for ((_, port), minute) in &w.events {
            expected += 1;
            let n = seen.get(port).copied().unwrap_or(0);
            assert!(
                n >= 1,
                "lost the tuple of port {port} in {} ({kills} kills)",
                w.blob
            );
            if n > 1 {
                dup_records.insert((w.mac.clone(), *minute));
            }
        }
    }
    assert_eq!(seen.len(), expected, "aggregates for tuples never written");
    // The documented bound: a kill repeats at most the records whose checkpoints were
    // held back, those read since the oldest open window opened: per blob, about
    // (window + allowed_lateness) / 1 minute + 2 records = 8 with the defaults.
    let bound = kills * writers.len() * 8;
    eprintln!(
        "CRASH (aggregating): {kills} SIGKILLs, {expected} tuples, {} records repeated (bound {bound})",
        dup_records.len()
    );
    assert!(kills >= 3, "the writer finished too fast to test anything");
    assert!(
        dup_records.len() <= bound,
        "{} records repeated",
        dup_records.len()
    );
}
