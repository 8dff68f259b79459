//! Sharded `tail` and cheap `--once` polling against the storage emulator (Azurite):
//! replicas `K/N` over 20 flow-log resources, the replica count changed from 3 to 4 in
//! the middle of an hour, every record read exactly once across all replicas; a moved
//! resource resumes from its old owner's checkpoint; `--once` runs skip the folder walk.

mod support;

use std::path::{Path, PathBuf};

use nsgflow::blob::client::{BlobClient, Counters};
use nsgflow::blob::config::AzureBlobConfig;
use nsgflow::blob::poll::{BlobSource, PollReport, SourceStats};
use nsgflow::blob::shard::Shard;

use support::azurite::Azurite;
use support::sink::{leaked_client as client, pipeline, SharedBuf};
use support::writer::{count_events, BlobWriter, Hour, Kind, Rng};

fn tmpdir(name: &str) -> PathBuf {
    support::sink::tmpdir("shard", name)
}

/// 20 NSGs, one NIC each, with their own resource folder.
fn resources(hour: Hour) -> Vec<BlobWriter> {
    (0..20)
        .map(|i| {
            let mac = format!("00224800{i:04X}");
            let mut w = BlobWriter::new(Kind::Nsg, hour, &mac, 10_000);
            w.blob = format!(
                "resourceId={}/{}/macAddress={mac}/PT1H.json",
                resource(i),
                hour.path()
            );
            w
        })
        .collect()
}

fn resource(i: usize) -> String {
    format!("/SUBSCRIPTIONS/7C4E2B19-3F8A-4D6E-9B21-5A0C8E7F3D42/RESOURCEGROUPS/RG-{}/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-{i:02}", i % 4)
}

/// One `--once` run of replica `shard`: a fresh source and pipeline (a new process), polled
/// again while blobs changed under it (as `tail --once` does), then dropped.
struct Run {
    out: String,
    stats: SourceStats,
    messages: Vec<String>,
    requests: u64,
    metadata_bytes: u64,
    range_bytes: u64,
}

fn config(checkpoints: &Path, shard: Option<Shard>) -> AzureBlobConfig {
    AzureBlobConfig {
        checkpoint_dir: checkpoints.to_path_buf(),
        lookback_hours: 2,
        concurrency: 3,
        shard: shard.map(|s| s.to_string()),
        ..Default::default()
    }
}

fn run_once(c: &'static BlobClient, cfg: AzureBlobConfig) -> Run {
    let before = (
        Counters::get(&c.counters.requests),
        Counters::get(&c.counters.metadata_bytes),
        Counters::get(&c.counters.range_bytes),
    );
    let out = SharedBuf::default();
    let dead = SharedBuf::default();
    let mut pipeline = pipeline(Box::new(out.clone()), &dead);
    let mut source = BlobSource::new(c, cfg).unwrap();
    let mut messages = Vec::new();
    for _ in 0..4 {
        let r: PollReport = source.poll(&mut pipeline).unwrap();
        messages.extend(r.messages.iter().map(|m| m.to_string()));
        if r.unfinished == 0 {
            break;
        }
    }
    pipeline.flush().unwrap();
    source.save_all(&pipeline).unwrap();
    assert_eq!(dead.text(), "", "no dead letters");
    Run {
        out: out.text(),
        stats: source.stats.clone(),
        messages,
        requests: Counters::get(&c.counters.requests) - before.0,
        metadata_bytes: Counters::get(&c.counters.metadata_bytes) - before.1,
        range_bytes: Counters::get(&c.counters.range_bytes) - before.2,
    }
}

/// The resource index of an event's mac (`00224800000I`).
fn resource_of_mac(mac: &str) -> usize {
    usize::from_str_radix(&mac[8..], 16).unwrap()
}

fn folder(i: usize) -> String {
    format!("resourceId={}/", resource(i))
}

