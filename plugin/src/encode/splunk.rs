//! Splunk HTTP Event Collector envelope, `{time, host, source, sourcetype, [index], event}`,
//! whose `event` carries CIM Network_Traffic fields.
//!
//! - `action` is `allowed`/`blocked`; `direction` `inbound`/`outbound`.
//! - `bytes_out`/`packets_out` count source-to-destination, `*_in` the reverse; `bytes` and
//!   `packets` are their sums when both are known.
//! - `flow_id` is the Community ID; `app` the L7 protocol guessed from the port;
//!   `src_zone`/`dest_zone` the user network, else the address class.
//! - `host` is the NSG (or the resource the VNet flow log watches), `source` the Azure
//!   resource ID that wrote the log.
//! - Azure fields CIM does not define are under `azure.*`, classification under `nsgflow.*`.

use super::aggregate as agg;
use super::enrich::{self, Enrichment};
use super::json::{write_str, write_u64, Obj};
use super::{Encode, EncodeOptions};
use crate::aggregate::AggregateEvent;
use crate::event::{FlowEvent, Origin};
use crate::k;
use crate::labels::{Action, Direction};
use crate::record::FlowLogKind;

/// Encodes Splunk HEC events.
#[derive(Debug)]
pub struct SplunkEncoder {
    sourcetype: String,
    index: String,
    group: SplunkGroup,
    time: crate::time::Rfc3339Writer,
}

#[derive(Debug, Default)]
struct SplunkGroup {
    group_id: u64,
    /// `"host":...,"source":...,"sourcetype":...[,"index":...]` pairs, led by a comma.
    envelope: Vec<u8>,
    /// The NIC's MAC as a JSON string, or empty.
    mac: Vec<u8>,
    /// CIM fields of the group (`rule`, `dvc`, `vendor_*`), led by a comma.
    cim: Vec<u8>,
    /// The group's `azure` fields, led by a comma.
    azure: Vec<u8>,
}

impl SplunkEncoder {
    pub fn new(options: &EncodeOptions) -> Self {
        SplunkEncoder {
            sourcetype: options.splunk_sourcetype.clone(),
            index: options.splunk_index.clone(),
            group: SplunkGroup::default(),
            time: crate::time::Rfc3339Writer::default(),
        }
    }

    fn refresh(&mut self, e: &FlowEvent<'_>) {
        let g = &mut self.group;
        if g.group_id == e.group.group_id && g.group_id != 0 {
            return;
        }
        g.group_id = e.group.group_id;
        g.envelope.clear();
        g.mac.clear();
        g.cim.clear();
        g.azure.clear();
        let r = e.record;
        let h = &r.header;
        let origin = Origin::of(e.record, e.group);

        let mut env = Obj::resume(&mut g.envelope, false);
        env.str(k!("host"), origin.observer().unwrap_or("azure"));
        env.str(
            k!("source"),
            h.resource_id
                .as_deref()
                .or(h.flow_log_resource_id.as_deref())
                .unwrap_or("nsgflow"),
        );
        env.str(k!("sourcetype"), &self.sourcetype);
        if !self.index.is_empty() {
            env.str(k!("index"), &self.index);
        }

        if let Some(mac) = origin.mac {
            write_str(&mut g.mac, mac.as_str());
        }

        let mut cim = Obj::resume(&mut g.cim, false);
        cim.str(k!("rule"), e.group.rule);
        cim.opt_str(k!("dvc"), origin.observer());
        cim.str(
            k!("vendor_product"),
            match r.kind {
                FlowLogKind::Nsg => "Microsoft Azure NSG flow logs",
                FlowLogKind::Vnet => "Microsoft Azure VNet flow logs",
            },
        );
        cim.opt_str(k!("vendor_account"), origin.subscription_id);

        let mut az = Obj::resume(&mut g.azure, false);
        az.str(k!("flow_log_kind"), r.kind.as_str());
        az.u64(k!("flow_log_version"), r.version);
        az.opt_str(k!("acl_id"), e.group.acl_id);
        az.opt_str(k!("record_time"), h.time.as_deref());
        super::origin_fields(&mut az, e, &origin, k!("flow_log"));
    }
}

