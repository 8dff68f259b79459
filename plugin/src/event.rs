//! The flow event: one tuple with its record context, labels and enrichment, ready to
//! encode. Built on the stack for each tuple; everything is borrowed.

use std::net::IpAddr;
use std::sync::Arc;

use crate::classify::{builtin_class, AddressClass, Classifier};
use crate::community_id::CommunityId;
use crate::geo::{AsInfo, Geo};
use crate::l7::l7_protocol;
use crate::record::{FlowGroup, FlowLogKind, Record};
use crate::reputation::{Listing, Reputation};
use crate::resource::{short_type, ResourceId};
use crate::topology::{FlowType, GatewayKind, ServiceTag, Site, Topology};
use crate::tuple::FlowTuple;

/// One side of a flow, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'e> {
    pub ip: IpAddr,
    /// The address as the tuple wrote it.
    pub ip_text: &'e str,
    pub port: u16,
    pub class: AddressClass,
    /// The user network (from the config) the address falls in.
    pub network: Option<&'e str>,
    /// Why threat feeds list the address (only public addresses are ever listed).
    pub reputation: Option<Listing<'e>>,
    /// Where the address is in the configured topology (VNet/subnet or gateway range).
    pub site: Option<&'e Site>,
    /// The Azure service tag of a Microsoft-owned public address.
    pub service_tag: Option<&'e ServiceTag>,
    /// The country (ISO 3166-1 alpha-2) of a public address, when a database is configured.
    pub country: Option<&'e str>,
    /// The autonomous system of a public address, when ASN data is configured.
    pub asn: Option<&'e AsInfo>,
}

/// A labelled, classified flow event.
#[derive(Debug, Clone, Copy)]
pub struct FlowEvent<'e> {
    pub record: &'e Record<'e>,
    pub group: &'e FlowGroup<'e>,
    pub tuple: &'e FlowTuple<'e>,
    pub src: Endpoint<'e>,
    pub dst: Endpoint<'e>,
    /// The application protocol guessed from the destination port.
    pub l7_protocol: Option<&'static str>,
    pub community_id: CommunityId,
    /// Whether a public side is listed by a threat feed; `None` when no feeds are configured.
    pub malicious: Option<bool>,
    /// The Traffic Analytics FlowType; `None` when no topology is configured.
    pub flow_type: Option<FlowType>,
}

/// Turns tuples into events: classification, L7 guess, Community ID and, when configured,
/// reputation and topology.
#[derive(Debug, Clone, Default)]
pub struct Enricher {
    pub classifier: Classifier,
    /// The Community ID seed (0 unless every tool in the SIEM uses another).
    pub community_id_seed: u16,
    /// Threat feeds, with this engine's lookup cache.
    pub reputation: Option<Reputation>,
    /// VNets, gateways and service tags, for FlowType.
    pub topology: Option<Arc<Topology>>,
    /// Country and ASN databases.
    pub geo: Option<Geo>,
}

impl Enricher {
    pub fn new(classifier: Classifier, community_id_seed: u16) -> Self {
        Enricher {
            classifier,
            community_id_seed,
            reputation: None,
            topology: None,
            geo: None,
        }
    }

    /// Picks up reloaded feeds; the engine calls it once per chunk of input.
    pub fn refresh(&mut self) {
        if let Some(r) = self.reputation.as_mut() {
            r.refresh();
        }
    }

    /// The reputation listing index of `ip` (through the cache), when feeds are configured.
    #[inline]
    pub fn lookup(&mut self, ip: IpAddr) -> Option<u32> {
        self.reputation.as_mut().and_then(|r| r.lookup(ip))
    }

    /// One side of a flow, classified and placed; `listing` comes from [`Enricher::lookup`].
    #[inline]
    pub fn endpoint<'e>(
        &'e self,
        ip: IpAddr,
        ip_text: &'e str,
        port: u16,
        listing: Option<u32>,
    ) -> Endpoint<'e> {
        let (class, network) = self.classifier.classify(ip);
        let topology = self.topology.as_deref();
        let geo = match (&self.geo, class) {
            (Some(g), AddressClass::Public) => g.lookup(ip),
            (Some(g), AddressClass::Internal) if builtin_class(ip) == AddressClass::Public => {
                g.lookup(ip)
            }
            _ => Default::default(),
        };
        Endpoint {
            ip,
            ip_text,
            port,
            class,
            network,
            reputation: listing.and_then(|id| self.reputation.as_ref()?.listing(id)),
            site: topology.and_then(|t| t.site(ip)),
            service_tag: topology.and_then(|t| t.service_tag(ip)),
            country: geo.country,
            asn: geo.asn,
        }
    }

    /// The flow-level verdicts from both sides: `(malicious, flow_type)`.
    #[inline]
    pub fn verdicts(
        &self,
        src: &Endpoint<'_>,
        dst: &Endpoint<'_>,
    ) -> (Option<bool>, Option<FlowType>) {
        (
            self.reputation
                .as_ref()
                .map(|_| src.reputation.is_some() || dst.reputation.is_some()),
            self.topology.as_ref().map(|_| flow_type(src, dst)),
        )
    }

    pub fn event<'e>(
        &'e mut self,
        record: &'e Record<'e>,
        group: &'e FlowGroup<'e>,
        tuple: &'e FlowTuple<'e>,
    ) -> FlowEvent<'e> {
        let src_listing = self.lookup(tuple.src_ip);
        let dst_listing = self.lookup(tuple.dst_ip);
        let this: &'e Enricher = self;
        let src = this.endpoint(tuple.src_ip, tuple.src_ip_text, tuple.src_port, src_listing);
        let dst = this.endpoint(tuple.dst_ip, tuple.dst_ip_text, tuple.dst_port, dst_listing);
        let (malicious, flow_type) = this.verdicts(&src, &dst);
        FlowEvent {
            record,
            group,
            tuple,
            src,
            dst,
            malicious,
            flow_type,
            l7_protocol: l7_protocol(tuple.protocol, tuple.dst_port),
            community_id: CommunityId::new(
                self.community_id_seed,
                tuple.src_ip,
                tuple.dst_ip,
                tuple.protocol,
                tuple.src_port,
                tuple.dst_port,
            ),
        }
    }
}

