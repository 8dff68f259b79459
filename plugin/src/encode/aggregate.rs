//! The parts of an aggregate every encoder writes the same way, in nsgflow's own names:
//! the window and counters (flat at the top level, the others under
//! `nsgflow.aggregate`), the classes and enrichment of each side, and the context.

use super::enrich::{self, Enrichment};
use super::json::Obj;
use crate::aggregate::{AggregateEvent, Context};
use crate::k;
use crate::record::FlowLogKind;
use crate::time::Rfc3339Writer;

/// The enrichment of an aggregate's sides.
pub fn enrichment<'a, 'e>(a: &'a AggregateEvent<'e>) -> Enrichment<'a, 'e> {
    Enrichment {
        src: a.src.as_ref(),
        dst: a.dst.as_ref(),
        malicious: a.malicious,
        flow_type: a.flow_type,
        own_geo_fields: true,
    }
}

/// `window_start`, `window_end`, `first_seen`, `last_seen`.
pub fn write_window(o: &mut Obj<'_>, a: &AggregateEvent<'_>, time: &mut Rfc3339Writer) {
    o.time_with(k!("window_start"), time, a.window_start_ms);
    o.time_with(k!("window_end"), time, a.window_end_ms);
    o.time_with(k!("first_seen"), time, a.first_seen_ms);
    o.time_with(k!("last_seen"), time, a.last_seen_ms);
}

/// `tuples`, `flows_begun`, `flows_ended`, `flows_denied`, `distinct_src_ports`.
pub fn write_counts(o: &mut Obj<'_>, a: &AggregateEvent<'_>) {
    let c = a.counts;
    o.u64(k!("tuples"), c.tuples as u64);
    o.u64(k!("flows_begun"), c.begun as u64);
    o.u64(k!("flows_ended"), c.ended as u64);
    o.u64(k!("flows_denied"), c.denied as u64);
    o.opt_u64(
        k!("distinct_src_ports"),
        a.distinct_src_ports.map(u64::from),
    );
}

/// `late`, `flush`.
pub fn write_flush(o: &mut Obj<'_>, a: &AggregateEvent<'_>) {
    o.bool(k!("late"), a.late);
    o.clean_str(k!("flush"), a.reason.as_str());
}

/// `packets_src_to_dst` ... `bytes_dst_to_src`.
pub fn write_traffic(o: &mut Obj<'_>, a: &AggregateEvent<'_>) {
    let c = a.counts;
    o.u64(k!("packets_src_to_dst"), c.packets[0]);
    o.u64(k!("bytes_src_to_dst"), c.bytes[0]);
    o.u64(k!("packets_dst_to_src"), c.packets[1]);
    o.u64(k!("bytes_dst_to_src"), c.bytes[1]);
}

/// `src_class`, `src_network`, `dst_class`, `dst_network` and the enrichment fields.
pub fn write_classes(
    o: &mut Obj<'_>,
    a: &AggregateEvent<'_>,
    en: &super::enrich::Enrichment<'_, '_>,
) {
    if let Some(s) = &a.src {
        o.clean_str(k!("src_class"), s.class.as_str());
        o.opt_str(k!("src_network"), s.network);
    }
    if let Some(d) = &a.dst {
        o.clean_str(k!("dst_class"), d.class.as_str());
        o.opt_str(k!("dst_network"), d.network);
    }
    enrich::write_fields(o, en);
}

/// `rule`, `flow_log_kind`, `subscription_id`, `resource_group`, `nsg` or
/// `target_resource`, `resource_id`: what is in the key (rendered once per context).
pub fn write_context(o: &mut Obj<'_>, a: &AggregateEvent<'_>) {
    o.splice(&a.context.fields_json);
}

/// Renders a context's fields, each led by a comma, for [`write_context`].
pub fn render_context(c: &Context) -> Vec<u8> {
    let mut out = Vec::new();
    let mut o = Obj::resume(&mut out, false);
    o.opt_str(k!("rule"), c.rule.as_deref());
    if let Some(kind) = c.kind {
        o.clean_str(k!("flow_log_kind"), kind.as_str());
    }
    o.opt_str(k!("subscription_id"), c.subscription_id.as_deref());
    o.opt_str(k!("resource_group"), c.resource_group.as_deref());
    match c.kind {
        Some(FlowLogKind::Vnet) => o.opt_str(k!("target_resource"), c.observer.as_deref()),
        _ => o.opt_str(k!("nsg"), c.observer.as_deref()),
    }
    o.opt_str(k!("resource_id"), c.resource_id.as_deref());
    out
}

/// The `nsgflow.aggregate` object of the ECS, Splunk and OCSF renderings.
pub fn write_aggregate_object(o: &mut Obj<'_>, a: &AggregateEvent<'_>, time: &mut Rfc3339Writer) {
    let mut ag = o.object(k!("aggregate"));
    write_window(&mut ag, a, time);
    write_counts(&mut ag, a);
    write_flush(&mut ag, a);
    ag.close();
}
