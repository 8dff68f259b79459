//! Encoders: a [`FlowEvent`] to one JSON line, in the schema the SIEM expects.
//!
//! | `--format` | schema | module |
//! |---|---|---|
//! | `flat` | nsgflow's own flat schema (`docs/schema.md`) | [`flat`] |
//! | `ecs` | Elastic Common Schema 8.x | [`ecs`] |
//! | `splunk` | Splunk HEC event envelope with CIM Network_Traffic fields | [`splunk`] |
//! | `ocsf` | OCSF 1.x Network Activity (class 4001) | [`ocsf`] |
//!
//! Encoders append to a caller's reused buffer and allocate nothing per event. What is
//! constant across a flow group (rule, MAC, resource names) is rendered once per group and
//! copied for each tuple.

pub mod aggregate;
pub mod alert;
pub mod codec;
pub mod ecs;
pub mod enrich;
pub mod flat;
pub mod json;
pub mod ocsf;
pub mod prerender;
pub mod splunk;
pub mod vector_native;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::aggregate::AggregateEvent;
use crate::event::FlowEvent;

/// Renders events into a buffer.
pub trait Encode {
    /// Appends one event as a JSON object (no trailing newline) to `out`.
    fn encode(&mut self, event: &FlowEvent<'_>, out: &mut Vec<u8>);

    /// Appends one aggregate (`--aggregate`) as a JSON object to `out`.
    fn encode_aggregate(&mut self, aggregate: &AggregateEvent<'_>, out: &mut Vec<u8>);

    /// Appends one alert (`--detect`) as a JSON object to `out`.
    fn encode_alert(&mut self, alert: &crate::detect::Alert, out: &mut Vec<u8>);
}

/// The output schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    #[default]
    Flat,
    Ecs,
    Splunk,
    Ocsf,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Flat, Format::Ecs, Format::Splunk, Format::Ocsf];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Flat => "flat",
            Format::Ecs => "ecs",
            Format::Splunk => "splunk",
            Format::Ocsf => "ocsf",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown format `{s}`: expected one of flat, ecs, splunk, ocsf"))
    }
}

/// Options the encoders take from the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncodeOptions {
    /// Splunk HEC `sourcetype`.
    pub splunk_sourcetype: String,
    /// Splunk HEC `index`; omitted when empty (the HEC token's default index is used).
    pub splunk_index: String,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            splunk_sourcetype: "azure:network:flow".into(),
            splunk_index: String::new(),
        }
    }
}

/// The encoder for `format`.
pub fn encoder(format: Format, options: &EncodeOptions) -> Box<dyn Encode + Send> {
    match format {
        Format::Flat => Box::new(flat::FlatEncoder::default()),
        Format::Ecs => Box::new(ecs::EcsEncoder::default()),
        Format::Splunk => Box::new(splunk::SplunkEncoder::new(options)),
        Format::Ocsf => Box::new(ocsf::OcsfEncoder::default()),
    }
}

/// Writes the names and IDs of a flow's origin, the same in every format: subscription,
/// resource group, NSG, flow log (under `flow_log_key`), target resource and type, then
/// the raw resource IDs and the record's system ID or flow-log GUID.
pub(crate) fn origin_fields(
    o: &mut json::Obj<'_>,
    e: &FlowEvent<'_>,
    origin: &crate::event::Origin<'_>,
    flow_log_key: &str,
) {
    let h = &e.record.header;
    o.opt_str(crate::k!("subscription_id"), origin.subscription_id);
    o.opt_str(crate::k!("resource_group"), origin.resource_group);
    o.opt_str(crate::k!("nsg"), origin.nsg);
    o.opt_str(flow_log_key, origin.flow_log);
    o.opt_str(crate::k!("target_resource"), origin.target_resource);
    o.opt_str(
        crate::k!("target_resource_type"),
        origin.target_resource_type,
    );
    o.opt_str(crate::k!("resource_id"), h.resource_id.as_deref());
    o.opt_str(
        crate::k!("flow_log_resource_id"),
        h.flow_log_resource_id.as_deref(),
    );
    o.opt_str(
        crate::k!("target_resource_id"),
        h.target_resource_id.as_deref(),
    );
    o.opt_str(crate::k!("system_id"), h.system_id.as_deref());
    o.opt_str(crate::k!("flow_log_guid"), h.flow_log_guid.as_deref());
}

/// A per-group cache: the rendered group fragment, valid while `group_id` matches.
#[derive(Debug, Default)]
pub(crate) struct GroupCache {
    group_id: u64,
    pub(crate) fragment: Vec<u8>,
}

impl GroupCache {
    /// The fragment for this event's group, rendering it with `render` on a group change.
    pub(crate) fn get(
        &mut self,
        event: &FlowEvent<'_>,
        render: impl FnOnce(&FlowEvent<'_>, &mut Vec<u8>),
    ) -> &[u8] {
        if self.group_id != event.group.group_id || self.group_id == 0 {
            self.fragment.clear();
            render(event, &mut self.fragment);
            self.group_id = event.group.group_id;
        }
        &self.fragment
    }
}
