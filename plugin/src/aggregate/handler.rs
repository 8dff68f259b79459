//! Aggregation of enriched events: each event becomes a [`TupleIn`]; each aggregate whose
//! window closes is enriched and handed to the caller as an [`AggregateEvent`]. Encoding
//! the aggregates is the layer above (`lines` and `finish`, in [`crate::engine`]), so this
//! module does not depend on the encoders.
//!
//! ```
//! use nsgflow::aggregate::{AggregateConfig, Aggregation, FlushReason};
//! use nsgflow::encode::{encoder, EncodeOptions, Format};
//! use nsgflow::engine::Engine;
//! use nsgflow::output::{DeadLetterWriter, EventWriter};
//! let blob = r#"{"records":[{"time":"2018-11-13T12:00:35Z","category":"NetworkSecurityGroupFlowEvent",
//!   "resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG",
//!   "properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"000D3AF87856","flowTuples":[
//!   "1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,C,1,66,1,66",
//!   "1542110389,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,2,120,3,400"]}]}]}}]}"#;
//! let mut engine = Engine::default();
//! let config = AggregateConfig { enabled: true, ..Default::default() };
//! let mut agg = Aggregation::new(&config, engine.enricher.clone()).unwrap();
//! let mut enc = encoder(Format::Flat, &EncodeOptions::default());
//! let mut out = EventWriter::new(Vec::new());
//! let mut dead = DeadLetterWriter::new(None);
//! engine.process("blob", blob, &mut agg.lines(enc.as_mut(), &mut out), &mut dead);
//! agg.finish(FlushReason::EndOfInput, enc.as_mut(), &mut out);
//! let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
//! assert_eq!(text.lines().count(), 1);
//! assert!(text.contains(r#""tuples":2,"#) && text.contains(r#""bytes_dst_to_src":466"#));
//! ```

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use crate::event::{Enricher, FlowEvent};
use crate::labels::{Action, Direction, FlowState};

use super::config::AggregateConfig;
use super::key::{
    ip_words, words_ip, Context, ContextTable, FlowKey, KeyField, KeySpec, RenderContext, DENY,
    DST_V6, OUTBOUND, SRC_V6,
};
use super::record::AggregateEvent;
use super::window::{Aggregate, Aggregator, FlushReason, TupleIn, BEGUN, DENIED, ENDED};

/// The aggregation state of a run, kept across inputs.
#[derive(Debug)]
pub struct Aggregation {
    pub aggregator: Aggregator,
    keys: TupleKeys,
    /// A batch's context ids to this run's ([`Aggregation::add_batch`]), reused.
    import: Vec<u32>,
    /// Enriches the aggregates' addresses when they are emitted (a view on the same feeds
    /// and topology as the engine's).
    enricher: Enricher,
    ip_text: [String; 2],
}

/// Makes the compact form of events ([`TupleIn`]): the key fields kept and the contexts
/// interned. [`Aggregation`] has one; each worker of a run on several threads has its own
/// ([`Aggregation::worker_keys`]), its contexts moved out after each job
/// ([`TupleKeys::drain_contexts`]) and imported in order by [`Aggregation::add_batch`].
#[derive(Debug)]
pub struct TupleKeys {
    masks: Masks,
    spec: KeySpec,
    contexts: ContextTable,
}

/// Which key fields are kept, as masks applied without branches.
#[derive(Debug, Clone, Copy)]
struct Masks {
    src_ip: u32,
    dst_ip: u32,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    flags: u8,
}

impl Masks {
    fn new(config: &AggregateConfig) -> Self {
        let k = config.key;
        let m32 = |f| if k.has(f) { u32::MAX } else { 0 };
        let m16 = |f| if k.has(f) { u16::MAX } else { 0 };
        let mut flags = 0;
        if k.has(KeyField::Direction) {
            flags |= OUTBOUND;
        }
        if k.has(KeyField::Action) {
            flags |= DENY;
        }
        if k.has(KeyField::SrcIp) {
            flags |= SRC_V6;
        }
        if k.has(KeyField::DstIp) {
            flags |= DST_V6;
        }
        Masks {
            src_ip: m32(KeyField::SrcIp),
            dst_ip: m32(KeyField::DstIp),
            src_port: m16(KeyField::SrcPort),
            dst_port: m16(KeyField::DstPort),
            protocol: if k.has(KeyField::Protocol) {
                u8::MAX
            } else {
                0
            },
            flags,
        }
    }
}

