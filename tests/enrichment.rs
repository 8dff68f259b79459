//! Reputation and topology: every FlowType from a table, private space never malicious,
//! the feed fixtures in every format, and hot reload under load.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nsgflow::event::Enricher;
use nsgflow::reputation::{
    reload, FeedConfig, FeedFormat, Reputation, ReputationConfig, ReputationTable, SharedTable,
    Watcher,
};
use nsgflow::topology::FlowType;
use nsgflow_tests::{enrichment_config, enrichment_dir, fixture, run_text_with};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The FlowType and `malicious` of a flow between `src` and `dst`.
fn verdict(en: &mut Enricher, src: &str, dst: &str) -> (FlowType, bool) {
    let (s, d) = (ip(src), ip(dst));
    let (ls, ld) = (en.lookup(s), en.lookup(d));
    let src_ep = en.endpoint(s, src, 50000, ls);
    let dst_ep = en.endpoint(d, dst, 443, ld);
    let (malicious, ft) = en.verdicts(&src_ep, &dst_ep);
    (ft.unwrap(), malicious.unwrap())
}

#[test]
fn every_flow_type_from_a_table() {
    let mut en = enrichment_config().enricher().unwrap();
    use FlowType::*;
    let table = [
        // same VNet (different subnets count as the same VNet)
        ("10.20.1.4", "10.20.3.6", IntraVNet, false),
        ("fd00:20:2::5", "fd00:20:3::6", IntraVNet, false),
        // two VNets (peered or through the hub)
        ("10.20.3.6", "10.21.0.4", InterVNet, false),
        ("172.16.4.10", "10.20.1.4", InterVNet, false),
        // on-premises behind the site-to-site gateway, either direction
        ("192.168.50.23", "172.16.4.10", S2S, false),
        ("10.20.1.4", "192.168.10.4", S2S, false),
        // VPN clients
        ("100.64.33.19", "10.20.2.5", P2S, false),
        // Microsoft: a service tag, or the platform addresses
        ("10.20.2.5", "20.60.140.36", AzurePublic, false),
        ("10.20.3.6", "2603:1030:40c:7::1a", AzurePublic, false),
        ("10.20.3.6", "168.63.129.16", AzurePublic, false),
        ("10.20.3.6", "169.254.169.254", AzurePublic, false),
        // the rest of the internet
        ("10.20.2.5", "8.8.4.4", ExternalPublic, false),
        ("1.1.1.1", "172.16.4.10", ExternalPublic, false),
        // listed public side, either direction
        ("45.148.10.62", "10.20.1.4", MaliciousFlow, true),
        ("10.20.1.4", "193.163.125.14", MaliciousFlow, true),
        ("185.191.171.35", "172.16.4.10", MaliciousFlow, true),
        // private (or reserved) space no VNet claims
        ("10.99.0.1", "10.20.1.4", UnknownPrivate, false),
        ("10.20.1.4", "100.64.99.1", UnknownPrivate, false),
        ("198.51.100.77", "10.20.1.4", UnknownPrivate, false),
        // no side in a VNet
        ("8.8.8.8", "1.1.1.1", Unknown, false),
        ("fe80::1", "ff02::1:2", Unknown, false),
        ("45.148.10.62", "192.168.50.23", Unknown, true),
    ];
    let mut seen = std::collections::HashSet::new();
    for (src, dst, want, malicious) in table {
        assert_eq!(
            verdict(&mut en, src, dst),
            (want, malicious),
            "{src} -> {dst}"
        );
        seen.insert(want);
    }
    assert_eq!(seen.len(), FlowType::ALL.len(), "every FlowType is covered");
}

#[test]
fn private_space_is_never_malicious() {
    // firehol_level1 and the Spamhaus fixture list 10.0.0.0/8, 172.16.0.0/12,
    // 192.168.0.0/16, 100.64.0.0/10 and 0.0.0.0/8; own-intel.csv lists documentation ranges.
    let mut en = enrichment_config().enricher().unwrap();
    for a in [
        "10.20.1.4",
        "10.99.0.1",
        "172.16.4.10",
        "192.168.50.23",
        "100.64.33.19",
        "0.1.2.3",
        "127.0.0.1",
        "224.0.0.5",
        "198.51.100.7",
        "2001:db8:bad:1::66",
        "::ffff:10.1.2.3",
    ] {
        assert_eq!(en.lookup(ip(a)), None, "{a} must not be listed");
    }
    assert!(en.lookup(ip("45.148.10.62")).is_some());
    assert!(en.lookup(ip("::ffff:45.148.10.62")).is_some());
    // A whole run over a fixture: no private side is ever listed.
    let run = run_text_with(
        "vnet-blob.json",
        &std::fs::read_to_string(fixture("vnet-blob.json")).unwrap(),
        nsgflow::encode::Format::Flat,
        &enrichment_config(),
    );
    for e in run.events() {
        for side in ["src", "dst"] {
            if e[format!("{side}_class")] != "public" {
                assert_eq!(e[format!("{side}_listed")], false, "{e}");
            }
        }
    }
}

