//! Geography and ASN of public addresses, against the real, freely licensed databases
//! `.ci/run` installs from npm (ip-location-db: `geo-whois-asn-country` .mmdb, CC0, and
//! the `asn` CSVs, CC BY 4.0). Skipped with a reason when they are absent, except in CI.

use std::net::IpAddr;
use std::sync::OnceLock;

use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow::geo::{Geo, GeoConfig};
use nsgflow_tests::{fixture, geoip_config, run_file, run_text_with};

/// Loaded once for the whole file (the ASN CSVs are ~30 MB).
fn geo(test: &str) -> Option<&'static (GeoConfig, Geo)> {
    static GEO: OnceLock<Option<(GeoConfig, Geo)>> = OnceLock::new();
    GEO.get_or_init(|| {
        let config = geoip_config(test)?;
        let geo = Geo::load(&config).expect("the npm databases load");
        Some((config, geo))
    })
    .as_ref()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn known_networks_give_their_asn_ipv4_and_ipv6() {
    let Some((_, geo)) = geo("known_networks_give_their_asn_ipv4_and_ipv6") else {
        return;
    };
    // (address, AS, a word of its organisation): Microsoft, Google, Cloudflare, each in
    // IPv4 and IPv6.
    let cases = [
        ("13.107.42.14", 8068, "Microsoft"),
        ("20.60.140.36", 8075, "Microsoft"),
        ("2620:1ec:21::14", 8075, "Microsoft"),
        ("8.8.8.8", 15169, "Google"),
        ("2001:4860:4860::8888", 15169, "Google"),
        ("1.1.1.1", 13335, "Cloudflare"),
        ("2606:4700:4700::1111", 13335, "Cloudflare"),
    ];
    for (addr, asn, org) in cases {
        let got = geo.lookup(ip(addr));
        let a = got
            .asn
            .unwrap_or_else(|| panic!("{addr}: no AS found (expected AS{asn})"));
        assert_eq!(a.number, asn, "{addr}: {a:?}");
        assert!(a.organisation.contains(org), "{addr}: {a:?}");
        assert!(got.country.is_some(), "{addr}: no country");
    }
    // Google's and Microsoft's anycast/ cloud addresses are registered in the US.
    assert_eq!(geo.lookup(ip("8.8.8.8")).country, Some("US"));
    assert_eq!(geo.lookup(ip("2001:4860:4860::8888")).country, Some("US"));
    assert_eq!(geo.lookup(ip("13.107.42.14")).country, Some("US"));
}

/// Private, shared, loopback, link-local and documentation space get no geography, even
/// with the databases loaded (the enricher only asks for public addresses).
#[test]
fn private_addresses_get_nothing_in_events() {
    let Some((config, _)) = geo("private_addresses_get_nothing_in_events") else {
        return;
    };
    let cfg = Config {
        geoip: config.clone(),
        ..Config::default()
    };
    let run = run_file(&fixture("nsg-v2-blob.json"), Format::Flat);
    assert!(!run.lines.is_empty());
    let text = std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap();
    let enriched = run_text_with("nsg-v2", &text, Format::Flat, &cfg);
    let mut public_sides = 0;
    for line in enriched.events() {
        for side in ["src", "dst"] {
            let class = line[format!("{side}_class")].as_str().unwrap();
            let country = &line[format!("{side}_country")];
            let asn = &line[format!("{side}_asn")];
            if class == "public" {
                public_sides += 1;
                assert!(country.is_string(), "{side} of {line}");
                assert!(asn.is_u64(), "{side} of {line}");
                assert!(line[format!("{side}_as_org")].is_string(), "{line}");
            } else {
                assert!(
                    country.is_null() && asn.is_null(),
                    "{class} {side} got geography: {line}"
                );
            }
        }
    }
    assert!(public_sides > 5, "the fixture has public peers");
    // And the enricher's own check, for every kind of non-public space.
    let enricher = cfg.enricher().unwrap();
    for a in [
        "10.1.2.3",
        "192.168.1.1",
        "100.64.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "fd00::1",
        "fe80::1",
        "::1",
        "224.0.0.1",
    ] {
        let e = enricher.endpoint(ip(a), a, 0, None);
        assert_eq!((e.country, e.asn), (None, None), "{a}");
    }
    let e = enricher.endpoint(ip("8.8.8.8"), "8.8.8.8", 53, None);
    assert_eq!(e.asn.map(|a| a.number), Some(15169));
}

