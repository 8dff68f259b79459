//! Alert records in each output schema. Alerts are rare (a handful per hour), so they are
//! built as JSON values rather than through the per-event fast path.
//!
//! | format | shape |
//! |---|---|
//! | `flat` | `kind: "alert"`, `detector`, `severity`, `summary`, window, subject fields, measures, evidence, enrichment |
//! | `ecs` | `event.kind: "alert"`, `event.category: ["network","intrusion_detection"]`, `rule.name`, `threat.*` with a feed |
//! | `splunk` | HEC envelope with sourcetype `nsgflow:alert` |
//! | `ocsf` | Detection Finding (class 2004) |

use serde_json::{json, Map, Value};

use crate::detect::{Alert, EvidenceKind};

/// The Splunk sourcetype of alerts.
pub const SPLUNK_SOURCETYPE: &str = "nsgflow:alert";

fn time(ms: u64) -> Value {
    let mut buf = [0u8; 24];
    crate::time::format_rfc3339_ms(ms, &mut buf);
    Value::String(String::from_utf8_lossy(&buf).into_owned())
}

fn put<T: Into<Value>>(m: &mut Map<String, Value>, k: &str, v: Option<T>) {
    if let Some(v) = v {
        m.insert(k.to_string(), v.into());
    }
}

/// A JSON object that keeps its keys in insertion order (serde_json's map sorts them).
#[derive(Debug, Clone, Default)]
pub struct Ordered(pub Vec<(String, Value)>);

impl Ordered {
    fn insert(&mut self, k: &str, v: impl Into<Value>) {
        self.0.push((k.to_string(), v.into()));
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Appends the object as compact JSON.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            super::json::write_str(out, k);
            out.push(b':');
            write(out, v);
        }
        out.push(b'}');
    }

    /// As a `serde_json` value (keys sorted).
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.iter().cloned().collect())
    }
}

