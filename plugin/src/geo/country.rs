//! Countries from MaxMind-format (`.mmdb`) databases, read into memory by the `maxminddb`
//! crate. Two record layouts are in use and both are read:
//!
//! - MaxMind GeoLite2/GeoIP2 Country and City, and DB-IP: `country.iso_code`;
//! - the ip-location-db builds (`geo-whois-asn-country`, `geolite2-country`, ...):
//!   `country_code` at the top of the record.
//!
//! Which one a file uses is decided when it is opened (from the first records that have a
//! country), so a lookup walks one path. A lookup borrows the code from the loaded file:
//! no allocation.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{PathElement, Reader};

const NESTED: &[PathElement<'static>] =
    &[PathElement::Key("country"), PathElement::Key("iso_code")];
const TOP_LEVEL: &[PathElement<'static>] = &[PathElement::Key("country_code")];

/// A country database.
pub struct CountryDb {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
    /// `country.iso_code` or `country_code`.
    code_path: &'static [PathElement<'static>],
}

impl fmt::Debug for CountryDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountryDb")
            .field("path", &self.path)
            .field("database_type", &self.reader.metadata.database_type)
            .field("code_path", &self.code_path)
            .finish()
    }
}

impl CountryDb {
    /// Opens and reads `path`. A missing file, a file that is not a MaxMind DB, or one with
    /// no country in either layout is an error naming the file.
    pub fn open(path: &Path) -> Result<CountryDb, String> {
        let fail = |why: String| {
            format!(
                "geoip country database {}: {why} (expected a MaxMind-format .mmdb country \
                 database such as GeoLite2-Country.mmdb or ip-location-db's \
                 geo-whois-asn-country.mmdb; see the user guide, docs/src/enrichment.md, \"Geography and ASN\")",
                path.display()
            )
        };
        if let Err(e) = std::fs::metadata(path) {
            return Err(fail(e.to_string()));
        }
        // Read into memory (a country database is a few MB), not memory-mapped: the crate
        // forbids `unsafe`, and a copy cannot be changed under the reader by a database
        // update that rewrites the file in place.
        let reader = Reader::open_readfile(path).map_err(|e| fail(e.to_string()))?;
        let code_path = Self::layout(&reader).map_err(fail)?;
        Ok(CountryDb {
            path: path.to_path_buf(),
            reader,
            code_path,
        })
    }

    /// Which layout the records use: the first of a few well-known public addresses that
    /// has a record decides.
    fn layout(reader: &Reader<Vec<u8>>) -> Result<&'static [PathElement<'static>], String> {
        let probes = [
            "8.8.8.8",
            "1.1.1.1",
            "20.60.140.36",
            "2001:4860:4860::8888",
            "81.2.69.142",
            "2.125.160.216",
        ];
        let mut any_record = false;
        for p in probes {
            let Ok(ip) = p.parse::<IpAddr>() else {
                continue;
            };
            let Ok(found) = reader.lookup(ip) else {
                continue;
            };
            if !found.has_data() {
                continue;
            }
            any_record = true;
            for layout in [NESTED, TOP_LEVEL] {
                if let Ok(Some(_)) = found.decode_path::<&str>(layout) {
                    return Ok(layout);
                }
            }
        }
        // Small or regional databases (test files) may hold none of the probes: walk the
        // first networks.
        if let Ok(nets) = reader.networks(Default::default()) {
            for found in nets.take(64).flatten() {
                any_record = true;
                for layout in [NESTED, TOP_LEVEL] {
                    if let Ok(Some(_)) = found.decode_path::<&str>(layout) {
                        return Ok(layout);
                    }
                }
            }
        }
        Err(if any_record {
            format!(
                "its records (database type `{}`) have neither `country.iso_code` nor \
                 `country_code`: is it an ASN or another kind of database?",
                reader.metadata.database_type
            )
        } else {
            "it holds no records".into()
        })
    }

    /// The ISO code of `ip`'s country, borrowed from the mapped file.
    #[inline]
    pub fn country(&self, ip: IpAddr) -> Option<&str> {
        let found = self.reader.lookup(ip).ok()?;
        found.decode_path::<&str>(self.code_path).ok().flatten()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database's own description of itself (`database_type`, build time).
    pub fn describe(&self) -> String {
        format!(
            "{} built {}",
            self.reader.metadata.database_type, self.reader.metadata.build_epoch
        )
    }
}
