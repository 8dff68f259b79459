//! Threat-feed file formats: one small parser per format, each line to a prefix with an
//! optional category and score. Bad lines are skipped and reported with their line number;
//! the good ones around them are kept.
//!
//! | `format` | files | a line |
//! |---|---|---|
//! | `list` | FireHOL `*.netset`, Emerging Threats `compromised-ips.txt`, Feodo `ipblocklist.txt` | `1.2.3.0/24` or `1.2.3.4`, `#` comments |
//! | `spamhaus` | Spamhaus DROP `drop_v4.json` / `drop_v6.json`, legacy `drop.txt` | `{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}` (the trailing `{"type":"metadata",...}` line is skipped) or `1.10.16.0/20 ; SBL256894` |
//! | `feodo-csv` | abuse.ch Feodo Tracker CSV | `"2021-01-17 07:44:46","51.178.161.32","4643","online","2024-03-11","Dridex"` |
//! | `ipsum` | stamparm IPsum | `1.2.3.4<TAB>7` (the count, on how many lists, is the score) |
//! | `csv` | your own | `cidr,category,score,description` (header optional, empty cells allowed) |
//!
//! ```
//! use nsgflow::reputation::feed::{parse_feed, FeedFormat};
//! let f = parse_feed(FeedFormat::Ipsum, "# IPsum\n185.220.101.4\t9\nnot-an-ip\t3\n");
//! assert_eq!(f.entries.len(), 1);
//! assert_eq!(f.entries[0].score, Some(9));
//! assert_eq!(f.bad_lines[0].line, 3);
//! ```

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::net::parse_cidr;

/// The feed file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedFormat {
    /// One IP or CIDR a line, `#` comments.
    #[default]
    List,
    /// Spamhaus DROP, JSON lines or the legacy `CIDR ; SBLnnn` text.
    Spamhaus,
    /// abuse.ch Feodo Tracker CSV.
    FeodoCsv,
    /// IPsum: `IP<TAB>count`.
    Ipsum,
    /// `cidr,category,score,description`.
    Csv,
}

impl FeedFormat {
    pub const ALL: [FeedFormat; 5] = [
        FeedFormat::List,
        FeedFormat::Spamhaus,
        FeedFormat::FeodoCsv,
        FeedFormat::Ipsum,
        FeedFormat::Csv,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FeedFormat::List => "list",
            FeedFormat::Spamhaus => "spamhaus",
            FeedFormat::FeodoCsv => "feodo-csv",
            FeedFormat::Ipsum => "ipsum",
            FeedFormat::Csv => "csv",
        }
    }
}

impl FromStr for FeedFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FeedFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown feed format `{s}`: expected list, spamhaus, feodo-csv, ipsum or csv"
                )
            })
    }
}

impl fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One listed prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub net: IpNet,
    /// The entry's own category (generic CSV), else the feed's.
    pub category: Option<String>,
    pub score: Option<u32>,
}

/// A line that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

/// What a feed file held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFeed {
    pub entries: Vec<FeedEntry>,
    pub bad_lines: Vec<BadLine>,
}

impl ParsedFeed {
    /// A feed is unusable when it lists nothing, or when more of its lines are bad than
    /// good (the wrong `format`, or a file cut mid-write).
    pub fn unusable(&self) -> Option<String> {
        if self.entries.is_empty() && self.bad_lines.is_empty() {
            return Some("no entries (empty file?)".into());
        }
        if self.bad_lines.len() > self.entries.len() {
            let first = &self.bad_lines[0];
            return Some(format!(
                "{} of {} lines are not valid (line {}: {}); is `format` right?",
                self.bad_lines.len(),
                self.bad_lines.len() + self.entries.len(),
                first.line,
                first.reason
            ));
        }
        None
    }
}

/// Parses a feed file's text.
pub fn parse_feed(format: FeedFormat, text: &str) -> ParsedFeed {
    let mut out = ParsedFeed::default();
    let mut header_seen = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let parsed = match format {
            FeedFormat::List => list_line(line),
            FeedFormat::Spamhaus => spamhaus_line(line),
            FeedFormat::FeodoCsv => {
                if !header_seen && line.contains("dst_ip") {
                    header_seen = true;
                    continue;
                }
                feodo_line(line)
            }
            FeedFormat::Ipsum => ipsum_line(line),
            FeedFormat::Csv => {
                if !header_seen && i == first_data_line(text) && line.starts_with("cidr") {
                    header_seen = true;
                    continue;
                }
                csv_line(line)
            }
        };
        match parsed {
            Ok(Some(e)) => out.entries.push(e),
            Ok(None) => {}
            Err(reason) => out.bad_lines.push(BadLine {
                line: i + 1,
                reason,
            }),
        }
    }
    out
}

fn first_data_line(text: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        })
        .unwrap_or(0)
}

fn entry(net: IpNet) -> FeedEntry {
    FeedEntry {
        net,
        category: None,
        score: None,
    }
}

type LineResult = Result<Option<FeedEntry>, String>;

fn list_line(line: &str) -> LineResult {
    // Trailing comments: `1.2.3.4 # seen 2024-01-01`.
    let cidr = line.split(['#', ' ', '\t', ';']).next().unwrap_or("");
    parse_cidr(cidr).map(|n| Some(entry(n)))
}

