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
    /// Your VNets (default none).
    pub vnets: Vec<VnetConfig>,
    /// Your gateway ranges: on-premises prefixes and VPN client pools (default none).
    pub gateways: Vec<GatewayConfig>,
}

/// One VNet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VnetConfig {
    /// The VNet's name, as events show it in `src_vnet` / `dst_vnet` (required).
    pub name: String,
    /// The VNet's address space (required).
    pub cidrs: Vec<Cidr>,
    /// Its Azure region, shown as `src_region` / `dst_region` (default unset).
    #[serde(default)]
    pub region: Option<String>,
    /// Your tags for it, `name: value` (default none).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Its subnets (default none).
    #[serde(default)]
    pub subnets: Vec<SubnetConfig>,
}

/// One subnet of a VNet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetConfig {
    /// The subnet's name, as events show it in `src_subnet` / `dst_subnet` (required).
    pub name: String,
    /// Its address prefixes (required).
    pub cidrs: Vec<Cidr>,
}

/// A gateway's address ranges.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The gateway's name, as events show it in `src_gateway` / `dst_gateway` (required).
    pub name: String,
    /// `s2s` (on-premises prefixes behind a VPN/ExpressRoute gateway) or `p2s` (VPN clients); required.
    #[serde(rename = "type")]
    pub kind: GatewayKind,
    /// The ranges behind it (required).
    pub cidrs: Vec<Cidr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayKind {
    S2s,
    P2s,
}
