//! The other side of a need (the sources of inbound traffic, the destinations of outbound
//! traffic), kept as a bounded set of addresses and summarised as the narrowest sensible
//! rule addresses ([`summarize`]):
//!
//! | remote addresses | rule addresses |
//! |---|---|
//! | 168.63.129.16 / 169.254.169.254 | covered by the platform rule (`AzureLoadBalancer`, kept allowed) |
//! | up to `hosts_per_subnet` (3) hosts of one topology subnet | their /32s (/128s) |
//! | more hosts of one subnet | the subnet's CIDRs that hold them |
//! | widened subnets of one VNet, `subnets_per_vnet` (3) or more | the VNet's CIDRs that hold them |
//! | hosts in `vnets_for_tag` (3) or more VNets/gateway ranges, and 10 or more hosts | `VirtualNetwork` |
//! | gateway ranges (on-premises, VPN clients) | /32s, or the range when more than 3 hosts |
//! | up to `public_hosts` (8) public hosts | /32s, or a service tag when 2+ of them share one |
//! | more public hosts, within `public_24s` (8) /24s | those /24s |
//! | more public hosts than that | `Internet` |
//! | other private space | /32s, or /24s when more than 3 hosts |
//!
//! A set keeps at most [`EXACT_CAP`] exact addresses; past that it keeps /24 (IPv6: /64)
//! buckets, and any further public address makes it `Internet`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::classify::{builtin_class, AddressClass};
use crate::harden::evaluate::AZURE_PLATFORM;
use crate::harden::rules::Addresses;
use crate::topology::{ServiceTagsFile, Topology, TopologyConfig};

/// Exact remote addresses kept per need.
pub const EXACT_CAP: usize = 1024;

/// The instance metadata service, never filtered by NSGs.
pub const AZURE_IMDS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 169, 254));

/// A public (internet-routed) address, by the built-in classes.
pub fn is_public(ip: IpAddr) -> bool {
    builtin_class(ip) == AddressClass::Public
}

/// 168.63.129.16 or 169.254.169.254: the platform, kept allowed by the platform rule.
pub fn is_platform(ip: IpAddr) -> bool {
    ip == AZURE_PLATFORM || ip == AZURE_IMDS
}

/// Per remote address: tuples seen and when last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteStats {
    pub tuples: u64,
    /// Flows begun (`B` tuples, every NSG v1 tuple).
    pub flows: u64,
    pub first_ms: u64,
    pub last_ms: u64,
}

/// The remote addresses of one need.
#[derive(Debug, Clone, Default)]
pub struct RemoteSet {
    pub exact: BTreeMap<IpAddr, RemoteStats>,
    /// /24 or /64 buckets of addresses past the cap.
    pub buckets: BTreeSet<IpNet>,
    /// A public address arrived past the cap.
    pub public_overflow: bool,
    /// Addresses past the cap, counted (with repeats).
    pub overflow_tuples: u64,
}

/// The /24 (IPv4) or /64 (IPv6) holding `ip`.
pub fn bucket(ip: IpAddr) -> IpNet {
    let len = if ip.is_ipv4() { 24 } else { 64 };
    IpNet::new(ip, len).expect("valid prefix length").trunc()
}

impl RemoteSet {
    /// Counts a tuple from `ip` at `ms`; `begun` when it starts a flow.
    pub fn add(&mut self, ip: IpAddr, ms: u64, begun: bool) {
        if let Some(s) = self.exact.get_mut(&ip) {
            s.tuples += 1;
            s.flows += u64::from(begun);
            s.first_ms = s.first_ms.min(ms);
            s.last_ms = s.last_ms.max(ms);
            return;
        }
        if self.exact.len() < EXACT_CAP {
            self.exact.insert(
                ip,
                RemoteStats {
                    tuples: 1,
                    flows: u64::from(begun),
                    first_ms: ms,
                    last_ms: ms,
                },
            );
            return;
        }
        self.overflow_tuples += 1;
        if is_public(ip) {
            self.public_overflow = true;
        } else {
            self.buckets.insert(bucket(ip));
        }
    }

