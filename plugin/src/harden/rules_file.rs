//! The `--rules` file: the current rule set, as `az network nsg show -g RG -n NSG` prints
//! it (an NSG object), or `az network nsg list` (an array of them). Rule properties may be
//! flat (the CLI's form) or under `properties` (the ARM/REST form). Only user rules
//! (`securityRules`) are read; default rules are Azure's.
//!
//! ```
//! use nsgflow::harden::rules_file::parse_rules;
//! let nsgs = parse_rules(r#"{"name":"nsg-web","resourceGroup":"rg","securityRules":[
//!   {"name":"allow-https","priority":100,"access":"Allow","direction":"Inbound","protocol":"Tcp",
//!    "sourceAddressPrefix":"Internet","sourceAddressPrefixes":[],"sourcePortRange":"*",
//!    "destinationAddressPrefix":"*","destinationPortRange":"443"}]}"#, "nsg.json").unwrap();
//! assert_eq!(nsgs[0].rules[0].name, "allow-https");
//! assert!(parse_rules("{", "nsg.json").unwrap_err().starts_with("rules nsg.json:"));
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::harden::needs::NsgId;
use crate::harden::rules::{Access, Addresses, Ports, RuleDirection, RuleProtocol, SecurityRule};

/// One NSG's current user rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingNsg {
    pub name: String,
    pub resource_group: Option<String>,
    pub rules: Vec<SecurityRule>,
    /// The file it came from.
    pub source: String,
}

impl ExistingNsg {
    /// Whether this is the NSG the flow logs name (Azure names are case-insensitive).
    pub fn matches(&self, id: &NsgId) -> bool {
        self.name.eq_ignore_ascii_case(&id.name)
            && match (&self.resource_group, &id.resource_group) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => true,
            }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Doc {
    Many(Vec<NsgDoc>),
    One(NsgDoc),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NsgDoc {
    name: String,
    #[serde(default)]
    resource_group: Option<String>,
    #[serde(default)]
    security_rules: Option<Vec<RuleDoc>>,
    #[serde(default)]
    properties: Option<NsgProps>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NsgProps {
    #[serde(default)]
    security_rules: Vec<RuleDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleDoc {
    name: String,
    #[serde(default)]
    properties: Option<RuleProps>,
    #[serde(flatten)]
    flat: RuleProps,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RuleProps {
    priority: Option<u16>,
    access: Option<String>,
    direction: Option<String>,
    protocol: Option<String>,
    source_address_prefix: Option<String>,
    source_address_prefixes: Vec<String>,
    source_port_range: Option<String>,
    source_port_ranges: Vec<String>,
    destination_address_prefix: Option<String>,
    destination_address_prefixes: Vec<String>,
    destination_port_range: Option<String>,
    destination_port_ranges: Vec<String>,
    description: Option<String>,
    source_application_security_groups: Option<serde_json::Value>,
    destination_application_security_groups: Option<serde_json::Value>,
}

fn pick(single: Option<String>, plural: Vec<String>) -> Vec<String> {
    match single {
        Some(s) if !s.is_empty() => vec![s],
        _ => plural,
    }
}

fn rule(doc: RuleDoc) -> Result<SecurityRule, String> {
    let name = doc.name;
    let p = doc.properties.unwrap_or(doc.flat);
    let err = |what: &str| format!("rule {name}: {what}");
    let access = match p.access.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("allow") => Access::Allow,
        Some("deny") => Access::Deny,
        _ => return Err(err(&format!("access {:?} is not Allow or Deny", p.access))),
    };
    let direction = match p
        .direction
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("inbound") => RuleDirection::Inbound,
        Some("outbound") => RuleDirection::Outbound,
        other => {
            return Err(err(&format!(
                "direction {other:?} is not Inbound or Outbound"
            )))
        }
    };
    let protocol = p
        .protocol
        .as_deref()
        .and_then(RuleProtocol::parse)
        .ok_or_else(|| {
            err(&format!(
                "protocol {:?} is not Tcp, Udp, Icmp, Esp, Ah or *",
                p.protocol
            ))
        })?;
    let priority = p.priority.ok_or_else(|| err("no priority"))?;
    let asg = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
    };
    let addresses = |single, plural, groups: bool, side: &str| -> Result<Addresses, String> {
        let list = pick(single, plural);
        if list.is_empty() && groups {
            // Application security groups cannot be resolved from flow logs.
            return Ok(Addresses::tag("ApplicationSecurityGroup"));
        }
        Addresses::parse_list(&list).map_err(|e| err(&format!("{side}: {e}")))
    };
    let ports = |single, plural, side: &str| -> Result<Ports, String> {
        Ports::parse_list(&pick(single, plural)).map_err(|e| err(&format!("{side}: {e}")))
    };
    Ok(SecurityRule {
        source: addresses(
            p.source_address_prefix,
            p.source_address_prefixes,
            asg(&p.source_application_security_groups),
            "source addresses",
        )?,
        destination: addresses(
            p.destination_address_prefix,
            p.destination_address_prefixes,
            asg(&p.destination_application_security_groups),
            "destination addresses",
        )?,
        source_ports: ports(p.source_port_range, p.source_port_ranges, "source ports")?,
        destination_ports: ports(
            p.destination_port_range,
            p.destination_port_ranges,
            "destination ports",
        )?,
        name,
        priority,
        access,
        direction,
        protocol,
        description: p.description.unwrap_or_default(),
    })
}

/// Parses the text of a rules file; errors start `rules NAME:` and say where and why.
pub fn parse_rules(text: &str, name: &str) -> Result<Vec<ExistingNsg>, String> {
    let doc: Doc = serde_json::from_str(text).map_err(|e| {
        format!(
            "rules {name}: {e} (expected the JSON of `az network nsg show -g RG -n NSG` or `az network nsg list`)"
        )
    })?;
    let docs = match doc {
        Doc::Many(v) => v,
        Doc::One(d) => vec![d],
    };
    docs.into_iter()
        .map(|d| {
            let rules = match (d.security_rules, d.properties) {
                (Some(r), _) => r,
                (None, Some(p)) => p.security_rules,
                (None, None) => Vec::new(),
            };
            Ok(ExistingNsg {
                rules: rules
                    .into_iter()
                    .map(rule)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("rules {name}: NSG {}: {e}", d.name))?,
                name: d.name,
                resource_group: d.resource_group,
                source: name.to_string(),
            })
        })
        .collect()
}

/// Reads and parses a rules file; errors name the file.
pub fn load_rules(path: &Path) -> Result<Vec<ExistingNsg>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("rules {}: cannot read: {e}", path.display()))?;
    parse_rules(&text, &path.display().to_string())
}
