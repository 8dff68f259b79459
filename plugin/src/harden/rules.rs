//! Azure's security-rule model: what one NSG rule says, and the limits Azure enforces on a
//! rule set.
//!
//! | Azure property | here |
//! |---|---|
//! | `name` (1-80 chars: letters, digits, `_` `.` `-`; starts with a letter or digit, ends with one or `_`) | [`SecurityRule::name`], checked by [`valid_name`] |
//! | `priority` (100-4096, unique per NSG and direction) | [`SecurityRule::priority`] |
//! | `access` `Allow`/`Deny`, `direction` `Inbound`/`Outbound` | [`Access`], [`RuleDirection`] |
//! | `protocol` `Tcp`/`Udp`/`Icmp`/`Esp`/`Ah`/`*` | [`RuleProtocol`] |
//! | `sourceAddressPrefix(es)`, `destinationAddressPrefix(es)`: `*`, a service tag, CIDRs | [`Addresses`] |
//! | `sourcePortRange(s)`, `destinationPortRange(s)`: `*`, `443`, `8000-8100` | [`Ports`] |
//!
//! One entry renders as the singular property, several as the plural one. Azure takes a
//! service tag (or `*`) only alone, in the singular property: [`Addresses`] enforces it.
//!
//! ```
//! use nsgflow::harden::rules::{Addresses, Ports, PortRange};
//! let a = Addresses::parse_list(&["10.0.1.4/32", "10.0.1.5"]).unwrap();
//! assert_eq!(a.to_strings(), ["10.0.1.4/32", "10.0.1.5/32"]);
//! assert!(Addresses::parse_list(&["Internet", "10.0.0.0/8"]).is_err());
//! let p = Ports::parse_list(&["443", "8000-8100"]).unwrap();
//! assert!(p.contains(8050) && !p.contains(80));
//! assert_eq!(Ports::any().to_strings(), ["*"]);
//! assert_eq!(PortRange::parse("22").unwrap().to_string(), "22");
//! ```

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// Lowest and highest priority a user rule may have.
pub const PRIORITY_MIN: u16 = 100;
pub const PRIORITY_MAX: u16 = 4096;
/// Security rules per NSG (Azure's subscription limit, both directions together).
pub const MAX_RULES_PER_NSG: usize = 1000;
/// Addresses and ranges one rule may list on one side.
pub const MAX_PREFIXES_PER_RULE: usize = 4000;
/// Longest rule name and description Azure accepts.
pub const MAX_NAME_LEN: usize = 80;
pub const MAX_DESCRIPTION_LEN: usize = 140;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    Allow,
    Deny,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Allow => "Allow",
            Access::Deny => "Deny",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleDirection {
    Inbound,
    Outbound,
}

impl RuleDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleDirection::Inbound => "Inbound",
            RuleDirection::Outbound => "Outbound",
        }
    }

    /// `in` / `out`, for rule names.
    pub fn short(self) -> &'static str {
        match self {
            RuleDirection::Inbound => "in",
            RuleDirection::Outbound => "out",
        }
    }

    pub fn from_flow(d: crate::labels::Direction) -> Self {
        match d {
            crate::labels::Direction::Inbound => RuleDirection::Inbound,
            crate::labels::Direction::Outbound => RuleDirection::Outbound,
        }
    }
}

/// The protocols an NSG rule can name; `Any` is `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleProtocol {
    Tcp,
    Udp,
    Icmp,
    Esp,
    Ah,
    Any,
}

impl RuleProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleProtocol::Tcp => "Tcp",
            RuleProtocol::Udp => "Udp",
            RuleProtocol::Icmp => "Icmp",
            RuleProtocol::Esp => "Esp",
            RuleProtocol::Ah => "Ah",
            RuleProtocol::Any => "*",
        }
    }

    /// The rule protocol that names an IP protocol; others need `*`.
    pub fn from_iana(n: u8) -> Self {
        match n {
            6 => RuleProtocol::Tcp,
            17 => RuleProtocol::Udp,
            1 | 58 => RuleProtocol::Icmp,
            50 => RuleProtocol::Esp,
            51 => RuleProtocol::Ah,
            _ => RuleProtocol::Any,
        }
    }

    /// Whether a rule with this protocol matches a flow of IANA protocol `n`.
    pub fn matches(self, n: u8) -> bool {
        self == RuleProtocol::Any || RuleProtocol::from_iana(n) == self
    }

    /// Whether rules of this protocol carry ports (Azure ignores ports for the others).
    pub fn has_ports(self) -> bool {
        matches!(
            self,
            RuleProtocol::Tcp | RuleProtocol::Udp | RuleProtocol::Any
        )
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "tcp" => RuleProtocol::Tcp,
            "udp" => RuleProtocol::Udp,
            "icmp" => RuleProtocol::Icmp,
            "esp" => RuleProtocol::Esp,
            "ah" => RuleProtocol::Ah,
            "*" | "any" => RuleProtocol::Any,
            _ => return None,
        })
    }
}

