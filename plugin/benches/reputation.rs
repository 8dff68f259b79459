//! The reputation lookup: building a 1M-prefix table (time and memory), and lookups with
//! the LRU cache on and off, over a skewed (Zipf-like) address mix as flow logs have (a few
//! peers carry most flows) and over a uniform one.
//!
//! Run: `taskset -c 1 cargo bench -p nsgflow --bench reputation`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use nsgflow::classify::{builtin_class, AddressClass};
use nsgflow::reputation::feed::{FeedEntry, ParsedFeed};
use nsgflow::reputation::table::LoadedFeed;
use nsgflow::reputation::{IpCache, Reputation, ReputationTable, SharedTable};

#[allow(dead_code)]
mod data {
    include!("support/data.rs");
}

const PREFIXES: usize = 1_000_000;
const LOOKUPS: usize = 1_000_000;
const DISTINCT: usize = 200_000;

fn public_v4(r: &mut data::Rng) -> u32 {
    loop {
        let a = r.next_u64() as u32;
        if builtin_class(IpAddr::V4(Ipv4Addr::from(a))) == AddressClass::Public {
            return a;
        }
    }
}

/// 1M IPv6 prefixes (/48 to /128) in 2a00::/12, like an IPv6 blocklist grown large.
fn feeds_v6() -> Vec<LoadedFeed> {
    let mut r = data::Rng::new(4);
    let mut feed = LoadedFeed {
        name: "feed6".into(),
        category: "malicious".into(),
        parsed: ParsedFeed::default(),
    };
    for _ in 0..PREFIXES {
        let a = (0x2a0u128 << 116)
            | ((r.next_u64() as u128) << 52 | r.next_u64() as u128 >> 12) & ((1u128 << 116) - 1);
        let len = [48u8, 56, 64, 128][r.below(4) as usize];
        let net = Ipv6Net::new(Ipv6Addr::from(a), len).unwrap().trunc();
        feed.parsed.entries.push(FeedEntry {
            net: IpNet::V6(net),
            category: None,
            score: None,
        });
    }
    vec![feed]
}

/// Zipf(1.1) over `DISTINCT` peers, a tenth of them listed (`listed(i)` gives one).
fn zipf_over(peers: Vec<IpAddr>, seed: u64) -> Vec<IpAddr> {
    let mut r = data::Rng::new(seed);
    let mut cdf = Vec::with_capacity(peers.len());
    let mut acc = 0.0;
    for rank in 1..=peers.len() {
        acc += 1.0 / (rank as f64).powf(1.1);
        cdf.push(acc);
    }
    (0..LOOKUPS)
        .map(|_| {
            let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * acc;
            peers[cdf.partition_point(|&c| c < u).min(peers.len() - 1)]
        })
        .collect()
}

/// 1M prefixes like a merged blocklist: 80% /32, 15% /24, 5% /16../23, in 3 feeds.
fn feeds() -> Vec<LoadedFeed> {
    let mut r = data::Rng::new(3);
    let mut feeds: Vec<LoadedFeed> = (0..3)
        .map(|i| LoadedFeed {
            name: format!("feed{i}"),
            category: "malicious".into(),
            parsed: ParsedFeed::default(),
        })
        .collect();
    for i in 0..PREFIXES {
        let len = match r.below(100) {
            0..=79 => 32,
            80..=94 => 24,
            _ => 16 + r.below(8) as u8,
        };
        let net = Ipv4Net::new(Ipv4Addr::from(public_v4(&mut r)), len)
            .unwrap()
            .trunc();
        feeds[i % 3].parsed.entries.push(FeedEntry {
            net: IpNet::V4(net),
            category: None,
            score: Some(r.below(10) as u32),
        });
    }
    feeds
}

/// `LOOKUPS` addresses drawn from `DISTINCT` peers with Zipf(1.1) weights; a tenth of the
/// peers are listed.
fn zipf_mix(table: &ReputationTable, feeds: &[LoadedFeed]) -> Vec<IpAddr> {
    let mut r = data::Rng::new(5);
    let peers: Vec<IpAddr> = (0..DISTINCT)
        .map(|i| {
            if i % 10 == 0 {
                let e = &feeds[i % 3].parsed.entries[i];
                IpAddr::V4(match e.net {
                    IpNet::V4(n) => n.network(),
                    IpNet::V6(_) => unreachable!(),
                })
            } else {
                IpAddr::V4(Ipv4Addr::from(public_v4(&mut r)))
            }
        })
        .collect();
    let mut cdf = Vec::with_capacity(DISTINCT);
    let mut acc = 0.0;
    for rank in 1..=DISTINCT {
        acc += 1.0 / (rank as f64).powf(1.1);
        cdf.push(acc);
    }
    let listed = peers.iter().filter(|p| table.lookup(**p).is_some()).count();
    assert!(listed >= DISTINCT / 10, "{listed}");
    (0..LOOKUPS)
        .map(|_| {
            let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * acc;
            peers[cdf.partition_point(|&c| c < u).min(DISTINCT - 1)]
        })
        .collect()
}

