//! `nsgflow harden`: least-privilege NSG rules from observed traffic.
//!
//! The stage is an event handler like the encoder and the aggregator: [`Observations`]
//! takes every enriched flow event and groups the **allowed** flows per NSG and direction
//! into needs (protected host, protocol, port, remote addresses), keeping denied flows
//! apart. [`Harden::propose`] turns the needs into a priority-ordered rule set per NSG
//! (platform allow, denials that must stay, allows, deny the rest), in Azure's rule model
//! ([`rules`]), with findings ([`findings`]). The renderers write it for review (`text`)
//! or to apply (`az`, `bicep`, `terraform`, `json`).
//!
//! | concept | module |
//! |---|---|
//! | Azure's rule model and limits | [`rules`] |
//! | rule evaluation (priority, first match, tags, ports) | [`evaluate`] |
//! | observed needs (the event handler) | [`needs`] |
//! | remote address summaries | [`sources`] |
//! | port collapsing | [`ports`] |
//! | the proposal | [`propose`] |
//! | findings | [`findings`] |
//! | the `--rules` file (`az network nsg show`) | [`rules_file`] |
//! | the observed period | [`period`] |
//! | outputs | [`render_text`], [`render_json`], [`render_az`], [`render_bicep`], [`render_terraform`] |
//!
//! Safety, checked by evaluating the proposal ([`check`], and the tests): every flow the
//! period shows allowed is allowed by the proposal, and every flow it shows denied stays
//! denied (unless the same flow was allowed later, or it is Azure platform traffic).

pub mod evaluate;
pub mod findings;
pub mod identifier;
pub mod needs;
pub mod period;
pub mod ports;
pub mod propose;
pub mod render_az;
pub mod render_bicep;
pub mod render_json;
pub mod render_terraform;
pub mod render_text;
pub mod rules;
pub mod rules_file;
pub mod sources;
pub mod tap;

pub use evaluate::{evaluate, AddressBook, Flow, Verdict};
pub use needs::{NeedKey, NsgId, Observations};
pub use propose::{Destinations, Harden, HardenConfig, NsgProposal, Proposal};
pub use rules::SecurityRule;
pub use rules_file::{load_rules, ExistingNsg};

use crate::harden::rules::Access;

/// The output forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
    Az,
    Bicep,
    Terraform,
}

/// Renders a proposal (Bicep refuses a proposal spanning resource groups).
pub fn render(p: &Proposal, format: OutputFormat) -> Result<String, String> {
    Ok(match format {
        OutputFormat::Text => render_text::render(p),
        OutputFormat::Json => render_json::render(p),
        OutputFormat::Az => render_az::render(p),
        OutputFormat::Bicep => render_bicep::render(p)?,
        OutputFormat::Terraform => render_terraform::render(p),
    })
}

/// How a proposal fares against what it was made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    /// Allowed (needs x exact remotes) checked, and those the proposal would deny.
    pub allowed_checked: u64,
    pub allowed_denied: Vec<String>,
    /// Denied (need x remote) checked, and those the proposal would allow.
    pub denied_checked: u64,
    pub denied_allowed: Vec<String>,
}

/// Evaluates every observed allowed and denied (remote, host, protocol, port) against the
/// proposal. Denials of platform traffic, and denials the same flow's later allow
/// overrides, are not counted (the proposal allows them on purpose).
pub fn check(h: &Harden, obs: &Observations, p: &Proposal) -> Check {
    let mut c = Check::default();
    // An NSG (direction) without proposed rules is left as it is: nothing to check.
    let rules_of = |nsg: u32, dir: rules::RuleDirection| {
        let id = &obs.nsgs[nsg as usize];
        p.nsgs
            .iter()
            .find(|n| {
                n.nsg.name.eq_ignore_ascii_case(&id.name)
                    && n.nsg.resource_group.as_deref().map(str::to_ascii_uppercase)
                        == id.resource_group.as_deref().map(str::to_ascii_uppercase)
            })
            .map(|n| n.rules.as_slice())
            .filter(|r| r.iter().any(|r| r.direction == dir))
    };
    for (key, need) in &obs.needs {
        if key.direction == rules::RuleDirection::Outbound && !p.outbound {
            continue;
        }
        let Some(rules) = rules_of(key.nsg, key.direction) else {
            continue;
        };
        for remote in need.remotes.exact.keys() {
            c.allowed_checked += 1;
            let v = evaluate(rules, &h.book, &propose::flow_of(key, *remote));
            if v.access != Access::Allow {
                c.allowed_denied
                    .push(format!("{:?} from {remote} denied by {}", key, v.name));
            }
        }
    }
    for (key, d) in &obs.denied {
        if key.need.direction == rules::RuleDirection::Outbound && !p.outbound {
            continue;
        }
        if sources::is_platform(key.remote) {
            continue;
        }
        if let Some(a) = obs
            .needs
            .get(&key.need)
            .and_then(|n| n.remotes.exact.get(&key.remote))
        {
            if a.last_ms >= d.last_ms {
                continue;
            }
        }
        let Some(rules) = rules_of(key.need.nsg, key.need.direction) else {
            continue;
        };
        c.denied_checked += 1;
        let v = evaluate(rules, &h.book, &propose::flow_of(&key.need, key.remote));
        if v.access == Access::Allow {
            c.denied_allowed.push(format!(
                "{:?} from {} allowed by {}",
                key.need, key.remote, v.name
            ));
        }
    }
    c
}

/// Loads the topology file and the Service Tags file as the proposer needs them (the
/// CIDRs behind names); errors name the file.
pub fn load_context(
    topology: Option<&std::path::Path>,
    service_tags: Option<&std::path::Path>,
) -> Result<
    (
        Option<crate::topology::TopologyConfig>,
        Option<crate::topology::ServiceTagsFile>,
    ),
    String,
> {
    let tags = service_tags
        .map(crate::topology::ServiceTagsFile::load)
        .transpose()?;
    let topo = match topology {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("topology {}: cannot read: {e}", p.display()))?;
            Some(serde_saphyr::from_str(&text).map_err(|e| {
                format!(
                    "topology {}: {e} (expected `vnets:` and `gateways:`, see docs/topology.example.yaml)",
                    p.display()
                )
            })?)
        }
        None => None,
    };
    Ok((topo, tags))
}
