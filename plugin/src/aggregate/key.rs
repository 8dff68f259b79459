//! Aggregation keys: which fields group tuples, and the compact key each tuple maps to.
//!
//! | preset | fields |
//! |---|---|
//! | `5tuple` (default) | `src_ip`, `src_port`, `dst_ip`, `dst_port`, `protocol`, `direction`, `action`, `rule`, `resource` |
//! | `traffic-analytics` | the same without `src_port` (Traffic Analytics drops it; distinct source ports are counted) |
//! | a list | any of the fields above, e.g. `[dst_ip, dst_port, protocol]` |
//!
//! ```
//! use nsgflow::aggregate::{KeyField, KeySpec};
//! let k: KeySpec = "dst_ip,dst_port,protocol".parse().unwrap();
//! assert!(k.has(KeyField::DstPort) && !k.has(KeyField::SrcIp));
//! assert_eq!("5tuple".parse::<KeySpec>().unwrap(), KeySpec::FIVE_TUPLE);
//! assert!("src_ip,vlan".parse::<KeySpec>().unwrap_err().contains("vlan"));
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

use crate::event::{FlowEvent, Origin};
use crate::record::FlowLogKind;

/// A field that can be part of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyField {
    SrcIp,
    SrcPort,
    DstIp,
    DstPort,
    Protocol,
    Direction,
    Action,
    Rule,
    Resource,
}

impl KeyField {
    pub const ALL: [KeyField; 9] = [
        KeyField::SrcIp,
        KeyField::SrcPort,
        KeyField::DstIp,
        KeyField::DstPort,
        KeyField::Protocol,
        KeyField::Direction,
        KeyField::Action,
        KeyField::Rule,
        KeyField::Resource,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyField::SrcIp => "src_ip",
            KeyField::SrcPort => "src_port",
            KeyField::DstIp => "dst_ip",
            KeyField::DstPort => "dst_port",
            KeyField::Protocol => "protocol",
            KeyField::Direction => "direction",
            KeyField::Action => "action",
            KeyField::Rule => "rule",
            KeyField::Resource => "resource",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The set of key fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec(u16);

impl KeySpec {
    pub const FIVE_TUPLE: KeySpec = KeySpec(0x1ff);
    pub const TRAFFIC_ANALYTICS: KeySpec = KeySpec(0x1ff & !(1 << KeyField::SrcPort as u16));

    pub fn has(self, f: KeyField) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn from_fields(fields: &[KeyField]) -> Self {
        KeySpec(fields.iter().fold(0, |a, f| a | f.bit()))
    }

    /// The fields, in their canonical order.
    pub fn fields(self) -> impl Iterator<Item = KeyField> {
        KeyField::ALL.into_iter().filter(move |f| self.has(*f))
    }
}

impl FromStr for KeySpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "5tuple" | "5-tuple" => return Ok(KeySpec::FIVE_TUPLE),
            "traffic-analytics" | "ta" => return Ok(KeySpec::TRAFFIC_ANALYTICS),
            _ => {}
        }
        let mut fields = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let f = KeyField::ALL
                .into_iter()
                .find(|f| f.as_str() == name)
                .ok_or_else(|| {
                    format!(
                        "unknown key field `{name}`: use 5tuple, traffic-analytics, or a list of src_ip, src_port, dst_ip, dst_port, protocol, direction, action, rule, resource"
                    )
                })?;
            fields.push(f);
        }
        if fields.is_empty() {
            return Err("an empty key: name at least one field".into());
        }
        Ok(KeySpec::from_fields(&fields))
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeySpec::FIVE_TUPLE => f.write_str("5tuple"),
            KeySpec::TRAFFIC_ANALYTICS => f.write_str("traffic-analytics"),
            _ => {
                let names: Vec<&str> = self.fields().map(KeyField::as_str).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl<'de> Deserialize<'de> for KeySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            One(String),
            List(Vec<String>),
        }
        let text = match Repr::deserialize(d)? {
            Repr::One(s) => s,
            Repr::List(l) => l.join(","),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for KeySpec {
    fn default() -> Self {
        KeySpec::FIVE_TUPLE
    }
}

/// Bits of [`FlowKey::flags`].
pub const OUTBOUND: u8 = 1;
pub const DENY: u8 = 2;
pub const SRC_V6: u8 = 4;
pub const DST_V6: u8 = 8;

/// A tuple's key: fields outside the [`KeySpec`] are zero. 44 bytes, no pointers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowKey {
    pub src: [u32; 4],
    pub dst: [u32; 4],
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    pub flags: u8,
    /// The interned (rule, resource) pair: an index into the [`ContextTable`].
    pub context: u32,
}

/// An address as four words (IPv4 in the first).
#[inline]
pub fn ip_words(ip: IpAddr) -> ([u32; 4], bool) {
    match ip {
        IpAddr::V4(a) => ([u32::from(a), 0, 0, 0], false),
        IpAddr::V6(a) => {
            let n = u128::from(a);
            (
                [
                    (n >> 96) as u32,
                    (n >> 64) as u32,
                    (n >> 32) as u32,
                    n as u32,
                ],
                true,
            )
        }
    }
}