/// Each encoder puts the geography where its schema wants it; the same fields in the
/// aggregates.
#[test]
fn every_encoder_writes_geography() {
    let Some((config, _)) = geo("every_encoder_writes_geography") else {
        return;
    };
    let text = std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap();
    for aggregate in [false, true] {
        let mut cfg = Config {
            geoip: config.clone(),
            ..Config::default()
        };
        cfg.aggregate.enabled = aggregate;
        // The first inbound event comes from 80.82.77.139 (public) to 10.20.2.5.
        let first = |f: Format| {
            let run = run_text_with("nsg-v2", &text, f, &cfg);
            run.events()
                .into_iter()
                .find(|e| e.to_string().contains("80.82.77.139"))
                .unwrap_or_else(|| panic!("{f}: no event from 80.82.77.139"))
        };
        let flat = first(Format::Flat);
        let country = flat["src_country"]
            .as_str()
            .expect("flat src_country")
            .to_string();
        let asn = flat["src_asn"].as_u64().expect("flat src_asn");
        let org = flat["src_as_org"]
            .as_str()
            .expect("flat src_as_org")
            .to_string();
        assert_eq!(country.len(), 2, "{flat}");
        assert!(flat.get("dst_country").is_none(), "private side: {flat}");

        let ecs = first(Format::Ecs);
        assert_eq!(ecs["source"]["geo"]["country_iso_code"], country.as_str());
        assert_eq!(ecs["source"]["as"]["number"], asn);
        assert_eq!(ecs["source"]["as"]["organization"]["name"], org.as_str());
        assert!(ecs["destination"].get("geo").is_none(), "{ecs}");
        assert!(
            ecs["nsgflow"].get("src_country").is_none(),
            "not twice: {ecs}"
        );

        let ocsf = first(Format::Ocsf);
        assert_eq!(
            ocsf["src_endpoint"]["location"]["country"],
            country.as_str()
        );
        assert_eq!(ocsf["src_endpoint"]["autonomous_system"]["number"], asn);
        assert_eq!(
            ocsf["src_endpoint"]["autonomous_system"]["name"],
            org.as_str()
        );

        // The geography paths are the schemas' own fields (lists in tests/schemas/).
        for (event, list) in [
            (&ecs, "ecs-8.x-fields.txt"),
            (&ocsf, "ocsf-1.x-network-activity-4001.txt"),
        ] {
            let defined =
                std::fs::read_to_string(nsgflow_tests::tests_dir().join("schemas").join(list))
                    .unwrap();
            let defined: Vec<&str> = defined.lines().map(str::trim).collect();
            let geo_paths: Vec<String> = nsgflow_tests::field_paths(event)
                .into_iter()
                .filter(|p| {
                    [".geo.", ".as.", ".location.", ".autonomous_system."]
                        .iter()
                        .any(|k| p.contains(k))
                })
                .collect();
            assert!(geo_paths.len() >= 3, "{geo_paths:?}");
            for p in geo_paths {
                assert!(defined.contains(&p.as_str()), "{p} is not in {list}");
            }
        }

        let splunk = first(Format::Splunk);
        let ns = &splunk["event"]["nsgflow"];
        assert_eq!(ns["src_country"], country.as_str(), "{splunk}");
        assert_eq!(ns["src_asn"], asn);
        assert_eq!(ns["src_as_org"], org.as_str());
    }
}

