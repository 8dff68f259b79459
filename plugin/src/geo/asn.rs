//! Autonomous systems from CSV ranges, `start,end,asn,organisation`, one range a line:
//! the layout of ip-location-db's `asn-ipv4.csv` / `asn-ipv6.csv` (and of most other
//! free ASN exports). The organisation may be quoted (`"Cloudflare, Inc."`, with `""` for
//! a quote). A header line is skipped. The ranges go into one
//! [`PrefixTable`](crate::prefix_table::PrefixTable), the table the threat feeds use, so a
//! lookup is a binary search (after the /16 index for IPv4) that borrows the answer.
//!
//! ```
//! use nsgflow::geo::AsnTable;
//! let csv = "start,end,asn,org\n1.1.1.0,1.1.1.255,13335,\"Cloudflare, Inc.\"\n\
//!            2606:4700::,2606:4700:ffff:ffff:ffff:ffff:ffff:ffff,13335,\"Cloudflare, Inc.\"\n";
//! let t = AsnTable::parse(&[("asn.csv", csv)]).unwrap();
//! let a = t.get("1.1.1.1".parse().unwrap()).unwrap();
//! assert_eq!((a.number, &*a.organisation), (13335, "Cloudflare, Inc."));
//! assert_eq!(t.get("2606:4700::1111".parse().unwrap()).unwrap().number, 13335);
//! assert!(t.get("1.1.2.1".parse().unwrap()).is_none());
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::prefix_table::PrefixTable;

/// One autonomous system.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsInfo {
    pub number: u32,
    pub organisation: Box<str>,
}

/// ASN ranges, IPv4 and IPv6.
#[derive(Debug, Default)]
pub struct AsnTable {
    table: PrefixTable,
    systems: Vec<AsInfo>,
    /// Lines that were not a range (each reported with file and line at load).
    pub bad_lines: usize,
    /// Ranges that overlapped another and were clipped or dropped.
    pub overlaps: usize,
}

impl AsnTable {
    /// Reads the CSV files; an error names the file (and the line, for a file that is
    /// mostly not ASN ranges).
    pub fn load(paths: &[PathBuf]) -> Result<AsnTable, String> {
        let mut texts = Vec::with_capacity(paths.len());
        for p in paths {
            let text = std::fs::read_to_string(p).map_err(|e| {
                format!(
                    "geoip ASN file {}: {e} (expected CSV ranges `start,end,asn,organisation` \
                     such as ip-location-db's asn-ipv4.csv; see the user guide, docs/src/enrichment.md, \"Geography and ASN\")",
                    p.display()
                )
            })?;
            texts.push((p.display().to_string(), text));
        }
        let named: Vec<(&str, &str)> = texts
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        AsnTable::parse(&named)
    }

    /// Parses `(name, text)` CSV files into one table.
    pub fn parse(files: &[(&str, &str)]) -> Result<AsnTable, String> {
        let mut ids: HashMap<AsInfo, u32> = HashMap::new();
        let mut systems: Vec<AsInfo> = Vec::new();
        let mut ranges: Vec<(IpAddr, IpAddr, u32)> = Vec::new();
        let mut bad_lines = 0;
        for (name, text) in files {
            let mut good = 0usize;
            let mut bad = 0usize;
            let mut first_bad: Option<(usize, String)> = None;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim_end_matches('\r');
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                match parse_line(line) {
                    Ok((first, last, info)) => {
                        let id = *ids.entry(info).or_insert_with_key(|info| {
                            systems.push(info.clone());
                            (systems.len() - 1) as u32
                        });
                        ranges.push((first, last, id));
                        good += 1;
                    }
                    Err(_) if n == 0 => {} // a header
                    Err(why) => {
                        bad += 1;
                        first_bad.get_or_insert((n + 1, why));
                    }
                }
            }
            if bad > good {
                let (line, why) = first_bad.unwrap_or((0, "no ranges".into()));
                return Err(format!(
                    "geoip ASN file {name}: {bad} of {} lines are not `start,end,asn,organisation` \
                     ranges (line {line}: {why}); is it the right file?",
                    bad + good
                ));
            }
            if good == 0 {
                return Err(format!(
                    "geoip ASN file {name}: no `start,end,asn,organisation` ranges in it"
                ));
            }
            bad_lines += bad;
        }
        let (table, overlaps) = PrefixTable::from_ranges(&ranges);
        Ok(AsnTable {
            table,
            systems,
            bad_lines,
            overlaps,
        })
    }

    /// The autonomous system announcing `ip`.
    #[inline]
    pub fn get(&self, ip: IpAddr) -> Option<&AsInfo> {
        self.table.get(ip).map(|i| &self.systems[i as usize])
    }

    /// Ranges held (after merging adjacent ranges of the same AS).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// `start,end,asn,organisation`; the organisation may be quoted, the rest may not.
fn parse_line(line: &str) -> Result<(IpAddr, IpAddr, AsInfo), String> {
    let mut rest = line;
    let mut next = |what: &str| -> Result<&str, String> {
        let (field, tail) = rest
            .split_once(',')
            .ok_or_else(|| format!("no {what} field"))?;
        rest = tail;
        Ok(field.trim())
    };
    let first = next("start")?;
    let last = next("end")?;
    let asn = next("asn")?;
    let ip = |s: &str| {
        s.parse::<IpAddr>()
            .map_err(|_| format!("`{s}` is not an IP address"))
    };
    let (first, last) = (ip(first)?, ip(last)?);
    let number = asn
        .trim_start_matches("AS")
        .parse::<u32>()
        .map_err(|_| format!("`{asn}` is not an AS number"))?;
    let organisation = unquote(rest.trim());
    Ok((
        first,
        last,
        AsInfo {
            number,
            organisation: organisation.into(),
        },
    ))
}

fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_bad_lines() {
        let t = AsnTable::parse(&[(
            "a.csv",
            "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n\
             1.0.4.0,1.0.7.255,AS38803,Gtelecom Pty Ltd\n\
             8.8.8.0,8.8.8.255,15169,\"Google \"\"LLC\"\"\"\n\
             not,a,line\n",
        )])
        .unwrap();
        assert_eq!(t.bad_lines, 1);
        assert_eq!(t.get("1.0.5.1".parse().unwrap()).unwrap().number, 38803);
        assert_eq!(
            &*t.get("8.8.8.8".parse().unwrap()).unwrap().organisation,
            "Google \"LLC\""
        );
    }

    #[test]
    fn a_file_that_is_not_asn_ranges_is_refused_naming_it() {
        let err = AsnTable::parse(&[("feeds.netset", "1.2.3.0/24\n5.6.7.0/24\n")]).unwrap_err();
        assert!(err.contains("feeds.netset"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }
}
