//! Geography lookups: the country `.mmdb` (memory-mapped, `maxminddb`) and the ASN ranges
//! (prefix table), each per address, and whether the LRU cache the reputation lookup has
//! ([`IpCache`]) would pay in front of the `.mmdb`: over a skewed (Zipf-like) mix of
//! public peers, as flow logs have, and a uniform one.
//!
//! Needs the ip-location-db databases `.ci/run` installs (`.ci/node/node_modules/@ip-location-db`,
//! or `$NSGFLOW_GEOIP_DIR`); says so and does nothing without them.
//!
//! Run: `taskset -c 1 cargo bench -p nsgflow --bench geo`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nsgflow::classify::{builtin_class, AddressClass};
use nsgflow::geo::{AsnTable, CountryDb};
use nsgflow::reputation::IpCache;

#[allow(dead_code)]
mod data {
    include!("support/data.rs");
}

const LOOKUPS: usize = 1_000_000;
const DISTINCT: usize = 200_000;

fn public_v4(r: &mut data::Rng) -> IpAddr {
    loop {
        let ip = IpAddr::V4(Ipv4Addr::from(r.next_u64() as u32));
        if builtin_class(ip) == AddressClass::Public {
            return ip;
        }
    }
}

fn mixes() -> [(&'static str, Vec<IpAddr>); 2] {
    let mut r = data::Rng::new(7);
    let peers: Vec<IpAddr> = (0..DISTINCT).map(|_| public_v4(&mut r)).collect();
    let mut cdf = Vec::with_capacity(peers.len());
    let mut acc = 0.0;
    for rank in 1..=peers.len() {
        acc += 1.0 / (rank as f64).powf(1.1);
        cdf.push(acc);
    }
    let zipf = (0..LOOKUPS)
        .map(|_| {
            let u = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * acc;
            peers[cdf.partition_point(|&c| c < u).min(peers.len() - 1)]
        })
        .collect();
    let uniform = (0..LOOKUPS).map(|_| public_v4(&mut r)).collect();
    [("zipf", zipf), ("uniform", uniform)]
}

/// The country code packed in a u32, as a cache would hold it (the cache stores `u32`s).
fn packed(code: Option<&str>) -> Option<u32> {
    code.map(|c| c.bytes().fold(0u32, |a, b| a << 8 | b as u32))
}

fn bench(c: &mut Criterion) {
    let dir = std::env::var_os("NSGFLOW_GEOIP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.ci/node/node_modules/@ip-location-db")
        });
    let mmdb = dir.join("geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb");
    let csvs = [dir.join("asn/asn-ipv4.csv"), dir.join("asn/asn-ipv6.csv")];
    if !mmdb.is_file() || !csvs.iter().all(|p| p.is_file()) {
        eprintln!(
            "geo bench: the ip-location-db databases are not in {} (see .ci/run); nothing measured",
            dir.display()
        );
        return;
    }
    let country = CountryDb::open(&mmdb).unwrap();
    let t = Instant::now();
    let asn = AsnTable::load(&csvs).unwrap();
    println!(
        "ASN CSVs loaded in {:.2} s: {} ranges",
        t.elapsed().as_secs_f64(),
        asn.len()
    );
    let mixes = mixes();

    // Paired, interleaved runs: the ratio of one run, on a shared machine.
    for (name, mix) in &mixes {
        let (mut direct, mut cached, mut asn_t) = (Vec::new(), Vec::new(), Vec::new());
        let mut cache = IpCache::new(65_536, 3600);
        for _ in 0..11 {
            let t = Instant::now();
            let mut n = 0u32;
            for ip in mix {
                n += country.country(*ip).is_some() as u32;
            }
            black_box(n);
            direct.push(t.elapsed().as_secs_f64() * 1e9 / mix.len() as f64);
            let t = Instant::now();
            let mut n = 0u32;
            for ip in mix {
                n += cache
                    .get_or_insert_with(*ip, 0, || packed(country.country(*ip)))
                    .is_some() as u32;
            }
            black_box(n);
            cached.push(t.elapsed().as_secs_f64() * 1e9 / mix.len() as f64);
            let t = Instant::now();
            let mut n = 0u32;
            for ip in mix {
                n += asn.get(*ip).is_some() as u32;
            }
            black_box(n);
            asn_t.push(t.elapsed().as_secs_f64() * 1e9 / mix.len() as f64);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let st = cache.stats;
        println!(
            "{name}: cache hit rate {:.1}%",
            100.0 * st.hits as f64 / (st.hits + st.misses).max(1) as f64
        );
        let (a, b, s) = (median(&mut direct), median(&mut cached), median(&mut asn_t));
        println!(
            "paired {name}: mmdb country {a:.0} ns/lookup, 64K LRU in front {b:.0} ns/lookup (cached/direct {:.2}), ASN table {s:.0} ns/lookup",
            b / a
        );
    }

    let mut group = c.benchmark_group("geo_lookup");
    group.throughput(Throughput::Elements(LOOKUPS as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(5));
    for (name, mix) in &mixes {
        group.bench_with_input(BenchmarkId::new("mmdb_country", name), mix, |b, mix| {
            b.iter(|| {
                mix.iter()
                    .filter(|ip| country.country(**ip).is_some())
                    .count()
            })
        });
        group.bench_with_input(BenchmarkId::new("asn_table", name), mix, |b, mix| {
            b.iter(|| mix.iter().filter(|ip| asn.get(**ip).is_some()).count())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
