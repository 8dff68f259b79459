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

use super::aggregate as agg;
use super::enrich::{self, Enrichment};
use super::json::{write_str, Obj};
use super::prerender::{action_index, label_key, state_index, Prerendered};
use super::Encode;
use crate::aggregate::AggregateEvent;
use crate::event::{FlowEvent, Origin};
use crate::k;
use crate::labels::{Action, Direction, FlowState};
use crate::record::FlowLogKind;
use crate::time::Rfc3339Writer;

pub const ECS_VERSION: &str = "8.17.0";

/// `cloud`: the provider and the subscription.
fn write_cloud(o: &mut Obj<'_>, subscription_id: Option<&str>) {
    let mut cloud = o.object(k!("cloud"));
    cloud.str(k!("provider"), "azure");
    if let Some(sub) = subscription_id {
        let mut acct = cloud.object(k!("account"));
        acct.str(k!("id"), sub);
        acct.close();
    }
    cloud.close();
}

/// Encodes ECS documents.
#[derive(Debug)]
pub struct EcsEncoder {
    group: EcsGroup,
    time: Rfc3339Writer,
    /// From `,"ecs"` to `"source":{"ip":"`, by kind, action and state.
    head: Prerendered,
    /// `,"network":{` up to `direction`, by protocol, direction and IP version.
    network: Prerendered,
    /// `,"azure":{"flow_log":{` up to `state`, by direction and state.
    azure: Prerendered,
}

impl Default for EcsEncoder {
    fn default() -> Self {
        EcsEncoder {
            group: EcsGroup::default(),
            time: Rfc3339Writer::default(),
            head: Prerendered::new(2 * 2 * 5),
            network: Prerendered::new(128),
            azure: Prerendered::new(2 * 5),
        }
    }
}

/// The `ecs` and `event` objects and the opening of `source`: constants of a tuple's kind,
/// action and state.
fn render_head(kind: FlowLogKind, action: Action, state: Option<FlowState>, out: &mut Vec<u8>) {
    let mut o = Obj::resume(out, false);
    let mut ecs = o.object(k!("ecs"));
    ecs.clean_str(k!("version"), ECS_VERSION);
    ecs.close();

    let mut ev = o.object(k!("event"));
    ev.clean_str(k!("kind"), "event");
    ev.strs(k!("category"), &["network"]);
    let types: &[&str] = match (action, state) {
        (Action::Allow, Some(FlowState::Begin)) => &["connection", "allowed", "start"],
        (Action::Allow, Some(FlowState::End)) => &["connection", "allowed", "end"],
        (Action::Allow, _) => &["connection", "allowed"],
        (Action::Deny, Some(FlowState::Begin)) => &["connection", "denied", "start"],
        (Action::Deny, Some(FlowState::End)) => &["connection", "denied", "end"],
        (Action::Deny, _) => &["connection", "denied"],
    };
    ev.strs(k!("type"), types);
    ev.clean_str(k!("action"), action.as_str());
    ev.clean_str(
        k!("outcome"),
        match action {
            Action::Allow => "success",
            Action::Deny => "failure",
        },
    );
    ev.clean_str(k!("module"), "azure");
    ev.clean_str(
        k!("dataset"),
        match kind {
            FlowLogKind::Nsg => "azure.nsg_flow",
            FlowLogKind::Vnet => "azure.vnet_flow",
        },
    );
    ev.close();
    out.extend_from_slice(b",\"source\":{\"ip\":\"");
}

/// The opening of `network` up to its `direction`.
fn render_network(t: &crate::tuple::FlowTuple<'_>, ipv4: bool, out: &mut Vec<u8>) {
    let mut o = Obj::resume(out, false);
    let mut n = o.object(k!("network"));
    n.opt_clean_str(k!("transport"), t.protocol.name());
    let mut num = itoa::Buffer::new();
    n.clean_str(k!("iana_number"), num.format(t.protocol.iana_number()));
    n.clean_str(k!("type"), if ipv4 { "ipv4" } else { "ipv6" });
    n.clean_str(
        k!("direction"),
        match t.direction {
            Direction::Inbound => "ingress",
            Direction::Outbound => "egress",
        },
    );
}