/// The FlowType of a flow whose endpoints were placed (see the table in [`crate::topology`]).
pub fn flow_type(src: &Endpoint<'_>, dst: &Endpoint<'_>) -> FlowType {
    fn vnet<'e>(e: &Endpoint<'e>) -> Option<&'e str> {
        e.site.and_then(|s| s.vnet.as_deref())
    }
    match (vnet(src), vnet(dst)) {
        (Some(a), Some(b)) if a == b => FlowType::IntraVNet,
        (Some(_), Some(_)) => FlowType::InterVNet,
        (Some(_), None) => other_side(dst),
        (None, Some(_)) => other_side(src),
        (None, None) => FlowType::Unknown,
    }
}

/// The FlowType from the side that is not in a VNet.
fn other_side(e: &Endpoint<'_>) -> FlowType {
    if let Some((kind, _)) = e.site.and_then(|s| s.gateway.as_ref()) {
        return match kind {
            GatewayKind::S2s => FlowType::S2S,
            GatewayKind::P2s => FlowType::P2S,
        };
    }
    match builtin_class(e.ip) {
        AddressClass::Public if e.reputation.is_some() => FlowType::MaliciousFlow,
        AddressClass::Public if e.service_tag.is_some() => FlowType::AzurePublic,
        AddressClass::Public => FlowType::ExternalPublic,
        AddressClass::AzurePlatform => FlowType::AzurePublic,
        _ => FlowType::UnknownPrivate,
    }
}

/// The names a record's resource IDs carry, computed once per flow group by encoders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin<'e> {
    pub subscription_id: Option<&'e str>,
    pub resource_group: Option<&'e str>,
    /// The NSG: from `resourceId` (NSG logs) or from an `aclID` that is an NSG path (VNet).
    pub nsg: Option<&'e str>,
    /// The flow log's name (VNet `flowLogResourceID`).
    pub flow_log: Option<&'e str>,
    /// What the VNet flow log watches: its name and short type (`vnet`, `subnet`, `nic`).
    pub target_resource: Option<&'e str>,
    pub target_resource_type: Option<&'e str>,
    /// The MAC in IEEE 802 form, `00-0D-3A-F8-78-56`.
    pub mac: Option<MacAddress>,
}

impl<'e> Origin<'e> {
    pub fn of(record: &'e Record<'e>, group: &'e FlowGroup<'e>) -> Self {
        let h = &record.header;
        let mac = group.mac.and_then(MacAddress::parse);
        match record.kind {
            FlowLogKind::Nsg => {
                let id = ResourceId::parse(h.resource_id.as_deref().unwrap_or(""));
                let [subscription_id, resource_group, nsg] =
                    id.children(["subscriptions", "resourceGroups", "networkSecurityGroups"]);
                Origin {
                    subscription_id,
                    resource_group,
                    nsg,
                    mac,
                    ..Origin::default()
                }
            }
            FlowLogKind::Vnet => {
                let target = ResourceId::parse(h.target_resource_id.as_deref().unwrap_or(""));
                let flow_log = ResourceId::parse(h.flow_log_resource_id.as_deref().unwrap_or(""));
                let acl = ResourceId::parse(group.acl_id.unwrap_or(""));
                let leaf = target.leaf();
                let [target_sub, target_rg] = target.children(["subscriptions", "resourceGroups"]);
                let [log_sub, log_rg, flow_log] =
                    flow_log.children(["subscriptions", "resourceGroups", "flowLogs"]);
                Origin {
                    subscription_id: target_sub.or(log_sub),
                    resource_group: target_rg.or(log_rg),
                    nsg: acl.child("networkSecurityGroups"),
                    flow_log,
                    target_resource: leaf.map(|(_, name)| name),
                    target_resource_type: leaf.map(|(t, _)| short_type(t)),
                    mac,
                }
            }
        }
    }

    /// The name of what enforced or observed the flow: the NSG, else the watched resource.
    pub fn observer(&self) -> Option<&'e str> {
        self.nsg.or(self.target_resource)
    }
}

/// A MAC address in IEEE 802 canonical form (upper-case hex, hyphens), held inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacAddress([u8; 17]);

impl MacAddress {
    /// Accepts 12 hex digits, bare (as Azure writes them) or separated by `-` or `:`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut out = [b'-'; 17];
        let mut n = 0;
        for b in text.bytes() {
            if b == b'-' || b == b':' {
                continue;
            }
            if !b.is_ascii_hexdigit() || n == 12 {
                return None;
            }
            out[n / 2 * 3 + n % 2] = b.to_ascii_uppercase();
            n += 1;
        }
        (n == 12).then_some(MacAddress(out))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_forms() {
        assert_eq!(
            MacAddress::parse("000d3aF87856").unwrap().as_str(),
            "00-0D-3A-F8-78-56"
        );
        assert_eq!(
            MacAddress::parse("00:0d:3a:f8:78:56").unwrap().as_str(),
            "00-0D-3A-F8-78-56"
        );
        assert_eq!(MacAddress::parse("000D3AF8785"), None);
        assert_eq!(MacAddress::parse("000D3AF878567"), None);
        assert_eq!(MacAddress::parse("000D3AF8785G"), None);
    }
}