#[test]
fn a_missing_or_corrupt_database_is_an_error_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("nsgflow-geo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("GeoLite2-Country.mmdb");
    let err = Geo::load(&GeoConfig {
        country: Some(missing.clone()),
        asn: vec![],
    })
    .unwrap_err();
    assert!(err.contains(&missing.display().to_string()), "{err}");

    let corrupt = dir.join("corrupt.mmdb");
    std::fs::write(&corrupt, b"not a maxmind database at all\n".repeat(100)).unwrap();
    let err = Geo::load(&GeoConfig {
        country: Some(corrupt.clone()),
        asn: vec![],
    })
    .unwrap_err();
    assert!(err.contains(&corrupt.display().to_string()), "{err}");
    assert!(err.contains("metadata") || err.contains("invalid"), "{err}");

    // A real database cut short loses its metadata section: refused too.
    if let Some((config, _)) = geo("a_missing_or_corrupt_database_is_an_error_naming_the_file") {
        let real = std::fs::read(config.country.as_ref().unwrap()).unwrap();
        let cut = dir.join("cut.mmdb");
        std::fs::write(&cut, &real[..real.len() / 2]).unwrap();
        let err = Geo::load(&GeoConfig {
            country: Some(cut.clone()),
            asn: vec![],
        })
        .unwrap_err();
        assert!(err.contains(&cut.display().to_string()), "{err}");
    }

    let missing_csv = dir.join("asn-ipv4.csv");
    let err = Geo::load(&GeoConfig {
        country: None,
        asn: vec![missing_csv.clone()],
    })
    .unwrap_err();
    assert!(err.contains(&missing_csv.display().to_string()), "{err}");
    // The wrong kind of file (an mmdb given as ASN CSV) is refused naming it.
    let err = Geo::load(&GeoConfig {
        country: None,
        asn: vec![corrupt.clone()],
    })
    .unwrap_err();
    assert!(err.contains(&corrupt.display().to_string()), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `geoip:` in the config, relative to the config file; a single ASN path or a list.
#[test]
fn config_accepts_one_path_or_a_list() {
    let c = Config::from_yaml("geoip:\n  country: c.mmdb\n  asn: a.csv\n").unwrap();
    assert_eq!(c.geoip.asn.len(), 1);
    let c = Config::from_yaml("geoip:\n  asn: [a4.csv, a6.csv]\n").unwrap();
    assert_eq!(c.geoip.asn.len(), 2);
    let err = Config::from_yaml("geoip:\n  city: c.mmdb\n").unwrap_err();
    assert!(err.contains("city"), "{err}");
}

/// A minimal MaxMind DB writer, for a file in MaxMind's own layout (`country.iso_code`, as
/// GeoLite2/GeoIP2 Country and City and DB-IP write it): an IPv4 tree of 24-bit records
/// holding one /8, its data, and the metadata section (MaxMind DB format 2.0).
mod mmdb {
    fn string(out: &mut Vec<u8>, s: &str) {
        assert!(s.len() < 29);
        out.push(0x40 | s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }
    fn map(out: &mut Vec<u8>, pairs: usize) {
        out.push(0xE0 | pairs as u8);
    }
    fn uint(out: &mut Vec<u8>, type_num: u8, v: u64, width: usize) {
        let bytes = &v.to_be_bytes()[8 - width..];
        if type_num < 8 {
            out.push(type_num << 5 | width as u8);
        } else {
            out.push(width as u8);
            out.push(type_num - 7);
        }
        out.extend_from_slice(bytes);
    }

    /// A database mapping `first_octet.0.0.0/8` to `{"country": {"iso_code": code}}`.
    pub fn nested_country(first_octet: u8, code: &str) -> Vec<u8> {
        let node_count: u32 = 8;
        let data_pointer = node_count + 16; // data offset 0
        let mut out = Vec::new();
        for depth in 0..8 {
            let bit = (first_octet >> (7 - depth)) & 1;
            let next = if depth == 7 { data_pointer } else { depth + 1 };
            let (left, right) = if bit == 0 {
                (next, node_count)
            } else {
                (node_count, next)
            };
            out.extend_from_slice(&left.to_be_bytes()[1..]);
            out.extend_from_slice(&right.to_be_bytes()[1..]);
        }
        out.extend_from_slice(&[0; 16]);
        map(&mut out, 1);
        string(&mut out, "country");
        map(&mut out, 1);
        string(&mut out, "iso_code");
        string(&mut out, code);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        map(&mut out, 9);
        string(&mut out, "binary_format_major_version");
        uint(&mut out, 5, 2, 1);
        string(&mut out, "binary_format_minor_version");
        uint(&mut out, 5, 0, 0);
        string(&mut out, "build_epoch");
        uint(&mut out, 9, 1_772_409_600, 4);
        string(&mut out, "database_type");
        string(&mut out, "GeoLite2-Country");
        string(&mut out, "description");
        map(&mut out, 1);
        string(&mut out, "en");
        string(&mut out, "nsgflow test database");
        string(&mut out, "ip_version");
        uint(&mut out, 5, 4, 1);
        string(&mut out, "languages");
        out.push(1);
        out.push(11 - 7);
        string(&mut out, "en");
        string(&mut out, "node_count");
        uint(&mut out, 6, node_count as u64, 1);
        string(&mut out, "record_size");
        uint(&mut out, 5, 24, 1);
        out
    }
}

/// MaxMind's own layout (`country.iso_code`: GeoLite2/GeoIP2, DB-IP) is read as well as
/// ip-location-db's top-level `country_code`; no npm database needed.
#[test]
fn maxmind_layout_country_iso_code() {
    let path = std::env::temp_dir().join(format!("nsgflow-geolite2-{}.mmdb", std::process::id()));
    std::fs::write(&path, mmdb::nested_country(81, "GB")).unwrap();
    let db = nsgflow::geo::CountryDb::open(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db.country(ip("81.2.69.142")), Some("GB"));
    assert_eq!(db.country(ip("81.255.255.255")), Some("GB"));
    assert_eq!(db.country(ip("82.0.0.1")), None);
    assert_eq!(
        db.country(ip("2001:db8::1")),
        None,
        "IPv6 in an IPv4 database: nothing"
    );
    assert!(
        db.describe().starts_with("GeoLite2-Country"),
        "{}",
        db.describe()
    );
    // Through the enricher, in an event.
    let config = Config {
        geoip: GeoConfig {
            country: Some(path.clone()),
            asn: vec![],
        },
        ..Config::default()
    };
    let e = config.enricher().unwrap();
    assert_eq!(
        e.endpoint(ip("81.2.69.142"), "81.2.69.142", 0, None)
            .country,
        Some("GB")
    );
    assert_eq!(
        e.endpoint(ip("10.81.0.1"), "10.81.0.1", 0, None).country,
        None
    );
    // Cut in half, it loses its metadata: refused, naming the file.
    let whole = std::fs::read(&path).unwrap();
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let err = nsgflow::geo::CountryDb::open(&path).unwrap_err();
    assert!(err.contains(&path.display().to_string()), "{err}");
    std::fs::remove_file(&path).ok();
}
