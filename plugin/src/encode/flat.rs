//! nsgflow's flat schema: one level of plainly named fields, documented in
//! `docs/schema.md`. Fields that do not apply (no state in NSG v1, no counters on a `B`
//! tuple) are left out, never written as a fake 0.

use super::aggregate as agg;
use super::enrich::{self, Enrichment};
use super::json::{write_u64, Obj};
use super::prerender::{action_index, label_key, state_index, Prerendered};
use super::{Encode, GroupCache};
use crate::aggregate::AggregateEvent;
use crate::classify::AddressClass;
use crate::event::{FlowEvent, Origin};
use crate::k;
use crate::time::Rfc3339Writer;

/// `PREV,"KEY":NEXT` as bytes: what ends the field before, a key, what opens its value.
macro_rules! lit {
    ($prev:literal, $key:literal, $next:literal) => {
        concat!($prev, ",\"", $key, "\":", $next).as_bytes()
    };
}

/// Encodes the flat schema.
#[derive(Debug)]
pub struct FlatEncoder {
    group: GroupCache,
    time: Rfc3339Writer,
    /// `,"protocol"` to `flow_state`, by protocol, direction, action and state.
    labels: Prerendered,
    /// `,"src_class"` and `dst_class`, by the two classes, for events with no named
    /// network on either side.
    classes: Prerendered,
}

impl Default for FlatEncoder {
    fn default() -> Self {
        FlatEncoder {
            group: GroupCache::default(),
            time: Rfc3339Writer::default(),
            labels: Prerendered::new(128),
            classes: Prerendered::new(AddressClass::ALL.len() * AddressClass::ALL.len()),
        }
    }
}

/// `protocol`, `iana_number`, `direction`, `action` and `flow_state`.
fn render_labels(t: &crate::tuple::FlowTuple<'_>, out: &mut Vec<u8>) {
    let mut o = Obj::resume(out, false);
    o.opt_clean_str(k!("protocol"), t.protocol.name());
    o.u64(k!("iana_number"), t.protocol.iana_number() as u64);
    o.clean_str(k!("direction"), t.direction.as_str());
    o.clean_str(k!("action"), t.action.as_str());
    if let Some(state) = t.state {
        o.clean_str(k!("flow_state"), state.as_str());
    }
}

impl Encode for FlatEncoder {
    fn encode(&mut self, e: &FlowEvent<'_>, out: &mut Vec<u8>) {
        let t = e.tuple;
        // The per-tuple fields are written with each key's comma, quotes and colon (and a
        // string value's opening quote) as one literal: fewer, longer writes.
        out.extend_from_slice(b"{\"timestamp\":\"");
        self.time.write(out, t.timestamp_ms);
        out.extend_from_slice(lit!("\"", "src_ip", "\""));
        out.extend_from_slice(e.src.ip_text.as_bytes());
        out.extend_from_slice(lit!("\"", "src_port", ""));
        write_u64(out, e.src.port as u64);
        out.extend_from_slice(lit!("", "dst_ip", "\""));
        out.extend_from_slice(e.dst.ip_text.as_bytes());
        out.extend_from_slice(lit!("\"", "dst_port", ""));
        write_u64(out, e.dst.port as u64);
        let key = label_key(
            t.protocol,
            t.direction,
            action_index(t.action),
            state_index(t.state),
        );
        self.labels.write(key, out, |b| render_labels(t, b));
        let mut o = Obj::resume(out, false);
        if let Some(enc) = t.encryption {
            o.clean_str(k!("encryption"), enc.code());
            o.bool(k!("encrypted"), enc.is_encrypted());
        }
        o.opt_u64(k!("packets_src_to_dst"), t.packets_src_to_dst);
        o.opt_u64(k!("bytes_src_to_dst"), t.bytes_src_to_dst);
        o.opt_u64(k!("packets_dst_to_src"), t.packets_dst_to_src);
        o.opt_u64(k!("bytes_dst_to_src"), t.bytes_dst_to_src);
        if e.src.network.is_none() && e.dst.network.is_none() {
            let key = e.src.class as usize * AddressClass::ALL.len() + e.dst.class as usize;
            self.classes.write(Some(key), out, |b| {
                let mut o = Obj::resume(b, false);
                o.clean_str(k!("src_class"), e.src.class.as_str());
                o.clean_str(k!("dst_class"), e.dst.class.as_str());
            });
        } else {
            let mut o = Obj::resume(out, false);
            o.clean_str(k!("src_class"), e.src.class.as_str());
            o.opt_str(k!("src_network"), e.src.network);
            o.clean_str(k!("dst_class"), e.dst.class.as_str());
            o.opt_str(k!("dst_network"), e.dst.network);
        }
        let mut o = Obj::resume(out, false);
        o.opt_clean_str(k!("l7_protocol"), e.l7_protocol);
        o.clean_bytes(k!("community_id"), e.community_id.as_bytes());
        enrich::write_fields(&mut o, &Enrichment::of(e));
        o.splice(self.group.get(e, render_group));
        o.close();
    }

    fn encode_alert(&mut self, a: &crate::detect::Alert, out: &mut Vec<u8>) {
        use super::alert;
        alert::flat(a).write(out);
    }

    fn encode_aggregate(&mut self, a: &AggregateEvent<'_>, out: &mut Vec<u8>) {
        self.aggregate(a, out);
    }
}

impl FlatEncoder {
    fn aggregate(&mut self, a: &AggregateEvent<'_>, out: &mut Vec<u8>) {
        let mut o = Obj::open(out);
        agg::write_window(&mut o, a, &mut self.time);
        if let Some(s) = &a.src {
            o.clean_str(k!("src_ip"), s.ip_text);
        }
        o.opt_u64(k!("src_port"), a.src_port.map(u64::from));
        if let Some(d) = &a.dst {
            o.clean_str(k!("dst_ip"), d.ip_text);
        }
        o.opt_u64(k!("dst_port"), a.dst_port.map(u64::from));
        if let Some(p) = a.protocol {
            o.opt_clean_str(k!("protocol"), p.name());
            o.u64(k!("iana_number"), p.iana_number() as u64);
        }
        if let Some(d) = a.direction {
            o.clean_str(k!("direction"), d.as_str());
        }
        if let Some(act) = a.action {
            o.clean_str(k!("action"), act.as_str());
        }
        agg::write_counts(&mut o, a);
        agg::write_traffic(&mut o, a);
        agg::write_classes(&mut o, a, &agg::enrichment(a));
        o.opt_clean_str(k!("l7_protocol"), a.l7_protocol);
        agg::write_context(&mut o, a);
        agg::write_flush(&mut o, a);
        o.close();
    }
}

/// The fields shared by every tuple of a flow group.
fn render_group(e: &FlowEvent<'_>, out: &mut Vec<u8>) {
    let r = e.record;
    let h = &r.header;
    let origin = Origin::of(e.record, e.group);
    let mut o = Obj::resume(out, false);
    o.str(k!("rule"), e.group.rule);
    o.opt_str(k!("acl_id"), e.group.acl_id);
    match origin.mac {
        Some(mac) => o.str(k!("mac"), mac.as_str()),
        None => o.opt_str(k!("mac"), e.group.mac),
    }
    o.str(k!("flow_log_kind"), r.kind.as_str());
    o.u64(k!("flow_log_version"), r.version);
    o.opt_str(k!("record_time"), h.time.as_deref());
    super::origin_fields(&mut o, e, &origin, k!("flow_log"));
}