impl Aggregation {
    /// Aggregation as `config` says, with `render` writing each key context's fields as the
    /// encoders show them (injected from above: `Aggregation::new` in [`crate::engine`]
    /// passes the encoders' renderer). An invalid config is an error naming the setting
    /// (see [`AggregateConfig::validate`]).
    pub fn with_renderer(
        config: &AggregateConfig,
        enricher: Enricher,
        render: RenderContext,
    ) -> Result<Self, String> {
        let aggregator = Aggregator::new(config)?;
        Ok(Aggregation {
            keys: TupleKeys {
                masks: Masks::new(config),
                spec: aggregator.spec(),
                contexts: ContextTable::new(render),
            },
            aggregator,
            import: Vec::new(),
            enricher,
            ip_text: [String::new(), String::new()],
        })
    }

    /// Key maker for a worker: the same key fields, no context yet.
    pub fn worker_keys(&self) -> TupleKeys {
        TupleKeys {
            masks: self.keys.masks,
            spec: self.keys.spec,
            contexts: self.keys.contexts.for_worker(),
        }
    }

    /// Folds in a worker's batch, as [`Aggregation::add_event`] would have folded its
    /// events: first the `contexts` the batch's job made (in their order, drained), whose
    /// ids the tuples carry, then the tuples in order. Aggregates whose window closes are
    /// enriched and handed to `emit`.
    pub fn add_batch(
        &mut self,
        tuples: &mut [TupleIn],
        contexts: &mut Vec<Arc<Context>>,
        emit: &mut dyn FnMut(&AggregateEvent<'_>),
    ) {
        let Aggregation {
            aggregator,
            keys,
            import,
            enricher,
            ip_text,
        } = self;
        import.clear();
        import.extend(contexts.drain(..).map(|c| keys.contexts.import(c)));
        let contexts = &keys.contexts;
        for t in tuples.iter_mut() {
            t.key.context = import[t.key.context as usize];
            aggregator.add(t, &mut |a| render(a, contexts, enricher, ip_text, emit));
        }
    }

    /// Picks up reloaded feeds (once per input or stdin chunk, like the engine).
    pub fn refresh(&mut self) {
        self.enricher.refresh();
    }

    /// Folds one event in; each aggregate whose window closes is enriched and handed to
    /// `emit`.
    #[inline]
    pub fn add_event(&mut self, event: &FlowEvent<'_>, emit: &mut dyn FnMut(&AggregateEvent<'_>)) {
        let t = self.tuple_in(event);
        let Aggregation {
            aggregator,
            keys,
            enricher,
            ip_text,
            ..
        } = self;
        let contexts = &keys.contexts;
        aggregator.add(&t, &mut |a| render(a, contexts, enricher, ip_text, emit));
    }

    /// The compact form of an event.
    #[inline]
    pub fn tuple_in(&mut self, e: &FlowEvent<'_>) -> TupleIn {
        self.keys.tuple_in(e)
    }
}

