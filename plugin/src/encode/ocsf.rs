//! OCSF Network Activity (class_uid 4001, category 4), schema 1.x.
//!
//! - `activity_id`: `B` Open (1), `E` Close (2), `C` Traffic (6), denied Refuse (5), NSG v1
//!   (no state) Traffic (6).
//! - `action_id`/`disposition_id`: Allowed (1) / Denied (2) and Allowed (1) / Blocked (2).
//! - `traffic.*_out` counts source-to-destination, `traffic.*_in` the reverse.
//! - `connection_info.direction_id`: Inbound (1) / Outbound (2).
//! - Azure fields and classification OCSF does not define are under `unmapped.azure.*` and
//!   `unmapped.nsgflow.*`.

use super::aggregate as agg;
use super::enrich::{self, Enrichment};
use super::json::{write_str, Obj};
use super::Encode;
use crate::aggregate::AggregateEvent;
use crate::event::{FlowEvent, Origin};
use crate::k;
use crate::labels::{Action, Direction, FlowState};
use crate::record::FlowLogKind;

pub const OCSF_VERSION: &str = "1.8.0";

/// `cloud`: the provider and the subscription.
fn write_cloud(o: &mut Obj<'_>, subscription_id: Option<&str>) {
    let mut cloud = o.object(k!("cloud"));
    cloud.str(k!("provider"), "Azure");
    if let Some(sub) = subscription_id {
        let mut acct = cloud.object(k!("account"));
        acct.str(k!("uid"), sub);
        acct.close();
    }
    cloud.close();
}

/// Opens `metadata` with the version and product; the caller adds fields and closes it.
fn write_metadata<'o>(o: &'o mut Obj<'_>, kind: FlowLogKind) -> Obj<'o> {
    let mut meta = o.object(k!("metadata"));
    meta.str(k!("version"), OCSF_VERSION);
    let mut product = meta.object(k!("product"));
    product.str(
        k!("name"),
        match kind {
            FlowLogKind::Nsg => "Azure NSG flow logs",
            FlowLogKind::Vnet => "Azure VNet flow logs",
        },
    );
    product.str(k!("vendor_name"), "Microsoft");
    product.close();
    meta
}

/// Encodes OCSF Network Activity events.
#[derive(Debug, Default)]
pub struct OcsfEncoder {
    group: OcsfGroup,
    time: crate::time::Rfc3339Writer,
}

#[derive(Debug, Default)]
struct OcsfGroup {
    group_id: u64,
    mac: Vec<u8>,
    /// `firewall_rule`, `cloud`, `metadata` objects, led by a comma.
    top: Vec<u8>,
    /// The group's `unmapped.azure` fields, led by a comma.
    azure: Vec<u8>,
}

impl OcsfGroup {
    fn refresh(&mut self, e: &FlowEvent<'_>) {
        if self.group_id == e.group.group_id && self.group_id != 0 {
            return;
        }
        self.group_id = e.group.group_id;
        self.mac.clear();
        self.top.clear();
        self.azure.clear();
        let r = e.record;
        let h = &r.header;
        let origin = Origin::of(e.record, e.group);
        if let Some(mac) = origin.mac {
            write_str(&mut self.mac, mac.as_str());
        }
        let mut o = Obj::resume(&mut self.top, false);
        let mut rule = o.object(k!("firewall_rule"));
        rule.str(k!("name"), e.group.rule);
        rule.opt_str(k!("uid"), e.group.acl_id);
        rule.close();
        write_cloud(&mut o, origin.subscription_id);
        let mut meta = write_metadata(&mut o, r.kind);
        meta.opt_str(k!("log_name"), h.category.as_deref());
        meta.opt_str(k!("original_time"), h.time.as_deref());
        meta.close();

        let mut az = Obj::resume(&mut self.azure, false);
        az.str(k!("flow_log_kind"), r.kind.as_str());
        az.u64(k!("flow_log_version"), r.version);
        az.opt_str(k!("mac"), e.group.mac);
        super::origin_fields(&mut az, e, &origin, k!("flow_log"));
    }
}