    /// Distinct addresses known, and whether there were more.
    pub fn distinct(&self) -> (usize, bool) {
        (self.exact.len(), self.overflow_tuples > 0)
    }
}

/// Thresholds of [`summarize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SummaryLimits {
    pub hosts_per_subnet: usize,
    pub subnets_per_vnet: usize,
    pub vnets_for_tag: usize,
    pub public_hosts: usize,
    pub public_24s: usize,
}

impl Default for SummaryLimits {
    fn default() -> Self {
        SummaryLimits {
            hosts_per_subnet: 3,
            subnets_per_vnet: 3,
            vnets_for_tag: 3,
            public_hosts: 8,
            public_24s: 8,
        }
    }
}

/// Where addresses are: topology sites with their CIDRs, and service tags.
#[derive(Debug, Clone, Default)]
pub struct Places {
    topology: Topology,
    /// (vnet, subnet or "") -> CIDRs; gateways under ("gateway:NAME", "").
    cidrs: HashMap<(String, String), Vec<IpNet>>,
}

/// What a remote address is, for summarising.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Platform,
    /// (vnet, subnet or "").
    Site(String, String),
    Gateway(String),
    Tagged(String),
    Public,
    Private,
}

impl Places {
    pub fn new(topology: Option<&TopologyConfig>, service_tags: Option<&ServiceTagsFile>) -> Self {
        let default = TopologyConfig::default();
        let config = topology.unwrap_or(&default);
        let mut cidrs: HashMap<(String, String), Vec<IpNet>> = HashMap::new();
        for v in &config.vnets {
            cidrs.insert(
                (v.name.clone(), String::new()),
                v.cidrs.iter().map(|c| c.0).collect(),
            );
            for s in &v.subnets {
                cidrs.insert(
                    (v.name.clone(), s.name.clone()),
                    s.cidrs.iter().map(|c| c.0).collect(),
                );
            }
        }
        for g in &config.gateways {
            cidrs.insert(
                (format!("gateway:{}", g.name), String::new()),
                g.cidrs.iter().map(|c| c.0).collect(),
            );
        }
        Places {
            topology: Topology::new(config, service_tags),
            cidrs,
        }
    }

    fn place(&self, ip: IpAddr) -> Place {
        if is_platform(ip) {
            return Place::Platform;
        }
        if let Some(site) = self.topology.site(ip) {
            if let Some(v) = &site.vnet {
                return Place::Site(v.clone(), site.subnet.clone().unwrap_or_default());
            }
            if let Some((_, g)) = &site.gateway {
                return Place::Gateway(g.clone());
            }
        }
        if let Some(tag) = self.topology.service_tag(ip) {
            return Place::Tagged(tag.name.clone());
        }
        if is_public(ip) {
            Place::Public
        } else {
            Place::Private
        }
    }

