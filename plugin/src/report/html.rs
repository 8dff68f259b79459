//! The page: one self-contained HTML file (inline CSS, inline SVG charts, a little JS for
//! filtering and drill-down), with no network fetch, so it opens offline and can be
//! mailed. Every number is in the markup when the page loads; the script only filters.

use std::fmt::Write;

use super::model::{Tally, TimeCell};
use super::summary::{AlertRow, AlertSummary, GeoRow, Host, PortRow, Row, Summary, VolumeRow};
use crate::detect::Detector;

/// What the page says about the run (title, inputs named).
#[derive(Debug, Clone, Default)]
pub struct PageInfo {
    pub title: String,
    /// The inputs as given on the command line.
    pub inputs: Vec<String>,
    /// The nsgflow version.
    pub version: String,
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// `12,345,678`.
pub fn num(n: u64) -> String {
    let s = n.to_string();
    let mut o = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// `1.9 MB` (decimal units, as network people count bytes).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else if v < 10.0 {
        format!("{v:.2} {}", UNITS[u])
    } else if v < 100.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

fn time(ms: u64) -> String {
    let mut out = Vec::new();
    crate::time::write_rfc3339_ms(&mut out, ms);
    let s = String::from_utf8(out).unwrap_or_default();
    // 2026-03-02T10:05:58.000Z -> 2026-03-02 10:05:58Z
    s.replacen('T', " ", 1).replace(".000Z", "Z")
}

fn hhmm(ms: u64) -> String {
    let t = time(ms);
    t.get(11..16).unwrap_or("").to_string()
}

fn host_cell(h: &Host) -> String {
    let mut o = format!(
        "<span class=\"host\" data-host=\"{ip}\" title=\"click: show only {ip}\">{ip}</span>",
        ip = esc(&h.ip.to_string())
    );
    if let Some(n) = &h.name {
        let _ = write!(o, " <span class=\"nm\">{}</span>", esc(n));
    }
    if h.alerts > 0 {
        let _ = write!(
            o,
            " <a class=\"alink\" href=\"#alerts\" data-host=\"{ip}\" data-goto=\"alerts\" title=\"show the alerts naming {ip}\">&#9888; {n} alert{s}</a>",
            ip = esc(&h.ip.to_string()),
            n = num(h.alerts),
            s = if h.alerts == 1 { "" } else { "s" }
        );
    }
    if let Some(s) = &h.site {
        let _ = write!(o, " <span class=\"site\">{}</span>", esc(s));
    }
    o
}

fn bytes_cell(n: u64) -> String {
    format!(
        "<td class=\"n\" data-v=\"{n}\" title=\"{} bytes\">{}</td>",
        num(n),
        bytes(n)
    )
}

fn num_cell(n: u64) -> String {
    format!("<td class=\"n\" data-v=\"{n}\">{}</td>", num(n))
}

/// An inline bar for a table cell, `v` of `max`.
fn bar(v: u64, max: u64, class: &str) -> String {
    let w = if max == 0 {
        0.0
    } else {
        100.0 * v as f64 / max as f64
    };
    format!("<span class=\"bar {class}\" style=\"width:{w:.1}%\"></span>")
}

fn tally_cells(t: &Tally, max_bytes: u64) -> String {
    format!(
        "{}{}<td class=\"n{}\" data-v=\"{}\">{}</td>{}<td class=\"barcell\">{}</td>",
        num_cell(t.flows),
        num_cell(t.allowed),
        if t.denied > 0 { " deny" } else { "" },
        t.denied,
        num(t.denied),
        bytes_cell(t.bytes),
        bar(t.bytes, max_bytes, "b")
    )
}

const TALLY_HEAD: &str = "<th>flows</th><th>allowed</th><th>denied</th><th>bytes</th><th></th>";

fn section(o: &mut String, id: &str, title: &str, note: &str) {
    let _ = write!(
        o,
        "<section id=\"{id}\"><h2>{}</h2>{}",
        esc(title),
        if note.is_empty() {
            String::new()
        } else {
            format!("<p class=\"note\">{note}</p>")
        }
    );
}

fn empty_row(o: &mut String, cols: usize, text: &str) {
    let _ = write!(
        o,
        "<tr class=\"empty\"><td colspan=\"{cols}\">{}</td></tr>",
        esc(text)
    );
}

/// A stacked bar chart over the time buckets: `series` are `(label, css class, values)`.
/// The smallest 1, 2 or 5 x 10^k times 4 at or above `v` (the axis top, 4 even steps).
fn nice_ceiling(v: u64) -> u64 {
    let step = (v.max(1) as f64 / 4.0).max(1.0);
    let mag = 10f64.powi(step.log10().floor() as i32);
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|&x| x >= step - 1e-9)
        .unwrap_or(10.0 * mag);
    (nice * 4.0).round() as u64
}