impl Encode for OcsfEncoder {
    fn encode(&mut self, e: &FlowEvent<'_>, out: &mut Vec<u8>) {
        self.group.refresh(e);
        let g = &self.group;
        let t = e.tuple;
        let (activity_id, activity) = match (t.action, t.state) {
            (Action::Deny, _) => (5, "Refuse"),
            (_, Some(FlowState::Begin)) => (1, "Open"),
            (_, Some(FlowState::End)) => (2, "Close"),
            _ => (6, "Traffic"),
        };
        out.extend_from_slice(b"{\"class_uid\":4001");
        let mut o = Obj::resume(out, false);
        o.clean_str(k!("class_name"), "Network Activity");
        o.u64(k!("category_uid"), 4);
        o.clean_str(k!("category_name"), "Network Activity");
        o.u64(k!("activity_id"), activity_id);
        o.str(k!("activity_name"), activity);
        o.u64(k!("type_uid"), 400_100 + activity_id);
        let mut type_name = [0u8; 32];
        let prefix = b"Network Activity: ";
        type_name[..prefix.len()].copy_from_slice(prefix);
        type_name[prefix.len()..prefix.len() + activity.len()].copy_from_slice(activity.as_bytes());
        o.str(
            k!("type_name"),
            std::str::from_utf8(&type_name[..prefix.len() + activity.len()]).unwrap_or(""),
        );
        o.u64(k!("time"), t.timestamp_ms);
        o.u64(k!("severity_id"), 1);
        o.clean_str(k!("severity"), "Informational");
        verdict(&mut o, t.action);

        let nic_is_source = t.direction == Direction::Outbound;
        let mut s = o.object(k!("src_endpoint"));
        s.clean_str(k!("ip"), e.src.ip_text);
        s.u64(k!("port"), e.src.port as u64);
        if nic_is_source && !g.mac.is_empty() {
            s.raw(k!("mac"), &g.mac);
        }
        enrich::write_ocsf_geo(&mut s, &e.src);
        s.close();
        let mut d = o.object(k!("dst_endpoint"));
        d.clean_str(k!("ip"), e.dst.ip_text);
        d.u64(k!("port"), e.dst.port as u64);
        if !nic_is_source && !g.mac.is_empty() {
            d.raw(k!("mac"), &g.mac);
        }
        enrich::write_ocsf_geo(&mut d, &e.dst);
        d.close();

        let mut c = o.object(k!("connection_info"));
        c.u64(k!("protocol_num"), t.protocol.iana_number() as u64);
        c.opt_clean_str(k!("protocol_name"), t.protocol.name());
        c.u64(
            k!("protocol_ver_id"),
            if e.src.ip.is_ipv4() { 4 } else { 6 },
        );
        let (dir_id, dir) = match t.direction {
            Direction::Inbound => (1, "Inbound"),
            Direction::Outbound => (2, "Outbound"),
        };
        c.u64(k!("direction_id"), dir_id);
        c.str(k!("direction"), dir);
        c.clean_bytes(k!("community_uid"), e.community_id.as_bytes());
        c.close();

        let any_counter = t.bytes_src_to_dst.is_some()
            || t.bytes_dst_to_src.is_some()
            || t.packets_src_to_dst.is_some()
            || t.packets_dst_to_src.is_some();
        if any_counter {
            let mut tr = o.object(k!("traffic"));
            tr.opt_u64(k!("packets_out"), t.packets_src_to_dst);
            tr.opt_u64(k!("bytes_out"), t.bytes_src_to_dst);
            tr.opt_u64(k!("packets_in"), t.packets_dst_to_src);
            tr.opt_u64(k!("bytes_in"), t.bytes_dst_to_src);
            if let (Some(a), Some(b)) = (t.packets_src_to_dst, t.packets_dst_to_src) {
                tr.u64(k!("packets"), a.saturating_add(b));
            }
            if let (Some(a), Some(b)) = (t.bytes_src_to_dst, t.bytes_dst_to_src) {
                tr.u64(k!("bytes"), a.saturating_add(b));
            }
            tr.close();
        }
        o.splice(&g.top);
        let en = Enrichment::of(e).native_geo();
        enrich::write_ocsf_osint(&mut o, &en);

        let mut un = o.object(k!("unmapped"));
        let mut ns = un.object(k!("nsgflow"));
        ns.clean_str(k!("src_class"), e.src.class.as_str());
        ns.opt_str(k!("src_network"), e.src.network);
        ns.clean_str(k!("dst_class"), e.dst.class.as_str());
        ns.opt_str(k!("dst_network"), e.dst.network);
        ns.opt_clean_str(k!("l7_protocol"), e.l7_protocol);
        enrich::write_fields(&mut ns, &en);
        ns.close();
        let mut az = un.object(k!("azure"));
        az.clean_str(k!("direction"), t.direction.as_str());
        if let Some(state) = t.state {
            az.clean_str(k!("flow_state"), state.as_str());
        }
        if let Some(enc) = t.encryption {
            az.clean_str(k!("encryption"), enc.code());
            az.bool(k!("encrypted"), enc.is_encrypted());
        }
        az.splice(&g.azure);
        az.close();
        un.close();
        o.close();
    }

    fn encode_alert(&mut self, a: &crate::detect::Alert, out: &mut Vec<u8>) {
        use super::alert;
        alert::write(out, &alert::ocsf(a));
    }