fn uniform_mix() -> Vec<IpAddr> {
    let mut r = data::Rng::new(9);
    (0..LOOKUPS)
        .map(|_| IpAddr::V4(Ipv4Addr::from(public_v4(&mut r))))
        .collect()
}

fn bench(c: &mut Criterion) {
    let feeds = feeds();
    let t = Instant::now();
    let table = ReputationTable::build(&feeds);
    println!(
        "1M-prefix table: built in {:.0} ms, {} ranges, {:.1} MB ({:.1} bytes per prefix)",
        t.elapsed().as_secs_f64() * 1e3,
        table.ranges(),
        table.heap_bytes() as f64 / 1e6,
        table.heap_bytes() as f64 / PREFIXES as f64
    );
    let zipf = zipf_mix(&table, &feeds);
    let uniform = uniform_mix();
    let shared = Arc::new(SharedTable::new(table));
    let feeds6 = feeds_v6();
    let t = Instant::now();
    let table6 = ReputationTable::build(&feeds6);
    println!(
        "1M-prefix IPv6 table: built in {:.0} ms, {} ranges, {:.1} MB",
        t.elapsed().as_secs_f64() * 1e3,
        table6.ranges(),
        table6.heap_bytes() as f64 / 1e6
    );
    let mut r = data::Rng::new(8);
    let peers6: Vec<IpAddr> = (0..DISTINCT)
        .map(|i| match feeds6[0].parsed.entries[i].net {
            IpNet::V6(n) if i % 10 == 0 => IpAddr::V6(n.network()),
            _ => IpAddr::V6(Ipv6Addr::from(
                (0x2a0u128 << 116) | (r.next_u64() as u128) << 40 | r.next_u64() as u128 >> 24,
            )),
        })
        .collect();
    assert!(
        peers6
            .iter()
            .filter(|p| table6.lookup(**p).is_some())
            .count()
            >= DISTINCT / 10
    );
    let zipf6 = zipf_over(peers6, 6);
    let shared6 = Arc::new(SharedTable::new(table6));

    // Paired, interleaved rounds (robust to a busy shared machine): median ns per lookup.
    for (mix_name, mix, shared) in [
        ("zipf", &zipf, &shared),
        ("uniform", &uniform, &shared),
        ("zipf_ipv6", &zipf6, &shared6),
    ] {
        let mut off = Reputation::with_shared(shared.clone(), None);
        let mut on = Reputation::with_shared(shared.clone(), Some(IpCache::new(65_536, 3600)));
        let (mut t_off, mut t_on) = (Vec::new(), Vec::new());
        for _ in 0..11 {
            for (rep, times) in [(&mut off, &mut t_off), (&mut on, &mut t_on)] {
                let t = Instant::now();
                let mut listed = 0u32;
                for ip in mix.iter() {
                    listed += rep.lookup(*ip).is_some() as u32;
                }
                black_box(listed);
                times.push(t.elapsed().as_secs_f64() * 1e9 / mix.len() as f64);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (a, b) = (median(&mut t_off), median(&mut t_on));
        println!(
            "paired {mix_name}: cache off {a:.0} ns/lookup, 64K LRU cache {b:.0} ns/lookup (on/off {:.2})",
            b / a
        );
    }

    let mut group = c.benchmark_group("reputation_build");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("1M_prefixes", |b| {
        b.iter(|| black_box(ReputationTable::build(&feeds).ranges()))
    });
    group.finish();

    let mut group = c.benchmark_group("reputation_lookup");
    group.throughput(Throughput::Elements(LOOKUPS as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(6));
    for (mix_name, mix, shared) in [
        ("zipf", &zipf, &shared),
        ("uniform", &uniform, &shared),
        ("zipf_ipv6", &zipf6, &shared6),
    ] {
        for (cache_name, capacity) in [("cache_off", 0usize), ("cache_64k", 65_536)] {
            let cache = (capacity > 0).then(|| IpCache::new(capacity, 3600));
            let mut rep = Reputation::with_shared(shared.clone(), cache);
            rep.refresh();
            group.bench_with_input(BenchmarkId::new(cache_name, mix_name), mix, |b, mix| {
                b.iter(|| {
                    let mut listed = 0u32;
                    for ip in mix.iter() {
                        listed += rep.lookup(*ip).is_some() as u32;
                    }
                    black_box(listed)
                })
            });
            let s = rep.stats();
            if capacity > 0 {
                println!(
                    "{mix_name}: cache hit rate {:.1}%",
                    100.0 * s.cache.hits as f64 / (s.cache.hits + s.cache.misses).max(1) as f64
                );
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