/// The address back from its words.
pub fn words_ip(w: [u32; 4], v6: bool) -> IpAddr {
    if v6 {
        let n = (w[0] as u128) << 96 | (w[1] as u128) << 64 | (w[2] as u128) << 32 | w[3] as u128;
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(w[0]))
    }
}

impl FlowKey {
    /// A fast hash of the key's words (multiply-xorshift, as in FxHash/wyhash).
    #[inline]
    pub fn hash(&self) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut h: u64 = 0;
        let mut mix = |w: u64| h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        mix((self.src[0] as u64) << 32 | self.dst[0] as u64);
        mix((self.src[1] as u64) << 32 | self.src[2] as u64);
        mix((self.src[3] as u64) << 32 | self.dst[1] as u64);
        mix((self.dst[2] as u64) << 32 | self.dst[3] as u64);
        mix((self.src_port as u64) << 48
            | (self.dst_port as u64) << 32
            | (self.protocol as u64) << 24
            | (self.flags as u64) << 16 ^ (self.context as u64));
        h ^ (h >> 29)
    }
}

/// What a key's `context` stands for: the rule and the resource, with the names the
/// encoders show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub rule: Option<String>,
    pub resource_id: Option<String>,
    pub kind: Option<FlowLogKind>,
    pub subscription_id: Option<String>,
    pub resource_group: Option<String>,
    /// The NSG, else the resource a VNet flow log watches.
    pub observer: Option<String>,
    /// The fields above as the encoders write them, each led by a comma (rendered once).
    pub fields_json: Vec<u8>,
}

/// A (rule, resource) pair, looked up by borrowed strings without allocating.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PairKey(Box<str>, Box<str>);

#[derive(Hash)]
struct PairRef<'a>(&'a str, &'a str);

impl hashbrown::Equivalent<PairKey> for PairRef<'_> {
    fn equivalent(&self, key: &PairKey) -> bool {
        *key.0 == *self.0 && *key.1 == *self.1
    }
}

/// Renders a [`Context`]'s fields as the encoders write them, into
/// [`Context::fields_json`]. Injected by the layer above (encoding), so aggregation does not
/// depend on the encoders.
pub type RenderContext = fn(&Context) -> Vec<u8>;

/// Interned contexts. Rules and resources are few (hundreds), so this only grows a little;
/// a tuple pays a hash only when its flow group differs from the last one, and allocates
/// (and renders) only for a pair never seen before.
///
/// A worker's table ([`ContextTable::for_worker`], `process --threads`) numbers contexts
/// per job instead: the ids its tuples carry are the order in which the job first used
/// each pair, and [`ContextTable::drain`] hands over the job's contexts in that order, each
/// as the job's first event with the pair makes it (shared with the worker's cache, so a
/// pair seen in an earlier job allocates nothing), for [`ContextTable::import`].
#[derive(Debug)]
pub struct ContextTable {
    ids: hashbrown::HashMap<PairKey, u32, std::hash::RandomState>,
    contexts: Vec<Arc<Context>>,
    last_group: u64,
    last_id: u32,
    render: RenderContext,
    job: Option<JobIds>,
}

/// A worker's per-job numbering (see [`ContextTable`]).
#[derive(Debug, Default)]
struct JobIds {
    /// Job id + 1 of each table id used in this job; 0: not yet.
    ids: Vec<u32>,
    /// The table ids used in this job, in job id order.
    used: Vec<u32>,
    /// The job's contexts, in job id order.
    out: Vec<Arc<Context>>,
}

/// The (rule, resource) pair of an event under `spec`, and the event, which makes the
/// rest of its context when needed.
struct Fields<'a, 'e> {
    rule: Option<&'a str>,
    resource: Option<&'a str>,
    e: &'a FlowEvent<'e>,
}

impl<'a, 'e> Fields<'a, 'e> {
    #[inline]
    fn of(spec: KeySpec, e: &'a FlowEvent<'e>) -> Self {
        let h = &e.record.header;
        let resource = match e.record.kind {
            FlowLogKind::Nsg => h.resource_id.as_deref(),
            FlowLogKind::Vnet => h.target_resource_id.as_deref(),
        };
        let rule = spec.has(KeyField::Rule).then_some(e.group.rule);
        let resource = if spec.has(KeyField::Resource) {
            resource
        } else {
            None
        };
        Fields { rule, resource, e }
    }