/// The opening of `azure.flow_log` up to its `state`.
fn render_azure(direction: Direction, state: Option<FlowState>, out: &mut Vec<u8>) {
    let mut o = Obj::resume(out, false);
    let mut az = o.object(k!("azure"));
    let mut fl = az.object(k!("flow_log"));
    fl.clean_str(k!("direction"), direction.as_str());
    if let Some(state) = state {
        fl.clean_str(k!("state"), state.as_str());
    }
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
        let mut rule = o.object(k!("rule"));
        rule.str(k!("name"), e.group.rule);
        rule.opt_str(k!("ruleset"), origin.nsg);
        rule.close();
        let mut obs = o.object(k!("observer"));
        obs.str(k!("vendor"), "Microsoft");
        obs.str(
            k!("product"),
            match r.kind {
                FlowLogKind::Nsg => "Azure NSG flow logs",
                FlowLogKind::Vnet => "Azure VNet flow logs",
            },
        );
        obs.str(k!("type"), "firewall");
        obs.opt_str(k!("name"), origin.observer());
        obs.close();
        write_cloud(&mut o, origin.subscription_id);

        let mut fl = Obj::resume(&mut self.flow_log, false);
        fl.str(k!("kind"), r.kind.as_str());
        fl.u64(k!("version"), r.version);
        fl.str(k!("rule"), e.group.rule);
        fl.opt_str(k!("acl_id"), e.group.acl_id);
        fl.opt_str(k!("mac"), e.group.mac);
        fl.opt_str(k!("record_time"), h.time.as_deref());
        super::origin_fields(&mut fl, e, &origin, k!("name"));
    }
}

