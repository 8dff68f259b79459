//! Elastic Common Schema 8.x: one document per tuple.
//!
//! - `network.direction` is `ingress`/`egress`: ECS asks for these when the observer sits
//!   on the host or interface, which is where an NSG or VNet flow log sees traffic. The
//!   Azure label (`inbound`/`outbound`) stays in `azure.flow_log.direction`.
//! - `source.bytes`/`packets` count source-to-destination, `destination.*` the reverse;
//!   `network.bytes`/`packets` are their sum when both are known.
//! - The NIC's MAC goes on the side that is the NIC: `source.mac` outbound,
//!   `destination.mac` inbound.
//! - `network.protocol` is the L7 protocol guessed from the destination port.
//! - Everything ECS does not define is under `azure.flow_log.*` and `nsgflow.*`.

use super::json::{write_str, Obj};
use super::Encode;
use crate::event::{FlowEvent, Origin};
use crate::labels::{Action, Direction, FlowState};
use crate::record::FlowLogKind;
use crate::time::write_rfc3339_ms;

pub const ECS_VERSION: &str = "8.17.0";

/// Encodes ECS documents.
#[derive(Debug, Default)]
pub struct EcsEncoder {
    group: EcsGroup,
}

/// What ECS renders once per flow group.
#[derive(Debug, Default)]
struct EcsGroup {
    group_id: u64,
    /// The NIC's MAC as a JSON string, or empty.
    mac: Vec<u8>,
    /// Top-level `rule`, `observer` and `cloud` objects (each pair led by a comma).
    top: Vec<u8>,
    /// The group's `azure.flow_log` fields (led by a comma).
    flow_log: Vec<u8>,
}

impl EcsGroup {
    fn refresh(&mut self, e: &FlowEvent<'_>) {
        if self.group_id == e.group.group_id && self.group_id != 0 {
            return;
        }
        self.group_id = e.group.group_id;
        self.mac.clear();
        self.top.clear();
        self.flow_log.clear();
        let r = e.record;
        let h = &r.header;
        let origin = Origin::of(e.record, e.group);
        if let Some(mac) = origin.mac {
            write_str(&mut self.mac, mac.as_str());
        }

        let mut o = Obj::resume(&mut self.top, false);
        let mut rule = o.object("rule");
        rule.str("name", e.group.rule);
        rule.opt_str("ruleset", origin.nsg);
        rule.close();
        let mut obs = o.object("observer");
        obs.str("vendor", "Microsoft");
        obs.str(
            "product",
            match r.kind {
                FlowLogKind::Nsg => "Azure NSG flow logs",
                FlowLogKind::Vnet => "Azure VNet flow logs",
            },
        );
        obs.str("type", "firewall");
        obs.opt_str("name", origin.observer());
        obs.close();
        let mut cloud = o.object("cloud");
        cloud.str("provider", "azure");
        if let Some(sub) = origin.subscription_id {
            let mut acct = cloud.object("account");
            acct.str("id", sub);
            acct.close();
        }
        cloud.close();

        let mut fl = Obj::resume(&mut self.flow_log, false);
        fl.str("kind", r.kind.as_str());
        fl.u64("version", r.version);
        fl.str("rule", e.group.rule);
        fl.opt_str("acl_id", e.group.acl_id);
        fl.opt_str("mac", e.group.mac);
        fl.opt_str("record_time", h.time.as_deref());
        fl.opt_str("subscription_id", origin.subscription_id);
        fl.opt_str("resource_group", origin.resource_group);
        fl.opt_str("nsg", origin.nsg);
        fl.opt_str("name", origin.flow_log);
        fl.opt_str("target_resource", origin.target_resource);
        fl.opt_str("target_resource_type", origin.target_resource_type);
        fl.opt_str("resource_id", h.resource_id.as_deref());
        fl.opt_str("flow_log_resource_id", h.flow_log_resource_id.as_deref());
        fl.opt_str("target_resource_id", h.target_resource_id.as_deref());
        fl.opt_str("system_id", h.system_id.as_deref());
        fl.opt_str("flow_log_guid", h.flow_log_guid.as_deref());
    }
}