impl TupleKeys {
    /// The compact form of an event.
    #[inline]
    pub fn tuple_in(&mut self, e: &FlowEvent<'_>) -> TupleIn {
        let t = e.tuple;
        let m = self.masks;
        let (src, src_v6) = ip_words(t.src_ip);
        let (dst, dst_v6) = ip_words(t.dst_ip);
        let flags = (if t.direction == Direction::Outbound {
            OUTBOUND
        } else {
            0
        }) | (if t.action == Action::Deny { DENY } else { 0 })
            | (if src_v6 { SRC_V6 } else { 0 })
            | (if dst_v6 { DST_V6 } else { 0 });
        let state = match t.state {
            Some(FlowState::Begin) => BEGUN,
            Some(FlowState::End) => ENDED,
            _ => 0,
        } | if t.action == Action::Deny { DENIED } else { 0 };
        TupleIn {
            timestamp_ms: t.timestamp_ms,
            key: FlowKey {
                src: src.map(|w| w & m.src_ip),
                dst: dst.map(|w| w & m.dst_ip),
                src_port: t.src_port & m.src_port,
                dst_port: t.dst_port & m.dst_port,
                protocol: t.protocol.iana_number() & m.protocol,
                flags: flags & m.flags,
                context: self.contexts.id(self.spec, e),
            },
            src_port: t.src_port,
            state,
            packets: [
                t.packets_src_to_dst.unwrap_or(0),
                t.packets_dst_to_src.unwrap_or(0),
            ],
            bytes: [
                t.bytes_src_to_dst.unwrap_or(0),
                t.bytes_dst_to_src.unwrap_or(0),
            ],
        }
    }

    /// Moves the contexts made since the last call out into `out`, in id order (the
    /// tuples made meanwhile carry these ids, from 0): see [`Aggregation::add_batch`].
    pub fn drain_contexts(&mut self, out: &mut Vec<Arc<Context>>) {
        self.contexts.drain(out);
    }
}

impl Aggregation {
    /// Flushes every window (end of input or a signal), each aggregate enriched and handed
    /// to `emit`.
    pub fn flush_all(&mut self, reason: FlushReason, emit: &mut dyn FnMut(&AggregateEvent<'_>)) {
        let Aggregation {
            aggregator,
            keys,
            enricher,
            ip_text,
            ..
        } = self;
        let contexts = &keys.contexts;
        enricher.refresh();
        aggregator.flush_all(reason, &mut |a| {
            render(a, contexts, enricher, ip_text, emit)
        });
    }
}

/// Enriches one aggregate and hands it to `emit`.
fn render(
    a: &Aggregate<'_>,
    contexts: &ContextTable,
    enricher: &mut Enricher,
    ip_text: &mut [String; 2],
    emit: &mut dyn FnMut(&AggregateEvent<'_>),
) {
    let has = |f| a.spec.has(f);
    let src_ip = has(KeyField::SrcIp).then(|| words_ip(a.key.src, a.key.flags & SRC_V6 != 0));
    let dst_ip = has(KeyField::DstIp).then(|| words_ip(a.key.dst, a.key.flags & DST_V6 != 0));
    let src_listing = src_ip.and_then(|ip| enricher.lookup(ip));
    let dst_listing = dst_ip.and_then(|ip| enricher.lookup(ip));
    let [src_text, dst_text] = ip_text;
    for (ip, text) in [(src_ip, &mut *src_text), (dst_ip, &mut *dst_text)] {
        text.clear();
        match ip {
            Some(IpAddr::V4(a)) => write_ipv4(text, a),
            Some(ip) => {
                let _ = write!(text, "{ip}");
            }
            None => {}
        }
    }
    let enricher: &Enricher = enricher;
    let src = src_ip.map(|ip| enricher.endpoint(ip, src_text, a.key.src_port, src_listing));
    let dst = dst_ip.map(|ip| enricher.endpoint(ip, dst_text, a.key.dst_port, dst_listing));
    let mut ev = AggregateEvent::new(a, contexts.get(a.key.context), src, dst);
    match (&src, &dst) {
        (Some(s), Some(d)) => (ev.malicious, ev.flow_type) = enricher.verdicts(s, d),
        _ => {
            ev.malicious = enricher.reputation.as_ref().map(|_| {
                src.is_some_and(|e| e.reputation.is_some())
                    || dst.is_some_and(|e| e.reputation.is_some())
            })
        }
    }
    emit(&ev);
}

/// Dotted-quad text without the `fmt` machinery (a fifth of the cost of writing an
/// aggregate went there).
fn write_ipv4(text: &mut String, a: Ipv4Addr) {
    let mut buf = itoa::Buffer::new();
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        text.push_str(buf.format(o));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EventHandler};
    use crate::output::DeadLetterWriter;

    struct Keys<'a>(&'a mut TupleKeys, Vec<u32>);