fn put_ordered<T: Into<Value>>(m: &mut Ordered, k: &str, v: Option<T>) {
    if let Some(v) = v {
        m.insert(k, v);
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn evidence_key(a: &Alert) -> &'static str {
    match a.evidence_kind {
        Some(EvidenceKind::Ports) => "ports",
        Some(EvidenceKind::Intervals) => "intervals",
        _ => "addresses",
    }
}

/// The flat alert (`--format flat`): also the `event` of the Splunk envelope.
pub fn flat(a: &Alert) -> Ordered {
    let mut m = Ordered::default();
    m.insert("kind", "alert");
    m.insert("detector", a.detector.as_str());
    m.insert("severity", a.severity.as_str());
    m.insert("summary", a.summary.clone());
    m.insert("alert_id", a.id());
    m.insert("window_start", time(a.window_start_ms));
    m.insert("window_end", time(a.window_end_ms));
    m.insert("subject_ip", a.subject.to_string());
    put_ordered(&mut m, "src_ip", a.src_ip.map(|i| i.to_string()));
    put_ordered(&mut m, "dst_ip", a.dst_ip.map(|i| i.to_string()));
    put_ordered(&mut m, "dst_port", a.dst_port);
    put_ordered(&mut m, "protocol", a.protocol.and_then(|p| p.name()));
    put_ordered(&mut m, "direction", a.direction.map(|d| d.as_str()));
    put_ordered(&mut m, "observed", a.observed.map(round));
    put_ordered(&mut m, "threshold", a.threshold.map(round));
    put_ordered(&mut m, "baseline", a.baseline.map(round));
    put_ordered(&mut m, "ratio", a.ratio.map(round));
    put_ordered(&mut m, "score", a.score.map(round));
    m.insert("count", a.count);
    m.insert("first_seen", time(a.first_seen_ms));
    m.insert("last_seen", time(a.last_seen_ms));
    if !a.evidence.is_empty() {
        let mut ev = Map::new();
        ev.insert(evidence_key(a).into(), json!(a.evidence));
        m.insert("evidence", Value::Object(ev));
    }
    let c = &a.context;
    put_ordered(&mut m, "subject_class", c.class);
    put_ordered(&mut m, "subject_network", c.network.clone());
    put_ordered(&mut m, "subject_vnet", c.vnet.clone());
    put_ordered(&mut m, "subject_subnet", c.subnet.clone());
    if !c.feeds.is_empty() {
        m.insert("feeds", json!(c.feeds));
    }
    put_ordered(&mut m, "feed_category", c.feed_category.clone());
    put_ordered(&mut m, "indicator_ip", c.indicator.map(|i| i.to_string()));
    m
}

/// The ECS alert (`--format ecs`).
pub fn ecs(a: &Alert) -> Value {
    let mut v = json!({
        "@timestamp": time(a.first_seen_ms),
        "message": a.summary,
        "event": {
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "type": ["info"],
            "module": "nsgflow",
            "dataset": "nsgflow.alert",
            "id": a.id(),
            "severity": a.severity.id(),
            "start": time(a.window_start_ms),
            "end": time(a.window_end_ms),
        },
        "rule": {
            "name": a.detector.as_str(),
            "description": a.detector.description(),
            "ruleset": "nsgflow",
        },
        "observer": {"vendor": "Microsoft", "product": "Azure flow logs", "type": "nsgflow"},
        "nsgflow": {
            "alert": {
                "severity": a.severity.as_str(),
                "count": a.count,
                "last_seen": time(a.last_seen_ms),
            }
        },
    });
    let nf = v["nsgflow"]["alert"].as_object_mut().expect("object");
    put(nf, "observed", a.observed.map(round));
    put(nf, "threshold", a.threshold.map(round));
    put(nf, "baseline", a.baseline.map(round));
    put(nf, "ratio", a.ratio.map(round));
    put(nf, "score", a.score.map(round));
    if !a.evidence.is_empty() {
        nf.insert(format!("evidence_{}", evidence_key(a)), json!(a.evidence));
    }
    let c = &a.context;
    put(nf, "subject_class", c.class);
    put(nf, "subject_network", c.network.clone());
    put(nf, "subject_vnet", c.vnet.clone());
    put(nf, "subject_subnet", c.subnet.clone());
    let m = v.as_object_mut().expect("object");
    if let Some(ip) = a.src_ip {
        m.insert("source".into(), json!({"ip": ip.to_string()}));
    }
    if a.dst_ip.is_some() || a.dst_port.is_some() {
        let mut d = Map::new();
        put(&mut d, "ip", a.dst_ip.map(|i| i.to_string()));
        put(&mut d, "port", a.dst_port);
        m.insert("destination".into(), Value::Object(d));
    }
    let mut n = Map::new();
    put(
        &mut n,
        "transport",
        a.protocol
            .and_then(|p| p.name())
            .map(str::to_ascii_lowercase),
    );
    put(
        &mut n,
        "iana_number",
        a.protocol.map(|p| p.iana_number().to_string()),
    );
    put(&mut n, "direction", a.direction.map(|d| d.as_str()));
    if !n.is_empty() {
        m.insert("network".into(), Value::Object(n));
    }
    if !c.feeds.is_empty() {
        let mut ind = Map::new();
        ind.insert("type".into(), "ipv4-addr".into());
        put(&mut ind, "ip", c.indicator.map(|i| i.to_string()));
        if let Some(ip) = c.indicator {
            if ip.is_ipv6() {
                ind.insert("type".into(), "ipv6-addr".into());
            }
        }
        ind.insert("provider".into(), json!(c.feeds.join(",")));
        m.insert(
            "threat".into(),
            json!({
                "framework": "nsgflow",
                "indicator": ind,
                "feed": {"name": c.feeds.first()},
                "tactic": {"name": [c.feed_category.clone().unwrap_or_default()]},
            }),
        );
    }
    v
}

/// The Splunk HEC envelope of an alert (`sourcetype` `nsgflow:alert`), without its `event`
/// (see [`write_splunk`]).
pub fn splunk(a: &Alert, index: &str) -> Ordered {
    let mut m = Ordered::default();
    m.insert("time", json!(a.first_seen_ms as f64 / 1000.0));
    m.insert("host", "nsgflow");
    m.insert("source", format!("nsgflow:{}", a.detector.as_str()));
    m.insert("sourcetype", SPLUNK_SOURCETYPE);
    if !index.is_empty() {
        m.insert("index", index);
    }
    m
}

/// Writes the Splunk envelope with the flat alert (in its key order) as `event`.
pub fn write_splunk(a: &Alert, index: &str, out: &mut Vec<u8>) {
    splunk(a, index).write(out);
    out.pop();
    out.extend_from_slice(b",\"event\":");
    flat(a).write(out);
    out.push(b'}');
}

/// The OCSF Detection Finding (class 2004, category 2 Findings, activity 1 Create).
pub fn ocsf(a: &Alert) -> Value {
    let mut v = json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200_401,
        "type_name": "Detection Finding: Create",
        "time": a.first_seen_ms,
        "start_time": a.first_seen_ms,
        "end_time": a.last_seen_ms,
        "count": a.count,
        "severity_id": a.severity.id(),
        "severity": match a.severity.as_str() { "low" => "Low", "medium" => "Medium", _ => "High" },
        "status_id": 1,
        "status": "New",
        "message": a.summary,
        "metadata": {
            "version": "1.3.0",
            "product": {"name": "nsgflow", "vendor_name": "nsgflow"},
            "log_name": "alert",
        },
        "finding_info": {
            "uid": a.id(),
            "title": a.summary,
            "desc": a.detector.description(),
            "types": [a.detector.as_str()],
            "analytic": {"name": a.detector.as_str(), "type_id": 1, "type": "Rule", "category": "nsgflow"},
            "first_seen_time": a.first_seen_ms,
            "last_seen_time": a.last_seen_ms,
        },
    });
    let m = v.as_object_mut().expect("object");
    let mut evidence = Map::new();
    if let Some(ip) = a.src_ip {
        evidence.insert("src_endpoint".into(), json!({"ip": ip.to_string()}));
    }
    if a.dst_ip.is_some() || a.dst_port.is_some() {
        let mut d = Map::new();
        put(&mut d, "ip", a.dst_ip.map(|i| i.to_string()));
        put(&mut d, "port", a.dst_port);
        evidence.insert("dst_endpoint".into(), Value::Object(d));
    }
    if let Some(p) = a.protocol {
        evidence.insert(
            "connection_info".into(),
            json!({"protocol_num": p.iana_number(), "protocol_name": p.name()}),
        );
    }
    let mut data = Map::new();
    data.insert("window_start".into(), json!(a.window_start_ms));
    data.insert("window_end".into(), json!(a.window_end_ms));
    if !a.evidence.is_empty() {
        data.insert(evidence_key(a).into(), json!(a.evidence));
    }
    evidence.insert("data".into(), Value::Object(data));
    m.insert("evidences".into(), json!([evidence]));
    let mut obs = Vec::new();
    for (name, value) in [
        ("observed", a.observed),
        ("threshold", a.threshold),
        ("baseline", a.baseline),
        ("ratio", a.ratio),
        ("score", a.score),
    ] {
        if let Some(x) = value {
            obs.push(json!({"name": name, "type_id": 99, "type": "Other", "value": round(x).to_string()}));
        }
    }
    let c = &a.context;
    obs.push(json!({"name": "subject_ip", "type_id": 2, "type": "IP Address", "value": a.subject.to_string()}));
    for (name, value) in [
        ("subject_class", c.class.map(str::to_string)),
        ("subject_network", c.network.clone()),
        ("subject_vnet", c.vnet.clone()),
        ("subject_subnet", c.subnet.clone()),
    ] {
        if let Some(x) = value {
            obs.push(json!({"name": name, "type_id": 99, "type": "Other", "value": x}));
        }
    }
    m.insert("observables".into(), Value::Array(obs));
    if !c.feeds.is_empty() {
        m.insert(
            "unmapped".into(),
            json!({"nsgflow": {"threat": {"feeds": c.feeds, "category": c.feed_category, "ip": c.indicator.map(|i| i.to_string())}}}),
        );
    }
    v
}

/// Appends `v` as one compact JSON object.
pub fn write(out: &mut Vec<u8>, v: &Value) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(out, v);
}
