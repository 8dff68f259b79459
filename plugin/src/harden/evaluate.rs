//! NSG rule evaluation: which rule of a set decides a flow, the way Azure does it.
//!
//! Rules of the flow's direction are tried in priority order (lowest number first); the
//! first whose protocol, source and destination addresses and ports all match decides.
//! When no user rule matches, Azure's default rules decide ([`default_rules`]:
//! `AllowVnetInBound`, `AllowAzureLoadBalancerInBound`, `DenyAllInBound`, and the outbound
//! three). Addresses are CIDRs, `*`, or service tags resolved by an [`AddressBook`]:
//!
//! | tag | addresses |
//! |---|---|
//! | `VirtualNetwork` | every VNet and gateway range of your topology |
//! | `Internet` | public addresses outside `VirtualNetwork` |
//! | `AzureLoadBalancer` | 168.63.129.16 |
//! | any other | its `addressPrefixes` in the Service Tags file (names compared case-insensitively) |
//!
//! A tag the book does not know matches nothing (so a proposal never relies on it).
//!
//! ```
//! use nsgflow::harden::evaluate::{evaluate, AddressBook, Flow};
//! use nsgflow::harden::rules::*;
//! let rule = SecurityRule {
//!     name: "allow-ssh".into(), priority: 100, access: Access::Allow,
//!     direction: RuleDirection::Inbound, protocol: RuleProtocol::Tcp,
//!     source: Addresses::parse_list(&["203.0.113.7"]).unwrap(), source_ports: Ports::any(),
//!     destination: Addresses::any(), destination_ports: Ports::parse_list(&["22"]).unwrap(),
//!     description: String::new(),
//! };
//! let book = AddressBook::default();
//! let ssh = Flow::new("203.0.113.7", "10.0.0.4", 6, 22, RuleDirection::Inbound);
//! assert_eq!(evaluate(&[rule.clone()], &book, &ssh).name, "allow-ssh");
//! let other = Flow::new("198.51.100.1", "10.0.0.4", 6, 22, RuleDirection::Inbound);
//! let v = evaluate(&[rule], &book, &other);
//! assert_eq!((v.name.as_str(), v.access), ("DenyAllInBound", Access::Deny));
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use crate::classify::{builtin_class, AddressClass};
use crate::harden::rules::{
    Access, AddressEntry, Addresses, Ports, RuleDirection, RuleProtocol, SecurityRule,
};
use crate::topology::{ServiceTagsFile, TopologyConfig};

/// The Azure platform address: health probes (the `AzureLoadBalancer` tag), DNS, DHCP.
pub const AZURE_PLATFORM: IpAddr = IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16));

/// What service tags stand for.
#[derive(Debug, Clone, Default)]
pub struct AddressBook {
    /// Lower-cased tag name -> prefixes.
    tags: HashMap<String, Vec<IpNet>>,
    virtual_network: Vec<IpNet>,
}

impl AddressBook {
    pub fn new(service_tags: Option<&ServiceTagsFile>, topology: Option<&TopologyConfig>) -> Self {
        let mut tags: HashMap<String, Vec<IpNet>> = HashMap::new();
        if let Some(file) = service_tags {
            for v in &file.values {
                tags.entry(v.name.to_ascii_lowercase())
                    .or_default()
                    .extend(v.properties.address_prefixes.iter().map(|c| c.0));
            }
        }
        let mut virtual_network = Vec::new();
        if let Some(t) = topology {
            for v in &t.vnets {
                virtual_network.extend(v.cidrs.iter().map(|c| c.0));
            }
            for g in &t.gateways {
                virtual_network.extend(g.cidrs.iter().map(|c| c.0));
            }
        }
        AddressBook {
            tags,
            virtual_network,
        }
    }

    /// Whether the book can resolve `tag`.
    pub fn knows(&self, tag: &str) -> bool {
        let t = tag.to_ascii_lowercase();
        matches!(
            t.as_str(),
            "virtualnetwork" | "internet" | "azureloadbalancer"
        ) || self.tags.contains_key(&t)
    }

    pub fn in_virtual_network(&self, ip: IpAddr) -> bool {
        self.virtual_network.iter().any(|n| n.contains(&ip))
    }