impl Encode for EcsEncoder {
    fn encode(&mut self, e: &FlowEvent<'_>, out: &mut Vec<u8>) {
        let t = e.tuple;
        self.group.refresh(e);
        let g = &self.group;
        out.extend_from_slice(b"{\"@timestamp\":\"");
        self.time.write(out, t.timestamp_ms);
        out.push(b'"');
        let (kind, action, state) = (e.record.kind, t.action, t.state);
        let head = (kind as usize * 2 + action_index(action)) * 5 + state_index(state);
        self.head
            .write(Some(head), out, |b| render_head(kind, action, state, b));
        out.extend_from_slice(e.src.ip_text.as_bytes());
        out.push(b'"');

        let nic_is_source = t.direction == Direction::Outbound;
        let mut s = Obj::resume(out, false);
        s.u64(k!("port"), e.src.port as u64);
        if nic_is_source && !g.mac.is_empty() {
            s.raw(k!("mac"), &g.mac);
        }
        s.opt_u64(k!("packets"), t.packets_src_to_dst);
        s.opt_u64(k!("bytes"), t.bytes_src_to_dst);
        enrich::write_ecs_geo(&mut s, &e.src);
        s.close();

        let mut o = Obj::resume(out, false);
        let mut d = o.object(k!("destination"));
        d.clean_str(k!("ip"), e.dst.ip_text);
        d.u64(k!("port"), e.dst.port as u64);
        if !nic_is_source && !g.mac.is_empty() {
            d.raw(k!("mac"), &g.mac);
        }
        d.opt_u64(k!("packets"), t.packets_dst_to_src);
        d.opt_u64(k!("bytes"), t.bytes_dst_to_src);
        enrich::write_ecs_geo(&mut d, &e.dst);
        d.close();

        let ipv4 = e.src.ip.is_ipv4();
        let key = label_key(t.protocol, t.direction, ipv4 as usize, 0);
        self.network.write(key, out, |b| render_network(t, ipv4, b));
        let mut n = Obj::resume(out, false);
        n.opt_clean_str(k!("protocol"), e.l7_protocol);
        n.clean_bytes(k!("community_id"), e.community_id.as_bytes());
        if let (Some(a), Some(b)) = (t.bytes_src_to_dst, t.bytes_dst_to_src) {
            n.u64(k!("bytes"), a.saturating_add(b));
        }
        if let (Some(a), Some(b)) = (t.packets_src_to_dst, t.packets_dst_to_src) {
            n.u64(k!("packets"), a.saturating_add(b));
        }
        n.close();

        // Addresses as the tuple wrote them, checked by the tuple parser: nothing to escape.
        out.extend_from_slice(br#","related":{"ip":[""#);
        out.extend_from_slice(e.src.ip_text.as_bytes());
        if e.src.ip_text != e.dst.ip_text {
            out.extend_from_slice(br#"",""#);
            out.extend_from_slice(e.dst.ip_text.as_bytes());
        }
        out.extend_from_slice(br#""]}"#);

        let mut o = Obj::resume(out, false);
        o.splice(&g.top);
        let en = Enrichment::of(e).native_geo();
        enrich::write_ecs_threat(&mut o, &en);

        let mut ns = o.object(k!("nsgflow"));
        ns.clean_str(k!("src_class"), e.src.class.as_str());
        ns.opt_str(k!("src_network"), e.src.network);
        ns.clean_str(k!("dst_class"), e.dst.class.as_str());
        ns.opt_str(k!("dst_network"), e.dst.network);
        enrich::write_fields(&mut ns, &en);
        ns.close();

        let direction = t.direction;
        let az = direction as usize * 5 + state_index(state);
        self.azure
            .write(Some(az), out, |b| render_azure(direction, state, b));
        let mut fl = Obj::resume(out, false);
        if let Some(enc) = t.encryption {
            fl.clean_str(k!("encryption"), enc.code());
            fl.bool(k!("encrypted"), enc.is_encrypted());
        }
        fl.splice(&g.flow_log);
        fl.close();
        out.extend_from_slice(b"}}");
    }

    fn encode_alert(&mut self, a: &crate::detect::Alert, out: &mut Vec<u8>) {
        use super::alert;
        alert::write(out, &alert::ecs(a));
    }

    fn encode_aggregate(&mut self, a: &AggregateEvent<'_>, out: &mut Vec<u8>) {
        let c = a.counts;
        let mut o = Obj::open(out);
        o.time_with(k!("@timestamp"), &mut self.time, a.window_start_ms);
        let mut ecs = o.object(k!("ecs"));
        ecs.str(k!("version"), ECS_VERSION);
        ecs.close();

        let mut ev = o.object(k!("event"));
        ev.clean_str(k!("kind"), "event");
        ev.strs(k!("category"), &["network"]);
        match a.action {
            Some(Action::Allow) => ev.strs(k!("type"), &["connection", "allowed"]),
            Some(Action::Deny) => ev.strs(k!("type"), &["connection", "denied"]),
            None => ev.strs(k!("type"), &["connection"]),
        }
        if let Some(act) = a.action {
            ev.clean_str(k!("action"), act.as_str());
        }
        ev.time_with(k!("start"), &mut self.time, a.first_seen_ms);
        ev.time_with(k!("end"), &mut self.time, a.last_seen_ms);
        ev.u64(
            k!("duration"),
            (a.last_seen_ms - a.first_seen_ms).saturating_mul(1_000_000),
        );
        ev.clean_str(k!("module"), "azure");
        ev.str(
            k!("dataset"),
            match a.context.kind {
                Some(FlowLogKind::Vnet) => "azure.vnet_flow",
                _ => "azure.nsg_flow",
            },
        );
        ev.close();

        let mut s = o.object(k!("source"));
        if let Some(e) = &a.src {
            s.clean_str(k!("ip"), e.ip_text);
        }
        s.opt_u64(k!("port"), a.src_port.map(u64::from));
        s.u64(k!("packets"), c.packets[0]);
        s.u64(k!("bytes"), c.bytes[0]);
        if let Some(e) = &a.src {
            enrich::write_ecs_geo(&mut s, e);
        }
        s.close();
        let mut d = o.object(k!("destination"));
        if let Some(e) = &a.dst {
            d.clean_str(k!("ip"), e.ip_text);
        }
        d.opt_u64(k!("port"), a.dst_port.map(u64::from));
        d.u64(k!("packets"), c.packets[1]);
        d.u64(k!("bytes"), c.bytes[1]);
        if let Some(e) = &a.dst {
            enrich::write_ecs_geo(&mut d, e);
        }
        d.close();

        let mut n = o.object(k!("network"));
        if let Some(p) = a.protocol {
            n.opt_clean_str(k!("transport"), p.name());
            let mut num = itoa::Buffer::new();
            n.str(k!("iana_number"), num.format(p.iana_number()));
        }
        if let Some(e) = a.src.as_ref().or(a.dst.as_ref()) {
            n.str(k!("type"), if e.ip.is_ipv4() { "ipv4" } else { "ipv6" });
        }
        if let Some(dir) = a.direction {
            n.str(
                k!("direction"),
                match dir {
                    Direction::Inbound => "ingress",
                    Direction::Outbound => "egress",
                },
            );
        }
        n.opt_clean_str(k!("protocol"), a.l7_protocol);
        n.u64(k!("bytes"), a.bytes());
        n.u64(k!("packets"), a.packets());
        n.close();

        match (&a.src, &a.dst) {
            (Some(s), Some(d)) if s.ip_text != d.ip_text => {
                let mut rel = o.object(k!("related"));
                rel.strs(k!("ip"), &[s.ip_text, d.ip_text]);
                rel.close();
            }
            (Some(e), _) | (None, Some(e)) => {
                let mut rel = o.object(k!("related"));
                rel.strs(k!("ip"), &[e.ip_text]);
                rel.close();
            }
            (None, None) => {}
        }
        if let Some(rule) = a.context.rule.as_deref() {
            let mut r = o.object(k!("rule"));
            r.str(k!("name"), rule);
            r.close();
        }
        if let Some(name) = a.context.observer.as_deref() {
            let mut obs = o.object(k!("observer"));
            obs.str(k!("vendor"), "Microsoft");
            obs.str(k!("type"), "firewall");
            obs.str(k!("name"), name);
            obs.close();
        }
        write_cloud(&mut o, a.context.subscription_id.as_deref());
        enrich::write_ecs_threat(&mut o, &agg::enrichment(a));

        let mut ns = o.object(k!("nsgflow"));
        agg::write_classes(&mut ns, a, &agg::enrichment(a).native_geo());
        agg::write_aggregate_object(&mut ns, a, &mut self.time);
        ns.close();

        let mut az = o.object(k!("azure"));
        let mut fl = az.object(k!("flow_log"));
        if let Some(dir) = a.direction {
            fl.clean_str(k!("direction"), dir.as_str());
        }
        agg::write_context(&mut fl, a);
        fl.close();
        az.close();
        o.close();
    }
}