#[test]
fn every_feed_fixture_parses_cleanly_with_its_guessed_format() {
    let cases = [
        ("firehol_level1.netset", FeedFormat::List, 12),
        ("compromised-ips.txt", FeedFormat::List, 3),
        ("ipsum.txt", FeedFormat::Ipsum, 4),
        ("drop_v4.json", FeedFormat::Spamhaus, 3),
        ("feodo-ipblocklist.csv", FeedFormat::FeodoCsv, 2),
        ("own-intel.csv", FeedFormat::Csv, 3),
    ];
    for (file, format, entries) in cases {
        let feed = FeedConfig::new("f", enrichment_dir().join(file));
        assert_eq!(feed.format_or_guess(), format, "{file}");
        let loaded = reload::load_feed(&feed).unwrap();
        assert_eq!(loaded.parsed.entries.len(), entries, "{file}");
        assert!(loaded.parsed.bad_lines.is_empty(), "{file}");
    }
    // The wrong format is an error that names the feed, the file and the first bad line.
    let mut feed = FeedConfig::new("drop", enrichment_dir().join("drop_v4.json"));
    feed.format = Some(FeedFormat::Ipsum);
    let err = reload::load_feed(&feed).unwrap_err();
    assert!(
        err.contains("feed `drop`") && err.contains("drop_v4.json") && err.contains("line 1"),
        "{err}"
    );
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nsgflow-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `text` to `path` through a rename, as feed updaters (and `curl -o x.tmp && mv`) do.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn reload_under_load_never_fails_or_blocks_a_lookup() {
    let dir = temp_dir("reload");
    let path = dir.join("level1.netset");
    // Version A lists 45.148.10.0/24, version B 80.82.77.0/24; a broken version lists nothing.
    let a = "# A\n45.148.10.0/24\n";
    let b = "# B\n80.82.77.0/24\n";
    let broken = "<html>503 Service Unavailable</html>\n";
    replace(&path, a);
    let feeds = vec![FeedConfig::new("level1", &path)];
    let loaded = reload::load_all(&feeds).unwrap();
    let shared = Arc::new(SharedTable::new(ReputationTable::build(&loaded)));
    let mut watcher = Watcher::new(feeds, loaded);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (shared, stop, path) = (shared.clone(), stop.clone(), path.clone());
        std::thread::spawn(move || {
            let mut errors = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let text = match i % 3 {
                    0 => b,
                    1 => broken,
                    _ => a,
                };
                // Different lengths each time, so a same-second mtime still shows a change.
                replace(
                    &path,
                    &format!("{text}# {}\n", "x".repeat((i % 7) as usize)),
                );
                errors.extend(watcher.poll(&shared));
                i += 1;
            }
            (i, errors)
        })
    };
    let mut rep = Reputation::with_shared(
        shared.clone(),
        Some(nsgflow::reputation::IpCache::new(16, 3600)),
    );
    let (x, y) = (ip("45.148.10.62"), ip("80.82.77.139"));
    let mut worst = Duration::ZERO;
    let mut swaps_seen = 0;
    let mut last_gen = shared.generation();
    let started = Instant::now();
    let mut lookups = 0u64;
    while started.elapsed() < Duration::from_millis(1500) || swaps_seen < 10 {
        let t = Instant::now();
        rep.refresh();
        let hit_x = rep.lookup(x).is_some();
        let hit_y = rep.lookup(y).is_some();
        worst = worst.max(t.elapsed());
        lookups += 2;
        // Exactly one version is in force: A or B, never neither (a broken file keeps the
        // previous data) and never both.
        assert!(hit_x ^ hit_y, "lookup {lookups}: A {hit_x}, B {hit_y}");
        if shared.generation() != last_gen {
            last_gen = shared.generation();
            swaps_seen += 1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "too few reloads"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let (writes, errors) = writer.join().unwrap();
    assert!(
        writes >= 10 && swaps_seen >= 10,
        "{writes} writes, {swaps_seen} swaps"
    );
    assert!(!errors.is_empty(), "the broken versions are reported");
    assert!(
        errors[0].contains("level1") && errors[0].contains("keeping the previous entries"),
        "{}",
        errors[0]
    );
    assert!(shared.reload_errors.load(Ordering::Relaxed) > 0);
    // Lookups run on the engine's own snapshot: the slowest (with a refresh that swapped)
    // never waits for a rebuild (the bound leaves room for a busy CI machine's scheduler).
    assert!(worst < Duration::from_secs(1), "slowest lookup {worst:?}");
}

#[test]
fn reload_swaps_in_the_engine_between_chunks() {
    let dir = temp_dir("reload-engine");
    let path = dir.join("feed.txt");
    replace(&path, "45.148.10.62\n");
    let config = ReputationConfig {
        feeds: vec![FeedConfig::new("feed", &path)],
        reload_interval_secs: 0,
        ..Default::default()
    };
    let rep = Reputation::load(&config).unwrap();
    let shared = rep.shared().clone();
    let mut engine = nsgflow::engine::Engine::default();
    engine.enricher.reputation = Some(rep);
    let text = std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap();
    let listed = |engine: &mut nsgflow::engine::Engine| {
        let mut enc = nsgflow::encode::encoder(nsgflow::encode::Format::Flat, &Default::default());
        let mut out = nsgflow::output::EventWriter::new(Vec::new());
        let mut dead = nsgflow::output::DeadLetterWriter::new(None);
        engine.process(
            "blob",
            &text,
            &mut nsgflow::engine::EncodeLines {
                encoder: enc.as_mut(),
                writer: &mut out,
            },
            &mut dead,
        );
        let out = String::from_utf8(out.into_inner().unwrap()).unwrap();
        out.lines()
            .filter(|l| l.contains(r#""malicious":true"#))
            .count()
    };
    assert_eq!(listed(&mut engine), 1);
    let mut watcher = Watcher::new(
        config.feeds.clone(),
        reload::load_all(&config.feeds).unwrap(),
    );
    replace(&path, "45.148.10.62\n80.82.77.139\n92.63.197.153\n");
    assert!(watcher.poll(&shared).is_empty());
    assert_eq!(listed(&mut engine), 3);
    assert_eq!(engine.stats.reputation.unwrap().reloads, 1);
}

#[test]
fn reload_while_events_stream_through_the_engine() {
    let dir = temp_dir("reload-stream");
    let path = dir.join("level1.netset");
    // Version A flags one tuple of nsg-v2-blob.json (45.148.10.62), version B two
    // (80.82.77.139, 92.63.197.153); the broken version must leave the previous one.
    let a = "45.148.10.0/24\n";
    let b = "80.82.77.0/24\n92.63.197.0/24\n";
    let broken = "<!doctype html>\n<title>rate limited</title>\n";
    replace(&path, a);
    let config = ReputationConfig {
        feeds: vec![FeedConfig::new("level1", &path)],
        reload_interval_secs: 0,
        ..Default::default()
    };
    let rep = Reputation::load(&config).unwrap();
    let shared = rep.shared().clone();
    let mut engine = nsgflow::engine::Engine::default();
    engine.enricher.reputation = Some(rep);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (shared, stop, path, feeds) = (
            shared.clone(),
            stop.clone(),
            path.clone(),
            config.feeds.clone(),
        );
        std::thread::spawn(move || {
            let mut watcher = Watcher::new(feeds.clone(), reload::load_all(&feeds).unwrap());
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let text = [b, broken, a][i % 3];
                replace(&path, &format!("{text}#{}\n", " ".repeat(i % 5)));
                watcher.poll(&shared);
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let text = std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap();
    let mut enc = nsgflow::encode::encoder(nsgflow::encode::Format::Flat, &Default::default());
    let mut out = nsgflow::output::EventWriter::new(Vec::new());
    let mut dead = nsgflow::output::DeadLetterWriter::new(None);
    let mut seen = std::collections::BTreeMap::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) || seen.len() < 2 {
        let before = out.buffer().len();
        engine.process(
            "blob",
            &text,
            &mut nsgflow::engine::EncodeLines {
                encoder: enc.as_mut(),
                writer: &mut out,
            },
            &mut dead,
        );
        let lines = String::from_utf8_lossy(&out.buffer()[before..]).into_owned();
        out.buffer().clear();
        assert_eq!(lines.lines().count(), 23);
        let malicious = lines
            .lines()
            .filter(|l| l.contains(r#""malicious":true"#))
            .count();
        *seen.entry(malicious).or_insert(0u32) += 1;
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no swap seen: {seen:?}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    // Every run saw exactly one whole version (swaps land between inputs), and both showed.
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), [1, 2], "{seen:?}");
    let stats = engine.stats.reputation.unwrap();
    assert!(stats.reloads > 0 && stats.reload_errors > 0, "{stats:?}");
}