    pub fn entry_contains(&self, entry: &AddressEntry, ip: IpAddr) -> bool {
        match entry {
            AddressEntry::Any => true,
            AddressEntry::Prefix(p) => p.contains(&ip),
            AddressEntry::Tag(t) => match t.to_ascii_lowercase().as_str() {
                "virtualnetwork" => self.in_virtual_network(ip),
                "internet" => {
                    builtin_class(ip) == AddressClass::Public && !self.in_virtual_network(ip)
                }
                "azureloadbalancer" => ip == AZURE_PLATFORM,
                other => self
                    .tags
                    .get(other)
                    .is_some_and(|nets| nets.iter().any(|n| n.contains(&ip))),
            },
        }
    }

    pub fn contains(&self, addresses: &Addresses, ip: IpAddr) -> bool {
        addresses
            .entries()
            .iter()
            .any(|e| self.entry_contains(e, ip))
    }
}

/// A flow to judge: the 5-tuple (source port is rarely restricted; it defaults to an
/// ephemeral one) and the direction at the NSG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IANA protocol number.
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub direction: RuleDirection,
}

impl Flow {
    /// For examples and tests: addresses as text, source port 50000. Panics on a bad address.
    pub fn new(
        src: &str,
        dst: &str,
        protocol: u8,
        dst_port: u16,
        direction: RuleDirection,
    ) -> Self {
        Flow {
            src: src.parse().expect("source address"),
            dst: dst.parse().expect("destination address"),
            protocol,
            src_port: 50000,
            dst_port,
            direction,
        }
    }
}

/// Whether `rule` matches `flow` (direction included).
pub fn matches(rule: &SecurityRule, book: &AddressBook, flow: &Flow) -> bool {
    let ports_apply = crate::labels::Protocol(flow.protocol).has_ports();
    let port_ok = |ports: &Ports, p: u16| !ports_apply || ports.contains(p);
    rule.direction == flow.direction
        && rule.protocol.matches(flow.protocol)
        && port_ok(&rule.destination_ports, flow.dst_port)
        && port_ok(&rule.source_ports, flow.src_port)
        && book.contains(&rule.source, flow.src)
        && book.contains(&rule.destination, flow.dst)
}

/// The rule that decides `flow`: the first match in priority order among `rules`, else
/// among Azure's default rules.
pub fn evaluate<'r>(rules: &'r [SecurityRule], book: &AddressBook, flow: &Flow) -> Verdict {
    let mut order: Vec<&'r SecurityRule> = rules.iter().collect();
    order.sort_by_key(|r| r.priority);
    let hit = order
        .into_iter()
        .find(|r| matches(r, book, flow))
        .map(|r| Verdict {
            name: r.name.clone(),
            priority: r.priority,
            access: r.access,
            default_rule: false,
        });
    hit.unwrap_or_else(|| {
        let defaults = default_rules(flow.direction);
        let r = defaults
            .iter()
            .find(|r| matches(r, book, flow))
            .expect("the last default rule matches every flow");
        Verdict {
            name: r.name.clone(),
            priority: r.priority,
            access: r.access,
            default_rule: true,
        }
    })
}

/// Which rule decided a flow and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub name: String,
    pub priority: u16,
    pub access: Access,
    /// Decided by one of Azure's default rules (priorities 65000-65500).
    pub default_rule: bool,
}