    /// The CIDRs of a site (VNet/subnet/gateway) that hold any of `ips`.
    fn site_cidrs(&self, key: &(String, String), ips: &[IpNet]) -> Vec<IpNet> {
        self.cidrs
            .get(key)
            .map(|nets| {
                nets.iter()
                    .filter(|n| {
                        ips.iter()
                            .any(|i| n.contains(&i.network()) || i.contains(&n.network()))
                    })
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The subnet CIDR holding `ip`, for collapsing destinations.
    pub fn subnet_of(&self, ip: IpAddr) -> Option<IpNet> {
        let site = self.topology.site(ip)?;
        let key = (site.vnet.clone()?, site.subnet.clone()?);
        self.cidrs
            .get(&key)?
            .iter()
            .find(|n| n.contains(&ip))
            .copied()
    }
}

/// A remote set summarised: the rule address sets (one rule each; a tag is always alone)
/// and whether the platform rule covers part of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub addresses: Vec<Addresses>,
    pub platform: bool,
}

/// Summarises a remote set (see the module docs for the table).
pub fn summarize(set: &RemoteSet, places: &Places, limits: &SummaryLimits) -> Summary {
    let mut platform = false;
    let mut sites: BTreeMap<(String, String), Vec<IpNet>> = BTreeMap::new();
    let mut site_forced: BTreeSet<(String, String)> = BTreeSet::new();
    let mut tagged: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    let mut public: Vec<IpAddr> = Vec::new();
    let mut private: Vec<IpNet> = Vec::new();
    let mut private_forced = false;
    for &ip in set.exact.keys() {
        match places.place(ip) {
            Place::Platform => platform = true,
            Place::Site(v, s) => sites.entry((v, s)).or_default().push(IpNet::from(ip)),
            Place::Gateway(g) => sites
                .entry((format!("gateway:{g}"), String::new()))
                .or_default()
                .push(IpNet::from(ip)),
            Place::Tagged(t) => tagged.entry(t).or_default().push(ip),
            Place::Public => public.push(ip),
            Place::Private => private.push(IpNet::from(ip)),
        }
    }
    for &b in &set.buckets {
        let key = match places.place(b.network()) {
            Place::Site(v, s) => (v, s),
            Place::Gateway(g) => (format!("gateway:{g}"), String::new()),
            _ => {
                private.push(b);
                private_forced = true;
                continue;
            }
        };
        sites.entry(key.clone()).or_default().push(b);
        site_forced.insert(key);
    }

    let mut out: Vec<Addresses> = Vec::new();
    let mut prefixes: Vec<IpNet> = Vec::new();

    // Internal: hosts, subnets, VNets, or VirtualNetwork.
    let internal_hosts: usize = sites.values().map(|v| v.len()).sum();
    let distinct_vnets: BTreeSet<&String> = sites.keys().map(|(v, _)| v).collect();
    if distinct_vnets.len() >= limits.vnets_for_tag && internal_hosts >= 10 {
        out.push(Addresses::tag("VirtualNetwork"));
    } else {
        // Per VNet: the entries (hosts or widened sites), how many subnets were widened,
        // and the raw addresses (to pick the VNet CIDRs that hold them).
        let mut per_vnet: BTreeMap<String, (Vec<IpNet>, usize, Vec<IpNet>)> = BTreeMap::new();
        for (key, ips) in &sites {
            let many = ips.len() > limits.hosts_per_subnet || site_forced.contains(key);
            let cidrs = if many {
                places.site_cidrs(key, ips)
            } else {
                Vec::new()
            };
            let e = per_vnet.entry(key.0.clone()).or_default();
            e.2.extend(ips.iter().copied());
            if cidrs.is_empty() {
                e.0.extend(ips.iter().copied());
            } else {
                e.0.extend(cidrs);
                if !key.1.is_empty() {
                    e.1 += 1;
                }
            }
        }
        for (vnet, (entries, widened, raw)) in per_vnet {
            if widened >= limits.subnets_per_vnet {
                let v = places.site_cidrs(&(vnet, String::new()), &raw);
                if !v.is_empty() {
                    prefixes.extend(v);
                    continue;
                }
            }
            prefixes.extend(entries);
        }
    }

    // Public: hosts, service tags, /24s or Internet.
    let all_public: usize = public.len() + tagged.values().map(|v| v.len()).sum::<usize>();
    if set.public_overflow || all_public > limits.public_hosts {
        let nets: BTreeSet<IpNet> = public
            .iter()
            .chain(tagged.values().flatten())
            .map(|&ip| bucket(ip))
            .collect();
        if !set.public_overflow && nets.len() <= limits.public_24s {
            prefixes.extend(nets);
        } else {
            out.push(Addresses::tag("Internet"));
        }
    } else {
        for (tag, ips) in tagged {
            if ips.len() >= 2 {
                out.push(Addresses::tag(&tag));
            } else {
                prefixes.extend(ips.into_iter().map(IpNet::from));
            }
        }
        prefixes.extend(public.into_iter().map(IpNet::from));
    }

    // Other private space.
    if private_forced || private.len() > limits.hosts_per_subnet {
        let nets: BTreeSet<IpNet> = private.iter().map(|n| bucket(n.network())).collect();
        prefixes.extend(nets);
    } else {
        prefixes.extend(private);
    }

    if !prefixes.is_empty() {
        // Keep only prefixes no other listed prefix already covers.
        prefixes.sort_by_key(|n| (n.prefix_len(), *n));
        let mut kept: Vec<IpNet> = Vec::new();
        for p in prefixes {
            if !kept.iter().any(|k| k.contains(&p)) {
                kept.push(p);
            }
        }
        // IPv4 and IPv6 in separate rules.
        let (v4, v6): (Vec<IpNet>, Vec<IpNet>) = kept.into_iter().partition(|n| n.addr().is_ipv4());
        for fam in [v4, v6] {
            if !fam.is_empty() {
                out.push(Addresses::prefixes(fam));
            }
        }
    }
    Summary {
        addresses: out,
        platform,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places() -> Places {
        let topo: TopologyConfig = serde_saphyr::from_str(
            "vnets:\n  - name: v\n    cidrs: [10.0.0.0/16]\n    subnets:\n      - {name: web, cidrs: [10.0.1.0/24]}\n      - {name: app, cidrs: [10.0.2.0/24]}\n",
        )
        .unwrap();
        let tags = ServiceTagsFile::parse(
            r#"{"values":[{"name":"Storage.WestEurope","properties":{"region":"westeurope","addressPrefixes":["20.60.140.0/24"]}}]}"#,
        )
        .unwrap();
        Places::new(Some(&topo), Some(&tags))
    }

    fn set(ips: &[&str]) -> RemoteSet {
        let mut s = RemoteSet::default();
        for ip in ips {
            s.add(ip.parse().unwrap(), 0, true);
        }
        s
    }

    fn strings(s: &Summary) -> Vec<String> {
        s.addresses.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn few_hosts_stay_hosts_many_become_the_subnet() {
        let p = places();
        let l = SummaryLimits::default();
        let s = summarize(&set(&["10.0.1.4", "10.0.1.5"]), &p, &l);
        assert_eq!(strings(&s), ["10.0.1.4/32,10.0.1.5/32"]);
        let s = summarize(
            &set(&["10.0.1.4", "10.0.1.5", "10.0.1.6", "10.0.1.7"]),
            &p,
            &l,
        );
        assert_eq!(strings(&s), ["10.0.1.0/24"]);
    }

    #[test]
    fn public_hosts_tags_and_internet() {
        let p = places();
        let l = SummaryLimits::default();
        let s = summarize(
            &set(&["20.60.140.1", "20.60.140.2", "203.0.113.9", "168.63.129.16"]),
            &p,
            &l,
        );
        assert_eq!(strings(&s), ["Storage.WestEurope", "203.0.113.9/32"]);
        assert!(s.platform);
        let many: Vec<String> = (1..=40).map(|i| format!("198.51.{i}.7")).collect();
        let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
        assert_eq!(strings(&summarize(&set(&many), &p, &l)), ["Internet"]);
        let same24: Vec<String> = (1..=20).map(|i| format!("198.51.100.{i}")).collect();
        let same24: Vec<&str> = same24.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            strings(&summarize(&set(&same24), &p, &l)),
            ["198.51.100.0/24"]
        );
    }

    #[test]
    fn overflow_goes_to_internet_for_public() {
        let mut s = RemoteSet::default();
        for i in 0..(EXACT_CAP as u32 + 5) {
            s.add(
                IpAddr::V4(std::net::Ipv4Addr::from(0x0808_0000 + i)),
                0,
                true,
            );
        }
        assert!(s.public_overflow);
        let sum = summarize(&s, &places(), &SummaryLimits::default());
        assert_eq!(strings(&sum), ["Internet"]);
    }
}
