//! `--format text`: the review table. Per NSG the observed needs (what was used, by whom,
//! how much, which rule let it through, which proposed rule covers it) and the proposed
//! rules in priority order; then the findings.

use crate::harden::period::format_time;
use crate::harden::propose::Proposal;
use crate::harden::render_json::protocol_name;

/// The period (and warnings) as comment lines, for the az, Bicep and Terraform outputs.
pub fn header_comment(p: &Proposal, prefix: &str) -> String {
    let mut out = format!("{prefix}{}\n", period_line(p));
    for w in &p.warnings {
        out.push_str(&format!("{prefix}WARNING: {w}\n"));
    }
    if p.nsgs.is_empty() {
        out.push_str(&format!(
            "{prefix}No allowed traffic was observed: nothing to propose.\n"
        ));
    }
    out
}

fn period_line(p: &Proposal) -> String {
    match (p.period.first_ms, p.period.last_ms) {
        (Some(f), Some(l)) => format!(
            "Observed {} .. {} ({}): {} events, {} allowed and {} denied considered{}{}.",
            format_time(f),
            format_time(l),
            p.period.describe(),
            p.counts.events,
            p.counts.allowed,
            p.counts.denied,
            if p.counts.outbound_skipped > 0 {
                format!(
                    ", {} outbound left out (add --outbound)",
                    p.counts.outbound_skipped
                )
            } else {
                String::new()
            },
            if p.counts.not_nsg > 0 {
                format!(", {} not decided by an NSG", p.counts.not_nsg)
            } else {
                String::new()
            }
        ),
        _ => "Observed nothing: no flow events in the input (or in --from/--to).".into(),
    }
}

/// Lays out rows with columns padded to the widest cell (the last column unpadded).
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from("  ");
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

pub fn render(p: &Proposal) -> String {
    let mut out = String::from("nsgflow harden: least-privilege NSG rules from observed traffic\n");
    out.push_str(&period_line(p));
    out.push('\n');
    for w in &p.warnings {
        out.push_str(&format!("WARNING: {w}\n"));
    }
    if p.nsgs.is_empty() {
        out.push_str("\nNo allowed inbound traffic was observed: the proposal is empty (nothing to allow, so no rules are proposed).\n");
    }
    for n in &p.nsgs {
        out.push_str(&format!(
            "\nNSG {} (resource group {}{})\n\n",
            n.nsg.name,
            n.nsg.resource_group.as_deref().unwrap_or("?"),
            n.nsg
                .subscription_id
                .as_deref()
                .map(|s| format!(", subscription {s}"))
                .unwrap_or_default()
        ));
        out.push_str(&format!("  Observed needs ({}):\n", n.needs.len()));
        let rows: Vec<Vec<String>> = n
            .needs
            .iter()
            .map(|v| {
                vec![
                    v.direction.short().to_string(),
                    v.local.to_string(),
                    protocol_name(v.protocol),
                    if crate::labels::Protocol(v.protocol).has_ports() {
                        v.port.to_string()
                    } else {
                        "-".into()
                    },
                    {
                        let mut r: Vec<String> = v.remote.iter().map(|a| a.to_string()).collect();
                        if v.platform {
                            r.push("(platform)".into());
                        }
                        r.join(" ")
                    },
                    v.flows.to_string(),
                    format!("{}{}", v.remotes, if v.remotes_more { "+" } else { "" }),
                    format_time(v.last_ms),
                    v.allowed_by.join(","),
                    v.proposed_rule.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "dir",
                "host",
                "proto",
                "port",
                "remote (summarised)",
                "flows",
                "remotes",
                "last seen",
                "allowed by (logs)",
                "proposed rule",
            ],
            &rows,
        ));
        out.push_str(&format!("\n  Proposed rules ({}):\n", n.rules.len()));
        let rows: Vec<Vec<String>> = n
            .rules
            .iter()
            .map(|r| {
                vec![
                    r.priority.to_string(),
                    r.access.as_str().into(),
                    r.direction.short().into(),
                    r.protocol.as_str().into(),
                    r.source.to_string(),
                    r.destination.to_string(),
                    r.destination_ports.to_string(),
                    r.name.clone(),
                    r.description.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "prio",
                "access",
                "dir",
                "proto",
                "source",
                "destination",
                "ports",
                "name",
                "description",
            ],
            &rows,
        ));
    }
    if !p.findings.is_empty() {
        out.push_str(&format!("\nFindings ({}):\n", p.findings.len()));
        for f in &p.findings {
            out.push_str(&format!(
                "  - [{}]{} {}\n",
                f.kind,
                f.nsg
                    .as_deref()
                    .map(|n| format!(" {n}:"))
                    .unwrap_or_default(),
                f.message
            ));
        }
    }
    out
}