/// One address entry of a rule side.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressEntry {
    /// `*`: any address.
    Any,
    /// A service tag: `Internet`, `VirtualNetwork`, `AzureLoadBalancer`, `Storage.WestEurope`...
    Tag(String),
    Prefix(IpNet),
}

impl fmt::Display for AddressEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressEntry::Any => f.write_str("*"),
            AddressEntry::Tag(t) => f.write_str(t),
            AddressEntry::Prefix(p) => write!(f, "{p}"),
        }
    }
}

impl AddressEntry {
    /// `*`, a CIDR or bare address, or else a service tag name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "*" || s.eq_ignore_ascii_case("any") {
            return Ok(AddressEntry::Any);
        }
        if s.is_empty() {
            return Err("an empty address prefix".into());
        }
        if s.chars().next().is_some_and(|c| c.is_ascii_digit()) || s.contains(':') {
            return s
                .parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map(AddressEntry::Prefix)
                .map_err(|_| format!("`{s}` is not a CIDR (like 10.0.0.0/16) or an IP address"));
        }
        if s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        {
            Ok(AddressEntry::Tag(s.to_string()))
        } else {
            Err(format!(
                "`{s}` is neither `*`, a CIDR nor a service tag name"
            ))
        }
    }

    pub fn host(ip: IpAddr) -> Self {
        AddressEntry::Prefix(IpNet::from(ip))
    }
}

/// One side's addresses: `*` or one tag alone, or one or more CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addresses(Vec<AddressEntry>);

impl Addresses {
    pub fn any() -> Self {
        Addresses(vec![AddressEntry::Any])
    }

    pub fn tag(name: &str) -> Self {
        Addresses(vec![AddressEntry::Tag(name.to_string())])
    }

    /// CIDRs, sorted and deduplicated. Panics on an empty list (a rule side is never empty).
    pub fn prefixes(mut nets: Vec<IpNet>) -> Self {
        assert!(!nets.is_empty(), "a rule side needs at least one prefix");
        nets.sort();
        nets.dedup();
        Addresses(nets.into_iter().map(AddressEntry::Prefix).collect())
    }

    pub fn new(entries: Vec<AddressEntry>) -> Result<Self, String> {
        if entries.is_empty() {
            return Err("no address prefix".into());
        }
        if entries.len() > 1
            && entries
                .iter()
                .any(|e| !matches!(e, AddressEntry::Prefix(_)))
        {
            return Err(format!(
                "`{}`: Azure takes `*` or a service tag only alone, not in a list with others",
                entries
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Addresses(entries))
    }

    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        Addresses::new(
            items
                .iter()
                .map(|s| AddressEntry::parse(s.as_ref()))
                .collect::<Result<_, _>>()?,
        )
    }

    pub fn entries(&self) -> &[AddressEntry] {
        &self.0
    }

    pub fn is_single(&self) -> bool {
        self.0.len() == 1
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|e| e.to_string()).collect()
    }
}

impl fmt::Display for Addresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_strings().join(","))
    }
}

/// An inclusive port range; a single port has `lo == hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub fn single(p: u16) -> Self {
        PortRange { lo: p, hi: p }
    }

    pub fn contains(self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }

    pub fn len(self) -> u32 {
        u32::from(self.hi - self.lo) + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }

    pub fn is_all(self) -> bool {
        self.lo == 0 && self.hi == u16::MAX
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "*" {
            return Ok(PortRange {
                lo: 0,
                hi: u16::MAX,
            });
        }
        let num = |t: &str| {
            t.trim().parse::<u16>().map_err(|_| {
                format!("`{s}` is not a port (0-65535), a range like 8000-8100 or `*`")
            })
        };
        let r = match s.split_once('-') {
            Some((a, b)) => PortRange {
                lo: num(a)?,
                hi: num(b)?,
            },
            None => PortRange::single(num(s)?),
        };
        if r.lo > r.hi {
            return Err(format!("`{s}`: the range ends before it starts"));
        }
        Ok(r)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            f.write_str("*")
        } else if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// One side's ports: sorted, non-overlapping ranges (`*` is 0-65535).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ports(Vec<PortRange>);

impl Ports {
    pub fn any() -> Self {
        Ports(vec![PortRange {
            lo: 0,
            hi: u16::MAX,
        }])
    }

