//! OCSF Network Activity (class_uid 4001, category 4), schema 1.x.
//!
//! - `activity_id`: `B` Open (1), `E` Close (2), `C` Traffic (6), denied Refuse (5), NSG v1
//!   (no state) Traffic (6).
//! - `action_id`/`disposition_id`: Allowed (1) / Denied (2) and Allowed (1) / Blocked (2).
//! - `traffic.*_out` counts source-to-destination, `traffic.*_in` the reverse.
//! - `connection_info.direction_id`: Inbound (1) / Outbound (2).
//! - Azure fields and classification OCSF does not define are under `unmapped.azure.*` and
//!   `unmapped.nsgflow.*`.

use super::json::{write_str, Obj};
use super::Encode;
use crate::event::{FlowEvent, Origin};
use crate::labels::{Action, Direction, FlowState};
use crate::record::FlowLogKind;

pub const OCSF_VERSION: &str = "1.8.0";

/// Encodes OCSF Network Activity events.
#[derive(Debug, Default)]
pub struct OcsfEncoder {
    group: OcsfGroup,
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
        let mut rule = o.object("firewall_rule");
        rule.str("name", e.group.rule);
        rule.opt_str("uid", e.group.acl_id);
        rule.close();
        let mut cloud = o.object("cloud");
        cloud.str("provider", "Azure");
        if let Some(sub) = origin.subscription_id {
            let mut acct = cloud.object("account");
            acct.str("uid", sub);
            acct.close();
        }
        cloud.close();
        let mut meta = o.object("metadata");
        meta.str("version", OCSF_VERSION);
        let mut product = meta.object("product");
        product.str(
            "name",
            match r.kind {
                FlowLogKind::Nsg => "Azure NSG flow logs",
                FlowLogKind::Vnet => "Azure VNet flow logs",
            },
        );
        product.str("vendor_name", "Microsoft");
        product.close();
        meta.opt_str("log_name", h.category.as_deref());
        meta.opt_str("original_time", h.time.as_deref());
        meta.close();

        let mut az = Obj::resume(&mut self.azure, false);
        az.str("flow_log_kind", r.kind.as_str());
        az.u64("flow_log_version", r.version);
        az.opt_str("mac", e.group.mac);
        az.opt_str("subscription_id", origin.subscription_id);
        az.opt_str("resource_group", origin.resource_group);
        az.opt_str("nsg", origin.nsg);
        az.opt_str("flow_log", origin.flow_log);
        az.opt_str("target_resource", origin.target_resource);
        az.opt_str("target_resource_type", origin.target_resource_type);
        az.opt_str("resource_id", h.resource_id.as_deref());
        az.opt_str("flow_log_resource_id", h.flow_log_resource_id.as_deref());
        az.opt_str("target_resource_id", h.target_resource_id.as_deref());
        az.opt_str("system_id", h.system_id.as_deref());
        az.opt_str("flow_log_guid", h.flow_log_guid.as_deref());
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
        o.str("class_name", "Network Activity");
        o.u64("category_uid", 4);
        o.str("category_name", "Network Activity");
        o.u64("activity_id", activity_id);
        o.str("activity_name", activity);
        o.u64("type_uid", 400_100 + activity_id);
        let mut type_name = [0u8; 32];
        let prefix = b"Network Activity: ";
        type_name[..prefix.len()].copy_from_slice(prefix);
        type_name[prefix.len()..prefix.len() + activity.len()].copy_from_slice(activity.as_bytes());
        o.str(
            "type_name",
            std::str::from_utf8(&type_name[..prefix.len() + activity.len()]).unwrap_or(""),
        );
        o.u64("time", t.timestamp_ms);
        o.u64("severity_id", 1);
        o.str("severity", "Informational");
        let (action_id, action, disposition) = match t.action {
            Action::Allow => (1, "Allowed", "Allowed"),
            Action::Deny => (2, "Denied", "Blocked"),
        };
        o.u64("action_id", action_id);
        o.str("action", action);
        o.u64("disposition_id", action_id);
        o.str("disposition", disposition);

        let nic_is_source = t.direction == Direction::Outbound;
        let mut s = o.object("src_endpoint");
        s.str("ip", e.src.ip_text);
        s.u64("port", e.src.port as u64);
        if nic_is_source && !g.mac.is_empty() {
            s.raw("mac", &g.mac);
        }
        s.close();
        let mut d = o.object("dst_endpoint");
        d.str("ip", e.dst.ip_text);
        d.u64("port", e.dst.port as u64);
        if !nic_is_source && !g.mac.is_empty() {
            d.raw("mac", &g.mac);
        }
        d.close();

        let mut c = o.object("connection_info");
        c.u64("protocol_num", t.protocol.iana_number() as u64);
        c.opt_str("protocol_name", t.protocol.name());
        c.u64("protocol_ver_id", if e.src.ip.is_ipv4() { 4 } else { 6 });
        let (dir_id, dir) = match t.direction {
            Direction::Inbound => (1, "Inbound"),
            Direction::Outbound => (2, "Outbound"),
        };
        c.u64("direction_id", dir_id);
        c.str("direction", dir);
        c.str("community_uid", e.community_id.as_str());
        c.close();

        let any_counter = t.bytes_src_to_dst.is_some()
            || t.bytes_dst_to_src.is_some()
            || t.packets_src_to_dst.is_some()
            || t.packets_dst_to_src.is_some();
        if any_counter {
            let mut tr = o.object("traffic");
            tr.opt_u64("packets_out", t.packets_src_to_dst);
            tr.opt_u64("bytes_out", t.bytes_src_to_dst);
            tr.opt_u64("packets_in", t.packets_dst_to_src);
            tr.opt_u64("bytes_in", t.bytes_dst_to_src);
            if let (Some(a), Some(b)) = (t.packets_src_to_dst, t.packets_dst_to_src) {
                tr.u64("packets", a.saturating_add(b));
            }
            if let (Some(a), Some(b)) = (t.bytes_src_to_dst, t.bytes_dst_to_src) {
                tr.u64("bytes", a.saturating_add(b));
            }
            tr.close();
        }
        o.splice(&g.top);

        let mut un = o.object("unmapped");
        let mut ns = un.object("nsgflow");
        ns.str("src_class", e.src.class.as_str());
        ns.opt_str("src_network", e.src.network);
        ns.str("dst_class", e.dst.class.as_str());
        ns.opt_str("dst_network", e.dst.network);
        ns.opt_str("l7_protocol", e.l7_protocol);
        ns.close();
        let mut az = un.object("azure");
        az.str("direction", t.direction.as_str());
        if let Some(state) = t.state {
            az.str("flow_state", state.as_str());
        }
        if let Some(enc) = t.encryption {
            az.str("encryption", enc.code());
            az.bool("encrypted", enc.is_encrypted());
        }
        az.splice(&g.azure);
        az.close();
        un.close();
        o.close();
    }
}