fn spamhaus_line(line: &str) -> LineResult {
    if line.starts_with('{') {
        #[derive(Deserialize)]
        struct Drop<'a> {
            cidr: Option<&'a str>,
            #[serde(rename = "type")]
            kind: Option<&'a str>,
        }
        let d: Drop<'_> =
            serde_json::from_str(line).map_err(|e| format!("not a DROP JSON line: {e}"))?;
        return match (d.cidr, d.kind) {
            (Some(c), _) => parse_cidr(c).map(|n| Some(entry(n))),
            (None, Some("metadata")) => Ok(None),
            (None, _) => Err("JSON line without `cidr`".into()),
        };
    }
    let cidr = line.split(';').next().unwrap_or("");
    parse_cidr(cidr).map(|n| Some(entry(n)))
}

fn unquote(cell: &str) -> &str {
    let c = cell.trim();
    c.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .unwrap_or(c)
}

fn feodo_line(line: &str) -> LineResult {
    let ip = line
        .split(',')
        .nth(1)
        .ok_or("expected `first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware`")?;
    parse_cidr(unquote(ip)).map(|n| Some(entry(n)))
}

fn ipsum_line(line: &str) -> LineResult {
    let mut parts = line.split_whitespace();
    let ip = parts.next().unwrap_or("");
    let net = parse_cidr(ip)?;
    let score = match parts.next() {
        Some(c) => Some(
            c.parse::<u32>()
                .map_err(|_| format!("count `{c}` is not a whole number"))?,
        ),
        None => None,
    };
    Ok(Some(FeedEntry {
        net,
        category: None,
        score,
    }))
}

fn csv_line(line: &str) -> LineResult {
    let mut cells = line.splitn(4, ',').map(unquote);
    let net = parse_cidr(cells.next().unwrap_or(""))?;
    let category = cells
        .next()
        .filter(|c| !c.is_empty())
        .map(|c| c.to_string());
    let score = match cells.next().filter(|c| !c.is_empty()) {
        Some(s) => Some(
            s.parse::<u32>()
                .map_err(|_| format!("score `{s}` is not a whole number"))?,
        ),
        None => None,
    };
    Ok(Some(FeedEntry {
        net,
        category,
        score,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(f: &ParsedFeed) -> Vec<String> {
        f.entries.iter().map(|e| e.net.to_string()).collect()
    }

    #[test]
    fn firehol_netset() {
        let text = "#\n# firehol_level1\n#\n0.0.0.0/8\n1.10.16.0/20\n10.0.0.0/8\n5.188.10.179\n";
        let f = parse_feed(FeedFormat::List, text);
        assert_eq!(
            nets(&f),
            ["0.0.0.0/8", "1.10.16.0/20", "10.0.0.0/8", "5.188.10.179/32"]
        );
        assert!(f.bad_lines.is_empty());
    }

    #[test]
    fn spamhaus_json_and_legacy() {
        let json = r#"{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}
{"cidr":"2a06:e480::/29","sblid":"SBL301771","rir":"ripencc"}
{"type":"metadata","timestamp":1711234567,"size":83821,"records":2,"copyright":"(c) 2024 The Spamhaus Project SLU"}
"#;
        let f = parse_feed(FeedFormat::Spamhaus, json);
        assert_eq!(nets(&f), ["1.10.16.0/20", "2a06:e480::/29"]);
        assert!(f.bad_lines.is_empty());
        let legacy = "; Spamhaus DROP List 2024/03/24\n1.10.16.0/20 ; SBL256894\n";
        assert_eq!(
            nets(&parse_feed(FeedFormat::Spamhaus, legacy)),
            ["1.10.16.0/20"]
        );
    }

    #[test]
    fn feodo_csv_skips_header() {
        let text = "################\n# Feodo Tracker\n\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\"2021-01-17 07:44:46\",\"51.178.161.32\",\"4643\",\"online\",\"2024-03-11\",\"Dridex\"\n";
        let f = parse_feed(FeedFormat::FeodoCsv, text);
        assert_eq!(nets(&f), ["51.178.161.32/32"]);
        assert!(f.bad_lines.is_empty(), "{:?}", f.bad_lines);
    }

    #[test]
    fn generic_csv_with_header_and_empty_cells() {
        let text = "cidr,category,score,description\n203.0.113.0/24,scanner,40,lab scanners, says ops\n198.51.100.7,,,\n";
        let f = parse_feed(FeedFormat::Csv, text);
        assert_eq!(f.entries[0].category.as_deref(), Some("scanner"));
        assert_eq!(f.entries[0].score, Some(40));
        assert_eq!(f.entries[1].category, None);
        assert_eq!(f.entries[1].score, None);
        let bad = parse_feed(FeedFormat::Csv, "203.0.113.0/24,x,high,\n");
        assert!(bad.bad_lines[0].reason.contains("high"));
    }

    #[test]
    fn wrong_format_is_unusable() {
        let f = parse_feed(
            FeedFormat::Ipsum,
            "{\"cidr\":\"1.10.16.0/20\"}\n{\"cidr\":\"1.2.3.0/24\"}\n",
        );
        let why = f.unusable().unwrap();
        assert!(why.contains("2 of 2") && why.contains("line 1"), "{why}");
        assert!(parse_feed(FeedFormat::List, "# only comments\n")
            .unusable()
            .is_some());
        assert!(parse_feed(FeedFormat::List, "1.2.3.4\n")
            .unusable()
            .is_none());
    }
}
