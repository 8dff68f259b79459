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