#[test]
fn three_replicas_then_four_read_every_record_exactly_once_over_a_simulated_hour() {
    let Some(az) = Azurite::start("shard_3_to_4") else {
        return;
    };
    let writer = client(&az);
    let mut rng = Rng::from_env_or_time();
    // The current hour, with lookback 2 the last one too, so a real rollover during the
    // test loses nothing.
    let hour = Hour::now_minus(0);
    let mut blobs = resources(hour);
    let cp = tmpdir("3to4");
    let replicas: Vec<&'static BlobClient> = (0..4).map(|_| client(&az)).collect();
    let mut all_out = String::new();
    let mut moved_seen = std::collections::BTreeSet::new();
    let mut rounds = 0;
    for minute in 0..60u64 {
        for w in blobs.iter_mut() {
            // Not every NIC logs every minute.
            if minute == 0 || rng.below(4) != 0 {
                let tuples = 1 + rng.below(6) as u32;
                w.minute(writer, minute, tuples);
            }
        }
        if minute % 6 != 5 {
            continue;
        }
        // A round of `--once` runs: 3 replicas for the first half hour, 4 after.
        let n: u32 = if minute < 30 { 3 } else { 4 };
        if n == 4 && rounds == 5 {
            // The change: a replica of the new plan started while one of the old runs
            // reads nothing, says why, and leaves the plan alone.
            let mut old =
                BlobSource::new(replicas[0], config(&cp, Some(Shard { index: 0, count: 3 })))
                    .unwrap();
            let old_out = SharedBuf::default();
            let mut pipeline = pipeline(Box::new(old_out.clone()), &SharedBuf::default());
            let r = old.poll(&mut pipeline).unwrap();
            assert!(!r.has_errors(), "{:?}", r.messages);
            let early = run_once(replicas[3], config(&cp, Some(Shard { index: 3, count: 4 })));
            assert_eq!(early.out, "", "a replica of 4 read while one of 3 ran");
            assert_eq!(early.stats.waits, 1);
            assert!(
                early
                    .messages
                    .iter()
                    .any(|m| m.contains("waits") && m.contains("0/3")),
                "{:?}",
                early.messages
            );
            // The old replica stops cleanly (its heartbeat goes); what it read counts.
            pipeline.flush().unwrap();
            old.save_all(&pipeline).unwrap();
            all_out.push_str(&old_out.text());
            drop(old); // stops cleanly: its heartbeat goes
        }
        rounds += 1;
        for k in 0..n {
            let run = run_once(
                replicas[k as usize],
                config(&cp, Some(Shard { index: k, count: n })),
            );
            assert!(
                run.messages.iter().all(|m| !m.starts_with("error")),
                "{:?}",
                run.messages
            );
            // A replica reads only the resources it owns under its N.
            let (seen, cut) = count_events(&run.out);
            assert_eq!(cut, 0);
            for (mac, _) in seen.keys() {
                let i = resource_of_mac(mac);
                assert_eq!(
                    Shard::owner(&folder(i), n),
                    k,
                    "replica {k}/{n} read NSG-{i:02}"
                );
                if n == 4 && Shard::owner(&folder(i), 3) != k {
                    moved_seen.insert(i);
                }
            }
            assert!(
                run.stats.resources_owned > 0,
                "replica {k}/{n} owns nothing"
            );
            all_out.push_str(&run.out);
        }
    }
    assert_eq!(rounds, 10);
    // The plan is now 4 replicas.
    let plan = std::fs::read_to_string(cp.join("state/shards.json")).unwrap();
    assert!(plan.contains("\"replicas\":4"), "{plan}");
    // Exactly once, across all replicas and the change.
    let (seen, cut) = count_events(&all_out);
    assert_eq!(cut, 0);
    let mut expected = 0;
    for w in &blobs {
        for key in w.events.keys() {
            expected += 1;
            assert_eq!(seen.get(key), Some(&1), "event {key:?} of {}", w.blob);
        }
    }
    assert_eq!(seen.len(), expected, "events that were never written");
    assert_eq!(seen.values().sum::<u32>() as usize, expected);
    // Some resources moved to the new replica and were read there after the change.
    let moved: Vec<usize> = (0..20)
        .filter(|&i| Shard::owner(&folder(i), 3) != Shard::owner(&folder(i), 4))
        .collect();
    assert!(!moved.is_empty());
    assert!(moved.iter().all(|&i| Shard::owner(&folder(i), 4) == 3));
    assert_eq!(moved_seen.into_iter().collect::<Vec<_>>(), moved);
    eprintln!(
        "SHARD: 20 resources, 10 rounds (5 of N=3, 5 of N=4), {expected} events each read once; moved at 3->4: {moved:?}"
    );
    std::fs::remove_dir_all(&cp).unwrap();
}

