//! The reputation and topology fields, shared by every encoder: nsgflow's own names
//! (flat at the top level, the others under `nsgflow.*`), and each schema's threat mapping.
//! Nothing here is written unless feeds, a topology or geography databases are configured.

use super::json::Obj;
use crate::event::{Endpoint, FlowEvent};
use crate::k;
use crate::topology::{FlowType, GatewayKind};

/// The keys of one side.
struct SideKeys {
    listed: &'static str,
    feeds: &'static str,
    category: &'static str,
    score: &'static str,
    vnet: &'static str,
    subnet: &'static str,
    region: &'static str,
    gateway: &'static str,
    gateway_type: &'static str,
    service_tag: &'static str,
    country: &'static str,
    asn: &'static str,
    as_org: &'static str,
}

const SRC: SideKeys = SideKeys {
    listed: k!("src_listed"),
    feeds: k!("src_feeds"),
    category: k!("src_threat_category"),
    score: k!("src_threat_score"),
    vnet: k!("src_vnet"),
    subnet: k!("src_subnet"),
    region: k!("src_region"),
    gateway: k!("src_gateway"),
    gateway_type: k!("src_gateway_type"),
    service_tag: k!("src_service_tag"),
    country: k!("src_country"),
    asn: k!("src_asn"),
    as_org: k!("src_as_org"),
};

const DST: SideKeys = SideKeys {
    listed: k!("dst_listed"),
    feeds: k!("dst_feeds"),
    category: k!("dst_threat_category"),
    score: k!("dst_threat_score"),
    vnet: k!("dst_vnet"),
    subnet: k!("dst_subnet"),
    region: k!("dst_region"),
    gateway: k!("dst_gateway"),
    gateway_type: k!("dst_gateway_type"),
    service_tag: k!("dst_service_tag"),
    country: k!("dst_country"),
    asn: k!("dst_asn"),
    as_org: k!("dst_as_org"),
};

/// What the encoders need to write the enrichment of an event or an aggregate.
#[derive(Debug, Clone, Copy)]
pub struct Enrichment<'a, 'e> {
    pub src: Option<&'a Endpoint<'e>>,
    pub dst: Option<&'a Endpoint<'e>>,
    pub malicious: Option<bool>,
    pub flow_type: Option<FlowType>,
    /// Whether [`write_fields`] writes the geography (`src_country`, `src_asn`,
    /// `src_as_org`): flat and Splunk, which have no place of their own for it. ECS and
    /// OCSF put it in their endpoint objects instead ([`write_ecs_geo`], [`write_ocsf_geo`]).
    pub own_geo_fields: bool,
}

impl<'a, 'e> Enrichment<'a, 'e> {
    /// Leaves the geography to the schema's own endpoint fields.
    pub fn native_geo(self) -> Self {
        Enrichment {
            own_geo_fields: false,
            ..self
        }
    }

    /// The enrichment of one flow event.
    pub fn of(e: &'a FlowEvent<'e>) -> Self {
        Enrichment {
            src: Some(&e.src),
            dst: Some(&e.dst),
            malicious: e.malicious,
            flow_type: e.flow_type,
            own_geo_fields: true,
        }
    }

