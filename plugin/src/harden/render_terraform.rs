//! `--format terraform`: one literal `azurerm_network_security_rule` resource per rule (no
//! `count`/`for_each`), with every argument the azurerm provider requires (`name`,
//! `resource_group_name`, `network_security_group_name`, `priority`, `direction`,
//! `access`, `protocol`) and exactly one of each singular/plural address and port pair.
//! Laid out the way `terraform fmt` does (two-space indent, `=` aligned).

use crate::harden::propose::Proposal;
use crate::harden::rules::SecurityRule;

/// An HCL string literal (with `${` and `%{` escaped as Terraform requires).
pub fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| hcl_string(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn pair(attrs: &mut Vec<(String, String)>, single: &str, plural: &str, items: Vec<String>) {
    if items.len() == 1 {
        attrs.push((single.into(), hcl_string(&items[0])));
    } else {
        attrs.push((plural.into(), list(&items)));
    }
}

fn resource(r: &SecurityRule, nsg: &str, rg: &str) -> String {
    let mut attrs: Vec<(String, String)> = vec![
        ("name".into(), hcl_string(&r.name)),
        ("resource_group_name".into(), hcl_string(rg)),
        ("network_security_group_name".into(), hcl_string(nsg)),
        ("priority".into(), r.priority.to_string()),
        ("direction".into(), hcl_string(r.direction.as_str())),
        ("access".into(), hcl_string(r.access.as_str())),
        ("protocol".into(), hcl_string(r.protocol.as_str())),
    ];
    pair(
        &mut attrs,
        "source_port_range",
        "source_port_ranges",
        r.source_ports.to_strings(),
    );
    pair(
        &mut attrs,
        "destination_port_range",
        "destination_port_ranges",
        r.destination_ports.to_strings(),
    );
    pair(
        &mut attrs,
        "source_address_prefix",
        "source_address_prefixes",
        r.source.to_strings(),
    );
    pair(
        &mut attrs,
        "destination_address_prefix",
        "destination_address_prefixes",
        r.destination.to_strings(),
    );
    attrs.push(("description".into(), hcl_string(&r.description)));
    let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = format!(
        "resource \"azurerm_network_security_rule\" \"{}\" {{\n",
        crate::harden::identifier::identifier(&format!("{nsg}_{}", r.name))
    );
    for (k, v) in attrs {
        out.push_str(&format!("  {k:<width$} = {v}\n"));
    }
    out.push_str("}\n");
    out
}

pub fn render(p: &Proposal) -> String {
    let mut out = String::from("# nsgflow harden: proposed NSG rules. Review before applying.\n");
    out.push_str(&crate::harden::render_text::header_comment(p, "# "));
    for n in &p.nsgs {
        let rg = n.nsg.resource_group.as_deref().unwrap_or("RESOURCE_GROUP");
        for r in &n.rules {
            out.push('\n');
            out.push_str(&resource(r, &n.nsg.name, rg));
        }
    }
    out
}
