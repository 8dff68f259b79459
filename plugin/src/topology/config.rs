//! The topology file: your VNets (address space, subnets, region, tags) and gateway
//! ranges, as you write them. Loaded and checked by [`super::Topology::load`], which builds
//! the lookup tables.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::net::Cidr;

/// The topology file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopologyConfig {
    pub vnets: Vec<VnetConfig>,
    pub gateways: Vec<GatewayConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VnetConfig {
    pub name: String,
    /// The VNet's address space.
    pub cidrs: Vec<Cidr>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub subnets: Vec<SubnetConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    pub name: String,
    pub cidrs: Vec<Cidr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub name: String,
    /// `s2s` (on-premises prefixes behind a VPN/ExpressRoute gateway) or `p2s` (VPN clients).
    #[serde(rename = "type")]
    pub kind: GatewayKind,
    pub cidrs: Vec<Cidr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayKind {
    S2s,
    P2s,
}