fn time_chart(
    o: &mut String,
    s: &Summary,
    title: &str,
    series: &[(&str, &str, Vec<u64>)],
    fmt: fn(u64) -> String,
    (w, h): (f64, f64),
) {
    let n = s.buckets.len().max(1);
    let (left, bottom) = (64.0, 26.0);
    let peak = (0..n)
        .map(|i| {
            series
                .iter()
                .map(|x| x.2.get(i).copied().unwrap_or(0))
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0);
    let max = nice_ceiling(peak);
    let bw = (w - left - 8.0) / n as f64;
    let _ = write!(
        o,
        "<figure class=\"chart\"><figcaption>{}</figcaption><svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    for k in 0..=4 {
        let y = (h - bottom) * (1.0 - k as f64 / 4.0) + 4.0 * (k as f64 / 4.0);
        let v = max as f64 * k as f64 / 4.0;
        let _ = write!(
            o,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{w}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 4.0,
            esc(&fmt(v as u64))
        );
    }
    let scale = (h - bottom - 4.0) / max as f64;
    for i in 0..n {
        let x = left + i as f64 * bw;
        let mut y = h - bottom;
        let mut tip = format!(
            "{} (+{} min)",
            time(*s.buckets.get(i).unwrap_or(&0)),
            s.bucket_ms / 60_000
        );
        for (label, class, vals) in series {
            let v = vals.get(i).copied().unwrap_or(0);
            let _ = write!(tip, "\n{label}: {}", fmt(v));
            if v == 0 {
                continue;
            }
            let bh = v as f64 * scale;
            y -= bh;
            let _ = write!(
                o,
                "<rect class=\"{class}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\"/>",
                x + bw * 0.1,
                (bw * 0.8).max(1.0)
            );
        }
        let _ = write!(
            o,
            "<rect class=\"hit\" x=\"{x:.1}\" y=\"0\" width=\"{bw:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
            h - bottom,
            esc(&tip)
        );
        let every = (n / 12).max(1);
        if i % every == 0 {
            let _ = write!(
                o,
                "<text class=\"ax\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + bw / 2.0,
                h - 8.0,
                hhmm(*s.buckets.get(i).unwrap_or(&0))
            );
        }
    }
    let _ = write!(o, "</svg><div class=\"legend\">");
    for (label, class, vals) in series {
        let _ = write!(
            o,
            "<span><i class=\"{class}\"></i>{} <b>{}</b></span>",
            esc(label),
            fmt(vals.iter().sum())
        );
    }
    o.push_str("</div></figure>");
}

fn card(o: &mut String, label: &str, value: &str, sub: &str, class: &str) {
    let _ = write!(
        o,
        "<div class=\"card {class}\"><div class=\"lbl\">{}</div><div class=\"val\">{value}</div><div class=\"sub\">{sub}</div></div>",
        esc(label)
    );
}

fn overview(o: &mut String, s: &Summary, info: &PageInfo) {
    let range = match (s.totals.first_ms, s.totals.last_ms) {
        (Some(a), Some(b)) => format!("{} &ndash; {}", time(a), time(b)),
        _ => "no flows".into(),
    };
    section(o, "overview", "Overview", &range);
    o.push_str("<div class=\"cards\">");
    card(
        o,
        "Flows",
        &num(s.totals.total.flows),
        &format!("{} flow tuples", num(s.totals.total.tuples)),
        "",
    );
    card(o, "Allowed", &num(s.totals.total.allowed), "flows", "ok");
    card(o, "Denied", &num(s.totals.total.denied), "flows", "bad");
    card(
        o,
        "Bytes into Azure",
        &bytes(s.totals.bytes_in),
        &format!("{} bytes", num(s.totals.bytes_in)),
        "in",
    );
    card(
        o,
        "Bytes out of Azure",
        &bytes(s.totals.bytes_out),
        &format!("{} bytes", num(s.totals.bytes_out)),
        "out",
    );
    card(
        o,
        "Malicious flows",
        &if s.feeds_configured {
            num(s.totals.malicious_total.flows)
        } else {
            "&ndash;".into()
        },
        &if s.feeds_configured {
            format!(
                "{} allowed; a peer is listed by a feed",
                num(s.totals.malicious_total.allowed)
            )
        } else {
            "no feeds configured".into()
        },
        if s.totals.malicious_total.flows > 0 {
            "bad"
        } else {
            ""
        },
    );
    match &s.alerts {
        None => card(o, "Alerts", "&ndash;", "detection off (--detect)", ""),
        Some(a) => card(
            o,
            "Alerts",
            &format!("<a href=\"#alerts\">{}</a>", num(a.total)),
            &format!("from {} detectors", a.by_detector.len()),
            if a.total > 0 { "bad" } else { "ok" },
        ),
    }
    o.push_str("</div><div class=\"two\"><table class=\"matrix\" id=\"matrix\"><thead><tr><th>flows by direction</th><th class=\"r\">allowed</th><th class=\"r\">denied</th></tr></thead><tbody>");
    for (i, dir) in ["inbound", "outbound"].into_iter().enumerate() {
        let _ = write!(
            o,
            "<tr><th>{dir}</th><td class=\"n ok\" data-v=\"{a}\">{}</td><td class=\"n deny\" data-v=\"{d}\">{}</td></tr>",
            num(s.totals.flows_by_direction[i][0]),
            num(s.totals.flows_by_direction[i][1]),
            a = s.totals.flows_by_direction[i][0],
            d = s.totals.flows_by_direction[i][1]
        );
    }
    o.push_str("</tbody></table><table class=\"kv\"><tbody>");
    let rejected: u64 = s.rejected.iter().map(|r| r.1).sum();
    let mut kv = |k: &str, v: String| {
        let _ = write!(o, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    };
    kv(
        "sources read",
        format!(
            "{} inputs ({} failed, {} incomplete), {}, {} records",
            num(s.inputs),
            num(s.failed_inputs),
            num(s.incomplete_inputs),
            bytes(s.input_bytes),
            num(s.records)
        ),
    );
    kv(
        "rejected input",
        if rejected == 0 {
            "none".into()
        } else {
            s.rejected
                .iter()
                .map(|(k, v)| format!("{} {}", num(*v), esc(k)))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    kv("inputs", esc(&info.inputs.join(" ")));
    if s.totals.outside_range > 0 {
        kv(
            "outside --from/--to",
            format!("{} tuples left out", num(s.totals.outside_range)),
        );
    }
    kv(
        "enrichment",
        format!(
            "threat feeds {}, topology {}, geography {}",
            if s.feeds_configured { "on" } else { "off" },
            if s.topology_configured { "on" } else { "off" },
            if s.geo_configured { "on" } else { "off" }
        ),
    );
    if let Some(a) = &s.alerts {
        kv(
            "alerts by detector",
            format!(
                "<span id=\"alert-counts\">{}</span>",
                a.by_detector
                    .iter()
                    .map(|(d, n)| format!(
                        "<span class=\"det{}\">{} <b data-v=\"{n}\">{}</b></span>",
                        if *n > 0 { " hot" } else { "" },
                        esc(d),
                        num(*n)
                    ))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        );
    }
    o.push_str("</tbody></table></div></section>");
}

fn traffic(o: &mut String, s: &Summary) {
    section(
        o,
        "time",
        "Traffic over time",
        &format!("{}-minute buckets, aligned to the hour; hover a bar for its numbers. A spike stands out.", s.bucket_ms / 60_000),
    );
    let col = |f: fn(&TimeCell) -> u64| s.time.iter().map(f).collect::<Vec<_>>();
    time_chart(
        o,
        s,
        "Bytes",
        &[
            ("into Azure", "s-in", col(|c| c.bytes_in)),
            ("out of Azure", "s-out", col(|c| c.bytes_out)),
        ],
        bytes,
        (960.0, 200.0),
    );
    o.push_str("<div class=\"two\">");
    time_chart(
        o,
        s,
        "Flows",
        &[
            ("inbound", "s-in", col(|c| c.flows_in)),
            ("outbound", "s-out", col(|c| c.flows_out)),
        ],
        num,
        (640.0, 220.0),
    );
    time_chart(
        o,
        s,
        "Denied flows",
        &[("denied", "s-deny", col(|c| c.denied))],
        num,
        (640.0, 220.0),
    );
    o.push_str("</div></section>");
}

fn host_table(o: &mut String, id: &str, head: &str, rows: &[Row<Host>]) {
    let max = rows.iter().map(|r| r.tally.bytes).max().unwrap_or(0);
    let _ = write!(o, "<table class=\"t\" id=\"{id}\"><thead><tr><th>#</th><th>{head}</th>{TALLY_HEAD}</tr></thead><tbody>");
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(
            o,
            "<tr data-hosts=\"{}\"><td class=\"rk\">{}</td><td>{}</td>{}</tr>",
            r.key.ip,
            i + 1,
            host_cell(&r.key),
            tally_cells(&r.tally, max)
        );
    }
    if rows.is_empty() {
        empty_row(o, 7, "no flows");
    }
    o.push_str("</tbody></table>");
}

fn talkers(o: &mut String, s: &Summary) {
    section(o, "talkers", "Top talkers, conversations and protocols", "Hosts by bytes sent and received (both sides of every flow). Click an address to show only its rows everywhere.");
    o.push_str("<div class=\"two\"><div><h3>Top talkers</h3>");
    host_table(o, "talkers-t", "host", &s.talkers);
    o.push_str("</div><div><h3>Top application protocols</h3>");
    let max = s.l7.iter().map(|r| r.tally.bytes).max().unwrap_or(0);
    let _ = write!(o, "<table class=\"t\" id=\"l7-t\"><thead><tr><th>#</th><th>L7 (by port)</th>{TALLY_HEAD}</tr></thead><tbody>");
    for (i, r) in s.l7.iter().enumerate() {
        let _ = write!(
            o,
            "<tr><td class=\"rk\">{}</td><td>{}</td>{}</tr>",
            i + 1,
            esc(&r.key),
            tally_cells(&r.tally, max)
        );
    }
    if s.l7.is_empty() {
        empty_row(o, 7, "no flows");
    }
    o.push_str("</tbody></table></div></div><h3>Top conversations</h3>");
    let max = s.pairs.iter().map(|r| r.tally.bytes).max().unwrap_or(0);
    let _ = write!(o, "<table class=\"t\" id=\"pairs-t\"><thead><tr><th>#</th><th>source</th><th>destination</th>{TALLY_HEAD}</tr></thead><tbody>");
    for (i, r) in s.pairs.iter().enumerate() {
        let _ = write!(
            o,
            "<tr data-hosts=\"{} {}\"><td class=\"rk\">{}</td><td>{}</td><td>{}</td>{}</tr>",
            r.key.0.ip,
            r.key.1.ip,
            i + 1,
            host_cell(&r.key.0),
            host_cell(&r.key.1),
            tally_cells(&r.tally, max)
        );
    }
    if s.pairs.is_empty() {
        empty_row(o, 8, "no flows");
    }
    o.push_str("</tbody></table></section>");
}

fn sources_cell(p: &PortRow) -> String {
    let mut parts = Vec::new();
    if p.from_internal > 0 {
        parts.push(format!(
            "<span class=\"tag int\">internal {}</span>",
            num(p.from_internal)
        ));
    }
    if p.from_azure > 0 {
        parts.push(format!(
            "<span class=\"tag az\">Azure {}</span>",
            num(p.from_azure)
        ));
    }
    if p.from_external > 0 {
        parts.push(format!(
            "<span class=\"tag ext\">external {}</span>",
            num(p.from_external)
        ));
    }
    parts.join(" ")
}

fn ports(o: &mut String, s: &Summary) {
    section(o, "ports", "Ports each VM receives traffic on", "Per internal host (the busiest first): the port, protocol, flows and bytes, and where the sources are. What is not here is not used: the starting point for locking an NSG down.");
    let max = s.ports.iter().map(|r| r.tally.bytes).max().unwrap_or(0);
    let _ = write!(o, "<table class=\"t\" id=\"ports-t\"><thead><tr><th>host</th><th>port</th><th>proto</th>{TALLY_HEAD}<th>sources (flows)</th></tr></thead><tbody>");
    let mut last = None;
    for p in &s.ports {
        let first = last != Some(p.host.ip);
        last = Some(p.host.ip);
        let _ = write!(
            o,
            "<tr data-hosts=\"{}\"{}><td>{}</td><td class=\"n\">{}</td><td>{}</td>{}<td>{}</td></tr>",
            p.host.ip,
            if first { " class=\"grp\"" } else { "" },
            if first { host_cell(&p.host) } else { format!("<span class=\"ditto\" data-host=\"{0}\">{0}</span>", p.host.ip) },
            p.port,
            esc(&p.protocol),
            tally_cells(&p.tally, max),
            sources_cell(p)
        );
    }
    if s.ports.is_empty() {
        empty_row(o, 9, "no traffic to internal hosts");
    }
    o.push_str("</tbody></table>");
    let _ = write!(o, "<h3 id=\"open\">Open ports reached from the internet</h3><p class=\"note\">Allowed inbound flows from public addresses that are not Azure's.</p>");
    let _ = write!(o, "<table class=\"t\" id=\"open-t\"><thead><tr><th>#</th><th>host</th><th>port</th><th>proto</th><th>allowed flows from the internet</th><th>bytes</th></tr></thead><tbody>");
    for (i, p) in s.open_ports.iter().enumerate() {
        let _ = write!(
            o,
            "<tr data-hosts=\"{}\"><td class=\"rk\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td>{}{}</tr>",
            p.host.ip,
            i + 1,
            host_cell(&p.host),
            p.port,
            esc(&p.protocol),
            num_cell(p.public_allowed),
            bytes_cell(p.public_allowed_bytes)
        );
    }
    if s.open_ports.is_empty() {
        empty_row(o, 6, "none: no allowed inbound flow from a public address");
    }
    o.push_str("</tbody></table></section>");
}

fn denied(o: &mut String, s: &Summary) {
    section(o, "denied", "Denied traffic", "");
    o.push_str("<div class=\"three\"><div><h3>Top sources</h3>");
    let _ = write!(o, "<table class=\"t\" id=\"denied-src-t\"><thead><tr><th>source</th><th>denied flows</th></tr></thead><tbody>");
    for r in &s.denied_sources {
        let _ = write!(
            o,
            "<tr data-hosts=\"{}\"><td>{}</td>{}</tr>",
            r.key.ip,
            host_cell(&r.key),
            num_cell(r.tally.flows)
        );
    }
    if s.denied_sources.is_empty() {
        empty_row(o, 2, "nothing denied");
    }
    o.push_str("</tbody></table></div><div><h3>Top ports</h3>");
    let _ = write!(o, "<table class=\"t\" id=\"denied-port-t\"><thead><tr><th>port</th><th>proto</th><th>denied flows</th></tr></thead><tbody>");
    for r in &s.denied_ports {
        let _ = write!(
            o,
            "<tr><td class=\"n\">{}</td><td>{}</td>{}</tr>",
            r.key.0,
            esc(&r.key.1),
            num_cell(r.tally.flows)
        );
    }
    if s.denied_ports.is_empty() {
        empty_row(o, 3, "nothing denied");
    }
    o.push_str("</tbody></table></div><div><h3>Top rules</h3>");
    let _ = write!(o, "<table class=\"t\" id=\"denied-rule-t\"><thead><tr><th>NSG</th><th>rule</th><th>denied flows</th></tr></thead><tbody>");
    for r in &s.denied_rules {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td>{}</tr>",
            esc(&r.key.0),
            esc(&r.key.1),
            num_cell(r.tally.flows)
        );
    }
    if s.denied_rules.is_empty() {
        empty_row(o, 3, "nothing denied");
    }
    o.push_str("</tbody></table></div></div></section>");
}

fn rules(o: &mut String, s: &Summary) {
    section(
        o,
        "rules",
        "NSG rule hits over time",
        &format!(
            "Flows per rule and {}-minute bucket; darker is more. Hover a cell for its count.",
            s.bucket_ms / 60_000
        ),
    );
    let max = s
        .rule_hits
        .iter()
        .flat_map(|r| r.counts.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let _ = write!(o, "<table class=\"t heat\" id=\"rules-t\"><thead><tr><th>NSG</th><th>rule</th><th>flows</th><th class=\"cells\">");
    let every = (s.buckets.len() / 8).max(1);
    for (i, b) in s.buckets.iter().enumerate() {
        let _ = write!(
            o,
            "<span>{}</span>",
            if i % every == 0 {
                hhmm(*b)
            } else {
                String::new()
            }
        );
    }
    o.push_str("</th></tr></thead><tbody>");
    for r in &s.rule_hits {
        let deny = r.rule.to_ascii_lowercase().contains("deny");
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td>{}<td class=\"cells\">",
            esc(&r.nsg),
            esc(&r.rule),
            num_cell(r.total)
        );
        for (i, c) in r.counts.iter().enumerate() {
            let a = if *c == 0 {
                0.0
            } else {
                0.15 + 0.85 * (*c as f64 / max as f64)
            };
            let _ = write!(
                o,
                "<i class=\"{}\" style=\"opacity:{a:.2}\" title=\"{}: {} flows\"></i>",
                if deny { "hd" } else { "ha" },
                time(*s.buckets.get(i).unwrap_or(&0)),
                num(*c)
            );
        }
        o.push_str("</td></tr>");
    }
    if s.rule_hits.is_empty() {
        empty_row(o, 4, "no flows");
    }
    o.push_str("</tbody></table></section>");
}

fn threats(o: &mut String, s: &Summary) {
    section(o, "malicious", "Malicious flows and flow types", "");
    o.push_str("<div class=\"two\"><div><h3>Peers listed by threat feeds</h3>");
    if !s.feeds_configured {
        o.push_str("<p class=\"off\">No threat feeds configured: add <code>--feeds</code> (FireHOL, Spamhaus DROP, Feodo, IPsum, ...) to see which flows touch known-bad addresses.</p>");
    } else {
        let _ = write!(o, "<table class=\"t\" id=\"malicious-t\"><thead><tr><th>address</th><th>feeds</th><th>category</th><th>country</th><th>in</th><th>out</th><th>flows</th><th>allowed</th><th>bytes</th></tr></thead><tbody>");
        for m in &s.malicious {
            let _ = write!(
                o,
                "<tr data-hosts=\"{ip}\"><td><span class=\"host\" data-host=\"{ip}\">{ip}</span></td><td>{}</td><td>{}</td><td>{}</td>{}{}{}<td class=\"n{}\" data-v=\"{}\">{}</td>{}</tr>",
                esc(&m.feeds),
                esc(&m.category),
                esc(&m.country),
                num_cell(m.inbound),
                num_cell(m.outbound),
                num_cell(m.tally.flows),
                if m.tally.allowed > 0 { " deny" } else { "" },
                m.tally.allowed,
                num(m.tally.allowed),
                bytes_cell(m.tally.bytes),
                ip = m.ip
            );
        }
        if s.malicious.is_empty() {
            empty_row(o, 9, "no flow touches a listed address");
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</div><div><h3>FlowType</h3>");
    if !s.topology_configured {
        o.push_str("<p class=\"off\">No topology configured: add <code>--topology</code> and <code>--service-tags</code> for Traffic Analytics' FlowType (IntraVNet, S2S, AzurePublic, MaliciousFlow, ...).</p>");
    } else {
        let max = s
            .flow_types
            .iter()
            .map(|r| r.tally.flows)
            .max()
            .unwrap_or(0);
        let _ = write!(o, "<table class=\"t\" id=\"flowtype-t\"><thead><tr><th>FlowType</th><th>flows</th><th></th><th>bytes</th></tr></thead><tbody>");
        for r in &s.flow_types {
            let _ = write!(
                o,
                "<tr><td>{}</td>{}<td class=\"barcell\">{}</td>{}</tr>",
                esc(&r.key),
                num_cell(r.tally.flows),
                bar(
                    r.tally.flows,
                    max,
                    if r.key == "MaliciousFlow" { "m" } else { "f" }
                ),
                bytes_cell(r.tally.bytes)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</div></div></section>");
}

fn geo_rows(o: &mut String, id: &str, head: &str, rows: &[GeoRow], with_name: bool) {
    let max = rows
        .iter()
        .map(|r| r.benign.flows + r.malicious.flows)
        .max()
        .unwrap_or(0);
    let _ = write!(o, "<table class=\"t\" id=\"{id}\"><thead><tr><th>{head}</th>{}<th>benign flows</th><th>malicious flows</th><th>bytes</th><th></th></tr></thead><tbody>", if with_name { "<th>organisation</th>" } else { "" });
    for r in rows {
        let total = r.benign.flows + r.malicious.flows;
        let w = |v: u64| {
            if max == 0 {
                0.0
            } else {
                100.0 * v as f64 / max as f64
            }
        };
        let _ = write!(
            o,
            "<tr><td><b>{}</b></td>{}{}<td class=\"n{}\" data-v=\"{}\">{}</td>{}<td class=\"barcell\"><span class=\"bar f\" style=\"width:{:.1}%\"></span><span class=\"bar m\" style=\"width:{:.1}%\"></span></td></tr>",
            esc(&r.key),
            if with_name { format!("<td>{}</td>", esc(&r.name)) } else { String::new() },
            num_cell(r.benign.flows),
            if r.malicious.flows > 0 { " deny" } else { "" },
            r.malicious.flows,
            num(r.malicious.flows),
            bytes_cell(r.benign.bytes + r.malicious.bytes),
            w(r.benign.flows),
            w(r.malicious.flows)
        );
        let _ = total;
    }
    if rows.is_empty() {
        empty_row(o, 6, "no public peers");
    }
    o.push_str("</tbody></table>");
}

fn geography(o: &mut String, s: &Summary) {
    section(
        o,
        "geo",
        "Geography",
        "Countries and networks (AS) of public peers, benign against malicious (listed by a feed).",
    );
    if !s.geo_configured {
        o.push_str("<p class=\"off\">No geography: add <code>--geoip-country</code> (a country .mmdb) and <code>--geoip-asn</code> (ASN CSV ranges); see the user guide, docs/src/enrichment.md, &ldquo;Geography and ASN&rdquo;.</p></section>");
        return;
    }
    o.push_str("<div class=\"two\"><div><h3>Countries</h3>");
    geo_rows(o, "countries-t", "country", &s.countries, false);
    o.push_str("</div><div><h3>Networks (AS)</h3>");
    geo_rows(o, "asn-t", "AS", &s.asns, true);
    o.push_str("</div></div></section>");
}

fn volume(o: &mut String, s: &Summary) {
    section(
        o,
        "volume",
        "Unusual volume",
        &format!(
            "For each internal host and destination port: its busiest {}-minute bucket's bytes divided by its mean bytes per bucket over the whole period ({} buckets, the busiest included). 1&times; is perfectly even; {}&times; is all in one bucket.",
            s.bucket_ms / 60_000,
            s.buckets.len(),
            s.buckets.len()
        ),
    );
    let _ = write!(o, "<table class=\"t\" id=\"volume-t\"><thead><tr><th>#</th><th>host</th><th>port</th><th>ratio</th><th>busiest bucket</th><th>its bytes</th><th>mean per bucket</th><th>total bytes</th></tr></thead><tbody>");
    for (i, v) in s.volume.iter().enumerate() {
        volume_row(o, i, v);
    }
    if s.volume.is_empty() {
        empty_row(o, 8, "no bytes to or from internal hosts");
    }
    o.push_str("</tbody></table></section>");
}

fn volume_row(o: &mut String, i: usize, v: &VolumeRow) {
    let _ = write!(
        o,
        "<tr data-hosts=\"{}\"><td class=\"rk\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n ratio{}\">{:.1}&times;</td><td>{}</td>{}<td class=\"n\" title=\"{:.0} bytes\">{}</td>{}</tr>",
        v.host.ip,
        i + 1,
        host_cell(&v.host),
        v.port,
        if v.ratio >= 5.0 { " hot" } else { "" },
        v.ratio,
        time(v.busiest_start_ms),
        bytes_cell(v.busiest_bytes),
        v.mean_bytes,
        bytes(v.mean_bytes.round() as u64),
        bytes_cell(v.bytes)
    );
}

/// An alert's measure: bytes for a volume anomaly's observed and baseline, else a count
/// (or a ratio, given as such); `-` where it does not apply.
fn measure(v: Option<f64>, as_bytes: bool) -> String {
    match v {
        None => "<td class=\"n na\">&ndash;</td>".into(),
        Some(x) if as_bytes => bytes_cell(x.round() as u64),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => num_cell(x as u64),
        Some(x) => format!("<td class=\"n\" data-v=\"{x}\">{x:.2}</td>"),
    }
}

fn alert_row(o: &mut String, i: usize, r: &AlertRow) {
    let a = &r.alert;
    let volume = a.detector == Detector::VolumeAnomaly;
    let mut hosts = vec![a.subject.to_string()];
    for ip in [a.src_ip, a.dst_ip].into_iter().flatten() {
        if ip != a.subject {
            hosts.push(ip.to_string());
        }
    }
    let (start, end) = (time(a.window_start_ms), time(a.window_end_ms));
    let window = if start.get(..10) == end.get(..10) {
        format!("{start} &ndash; {}", hhmm(a.window_end_ms))
    } else {
        format!("{start} &ndash; {end}")
    };
    let mut summary = esc(&a.summary);
    if !a.evidence.is_empty() {
        let _ = write!(
            summary,
            "<span class=\"ev\">evidence: {}</span>",
            esc(&a.evidence.join(", "))
        );
    }
    let _ = write!(
        o,
        "<tr data-hosts=\"{}\"><td class=\"rk\">{}</td><td><b>{}</b></td><td class=\"sev {sev}\">{sev}</td><td>{}</td><td class=\"win\">{window}</td><td>{summary}</td>{}{}{}{}{}</tr>",
        hosts.join(" "),
        i + 1,
        esc(a.detector.as_str()),
        host_cell(&r.subject),
        measure(a.observed, volume),
        match a.threshold {
            Some(t) if volume => format!("<td class=\"n\" data-v=\"{t}\">{t:.1}&times;</td>"),
            t => measure(t, false),
        },
        measure(a.baseline, volume),
        match a.ratio {
            Some(x) => format!("<td class=\"n ratio hot\" data-v=\"{x}\">{x:.1}&times;</td>"),
            None => "<td class=\"n na\">&ndash;</td>".into(),
        },
        num_cell(a.count),
        sev = a.severity.as_str(),
    );
}

fn alerts(o: &mut String, s: &Summary) {
    let Some(a) = &s.alerts else {
        section(o, "alerts", "Alerts", "");
        o.push_str("<p class=\"off\">No detection: add <code>--detect</code> (or <code>detect: {enabled: true}</code> in the config) for alerts on port scans, sweeps, deny bursts, outbound fan-out, new internet exposure, volume anomalies, beaconing and, with <code>--feeds</code>, malicious flows; see the user guide, &ldquo;Detection&rdquo; (docs/src/detection.md).</p></section>");
        return;
    };
    section(
        o,
        "alerts",
        "Alerts",
        &format!(
            "What the detection stage raised over this input: one alert per detector, subject and window. Most severe first; {} of {} listed.{}",
            num(a.rows.len() as u64),
            num(a.total),
            if a.outside_range > 0 {
                format!(" {} more fell outside --from/--to.", num(a.outside_range))
            } else {
                String::new()
            },
        ),
    );
    if a.late > 0 {
        let _ = write!(
            o,
            "<p class=\"off\" id=\"alerts-late\">{} tuples came after their detection window had closed (more than <code>allowed_lateness</code> behind newer ones) and were not counted by detection: name the inputs in time order (a directory in the Azure layout is read hour by hour).</p>",
            num(a.late)
        );
    }
    alert_counts(o, a);
    let _ = write!(o, "<table class=\"t\" id=\"alerts-t\"><thead><tr><th>#</th><th>detector</th><th>severity</th><th>subject</th><th>window (UTC)</th><th>summary</th><th>observed</th><th>threshold</th><th>baseline</th><th>ratio</th><th>count</th></tr></thead><tbody>");
    for (i, r) in a.rows.iter().enumerate() {
        alert_row(o, i, r);
    }
    if a.rows.is_empty() {
        empty_row(o, 11, "no alerts: nothing crossed a threshold");
    }
    o.push_str("</tbody></table></section>");
}

/// The alerts per detector, as a row of small counters.
fn alert_counts(o: &mut String, a: &AlertSummary) {
    o.push_str("<div class=\"dets\">");
    for (d, n) in &a.by_detector {
        let _ = write!(
            o,
            "<div class=\"det{}\"><span>{}</span><b data-v=\"{n}\">{}</b></div>",
            if *n > 0 { " hot" } else { "" },
            esc(d),
            num(*n)
        );
    }
    o.push_str("</div>");
}

const CSS: &str = r#"
:root{--bg:#f4f6f9;--card:#fff;--ink:#1d2733;--mute:#66768a;--line:#e3e8ef;--in:#2f6fde;--out:#f08c2e;--ok:#1f9d6b;--bad:#d64545;--az:#7b5cd6;--hd:#d64545;--ha:#2f6fde}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;background:var(--bg);color:var(--ink)}
header{background:linear-gradient(120deg,#0f2540,#1b4f8a);color:#fff;padding:18px 28px 14px}
header h1{margin:0;font-size:22px;font-weight:650;letter-spacing:.2px}
header .meta{color:#c5d6ee;font-size:13px;margin-top:4px}
nav{position:sticky;top:0;z-index:5;background:#0f2540;padding:0 22px;display:flex;flex-wrap:wrap;gap:2px;align-items:center}
nav a{color:#c5d6ee;text-decoration:none;padding:8px 10px;font-size:13px}
nav a:hover{color:#fff;background:#1b4f8a}
nav .filter{margin-left:auto;display:flex;gap:6px;align-items:center;color:#c5d6ee;font-size:13px}
nav input{border:0;border-radius:4px;padding:4px 8px;width:190px;font:inherit}
nav button{border:0;border-radius:4px;padding:4px 8px;font:inherit;cursor:pointer}
main{max-width:1280px;margin:0 auto;padding:8px 22px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:16px 0;box-shadow:0 1px 2px rgba(20,40,70,.04)}
h2{font-size:17px;margin:0 0 4px}
h3{font-size:14px;margin:14px 0 6px;color:#34475d}
.note{color:var(--mute);margin:0 0 10px;font-size:13px}
.off{color:var(--mute);background:#f7f9fc;border:1px dashed var(--line);border-radius:8px;padding:10px 12px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:8px 0 14px}
.card{border:1px solid var(--line);border-radius:10px;padding:10px 14px;border-top:4px solid #9aa9bb}
.card.ok{border-top-color:var(--ok)}.card.bad{border-top-color:var(--bad)}.card.in{border-top-color:var(--in)}.card.out{border-top-color:var(--out)}
.card .lbl{color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.5px}
.card .val{font-size:26px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums}
.card .sub{color:var(--mute);font-size:12px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:22px;align-items:start}
.three{display:grid;grid-template-columns:1fr 1fr 1fr;gap:18px}
@media (max-width:900px){.two,.three{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th.r{text-align:right}
th{font-size:12px;color:var(--mute);font-weight:600;text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:5px 8px;border-bottom:1px solid #f0f3f7;vertical-align:middle}
tr:hover td{background:#f7faff}
td.n{text-align:right;white-space:nowrap}
td.rk{color:var(--mute);width:1%}
td.deny{color:var(--bad);font-weight:600}
td.ok{color:var(--ok);font-weight:600}
.matrix{width:auto;min-width:280px}.matrix td{font-size:20px;padding:8px 18px}.matrix th{font-size:13px}
.kv th{width:150px;vertical-align:top}
.barcell{width:22%;min-width:90px}
.bar{display:inline-block;height:10px;border-radius:3px;vertical-align:middle}
.bar.b,.bar.f{background:linear-gradient(90deg,#5b8ff0,#2f6fde)}
.bar.m{background:var(--bad)}
.host{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;cursor:pointer;color:#1b4f8a;border-bottom:1px dotted #9db6d8}
.ditto{font-family:ui-monospace,monospace;color:#b5c0cc}
.nm{background:#eef3fb;color:#1b4f8a;border-radius:4px;padding:0 5px;font-size:12px}
.site{color:var(--mute);font-size:11.5px;display:block;line-height:1.2}
.tag{display:inline-block;border-radius:10px;padding:0 7px;font-size:12px;margin:1px 0}
.tag.int{background:#e8f6ef;color:#1f7a55}.tag.az{background:#f0ebfd;color:#5a3fb5}.tag.ext{background:#fdecec;color:#b03434}
tr.grp td{border-top:2px solid var(--line)}
.ratio.hot{color:var(--bad);font-weight:700}
.chart{margin:6px 0 14px}.chart figcaption{font-weight:600;font-size:13px;color:#34475d}
.chart svg{width:100%;height:auto;display:block}
.grid{stroke:#edf1f6}.ax{fill:var(--mute);font-size:11px}
.s-in{fill:var(--in)}.s-out{fill:var(--out)}.s-deny{fill:var(--bad)}
.hit{fill:transparent}.hit:hover{fill:rgba(30,60,110,.07)}
.legend{display:flex;gap:18px;font-size:12px;color:var(--mute)}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.legend i.s-in{background:var(--in)}.legend i.s-out{background:var(--out)}.legend i.s-deny{background:var(--bad)}
.heat .cells{display:flex;gap:1px;min-width:320px}
.heat th.cells span{flex:1;font-size:10px;overflow:visible;white-space:nowrap}
.heat td.cells i{flex:1;height:16px;border-radius:2px;display:block}
.heat i.ha{background:var(--ha)}.heat i.hd{background:var(--hd)}
tr.empty td{color:var(--mute);font-style:italic}
.alink{color:var(--bad);font-size:12px;text-decoration:none;white-space:nowrap;font-weight:600}
.sev{font-weight:650;text-transform:uppercase;font-size:12px}.sev.high{color:var(--bad)}.sev.medium{color:var(--out)}.sev.low{color:var(--mute)}
.dets{display:flex;flex-wrap:wrap;gap:8px;margin:4px 0 12px}
.dets .det{border:1px solid var(--line);border-radius:8px;padding:4px 10px;display:flex;gap:8px;align-items:baseline}
.dets .det span{font-family:ui-monospace,monospace;font-size:12.5px;color:var(--mute)}.dets .det b{font-size:18px}
.det.hot b{color:var(--bad)}
#alert-counts .det{margin-right:10px;font-family:ui-monospace,monospace;font-size:12.5px}
td.win{white-space:nowrap;font-size:12.5px}
td.na{color:#b5c0cc}
.ev{display:block;color:var(--mute);font-size:12px}
.card .val a{color:inherit;text-decoration:none}
.hidden{display:none}
footer{color:var(--mute);font-size:12px;text-align:center;padding:10px}
.noflows{font-size:18px;color:var(--mute);text-align:center;padding:30px}
code{background:#eef2f7;border-radius:4px;padding:0 4px}
"#;

const JS: &str = r#"
(function(){
  var input=document.getElementById('hostfilter');
  var clear=document.getElementById('clearfilter');
  function apply(q){
    q=(q||'').trim();
    var rows=document.querySelectorAll('tr[data-hosts]');
    for(var i=0;i<rows.length;i++){
      var r=rows[i];
      var show=!q||(' '+r.getAttribute('data-hosts')+' ').indexOf(q)>=0||r.textContent.indexOf(q)>=0;
      r.classList.toggle('hidden',!show);
    }
    clear.classList.toggle('hidden',!q);
  }
  input.addEventListener('input',function(){apply(input.value);});
  clear.addEventListener('click',function(){input.value='';apply('');});
  document.addEventListener('click',function(e){
    var t=e.target;
    if(t&&t.getAttribute&&t.getAttribute('data-host')){
      e.preventDefault();
      input.value=t.getAttribute('data-host');apply(input.value);
      document.getElementById(t.getAttribute('data-goto')||'ports').scrollIntoView({behavior:'smooth'});
    }
  });
  apply('');
  document.body.setAttribute('data-ready','1');
})();
"#;

/// The whole page.
pub fn render(s: &Summary, info: &PageInfo) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let title = if info.title.is_empty() {
        "nsgflow report"
    } else {
        &info.title
    };
    let range = match (s.totals.first_ms, s.totals.last_ms) {
        (Some(a), Some(b)) => format!("{} &ndash; {}", time(a), time(b)),
        _ => "no flows".into(),
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"generator\" content=\"nsgflow {v}\"><title>{t}</title><style>{CSS}</style></head><body>\
<header><h1>{t}</h1><div class=\"meta\">Azure flow logs, {range} &middot; {} flows &middot; {} &middot; made by nsgflow {v}</div></header>\
<nav><a href=\"#overview\">Overview</a><a href=\"#alerts\">Alerts</a><a href=\"#time\">Over time</a><a href=\"#talkers\">Talkers</a><a href=\"#ports\">Ports</a><a href=\"#open\">Open ports</a><a href=\"#denied\">Denied</a><a href=\"#rules\">Rules</a><a href=\"#malicious\">Malicious</a><a href=\"#geo\">Geography</a><a href=\"#volume\">Unusual volume</a>\
<span class=\"filter\">host <input id=\"hostfilter\" type=\"search\" placeholder=\"filter by address or name\" autocomplete=\"off\"><button id=\"clearfilter\" class=\"hidden\" type=\"button\">show all</button></span></nav><main>",
        num(s.totals.total.flows),
        bytes(s.totals.total.bytes),
        v = esc(&info.version),
        t = esc(title),
    );
    if s.totals.total.tuples == 0 {
        o.push_str("<section id=\"empty\"><p class=\"noflows\">No flows in the input");
        if s.totals.outside_range > 0 {
            let _ = write!(
                o,
                " between --from and --to ({} tuples outside)",
                num(s.totals.outside_range)
            );
        }
        o.push_str(".</p></section>");
    }
    overview(&mut o, s, info);
    alerts(&mut o, s);
    traffic(&mut o, s);
    talkers(&mut o, s);
    ports(&mut o, s);
    denied(&mut o, s);
    rules(&mut o, s);
    threats(&mut o, s);
    geography(&mut o, s);
    volume(&mut o, s);
    let _ = write!(
        o,
        "</main><footer>Top {} per table. Report model: {} in memory{}. Flows are tuples that start a flow (state B), denied tuples and NSG v1 tuples; bytes count every tuple.</footer><script>{JS}</script></body></html>",
        s.top,
        bytes(s.model_bytes as u64),
        if s.dropped_keys > 0 {
            format!(", {} updates past the {} keys cap counted in totals only", num(s.dropped_keys), num(s.max_keys as u64))
        } else {
            String::new()
        }
    );
    o.push('\n');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0), 4);
        assert_eq!(nice_ceiling(18), 20);
        assert_eq!(nice_ceiling(44), 80);
        assert_eq!(nice_ceiling(2_130_000), 4_000_000);
        assert_eq!(nice_ceiling(1_000), 1_000);
    }

    #[test]
    fn numbers_and_bytes() {
        assert_eq!(num(0), "0");
        assert_eq!(num(1234567), "1,234,567");
        assert_eq!(num(123), "123");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_873_221), "1.87 MB");
        assert_eq!(bytes(61_840), "61.8 kB");
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