    fn encode_aggregate(&mut self, a: &AggregateEvent<'_>, out: &mut Vec<u8>) {
        let c = a.counts;
        let ctx = a.context;
        out.extend_from_slice(b"{\"class_uid\":4001");
        let mut o = Obj::resume(out, false);
        o.clean_str(k!("class_name"), "Network Activity");
        o.u64(k!("category_uid"), 4);
        o.clean_str(k!("category_name"), "Network Activity");
        o.u64(k!("activity_id"), 6);
        o.str(k!("activity_name"), "Traffic");
        o.u64(k!("type_uid"), 400_106);
        o.str(k!("type_name"), "Network Activity: Traffic");
        o.u64(k!("time"), a.window_start_ms);
        o.u64(k!("start_time"), a.first_seen_ms);
        o.u64(k!("end_time"), a.last_seen_ms);
        o.u64(k!("count"), c.tuples as u64);
        o.u64(k!("severity_id"), 1);
        o.clean_str(k!("severity"), "Informational");
        if let Some(act) = a.action {
            verdict(&mut o, act);
        }
        let mut s = o.object(k!("src_endpoint"));
        if let Some(e) = &a.src {
            s.clean_str(k!("ip"), e.ip_text);
        }
        s.opt_u64(k!("port"), a.src_port.map(u64::from));
        if let Some(e) = &a.src {
            enrich::write_ocsf_geo(&mut s, e);
        }
        s.close();
        let mut d = o.object(k!("dst_endpoint"));
        if let Some(e) = &a.dst {
            d.clean_str(k!("ip"), e.ip_text);
        }
        d.opt_u64(k!("port"), a.dst_port.map(u64::from));
        if let Some(e) = &a.dst {
            enrich::write_ocsf_geo(&mut d, e);
        }
        d.close();
        let mut ci = o.object(k!("connection_info"));
        if let Some(p) = a.protocol {
            ci.u64(k!("protocol_num"), p.iana_number() as u64);
            ci.opt_clean_str(k!("protocol_name"), p.name());
        }
        if let Some(e) = a.src.as_ref().or(a.dst.as_ref()) {
            ci.u64(k!("protocol_ver_id"), if e.ip.is_ipv4() { 4 } else { 6 });
        }
        if let Some(dir) = a.direction {
            let (dir_id, name) = match dir {
                Direction::Inbound => (1, "Inbound"),
                Direction::Outbound => (2, "Outbound"),
            };
            ci.u64(k!("direction_id"), dir_id);
            ci.str(k!("direction"), name);
        }
        ci.close();
        let mut tr = o.object(k!("traffic"));
        tr.u64(k!("packets_out"), c.packets[0]);
        tr.u64(k!("bytes_out"), c.bytes[0]);
        tr.u64(k!("packets_in"), c.packets[1]);
        tr.u64(k!("bytes_in"), c.bytes[1]);
        tr.u64(k!("packets"), a.packets());
        tr.u64(k!("bytes"), a.bytes());
        tr.close();
        if let Some(rule) = ctx.rule.as_deref() {
            let mut r = o.object(k!("firewall_rule"));
            r.str(k!("name"), rule);
            r.close();
        }
        write_cloud(&mut o, ctx.subscription_id.as_deref());
        write_metadata(&mut o, ctx.kind.unwrap_or(FlowLogKind::Nsg)).close();
        enrich::write_ocsf_osint(&mut o, &agg::enrichment(a));
        let mut un = o.object(k!("unmapped"));
        let mut ns = un.object(k!("nsgflow"));
        agg::write_classes(&mut ns, a, &agg::enrichment(a).native_geo());
        ns.opt_clean_str(k!("l7_protocol"), a.l7_protocol);
        agg::write_aggregate_object(&mut ns, a, &mut self.time);
        ns.close();
        let mut az = un.object(k!("azure"));
        if let Some(dir) = a.direction {
            az.clean_str(k!("direction"), dir.as_str());
        }
        agg::write_context(&mut az, a);
        az.close();
        un.close();
        o.close();
    }
}

/// `action_id`/`action` (Allowed/Denied) and `disposition_id`/`disposition`
/// (Allowed/Blocked) for an event or an aggregate.
fn verdict(o: &mut Obj<'_>, action: Action) {
    let (id, action, disposition) = match action {
        Action::Allow => (1, "Allowed", "Allowed"),
        Action::Deny => (2, "Denied", "Blocked"),
    };
    o.u64(k!("action_id"), id);
    o.clean_str(k!("action"), action);
    o.u64(k!("disposition_id"), id);
    o.clean_str(k!("disposition"), disposition);
}
