//! Your topology, and the Traffic Analytics FlowType of each flow.
//!
//! The topology file names your VNets (with subnets, region and tags) and gateway address
//! ranges (site-to-site: the on-premises prefixes behind a VPN or ExpressRoute gateway;
//! point-to-site: the VPN client pool). An Azure Service Tags file
//! (`ServiceTags_Public_*.json`: `values[].name`, `properties.region`,
//! `properties.addressPrefixes`) tells which public addresses are Microsoft's.
//!
//! Each side of a flow is placed (VNet/subnet, gateway, or service tag) by longest prefix
//! in a [`PrefixTable`]; names are stored once here and events borrow them. The FlowType
//! follows Traffic Analytics:
//!
//! | FlowType | when |
//! |---|---|
//! | `IntraVNet` | both sides in the same VNet |
//! | `InterVNet` | both sides in VNets, different ones |
//! | `S2S` | one side in a VNet, the other in a site-to-site gateway range |
//! | `P2S` | one side in a VNet, the other in a point-to-site client pool |
//! | `MaliciousFlow` | one side in a VNet, the other public and listed by a threat feed |
//! | `AzurePublic` | one side in a VNet, the other a Microsoft address (a service tag, or the platform's 168.63.129.16 / 169.254.169.254) |
//! | `ExternalPublic` | one side in a VNet, the other any other public address |
//! | `UnknownPrivate` | one side in a VNet, the other private (or otherwise non-public) space no VNet or gateway claims |
//! | `Unknown` | no side in a VNet (or a gateway talking to a gateway) |
//!
//! ```
//! use nsgflow::topology::{Topology, FlowType};
//! let t = Topology::from_yaml("vnets:\n  - name: hub\n    cidrs: [10.0.0.0/16]\n", None).unwrap();
//! let hub = t.site("10.0.1.4".parse().unwrap()).unwrap();
//! assert_eq!(hub.vnet.as_deref(), Some("hub"));
//! ```

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;

use crate::classify::{builtin_class, AddressClass};
use crate::net::Cidr;
use crate::prefix_table::PrefixTable;

mod config;

pub use config::{GatewayConfig, GatewayKind, SubnetConfig, TopologyConfig, VnetConfig};

/// A named place in your topology: a VNet (maybe a subnet of it) or a gateway range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub vnet: Option<String>,
    pub subnet: Option<String>,
    pub region: Option<String>,
    pub gateway: Option<(GatewayKind, String)>,
}

/// A service tag from the Service Tags file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTag {
    pub name: String,
    pub region: Option<String>,
}

/// The Traffic Analytics flow types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowType {
    IntraVNet,
    InterVNet,
    S2S,
    P2S,
    AzurePublic,
    ExternalPublic,
    MaliciousFlow,
    UnknownPrivate,
    Unknown,
}