#[test]
fn a_moved_resource_resumes_from_its_old_owners_checkpoint() {
    let Some(az) = Azurite::start("shard_resume") else {
        return;
    };
    let writer = client(&az);
    let hour = Hour::now_minus(0);
    let mut blobs = resources(hour);
    let cp = tmpdir("resume");
    for minute in 0..10 {
        for w in blobs.iter_mut() {
            w.minute(writer, minute, 4);
        }
    }
    for k in 0..3 {
        run_once(client(&az), config(&cp, Some(Shard { index: k, count: 3 })));
    }
    // Bytes committed so far per resource, and the events already out.
    let read_before: Vec<u64> = blobs.iter().map(|w| w.committed_bytes).collect();
    let old_events: Vec<usize> = blobs.iter().map(|w| w.events.len()).collect();
    for minute in 10..15 {
        for w in blobs.iter_mut() {
            w.minute(writer, minute, 4);
        }
    }
    // The new replica 3/4 owns exactly the resources that moved.
    let c = client(&az);
    let run = run_once(c, config(&cp, Some(Shard { index: 3, count: 4 })));
    let moved: Vec<usize> = (0..20)
        .filter(|&i| Shard::owner(&folder(i), 4) == 3)
        .collect();
    assert!(!moved.is_empty());
    assert_eq!(run.stats.resources_owned, moved.len() as u64);
    let (seen, _) = count_events(&run.out);
    let mut want = 0;
    for &i in &moved {
        let w = &blobs[i];
        for (key, minute) in &w.events {
            let times = seen.get(key).copied().unwrap_or(0);
            if *minute < 10 {
                assert_eq!(
                    times, 0,
                    "{key:?} of minute {minute} was read again by the new owner"
                );
            } else {
                assert_eq!(times, 1, "{key:?} of minute {minute} was not read");
                want += 1;
            }
        }
        assert!(old_events[i] > 0);
    }
    assert_eq!(seen.len(), want);
    // Only the new blocks were downloaded: the new records and each blob's 2-byte tail.
    let new_bytes: u64 = moved
        .iter()
        .map(|&i| blobs[i].committed_bytes - read_before[i] + 2)
        .sum();
    assert_eq!(run.range_bytes, new_bytes);
    assert_eq!(run.stats.blocks_read, 5 * moved.len() as u64);
    std::fs::remove_dir_all(&cp).unwrap();
}

/// Requests and listing bytes of `--once` runs over 20 resources (2 hours listed), with
/// the folder walk on every run (rediscovery due: what each run did before the walk was
/// stored) and with the stored walk. Prints the README's figures.
#[test]
fn once_runs_skip_the_folder_walk_until_rediscovery_is_due() {
    let Some(az) = Azurite::start("polling") else {
        return;
    };
    let writer = client(&az);
    let hour = Hour::now_minus(0);
    let mut blobs = resources(hour);
    for w in blobs.iter_mut() {
        w.minute(writer, 0, 4);
    }
    let walk_every_run = tmpdir("walk");
    let stored = tmpdir("stored");
    let cfg = |dir: &Path, rediscover: f64| AzureBlobConfig {
        rediscover_secs: rediscover,
        ..config(dir, None)
    };
    // First runs: both walk and read everything.
    let a = run_once(client(&az), cfg(&walk_every_run, 0.0));
    let b = run_once(client(&az), cfg(&stored, 3600.0));
    assert_eq!((a.stats.walks, b.stats.walks), (1, 1));
    assert_eq!(a.out.lines().count(), b.out.lines().count());
    let mut table = Vec::new();
    for (what, append) in [
        ("idle (nothing new)", false),
        ("one new minute per blob", true),
    ] {
        if append {
            for w in blobs.iter_mut() {
                w.minute(writer, 1, 4);
            }
        }
        let before = run_once(client(&az), cfg(&walk_every_run, 0.0));
        let after = run_once(client(&az), cfg(&stored, 3600.0));
        assert_eq!(before.stats.walks, 1);
        assert_eq!(
            after.stats.walks, 0,
            "the stored walk was not used: {:?}",
            after.messages
        );
        assert_eq!(before.out.lines().count(), after.out.lines().count());
        assert_eq!(after.range_bytes, before.range_bytes);
        // With the stored walk a run lists only the recent hours of each folder (2 x 20),
        // plus a block list per changed blob.
        let changed = after.stats.blobs_changed;
        // (one Get Block List per changed blob, one ranged Get per batch).
        assert_eq!(after.requests, 2 * 20 + changed + after.stats.checkpoints);
        assert!(before.requests > after.requests + 20);
        assert!(before.metadata_bytes > after.metadata_bytes);
        table.push(format!(
            "| {what} | {} requests, {} B XML | {} requests, {} B XML | {} B |",
            before.requests,
            before.metadata_bytes,
            after.requests,
            after.metadata_bytes,
            after.range_bytes
        ));
    }
    eprintln!("POLLING: 20 resources, lookback_hours 2, one --once run each:\n| run | walk every run (before) | stored walk (after) | blob bytes fetched |\n|---|---|---|---|\n{}", table.join("\n"));

    // A damaged or foreign stored walk is reported, and a fresh walk replaces it.
    let file = stored.join("state/resources.json");
    std::fs::write(&file, "{\"version\":1,\"account\":").unwrap();
    let r = run_once(client(&az), cfg(&stored, 3600.0));
    assert_eq!((r.stats.walks, r.stats.bad_state_files), (1, 1));
    assert!(
        r.messages.iter().any(|m| m.starts_with("warning")
            && m.contains("resources.json")
            && m.contains("damaged")),
        "{:?}",
        r.messages
    );
    let again = run_once(client(&az), cfg(&stored, 3600.0));
    assert_eq!((again.stats.walks, again.stats.bad_state_files), (0, 0));
    // Another prefix: the stored walk is foreign to it.
    let other = AzureBlobConfig {
        prefix: "resourceId=/SUBSCRIPTIONS/".into(),
        ..cfg(&stored, 3600.0)
    };
    let r = run_once(client(&az), other);
    assert_eq!((r.stats.walks, r.stats.bad_state_files), (1, 1));
    assert!(
        r.messages.iter().any(|m| m.contains("prefix")),
        "{:?}",
        r.messages
    );
    let _ = std::fs::remove_dir_all(&walk_every_run);
    let _ = std::fs::remove_dir_all(&stored);
}

