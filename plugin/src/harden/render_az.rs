//! `--format az`: a shell script of `az network nsg rule create` commands, one per rule, in
//! priority order, the deny-the-rest rule last (so nothing observed is cut while the
//! allows are being created). Values are single-quoted where the shell would otherwise
//! read them.

use crate::harden::propose::Proposal;
use crate::harden::rules::SecurityRule;

/// Quotes a word for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=@%+,-".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn command(r: &SecurityRule, nsg: &str, rg: &str, sub: Option<&str>) -> String {
    let mut words: Vec<String> = vec![
        "az".into(),
        "network".into(),
        "nsg".into(),
        "rule".into(),
        "create".into(),
    ];
    let mut flag = |f: &str, vals: Vec<String>| {
        words.push(f.to_string());
        words.extend(vals.iter().map(|v| shell_quote(v)));
    };
    if let Some(s) = sub {
        flag("--subscription", vec![s.to_string()]);
    }
    flag("--resource-group", vec![rg.to_string()]);
    flag("--nsg-name", vec![nsg.to_string()]);
    flag("--name", vec![r.name.clone()]);
    flag("--priority", vec![r.priority.to_string()]);
    flag("--access", vec![r.access.as_str().into()]);
    flag("--direction", vec![r.direction.as_str().into()]);
    flag("--protocol", vec![r.protocol.as_str().into()]);
    flag("--source-address-prefixes", r.source.to_strings());
    flag("--source-port-ranges", r.source_ports.to_strings());
    flag("--destination-address-prefixes", r.destination.to_strings());
    flag(
        "--destination-port-ranges",
        r.destination_ports.to_strings(),
    );
    flag("--description", vec![r.description.clone()]);
    words.join(" ")
}

pub fn render(p: &Proposal) -> String {
    let mut out = String::from("#!/bin/sh\n# nsgflow harden: proposed NSG rules as az CLI commands. Review before running.\n");
    out.push_str(&crate::harden::render_text::header_comment(p, "# "));
    out.push_str("set -e\n");
    for n in &p.nsgs {
        let rg = n.nsg.resource_group.as_deref().unwrap_or("RESOURCE_GROUP");
        out.push_str(&format!(
            "\n# NSG {} (resource group {rg}): {} rules\n",
            n.nsg.name,
            n.rules.len()
        ));
        for r in &n.rules {
            out.push_str(&command(
                r,
                &n.nsg.name,
                rg,
                n.nsg.subscription_id.as_deref(),
            ));
            out.push('\n');
        }
    }
    out
}