/// Azure's default security rules for one direction, in priority order.
pub fn default_rules(direction: RuleDirection) -> Vec<SecurityRule> {
    let rule = |name: &str, priority: u16, access, src: &str, dst: &str| SecurityRule {
        name: name.into(),
        priority,
        access,
        direction,
        protocol: RuleProtocol::Any,
        source: Addresses::parse_list(&[src]).expect("default rule source"),
        source_ports: Ports::any(),
        destination: Addresses::parse_list(&[dst]).expect("default rule destination"),
        destination_ports: Ports::any(),
        description: String::new(),
    };
    match direction {
        RuleDirection::Inbound => vec![
            rule(
                "AllowVnetInBound",
                65000,
                Access::Allow,
                "VirtualNetwork",
                "VirtualNetwork",
            ),
            rule(
                "AllowAzureLoadBalancerInBound",
                65001,
                Access::Allow,
                "AzureLoadBalancer",
                "*",
            ),
            rule("DenyAllInBound", 65500, Access::Deny, "*", "*"),
        ],
        RuleDirection::Outbound => vec![
            rule(
                "AllowVnetOutBound",
                65000,
                Access::Allow,
                "VirtualNetwork",
                "VirtualNetwork",
            ),
            rule(
                "AllowInternetOutBound",
                65001,
                Access::Allow,
                "*",
                "Internet",
            ),
            rule("DenyAllOutBound", 65500, Access::Deny, "*", "*"),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;

    fn book() -> AddressBook {
        let tags = ServiceTagsFile::parse(
            r#"{"values":[{"name":"Storage.WestEurope","properties":{"region":"westeurope","addressPrefixes":["20.60.140.0/24"]}}]}"#,
        )
        .unwrap();
        let topo: TopologyConfig = serde_saphyr::from_str(
            "vnets:\n  - name: v\n    cidrs: [10.0.0.0/16]\ngateways:\n  - {name: g, type: s2s, cidrs: [192.168.0.0/16]}\n",
        )
        .unwrap();
        let _ = Topology::new(&topo, None);
        AddressBook::new(Some(&tags), Some(&topo))
    }

    #[test]
    fn tags_resolve() {
        let b = book();
        let tag =
            |t: &str, ip: &str| b.entry_contains(&AddressEntry::Tag(t.into()), ip.parse().unwrap());
        assert!(tag("VirtualNetwork", "10.0.3.4"));
        assert!(
            tag("virtualnetwork", "192.168.1.1"),
            "gateway ranges are VirtualNetwork"
        );
        assert!(!tag("VirtualNetwork", "10.1.0.1"));
        assert!(tag("Internet", "8.8.8.8"));
        assert!(
            !tag("Internet", "10.1.0.1"),
            "private space outside the VNets is not Internet"
        );
        assert!(tag("AzureLoadBalancer", "168.63.129.16"));
        assert!(tag("Storage.WestEurope", "20.60.140.9"));
        assert!(!tag("Storage.WestEurope", "20.60.141.9"));
        assert!(!tag("NoSuchTag", "20.60.140.9"));
    }

    #[test]
    fn defaults_decide_when_nothing_matches() {
        let b = book();
        let v = evaluate(
            &[],
            &b,
            &Flow::new("10.0.1.4", "10.0.2.4", 6, 1433, RuleDirection::Inbound),
        );
        assert_eq!(
            (v.name.as_str(), v.access, v.default_rule),
            ("AllowVnetInBound", Access::Allow, true)
        );
        let v = evaluate(
            &[],
            &b,
            &Flow::new("8.8.8.8", "10.0.2.4", 6, 22, RuleDirection::Inbound),
        );
        assert_eq!(v.name, "DenyAllInBound");
        let v = evaluate(
            &[],
            &b,
            &Flow::new("10.0.2.4", "8.8.8.8", 17, 53, RuleDirection::Outbound),
        );
        assert_eq!(v.name, "AllowInternetOutBound");
    }

    #[test]
    fn priority_order_first_match() {
        let b = book();
        let mk = |name: &str, prio: u16, access, port: &str| SecurityRule {
            name: name.into(),
            priority: prio,
            access,
            direction: RuleDirection::Inbound,
            protocol: RuleProtocol::Tcp,
            source: Addresses::any(),
            source_ports: Ports::any(),
            destination: Addresses::any(),
            destination_ports: Ports::parse_list(&[port]).unwrap(),
            description: String::new(),
        };
        let rules = [
            mk("allow-range", 200, Access::Allow, "1000-2000"),
            mk("deny-1433", 100, Access::Deny, "1433"),
        ];
        let f = |p| Flow::new("10.0.1.4", "10.0.2.4", 6, p, RuleDirection::Inbound);
        assert_eq!(evaluate(&rules, &b, &f(1433)).name, "deny-1433");
        assert_eq!(evaluate(&rules, &b, &f(1434)).name, "allow-range");
        // UDP does not match a Tcp rule; ICMP ignores ports.
        let u = Flow {
            protocol: 17,
            ..f(1434)
        };
        assert_eq!(evaluate(&rules, &b, &u).name, "AllowVnetInBound");
    }
}