    impl EventHandler for Keys<'_> {
        fn event(&mut self, e: &FlowEvent<'_>) {
            let t = self.0.tuple_in(e);
            self.1.push(t.key.context);
        }
    }

    /// One job of a worker: the context ids its tuples carry and the contexts it hands on.
    fn job(keys: &mut TupleKeys, text: &str) -> (Vec<u32>, Vec<Arc<Context>>) {
        let mut h = Keys(keys, Vec::new());
        let mut engine = Engine::default();
        engine.process("job", text, &mut h, &mut DeadLetterWriter::new(None));
        let ids = h.1;
        let mut out = Vec::new();
        keys.drain_contexts(&mut out);
        (ids, out)
    }

    #[test]
    fn a_worker_hands_on_each_jobs_contexts_as_the_jobs_first_events_make_them() {
        // The VNet fixture with every aclID one NSG (the observer is the NSG), and with
        // every aclID a GUID (the observer is the target VNet): the same (rule, resource)
        // pairs, other contexts.
        let text = include_str!("../../../tests/fixtures/vnet-blob.json");
        let acl = |to: &str| {
            let mut out = String::new();
            for (i, part) in text.split("\"aclID\":\"").enumerate() {
                if i == 0 {
                    out.push_str(part);
                } else {
                    out.push_str("\"aclID\":\"");
                    out.push_str(to);
                    out.push_str(&part[part.find('"').unwrap()..]);
                }
            }
            out
        };
        let nsg = acl("/subscriptions/s/resourcegroups/rg/providers/microsoft.network/networksecuritygroups/nsg-x");
        let guid = acl("9f1e6c2b-7d48-4a35-b8e0-51c3a9d7f264");
        let config = AggregateConfig {
            enabled: true,
            key: "dst_port,rule,resource".parse().unwrap(),
            ..Default::default()
        };
        let agg = Aggregation::new(&config, Engine::default().enricher.clone()).unwrap();
        let observers = |c: &[Arc<Context>]| -> Vec<Option<String>> {
            c.iter().map(|c| c.observer.clone()).collect()
        };
        // What a fresh worker hands on for each text alone.
        let (ids_nsg, fresh_nsg) = job(&mut agg.worker_keys(), &nsg);
        let (ids_guid, fresh_guid) = job(&mut agg.worker_keys(), &guid);
        assert!(!fresh_nsg.is_empty() && ids_nsg.iter().all(|&i| (i as usize) < fresh_nsg.len()));
        assert!(observers(&fresh_nsg)
            .iter()
            .all(|o| o.as_deref() == Some("nsg-x")));
        assert!(observers(&fresh_guid)
            .iter()
            .all(|o| o.as_deref() != Some("nsg-x")));
        // One worker, the jobs one after the other: each job's ids start at 0 and its
        // contexts are those its own events make, not the worker's cached ones.
        let mut worker = agg.worker_keys();
        for (text, ids, fresh) in [
            (&nsg, &ids_nsg, &fresh_nsg),
            (&guid, &ids_guid, &fresh_guid),
            (&guid, &ids_guid, &fresh_guid),
            (&nsg, &ids_nsg, &fresh_nsg),
        ] {
            let (got_ids, got) = job(&mut worker, text);
            assert_eq!(&got_ids, ids);
            let got_plain: Vec<&Context> = got.iter().map(|c| &**c).collect();
            let fresh_plain: Vec<&Context> = fresh.iter().map(|c| &**c).collect();
            assert_eq!(got_plain, fresh_plain);
        }
        // A job that makes the contexts the cache holds shares them (no allocation).
        let (_, again) = job(&mut worker, &nsg);
        let (_, again2) = job(&mut worker, &nsg);
        assert!(again.iter().zip(&again2).all(|(a, b)| Arc::ptr_eq(a, b)));
    }
}