/// HEC time: epoch seconds with millisecond decimals.
fn write_hec_time(out: &mut Vec<u8>, timestamp_ms: u64) {
    write_u64(out, timestamp_ms / 1000);
    let ms = timestamp_ms % 1000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
    ]);
}

impl Encode for SplunkEncoder {
    fn encode_alert(&mut self, a: &crate::detect::Alert, out: &mut Vec<u8>) {
        use super::alert;
        alert::write_splunk(a, &self.index, out);
    }

    fn encode_aggregate(&mut self, a: &AggregateEvent<'_>, out: &mut Vec<u8>) {
        let c = a.counts;
        let ctx = a.context;
        out.extend_from_slice(b"{\"time\":");
        write_hec_time(out, a.window_start_ms);
        let mut o = Obj::resume(out, false);
        o.str(k!("host"), ctx.observer.as_deref().unwrap_or("azure"));
        o.str(
            k!("source"),
            ctx.resource_id.as_deref().unwrap_or("nsgflow"),
        );
        o.str(k!("sourcetype"), &self.sourcetype);
        if !self.index.is_empty() {
            o.str(k!("index"), &self.index);
        }
        let mut ev = o.object(k!("event"));
        if let Some(act) = a.action {
            ev.str(
                k!("action"),
                match act {
                    Action::Allow => "allowed",
                    Action::Deny => "blocked",
                },
            );
        }
        if let Some(e) = &a.src {
            ev.clean_str(k!("src"), e.ip_text);
            ev.clean_str(k!("src_ip"), e.ip_text);
        }
        ev.opt_u64(k!("src_port"), a.src_port.map(u64::from));
        if let Some(e) = &a.dst {
            ev.clean_str(k!("dest"), e.ip_text);
            ev.clean_str(k!("dest_ip"), e.ip_text);
        }
        ev.opt_u64(k!("dest_port"), a.dst_port.map(u64::from));
        if let Some(p) = a.protocol {
            ev.opt_clean_str(k!("transport"), p.name());
        }
        ev.clean_str(k!("protocol"), "ip");
        if let Some(e) = a.src.as_ref().or(a.dst.as_ref()) {
            ev.str(
                k!("protocol_version"),
                if e.ip.is_ipv4() { "4" } else { "6" },
            );
        }
        if let Some(dir) = a.direction {
            ev.clean_str(k!("direction"), dir.as_str());
        }
        ev.u64(k!("bytes_out"), c.bytes[0]);
        ev.u64(k!("bytes_in"), c.bytes[1]);
        ev.u64(k!("bytes"), a.bytes());
        ev.u64(k!("packets_out"), c.packets[0]);
        ev.u64(k!("packets_in"), c.packets[1]);
        ev.u64(k!("packets"), a.packets());
        ev.u64(k!("duration"), (a.last_seen_ms - a.first_seen_ms) / 1000);
        ev.opt_clean_str(k!("app"), a.l7_protocol);
        if let Some(e) = &a.src {
            ev.str(k!("src_zone"), e.network.unwrap_or(e.class.as_str()));
        }
        if let Some(e) = &a.dst {
            ev.str(k!("dest_zone"), e.network.unwrap_or(e.class.as_str()));
        }
        ev.opt_str(k!("rule"), ctx.rule.as_deref());
        ev.opt_str(k!("dvc"), ctx.observer.as_deref());
        ev.opt_str(k!("vendor_account"), ctx.subscription_id.as_deref());
        enrich::write_splunk_threat(&mut ev, &agg::enrichment(a));
        let mut ns = ev.object(k!("nsgflow"));
        agg::write_classes(&mut ns, a, &agg::enrichment(a));
        agg::write_aggregate_object(&mut ns, a, &mut self.time);
        ns.close();
        let mut az = ev.object(k!("azure"));
        agg::write_context(&mut az, a);
        az.close();
        ev.close();
        o.close();
    }