/// `nsgflow tail --once --shard K/N` as a user runs it (the binary, the flag, the env var).
fn tail(az: &Azurite, args: &[&str], shard_env: Option<&str>) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_nsgflow"));
    c.arg("tail").args(args);
    for v in [
        "AZURE_STORAGE_ACCOUNT",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
    ] {
        c.env_remove(v);
    }
    c.env("AZURE_STORAGE_CONNECTION_STRING", az.connection_string());
    match shard_env {
        Some(s) => c.env("NSGFLOW_SHARD", s),
        None => c.env_remove("NSGFLOW_SHARD"),
    };
    c.output().unwrap()
}

#[test]
fn the_binary_takes_the_shard_from_the_flag_or_nsgflow_shard_and_says_which_it_is() {
    let Some(az) = Azurite::start("shard_cli") else {
        return;
    };
    let writer = client(&az);
    let mut blobs = resources(Hour::now_minus(0));
    for w in blobs.iter_mut() {
        w.minute(writer, 0, 3);
    }
    let cp = tmpdir("cli");
    let cp_arg = cp.to_str().unwrap();
    let args = ["--once", "--checkpoint-dir", cp_arg];
    let mut all = String::new();
    for round in 0..2 {
        if round == 1 {
            for w in blobs.iter_mut() {
                w.minute(writer, 1, 3);
            }
        }
        let by_flag = tail(&az, &[&args[..], &["--shard", "0/2"]].concat(), Some("1/2"));
        let by_env = tail(&az, &args, Some("nsgflow-tail-1/2"));
        for (k, o) in [by_flag, by_env].iter().enumerate() {
            let err = String::from_utf8_lossy(&o.stderr);
            eprintln!("replica {k}/2, run {round}: {err}");
            assert!(o.status.success(), "{err}");
            assert!(err.contains(&format!("azure: replica {k}/2,")), "{err}");
            // The first run of each walks; the second uses the stored walk.
            let walks = if round == 0 && k == 0 { 1 } else { 0 };
            assert!(err.contains(&format!("{walks} folder walks")), "{err}");
            all.push_str(&String::from_utf8_lossy(&o.stdout));
        }
    }
    let (seen, _) = count_events(&all);
    let expected: usize = blobs.iter().map(|w| w.events.len()).sum();
    assert_eq!(seen.len(), expected);
    assert!(seen.values().all(|&n| n == 1));
    // A bad value says where it came from and what to write.
    let o = tail(&az, &args, Some("2/2"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("NSGFLOW_SHARD") && err.contains("K = 2") && err.contains("K/N"),
        "{err}"
    );
    let o = tail(&az, &[&args[..], &["--shard", "1"]].concat(), None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--shard") && err.contains("has no /"),
        "{err}"
    );
    std::fs::remove_dir_all(&cp).unwrap();
}