    /// Sorts and merges overlapping or adjacent ranges.
    pub fn new(mut ranges: Vec<PortRange>) -> Self {
        ranges.sort();
        let mut out: Vec<PortRange> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match out.last_mut() {
                Some(last) if u32::from(r.lo) <= u32::from(last.hi) + 1 => {
                    last.hi = last.hi.max(r.hi)
                }
                _ => out.push(r),
            }
        }
        Ports(out)
    }

    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        if items.is_empty() {
            return Err("no port range".into());
        }
        Ok(Ports::new(
            items
                .iter()
                .map(|s| PortRange::parse(s.as_ref()))
                .collect::<Result<_, _>>()?,
        ))
    }

    pub fn ranges(&self) -> &[PortRange] {
        &self.0
    }

    pub fn contains(&self, p: u16) -> bool {
        self.0.iter().any(|r| r.contains(p))
    }

    pub fn is_any(&self) -> bool {
        self.0.len() == 1 && self.0[0].is_all()
    }

    pub fn is_single(&self) -> bool {
        self.0.len() == 1
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|r| r.to_string()).collect()
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_strings().join(","))
    }
}

/// One NSG security rule, in Azure's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityRule {
    pub name: String,
    pub priority: u16,
    pub access: Access,
    pub direction: RuleDirection,
    pub protocol: RuleProtocol,
    pub source: Addresses,
    pub source_ports: Ports,
    pub destination: Addresses,
    pub destination_ports: Ports,
    pub description: String,
}

/// Whether Azure accepts `name` as a rule name.
pub fn valid_name(name: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-';
    let first = name.chars().next();
    let last = name.chars().last();
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.chars().all(ok_char)
        && first.is_some_and(|c| c.is_ascii_alphanumeric())
        && last.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a rule set of one NSG against Azure's limits; each problem in words.
pub fn check_limits(rules: &[SecurityRule]) -> Vec<String> {
    let mut problems = Vec::new();
    if rules.len() > MAX_RULES_PER_NSG {
        problems.push(format!(
            "{} rules: Azure allows at most {MAX_RULES_PER_NSG} per NSG",
            rules.len()
        ));
    }
    let mut seen_priority = std::collections::HashSet::new();
    let mut seen_name = std::collections::HashSet::new();
    for r in rules {
        if !(PRIORITY_MIN..=PRIORITY_MAX).contains(&r.priority) {
            problems.push(format!(
                "rule {}: priority {} outside {PRIORITY_MIN}-{PRIORITY_MAX}",
                r.name, r.priority
            ));
        }
        if !seen_priority.insert((r.direction, r.priority)) {
            problems.push(format!(
                "rule {}: priority {} used twice for {}",
                r.name,
                r.priority,
                r.direction.as_str()
            ));
        }
        if !valid_name(&r.name) {
            problems.push(format!("rule `{}`: not a valid Azure rule name", r.name));
        }
        if !seen_name.insert(r.name.to_ascii_lowercase()) {
            problems.push(format!("rule {}: name used twice", r.name));
        }
        if r.description.chars().count() > MAX_DESCRIPTION_LEN {
            problems.push(format!(
                "rule {}: description longer than {MAX_DESCRIPTION_LEN}",
                r.name
            ));
        }
        for side in [&r.source, &r.destination] {
            if side.entries().len() > MAX_PREFIXES_PER_RULE {
                problems.push(format!(
                    "rule {}: {} prefixes on one side, Azure allows {MAX_PREFIXES_PER_RULE}",
                    r.name,
                    side.entries().len()
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("allow-in-tcp-443-p100"));
        assert!(valid_name("a_"));
        assert!(!valid_name("-a"));
        assert!(!valid_name("a-"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"a".repeat(81)));
    }

    #[test]
    fn ports_merge_and_parse() {
        let p = Ports::new(vec![
            PortRange::single(81),
            PortRange::single(80),
            PortRange { lo: 82, hi: 90 },
            PortRange::single(443),
        ]);
        assert_eq!(p.to_strings(), ["80-90", "443"]);
        assert!(PortRange::parse("90-80").is_err());
        assert!(PortRange::parse("70000").is_err());
        assert!(Ports::parse_list(&["*"]).unwrap().is_any());
    }

    #[test]
    fn address_entries() {
        assert_eq!(AddressEntry::parse("*").unwrap(), AddressEntry::Any);
        assert_eq!(
            AddressEntry::parse("Storage.WestEurope").unwrap(),
            AddressEntry::Tag("Storage.WestEurope".into())
        );
        assert!(AddressEntry::parse("10.0.0.0/33").is_err());
        assert!(AddressEntry::parse("a b").is_err());
    }
}
