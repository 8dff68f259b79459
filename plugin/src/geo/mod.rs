//! Geography and ASN of public addresses: the country (ISO 3166-1 alpha-2 code) from a
//! MaxMind-format `.mmdb` database, and the autonomous system (number and organisation)
//! from CSV ranges. Private and reserved space never gets any (an address
//! [`crate::classify::builtin_class`] does not call public).
//!
//! | database | format | module |
//! |---|---|---|
//! | country: GeoLite2/GeoIP2 Country or City, DB-IP, ip-location-db | `.mmdb`, memory-mapped | [`country`] |
//! | ASN: ip-location-db `asn-ipv4.csv` / `asn-ipv6.csv`, or any `start,end,asn,organisation` CSV | CSV ranges in a [`crate::prefix_table::PrefixTable`] | [`asn`] |
//!
//! Both are loaded once, where the enricher is built, and shared read-only between threads.

pub mod asn;
pub mod country;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

pub use asn::{AsInfo, AsnTable};
pub use country::CountryDb;

/// `geoip:` in the config; `--geoip-country` and `--geoip-asn` on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoConfig {
    /// A MaxMind-format country (or city) database: GeoLite2-Country.mmdb,
    /// dbip-country-lite.mmdb, ip-location-db's geo-whois-asn-country.mmdb, ...
    pub country: Option<PathBuf>,
    /// ASN ranges as CSV (`start,end,asn,organisation`): one file or a list (ip-location-db
    /// ships `asn-ipv4.csv` and `asn-ipv6.csv`).
    #[serde(deserialize_with = "one_or_many")]
    pub asn: Vec<PathBuf>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    })
}

impl GeoConfig {
    pub fn is_configured(&self) -> bool {
        self.country.is_some() || !self.asn.is_empty()
    }
}

/// The loaded databases, cheap to clone (one per engine thread).
#[derive(Debug, Clone, Default)]
pub struct Geo {
    pub country: Option<Arc<CountryDb>>,
    pub asn: Option<Arc<AsnTable>>,
}

/// What the databases say about one address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeoInfo<'g> {
    /// ISO 3166-1 alpha-2 code, as the database writes it (`US`, `DE`, ...).
    pub country: Option<&'g str>,
    pub asn: Option<&'g AsInfo>,
}

impl Geo {
    /// Loads what `config` names; an error names the file and what is wrong with it.
    pub fn load(config: &GeoConfig) -> Result<Geo, String> {
        Ok(Geo {
            country: match &config.country {
                Some(p) => Some(Arc::new(CountryDb::open(p)?)),
                None => None,
            },
            asn: if config.asn.is_empty() {
                None
            } else {
                Some(Arc::new(AsnTable::load(&config.asn)?))
            },
        })
    }

    /// Country and AS of a public address (the caller checks that it is public).
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo<'_> {
        GeoInfo {
            country: self.country.as_ref().and_then(|c| c.country(ip)),
            asn: self.asn.as_ref().and_then(|a| a.get(ip)),
        }
    }
}
