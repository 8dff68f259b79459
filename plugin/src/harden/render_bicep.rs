//! `--format bicep`: one `Microsoft.Network/networkSecurityGroups/securityRules` resource
//! per rule, as a child (`parent:`) of the existing NSG, each depending on the one before
//! (Azure updates one NSG one rule at a time; parallel child deployments conflict).
//! A Bicep file deploys to one resource group: a proposal spanning several is refused
//! with the list, to be rendered one `--resource-group` at a time.

use std::collections::BTreeMap;

use crate::harden::propose::Proposal;
use crate::harden::render_json::RuleJson;

/// The API version written.
pub const API_VERSION: &str = "2023-09-01";

/// A Bicep string literal.
pub fn bicep_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn string_or_list(
    out: &mut String,
    key: &str,
    single: &Option<String>,
    plural: &Option<Vec<String>>,
) {
    if let Some(s) = single {
        out.push_str(&format!("    {key}: {}\n", bicep_string(s)));
    }
    if let Some(list) = plural {
        out.push_str(&format!("    {key}: [\n"));
        for s in list {
            out.push_str(&format!("      {}\n", bicep_string(s)));
        }
        out.push_str("    ]\n");
    }
}

pub fn render(p: &Proposal) -> Result<String, String> {
    // Resource group names are case-insensitive (flow logs upper-case them, VNet logs not).
    let mut groups: BTreeMap<String, &str> = BTreeMap::new();
    for n in &p.nsgs {
        let g = n.nsg.resource_group.as_deref().unwrap_or("");
        groups.entry(g.to_ascii_uppercase()).or_insert(g);
    }
    if groups.len() > 1 {
        return Err(format!(
            "the proposal spans {} resource groups ({}); a Bicep file deploys to one: add --resource-group NAME and render each in turn",
            groups.len(),
            groups.values().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut out = String::from("// nsgflow harden: proposed NSG rules. Review before deploying.\n");
    out.push_str(&crate::harden::render_text::header_comment(p, "// "));
    if let Some(rg) = groups.values().next().filter(|g| !g.is_empty()) {
        out.push_str(&format!("// Deploy: az deployment group create --resource-group {rg} --template-file FILE.bicep\n"));
    }
    for (i, n) in p.nsgs.iter().enumerate() {
        let nsg = format!(
            "nsg{i}_{}",
            crate::harden::identifier::identifier(&n.nsg.name)
        );
        out.push_str(&format!(
            "\nresource {nsg} 'Microsoft.Network/networkSecurityGroups@{API_VERSION}' existing = {{\n  name: {}\n}}\n",
            bicep_string(&n.nsg.name)
        ));
        let mut previous: Option<String> = None;
        for r in &n.rules {
            let j = RuleJson::new(r);
            let id = format!("{nsg}_{}", crate::harden::identifier::identifier(&r.name));
            out.push_str(&format!(
                "\nresource {id} 'Microsoft.Network/networkSecurityGroups/securityRules@{API_VERSION}' = {{\n  parent: {nsg}\n  name: {}\n",
                bicep_string(&j.name)
            ));
            if let Some(prev) = &previous {
                out.push_str(&format!("  dependsOn: [\n    {prev}\n  ]\n"));
            }
            out.push_str("  properties: {\n");
            out.push_str(&format!("    priority: {}\n", j.priority));
            out.push_str(&format!("    access: {}\n", bicep_string(j.access)));
            out.push_str(&format!("    direction: {}\n", bicep_string(j.direction)));
            out.push_str(&format!("    protocol: {}\n", bicep_string(j.protocol)));
            string_or_list(
                &mut out,
                "sourceAddressPrefix",
                &j.source_address_prefix,
                &None,
            );
            string_or_list(
                &mut out,
                "sourceAddressPrefixes",
                &None,
                &j.source_address_prefixes,
            );
            string_or_list(&mut out, "sourcePortRange", &j.source_port_range, &None);
            string_or_list(&mut out, "sourcePortRanges", &None, &j.source_port_ranges);
            string_or_list(
                &mut out,
                "destinationAddressPrefix",
                &j.destination_address_prefix,
                &None,
            );
            string_or_list(
                &mut out,
                "destinationAddressPrefixes",
                &None,
                &j.destination_address_prefixes,
            );
            string_or_list(
                &mut out,
                "destinationPortRange",
                &j.destination_port_range,
                &None,
            );
            string_or_list(
                &mut out,
                "destinationPortRanges",
                &None,
                &j.destination_port_ranges,
            );
            out.push_str(&format!(
                "    description: {}\n",
                bicep_string(&j.description)
            ));
            out.push_str("  }\n}\n");
            previous = Some(id);
        }
    }
    Ok(out)
}