impl Encode for EcsEncoder {
    fn encode(&mut self, e: &FlowEvent<'_>, out: &mut Vec<u8>) {
        let t = e.tuple;
        self.group.refresh(e);
        let g = &self.group;
        out.extend_from_slice(b"{\"@timestamp\":\"");
        write_rfc3339_ms(out, t.timestamp_ms);
        out.push(b'"');
        let mut o = Obj::resume(out, false);
        let mut ecs = o.object("ecs");
        ecs.str("version", ECS_VERSION);
        ecs.close();

        let mut ev = o.object("event");
        ev.str("kind", "event");
        ev.strs("category", &["network"]);
        let verdict = match t.action {
            Action::Allow => "allowed",
            Action::Deny => "denied",
        };
        match t.state {
            Some(FlowState::Begin) => ev.strs("type", &["connection", verdict, "start"]),
            Some(FlowState::End) => ev.strs("type", &["connection", verdict, "end"]),
            _ => ev.strs("type", &["connection", verdict]),
        }
        ev.str("action", t.action.as_str());
        ev.str(
            "outcome",
            match t.action {
                Action::Allow => "success",
                Action::Deny => "failure",
            },
        );
        ev.str("module", "azure");
        ev.str(
            "dataset",
            match e.record.kind {
                FlowLogKind::Nsg => "azure.nsg_flow",
                FlowLogKind::Vnet => "azure.vnet_flow",
            },
        );
        ev.close();

        let nic_is_source = t.direction == Direction::Outbound;
        let mut s = o.object("source");
        s.str("ip", e.src.ip_text);
        s.u64("port", e.src.port as u64);
        if nic_is_source && !g.mac.is_empty() {
            s.raw("mac", &g.mac);
        }
        s.opt_u64("packets", t.packets_src_to_dst);
        s.opt_u64("bytes", t.bytes_src_to_dst);
        s.close();

        let mut d = o.object("destination");
        d.str("ip", e.dst.ip_text);
        d.u64("port", e.dst.port as u64);
        if !nic_is_source && !g.mac.is_empty() {
            d.raw("mac", &g.mac);
        }
        d.opt_u64("packets", t.packets_dst_to_src);
        d.opt_u64("bytes", t.bytes_dst_to_src);
        d.close();

        let mut n = o.object("network");
        n.opt_str("transport", t.protocol.name());
        let mut num = itoa::Buffer::new();
        n.str("iana_number", num.format(t.protocol.iana_number()));
        n.str("type", if e.src.ip.is_ipv4() { "ipv4" } else { "ipv6" });
        n.str(
            "direction",
            match t.direction {
                Direction::Inbound => "ingress",
                Direction::Outbound => "egress",
            },
        );
        n.opt_str("protocol", e.l7_protocol);
        n.str("community_id", e.community_id.as_str());
        if let (Some(a), Some(b)) = (t.bytes_src_to_dst, t.bytes_dst_to_src) {
            n.u64("bytes", a.saturating_add(b));
        }
        if let (Some(a), Some(b)) = (t.packets_src_to_dst, t.packets_dst_to_src) {
            n.u64("packets", a.saturating_add(b));
        }
        n.close();

        let mut rel = o.object("related");
        if e.src.ip_text == e.dst.ip_text {
            rel.strs("ip", &[e.src.ip_text]);
        } else {
            rel.strs("ip", &[e.src.ip_text, e.dst.ip_text]);
        }
        rel.close();

        o.splice(&g.top);

        let mut ns = o.object("nsgflow");
        ns.str("src_class", e.src.class.as_str());
        ns.opt_str("src_network", e.src.network);
        ns.str("dst_class", e.dst.class.as_str());
        ns.opt_str("dst_network", e.dst.network);
        ns.close();

        let mut az = o.object("azure");
        let mut fl = az.object("flow_log");
        fl.str("direction", t.direction.as_str());
        if let Some(state) = t.state {
            fl.str("state", state.as_str());
        }
        if let Some(enc) = t.encryption {
            fl.str("encryption", enc.code());
            fl.bool("encrypted", enc.is_encrypted());
        }
        fl.splice(&g.flow_log);
        fl.close();
        az.close();
        o.close();
    }
}