    fn sides(&self) -> impl Iterator<Item = (&Endpoint<'_>, Side)> {
        [(self.src, Side::Src), (self.dst, Side::Dst)]
            .into_iter()
            .filter_map(|(e, s)| e.map(|e| (e, s)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Src,
    Dst,
}

/// Writes `src_listed`, `src_feeds`, ..., `flow_type`, `malicious` into `o`.
#[inline]
pub fn write_fields(o: &mut Obj<'_>, en: &Enrichment<'_, '_>) {
    // With no feeds, topology or geography configured (the common case) there is
    // nothing to write: checked inline, without a call per tuple.
    if en.malicious.is_some()
        || en.flow_type.is_some()
        || en.sides().any(|(e, _)| has_fields(e, en))
    {
        write_fields_of(o, en);
    }
}

/// Whether an endpoint has any of the fields [`write_fields`] writes for its side.
#[inline]
fn has_fields(e: &Endpoint<'_>, en: &Enrichment<'_, '_>) -> bool {
    e.reputation.is_some()
        || e.site.is_some()
        || e.service_tag.is_some()
        || (en.own_geo_fields && (e.country.is_some() || e.asn.is_some()))
}

fn write_fields_of(o: &mut Obj<'_>, en: &Enrichment<'_, '_>) {
    for (e, side) in en.sides() {
        let k = match side {
            Side::Src => &SRC,
            Side::Dst => &DST,
        };
        if en.malicious.is_some() {
            o.bool(k.listed, e.reputation.is_some());
        }
        if let Some(l) = e.reputation {
            o.str_iter(k.feeds, l.feeds());
            o.str(k.category, l.category());
            o.opt_u64(k.score, l.score().map(u64::from));
        }
        if let Some(site) = e.site {
            o.opt_str(k.vnet, site.vnet.as_deref());
            o.opt_str(k.subnet, site.subnet.as_deref());
            o.opt_str(k.region, site.region.as_deref());
            if let Some((kind, name)) = &site.gateway {
                o.str(k.gateway, name);
                o.clean_str(
                    k.gateway_type,
                    match kind {
                        GatewayKind::S2s => "S2S",
                        GatewayKind::P2s => "P2S",
                    },
                );
            }
        }
        if let Some(tag) = e.service_tag {
            o.str(k.service_tag, &tag.name);
            if e.site.is_none() {
                o.opt_str(k.region, tag.region.as_deref());
            }
        }
        if en.own_geo_fields {
            o.opt_str(k.country, e.country);
            if let Some(a) = e.asn {
                o.u64(k.asn, u64::from(a.number));
                o.str(k.as_org, &a.organisation);
            }
        }
    }
    if let Some(m) = en.malicious {
        o.bool(k!("malicious"), m);
    }
    if let Some(ft) = en.flow_type {
        o.clean_str(k!("flow_type"), ft.as_str());
    }
}

/// True when some side is listed (the schema's threat fields are due).
pub fn any_listed(en: &Enrichment<'_, '_>) -> bool {
    en.sides().any(|(e, _)| e.reputation.is_some())
}

fn ip_type(e: &Endpoint<'_>) -> &'static str {
    if e.ip.is_ipv4() {
        "ipv4-addr"
    } else {
        "ipv6-addr"
    }
}

/// ECS: `threat.enrichments[]`, one per (listed side, feed).
pub fn write_ecs_threat(o: &mut Obj<'_>, en: &Enrichment<'_, '_>) {
    if !any_listed(en) {
        return;
    }
    let mut threat = o.object(k!("threat"));
    threat.array_of_objects(k!("enrichments"), |push| {
        for (e, side) in en.sides() {
            let Some(l) = e.reputation else { continue };
            for feed in l.feeds() {
                push(&mut |m: &mut Obj<'_>| {
                    let mut ind = m.object(k!("indicator"));
                    ind.clean_str(k!("ip"), e.ip_text);
                    ind.clean_str(k!("type"), ip_type(e));
                    ind.str(k!("provider"), feed);
                    ind.str(k!("description"), l.category());
                    ind.close();
                    let mut mt = m.object(k!("matched"));
                    mt.clean_str(k!("atomic"), e.ip_text);
                    mt.clean_str(
                        k!("field"),
                        match side {
                            Side::Src => "source.ip",
                            Side::Dst => "destination.ip",
                        },
                    );
                    mt.clean_str(k!("type"), "indicator_match_rule");
                    mt.close();
                });
            }
        }
    });
    threat.close();
}

/// Splunk CIM (Threat_Intelligence / Intrusion_Detection): the first listed side.
pub fn write_splunk_threat(o: &mut Obj<'_>, en: &Enrichment<'_, '_>) {
    let Some((e, side, l)) = en
        .sides()
        .find_map(|(e, s)| e.reputation.map(|l| (e, s, l)))
    else {
        return;
    };
    o.clean_str(k!("threat_collection"), "ip_intel");
    o.str(k!("threat_key"), l.first_feed());
    o.clean_str(
        k!("threat_match_field"),
        match side {
            Side::Src => "src_ip",
            Side::Dst => "dest_ip",
        },
    );
    o.clean_str(k!("threat_match_value"), e.ip_text);
    o.str(k!("category"), l.category());
}

/// OCSF: `osint[]`, one per (listed side, feed), type IP Address.
pub fn write_ocsf_osint(o: &mut Obj<'_>, en: &Enrichment<'_, '_>) {
    if !any_listed(en) {
        return;
    }
    o.array_of_objects(k!("osint"), |push| {
        for (e, _) in en.sides() {
            let Some(l) = e.reputation else { continue };
            for feed in l.feeds() {
                push(&mut |m: &mut Obj<'_>| {
                    m.clean_str(k!("value"), e.ip_text);
                    m.u64(k!("type_id"), 1);
                    m.clean_str(k!("type"), "IP Address");
                    m.str(k!("vendor_name"), feed);
                    m.str(k!("category"), l.category());
                    m.opt_u64(k!("risk_score"), l.score().map(u64::from));
                });
            }
        }
    });
}

/// ECS, inside `source` / `destination`: `geo.country_iso_code`, `as.number`,
/// `as.organization.name`.
pub fn write_ecs_geo(o: &mut Obj<'_>, e: &Endpoint<'_>) {
    if let Some(c) = e.country {
        let mut geo = o.object(k!("geo"));
        geo.str(k!("country_iso_code"), c);
        geo.close();
    }
    if let Some(a) = e.asn {
        let mut asys = o.object(k!("as"));
        asys.u64(k!("number"), u64::from(a.number));
        let mut org = asys.object(k!("organization"));
        org.str(k!("name"), &a.organisation);
        org.close();
        asys.close();
    }
}

/// OCSF, inside `src_endpoint` / `dst_endpoint`: `location.country`,
/// `autonomous_system.number` and `.name`.
pub fn write_ocsf_geo(o: &mut Obj<'_>, e: &Endpoint<'_>) {
    if let Some(c) = e.country {
        let mut loc = o.object(k!("location"));
        loc.str(k!("country"), c);
        loc.close();
    }
    if let Some(a) = e.asn {
        let mut asys = o.object(k!("autonomous_system"));
        asys.u64(k!("number"), u64::from(a.number));
        asys.str(k!("name"), &a.organisation);
        asys.close();
    }
}