    fn encode(&mut self, e: &FlowEvent<'_>, out: &mut Vec<u8>) {
        self.refresh(e);
        let g = &self.group;
        let t = e.tuple;
        out.extend_from_slice(b"{\"time\":");
        write_hec_time(out, t.timestamp_ms);
        let mut o = Obj::resume(out, false);
        o.splice(&g.envelope);

        let mut ev = o.object(k!("event"));
        ev.str(
            k!("action"),
            match t.action {
                Action::Allow => "allowed",
                Action::Deny => "blocked",
            },
        );
        ev.clean_str(k!("src"), e.src.ip_text);
        ev.clean_str(k!("src_ip"), e.src.ip_text);
        ev.u64(k!("src_port"), e.src.port as u64);
        ev.clean_str(k!("dest"), e.dst.ip_text);
        ev.clean_str(k!("dest_ip"), e.dst.ip_text);
        ev.u64(k!("dest_port"), e.dst.port as u64);
        let nic_is_source = t.direction == Direction::Outbound;
        if !g.mac.is_empty() {
            ev.raw(
                if nic_is_source {
                    k!("src_mac")
                } else {
                    k!("dest_mac")
                },
                &g.mac,
            );
        }
        ev.opt_clean_str(k!("transport"), t.protocol.name());
        ev.clean_str(k!("protocol"), "ip");
        ev.str(
            k!("protocol_version"),
            if e.src.ip.is_ipv4() { "4" } else { "6" },
        );
        ev.clean_str(k!("direction"), t.direction.as_str());
        ev.opt_u64(k!("bytes_out"), t.bytes_src_to_dst);
        ev.opt_u64(k!("bytes_in"), t.bytes_dst_to_src);
        if let (Some(a), Some(b)) = (t.bytes_src_to_dst, t.bytes_dst_to_src) {
            ev.u64(k!("bytes"), a.saturating_add(b));
        }
        ev.opt_u64(k!("packets_out"), t.packets_src_to_dst);
        ev.opt_u64(k!("packets_in"), t.packets_dst_to_src);
        if let (Some(a), Some(b)) = (t.packets_src_to_dst, t.packets_dst_to_src) {
            ev.u64(k!("packets"), a.saturating_add(b));
        }
        ev.opt_clean_str(k!("app"), e.l7_protocol);
        ev.clean_bytes(k!("flow_id"), e.community_id.as_bytes());
        ev.str(
            k!("src_zone"),
            e.src.network.unwrap_or(e.src.class.as_str()),
        );
        ev.str(
            k!("dest_zone"),
            e.dst.network.unwrap_or(e.dst.class.as_str()),
        );
        ev.splice(&g.cim);
        let en = Enrichment::of(e);
        enrich::write_splunk_threat(&mut ev, &en);

        let mut ns = ev.object(k!("nsgflow"));
        ns.clean_str(k!("src_class"), e.src.class.as_str());
        ns.opt_str(k!("src_network"), e.src.network);
        ns.clean_str(k!("dst_class"), e.dst.class.as_str());
        ns.opt_str(k!("dst_network"), e.dst.network);
        enrich::write_fields(&mut ns, &en);
        ns.close();

        let mut az = ev.object(k!("azure"));
        if let Some(state) = t.state {
            az.clean_str(k!("flow_state"), state.as_str());
        }
        if let Some(enc) = t.encryption {
            az.clean_str(k!("encryption"), enc.code());
            az.bool(k!("encrypted"), enc.is_encrypted());
        }
        az.splice(&g.azure);
        az.close();
        ev.close();
        o.close();
    }
}