impl FlowType {
    pub const ALL: [FlowType; 9] = [
        FlowType::IntraVNet,
        FlowType::InterVNet,
        FlowType::S2S,
        FlowType::P2S,
        FlowType::AzurePublic,
        FlowType::ExternalPublic,
        FlowType::MaliciousFlow,
        FlowType::UnknownPrivate,
        FlowType::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlowType::IntraVNet => "IntraVNet",
            FlowType::InterVNet => "InterVNet",
            FlowType::S2S => "S2S",
            FlowType::P2S => "P2S",
            FlowType::AzurePublic => "AzurePublic",
            FlowType::ExternalPublic => "ExternalPublic",
            FlowType::MaliciousFlow => "MaliciousFlow",
            FlowType::UnknownPrivate => "UnknownPrivate",
            FlowType::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for FlowType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sites and service tags, each in a prefix table.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    sites: Vec<Site>,
    site_table: PrefixTable,
    tags: Vec<ServiceTag>,
    tag_table: PrefixTable,
}

impl Topology {
    /// Builds from a topology config and, optionally, a Service Tags document.
    pub fn new(config: &TopologyConfig, service_tags: Option<&ServiceTagsFile>) -> Topology {
        let mut sites = Vec::new();
        let mut entries: Vec<(IpNet, u32)> = Vec::new();
        for v in &config.vnets {
            let id = sites.len() as u32;
            sites.push(Site {
                vnet: Some(v.name.clone()),
                subnet: None,
                region: v.region.clone(),
                gateway: None,
            });
            entries.extend(v.cidrs.iter().map(|c| (c.0, id)));
            for s in &v.subnets {
                let id = sites.len() as u32;
                sites.push(Site {
                    vnet: Some(v.name.clone()),
                    subnet: Some(s.name.clone()),
                    region: v.region.clone(),
                    gateway: None,
                });
                entries.extend(s.cidrs.iter().map(|c| (c.0, id)));
            }
        }
        for g in &config.gateways {
            let id = sites.len() as u32;
            sites.push(Site {
                vnet: None,
                subnet: None,
                region: None,
                gateway: Some((g.kind, g.name.clone())),
            });
            entries.extend(g.cidrs.iter().map(|c| (c.0, id)));
        }
        let site_table = PrefixTable::build(&entries, |s| s.last().copied());

        let mut tags = Vec::new();
        let mut tag_entries: Vec<(u8, IpNet, u32)> = Vec::new();
        if let Some(file) = service_tags {
            for v in &file.values {
                let id = tags.len() as u32;
                let region = Some(v.properties.region.clone()).filter(|r| !r.is_empty());
                // For equal prefixes the later entry wins: the broad AzureCloud tags lose to
                // a service's, and a service's global tag to its regional one.
                let rank = if v.name.starts_with("AzureCloud") {
                    0
                } else if region.is_none() {
                    1
                } else {
                    2
                };
                tags.push(ServiceTag {
                    name: v.name.clone(),
                    region,
                });
                for p in &v.properties.address_prefixes {
                    tag_entries.push((rank, p.0, id));
                }
            }
        }
        tag_entries.sort_by_key(|e| e.0);
        let tag_entries: Vec<(IpNet, u32)> =
            tag_entries.into_iter().map(|(_, n, i)| (n, i)).collect();
        let tag_table = PrefixTable::build(&tag_entries, |s| s.last().copied());
        Topology {
            sites,
            site_table,
            tags,
            tag_table,
        }
    }

    /// Parses a topology YAML document.
    pub fn from_yaml(
        yaml: &str,
        service_tags: Option<&ServiceTagsFile>,
    ) -> Result<Topology, String> {
        let config: TopologyConfig = if yaml.trim().is_empty() {
            TopologyConfig::default()
        } else {
            serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?
        };
        Ok(Topology::new(&config, service_tags))
    }

    /// Loads the topology file and the Service Tags file; errors name the file.
    pub fn load(topology: Option<&Path>, service_tags: Option<&Path>) -> Result<Topology, String> {
        let tags = match service_tags {
            Some(p) => Some(ServiceTagsFile::load(p)?),
            None => None,
        };
        match topology {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("topology {}: cannot read: {e}", p.display()))?;
                Topology::from_yaml(&text, tags.as_ref()).map_err(|e| {
                    format!(
                        "topology {}: {e} (expected `vnets:` and `gateways:`, see docs/topology.example.yaml)",
                        p.display()
                    )
                })
            }
            None => Ok(Topology::new(&TopologyConfig::default(), tags.as_ref())),
        }
    }

    /// Where `ip` is in your topology.
    #[inline]
    pub fn site(&self, ip: IpAddr) -> Option<&Site> {
        self.site_table.get(ip).map(|i| &self.sites[i as usize])
    }

    /// The Microsoft service tag of `ip` (most specific prefix; on a tie a service's
    /// regional tag, then its global one, then `AzureCloud`).
    #[inline]
    pub fn service_tag(&self, ip: IpAddr) -> Option<&ServiceTag> {
        if builtin_class(ip) != AddressClass::Public {
            return None;
        }
        self.tag_table.get(ip).map(|i| &self.tags[i as usize])
    }

    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    pub fn service_tags(&self) -> &[ServiceTag] {
        &self.tags
    }
}

/// The Service Tags JSON document (`ServiceTags_Public_YYYYMMDD.json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ServiceTagsFile {
    pub values: Vec<ServiceTagValue>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServiceTagValue {
    pub name: String,
    pub properties: ServiceTagProperties,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServiceTagProperties {
    #[serde(default)]
    pub region: String,
    #[serde(rename = "addressPrefixes", default)]
    pub address_prefixes: Vec<Cidr>,
}

impl ServiceTagsFile {
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("service tags {}: cannot read: {e}", path.display()))?;
        ServiceTagsFile::parse(&text).map_err(|e| {
            format!(
                "service tags {}: {e} (expected Azure's ServiceTags_Public_*.json: `values[].name`, `properties.addressPrefixes`)",
                path.display()
            )
        })
    }
}