    fn lookup(&self) -> PairRef<'a> {
        PairRef(self.rule.unwrap_or(""), self.resource.unwrap_or(""))
    }

    /// The kind, subscription, resource group and observer (with a resource only).
    fn origin(&self) -> [Option<&str>; 3] {
        let e = self.e;
        let origin = Origin::of(e.record, e.group);
        let r = self.resource;
        [
            r.and(origin.subscription_id),
            r.and(origin.resource_group),
            r.and(origin.observer()),
        ]
    }

    fn make(&self, render: RenderContext) -> Context {
        let [subscription_id, resource_group, observer] = self.origin();
        let mut ctx = Context {
            rule: self.rule.map(str::to_string),
            resource_id: self.resource.map(str::to_string),
            kind: self.resource.map(|_| self.e.record.kind),
            subscription_id: subscription_id.map(str::to_string),
            resource_group: resource_group.map(str::to_string),
            observer: observer.map(str::to_string),
            fields_json: Vec::new(),
        };
        ctx.fields_json = render(&ctx);
        ctx
    }

    /// True when `ctx` is the context this event makes.
    fn made(&self, ctx: &Context) -> bool {
        let [subscription_id, resource_group, observer] = self.origin();
        ctx.rule.as_deref() == self.rule
            && ctx.resource_id.as_deref() == self.resource
            && ctx.kind == self.resource.map(|_| self.e.record.kind)
            && ctx.subscription_id.as_deref() == subscription_id
            && ctx.resource_group.as_deref() == resource_group
            && ctx.observer.as_deref() == observer
    }
}

impl ContextTable {
    /// An empty table whose contexts are rendered once each by `render`.
    pub fn new(render: RenderContext) -> Self {
        ContextTable {
            ids: hashbrown::HashMap::default(),
            contexts: Vec::new(),
            last_group: 0,
            last_id: 0,
            render,
            job: None,
        }
    }

    /// A worker's table rendering as this one does: ids per job (see [`ContextTable`]).
    pub fn for_worker(&self) -> Self {
        ContextTable {
            job: Some(JobIds::default()),
            ..ContextTable::new(self.render)
        }
    }

    /// The context id of an event's flow group under `spec`.
    #[inline]
    pub fn id(&mut self, spec: KeySpec, e: &FlowEvent<'_>) -> u32 {
        if e.group.group_id != 0 && e.group.group_id == self.last_group {
            return self.last_id;
        }
        let fields = Fields::of(spec, e);
        let mut id = self.intern(&fields);
        if let Some(job) = self.job.as_mut() {
            id = job.id(id, &fields, &mut self.contexts, self.render);
        }
        self.last_group = e.group.group_id;
        self.last_id = id;
        id
    }

    fn intern(&mut self, fields: &Fields<'_, '_>) -> u32 {
        let lookup = fields.lookup();
        if let Some(&id) = self.ids.get(&lookup) {
            return id;
        }
        let id = self.contexts.len() as u32;
        self.contexts.push(Arc::new(fields.make(self.render)));
        self.ids
            .insert(PairKey(lookup.0.into(), lookup.1.into()), id);
        id
    }

    /// Moves the contexts the job used out into `out`, in job id order (a worker's table;
    /// nothing otherwise), and starts the next job's numbering.
    pub fn drain(&mut self, out: &mut Vec<Arc<Context>>) {
        if let Some(job) = self.job.as_mut() {
            for &id in &job.used {
                job.ids[id as usize] = 0;
            }
            job.used.clear();
            out.append(&mut job.out);
        }
        self.last_group = 0;
        self.last_id = 0;
    }

    /// The id of a context another table made (already rendered): its id here when the
    /// (rule, resource) pair is known, else the next id. Importing each job's contexts in
    /// order, jobs in order, gives the ids and contexts one table would have given.
    pub fn import(&mut self, ctx: Arc<Context>) -> u32 {
        let lookup = PairRef(
            ctx.rule.as_deref().unwrap_or(""),
            ctx.resource_id.as_deref().unwrap_or(""),
        );
        if let Some(&id) = self.ids.get(&lookup) {
            return id;
        }
        let key = PairKey(lookup.0.into(), lookup.1.into());
        let id = self.contexts.len() as u32;
        self.contexts.push(ctx);
        self.ids.insert(key, id);
        id
    }

    pub fn get(&self, id: u32) -> &Context {
        &self.contexts[id as usize]
    }

    /// A context id for tests and benches that build keys by hand.
    pub fn push(&mut self, mut ctx: Context) -> u32 {
        ctx.fields_json = (self.render)(&ctx);
        self.contexts.push(Arc::new(ctx));
        self.contexts.len() as u32 - 1
    }
}

impl JobIds {
    /// The job id of table id `id`, first used by an event with `fields`: the job's
    /// contexts get the one that event makes (the cached one when equal, else a new one).
    #[inline]
    fn id(
        &mut self,
        id: u32,
        fields: &Fields<'_, '_>,
        contexts: &mut [Arc<Context>],
        render: RenderContext,
    ) -> u32 {
        let at = id as usize;
        if let Some(&j) = self.ids.get(at).filter(|&&j| j != 0) {
            return j - 1;
        }
        let cached = &mut contexts[at];
        if !fields.made(cached) {
            *cached = Arc::new(fields.make(render));
        }
        let j = self.out.len() as u32;
        self.out.push(cached.clone());
        self.used.push(id);
        if self.ids.len() <= at {
            self.ids.resize(at + 1, 0);
        }
        self.ids[at] = j + 1;
        j
    }
}
