//! The query pack (`queries/`): every scenario has a query for every back end, each query
//! reads exactly the fields its manifest entry lists (checked both ways against the query
//! text), and those fields are in the named encoder's real output for the fixtures, under
//! that name and with that JSON type. The dashboards are generated from the manifest and
//! the query files (`NSGFLOW_BLESS=1` rewrites them; otherwise they must match), the Kibana
//! saved objects carry what Kibana's import needs, the Splunk add-on's `.conf` files parse
//! as stanzas with known keys, and the Elasticsearch template maps every field nsgflow's
//! ECS encoder writes with a type that fits.

use std::collections::{BTreeMap, BTreeSet};

use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_tests::{
    clickhouse_tables, enrichment_config, fixture, golden_fixtures, queries_dir, run_text_with,
    ENRICHED_FIXTURES,
};
use serde_json::{json, Value};

/// The back ends, their folder and query file extension, in manifest order.
const BACKENDS: [(&str, &str); 4] = [
    ("loki", "logql"),
    ("elasticsearch", "esql"),
    ("splunk", "spl"),
    ("clickhouse", "sql"),
];

/// The alert record of issue 9 (flat and Splunk field names, JSON types): what
/// `needs: detection` queries are checked against until the encoders emit alerts.
const ALERT_FIELDS: [(&str, &str); 18] = [
    ("kind", "string"),
    ("detector", "string"),
    ("severity", "string"),
    ("summary", "string"),
    ("window_start", "string"),
    ("window_end", "string"),
    ("src_ip", "string"),
    ("dst_ip", "string"),
    ("dst_port", "number"),
    ("protocol", "string"),
    ("observed", "number"),
    ("threshold", "number"),
    ("baseline", "number"),
    ("ratio", "number"),
    ("count", "number"),
    ("first_seen", "string"),
    ("last_seen", "string"),
    ("evidence", "array"),
];
/// The ECS alert fields issue 9 names (plus the ECS basics every document has).
const ECS_ALERT_FIELDS: [(&str, &str); 6] = [
    ("@timestamp", "string"),
    ("event.kind", "string"),
    ("rule.name", "string"),
    ("source.ip", "string"),
    ("destination.ip", "string"),
    ("destination.port", "number"),
];

fn read(rel: &str) -> String {
    let path = queries_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest() -> Value {
    serde_saphyr::from_str(&read("manifest.yaml")).expect("queries/manifest.yaml parses")
}

fn scenarios(m: &Value) -> &Vec<Value> {
    m["scenarios"].as_array().expect("scenarios list")
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// Leaf paths (objects joined with `.`, arrays of objects walked) with their JSON types.
fn typed_paths(v: &Value, prefix: &str, out: &mut BTreeMap<String, BTreeSet<&'static str>>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                typed_paths(v, &p, out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for i in items {
                typed_paths(i, prefix, out);
            }
        }
        _ => {
            out.entry(prefix.to_string())
                .or_default()
                .insert(json_type(v));
        }
    }
}

/// Every field an encoder writes for every fixture, plainly and with the enrichment config
/// (feeds, topology, service tags), with the JSON types seen. Splunk: the HEC `event`.
fn encoder_fields(format: Format) -> BTreeMap<String, BTreeSet<&'static str>> {
    let mut out = BTreeMap::new();
    let mut runs = Vec::new();
    for f in golden_fixtures() {
        let text = std::fs::read_to_string(&f).unwrap();
        runs.push(run_text_with("fixture", &text, format, &Config::default()));
    }
    let enriched = enrichment_config();
    for name in ENRICHED_FIXTURES {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        runs.push(run_text_with(name, &text, format, &enriched));
    }
    for run in runs {
        for e in run.events() {
            let e = if format == Format::Splunk {
                e["event"].clone()
            } else {
                e
            };
            typed_paths(&e, "", &mut out);
        }
    }
    assert!(out.len() > 20, "{format:?}: {} fields", out.len());
    out
}

/// The identifiers of a query (field names included), comments left out.
fn tokens(text: &str, backend: &str) -> BTreeSet<String> {
    let text: String = if backend == "clickhouse" {
        text.lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        text.to_string()
    };
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '@'))
        .map(|t| t.trim_matches('.').to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The ClickHouse columns an ALIAS column of the table reads (`src_addr` reads `src_ip`).
fn clickhouse_aliases() -> BTreeMap<String, Vec<String>> {
    let schema = read("clickhouse/schema.sql");
    let mut out = BTreeMap::new();
    for line in schema.lines() {
        let line = line.trim();
        if let Some((name, rest)) = line.split_once(' ') {
            if let Some((_, expr)) = rest.split_once(" ALIAS ") {
                let reads = tokens(expr, "clickhouse").into_iter().collect();
                out.insert(name.to_string(), reads);
            }
        }
    }
    assert!(out.contains_key("src_addr"), "{out:?}");
    out
}

/// The column names of the ClickHouse schema (flows, rollup, alerts).
fn clickhouse_columns() -> BTreeSet<String> {
    let tables = clickhouse_tables(&read("clickhouse/schema.sql"));
    assert_eq!(tables.len(), 3, "{tables:?}");
    tables.into_values().flatten().collect()
}

#[test]
fn every_scenario_has_a_query_for_every_back_end() {
    let m = manifest();
    let ids: Vec<&str> = scenarios(&m)
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    // The questions of issue 14, each a scenario.
    for id in [
        "vm_ports",
        "between_hosts",
        "top_denied",
        "fanout",
        "by_l7",
        "malicious",
        "deny_burst",
        "port_deviation",
        "top_talkers",
        "top_conversations",
        "rule_hits",
        "exposed_ports",
        "flow_type",
        "geography",
        "alerts",
    ] {
        assert!(ids.contains(&id), "scenario {id} missing from the manifest");
    }
    for s in scenarios(&m) {
        let id = s["id"].as_str().unwrap();
        for (backend, ext) in BACKENDS {
            let q = &s["queries"][backend];
            assert_eq!(
                q["file"].as_str(),
                Some(format!("{backend}/{id}.{ext}").as_str()),
                "{id}: {backend} file"
            );
            assert!(!read(q["file"].as_str().unwrap()).trim().is_empty());
        }
    }
    // And no query file is left out of the manifest.
    for (backend, ext) in BACKENDS {
        for e in std::fs::read_dir(queries_dir().join(backend)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == ext) {
                let stem = p.file_stem().unwrap().to_str().unwrap();
                assert!(
                    stem == "schema" || ids.contains(&stem),
                    "{} is in no manifest entry",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn manifest_fields_match_the_queries_and_the_encoders_output() {
    let m = manifest();
    let outputs: BTreeMap<&str, BTreeMap<String, BTreeSet<&'static str>>> = [
        ("flat", encoder_fields(Format::Flat)),
        ("ecs", encoder_fields(Format::Ecs)),
        ("splunk", encoder_fields(Format::Splunk)),
    ]
    .into_iter()
    .collect();
    let aliases = clickhouse_aliases();
    let columns = clickhouse_columns();
    let mut checked = 0;
    for s in scenarios(&m) {
        let detection = s["needs"] == "detection";
        for (backend, _) in BACKENDS {
            let q = &s["queries"][backend];
            let file = q["file"].as_str().unwrap();
            let encoder = q["encoder"].as_str().unwrap();
            let fields: BTreeMap<String, String> = q["fields"]
                .as_object()
                .unwrap_or_else(|| panic!("{file}: fields"))
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            assert!(!fields.is_empty(), "{file}: reads no field");
            let text = read(file);
            let mut toks = tokens(&text, backend);
            if backend == "clickhouse" {
                for (alias, reads) in &aliases {
                    if toks.contains(alias) {
                        toks.extend(reads.iter().cloned());
                    }
                }
            }
            // What the query may read: the encoder's fields, or the alert's.
            let known: BTreeMap<String, BTreeSet<&str>> = if detection {
                let list: &[(&str, &str)] = if encoder == "ecs" {
                    &ECS_ALERT_FIELDS
                } else {
                    &ALERT_FIELDS
                };
                list.iter()
                    .map(|(f, t)| (f.to_string(), BTreeSet::from([*t])))
                    .collect()
            } else {
                outputs[encoder].clone()
            };
            // Listed => in the text.
            for f in fields.keys() {
                assert!(
                    toks.contains(f),
                    "{file}: manifest lists `{f}`, the query does not read it"
                );
            }
            // In the text => listed (so the manifest cannot drift).
            for t in &toks {
                if known.contains_key(t) {
                    assert!(
                        fields.contains_key(t),
                        "{file}: reads `{t}`, which its manifest entry does not list"
                    );
                }
            }
            // Listed => the encoder writes it, under that name, with that JSON type only.
            for (f, ty) in &fields {
                let seen = known.get(f).unwrap_or_else(|| {
                    panic!(
                        "{file}: `{f}` is not in the {encoder} output{}",
                        if detection { " (issue 9 alert)" } else { "" }
                    )
                });
                assert_eq!(
                    seen,
                    &BTreeSet::from([ty.as_str()]),
                    "{file}: `{f}` is {seen:?} in the {encoder} output, the manifest says {ty}"
                );
                if backend == "clickhouse" {
                    assert!(
                        columns.contains(f),
                        "{file}: `{f}` is no column of schema.sql"
                    );
                }
                checked += 1;
            }
        }
    }
    if scenarios(&m).iter().any(|s| s["needs"] == "detection") {
        println!(
            "note: `needs: detection` queries are checked against issue 9's alert fields; \
             check them against the encoders' alert output once detection lands"
        );
    }
    assert!(checked > 200, "{checked} fields checked");
}

/// Every ECS field nsgflow writes is mapped by the component template (explicitly or by a
/// dynamic template), with a type that fits its JSON values.
#[test]
fn elasticsearch_template_maps_every_ecs_field() {
    let comp: Value = serde_json::from_str(&read("elasticsearch/component-template.json"))
        .expect("component template is JSON");
    let idx: Value =
        serde_json::from_str(&read("elasticsearch/index-template.json")).expect("index template");
    // Flows (logs-nsgflow-default) and alerts (logs-nsgflow.alert-default).
    assert_eq!(
        idx["index_patterns"],
        json!(["logs-nsgflow-*", "logs-nsgflow.alert-*"])
    );
    assert!(idx["data_stream"].is_object(), "a data stream template");
    assert!(idx["composed_of"]
        .as_array()
        .unwrap()
        .contains(&json!("nsgflow@mappings")));
    let mappings = &comp["template"]["mappings"];
    let mut fields = encoder_fields(Format::Ecs);
    // The aggregates' ECS documents go to the same data stream.
    let enriched = {
        let mut c = enrichment_config();
        c.aggregate.enabled = true;
        c
    };
    for name in ENRICHED_FIXTURES {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        for e in run_text_with(name, &text, Format::Ecs, &enriched).events() {
            typed_paths(&e, "", &mut fields);
        }
    }
    for (path, types) in &fields {
        let mut node = &mappings["properties"];
        let mut mapped = None;
        for (i, part) in path.split('.').enumerate() {
            let last = i == path.split('.').count() - 1;
            let n = &node[part];
            if n.is_null() {
                break;
            }
            if last {
                mapped = n["type"].as_str();
            } else {
                node = &n["properties"];
            }
        }
        let ty = match mapped {
            Some(t) => t.to_string(),
            None => {
                let dynamic = (path.starts_with("nsgflow.") || path.starts_with("azure."))
                    && types.iter().all(|t| *t == "string" || *t == "array");
                assert!(dynamic, "{path} ({types:?}) is not mapped");
                "keyword".into()
            }
        };
        let fits = types.iter().all(|t| match *t {
            "string" | "array" => ["keyword", "ip", "date"].contains(&ty.as_str()),
            "number" => ["long", "integer", "double", "float"].contains(&ty.as_str()),
            "bool" => ty == "boolean",
            _ => false,
        });
        assert!(fits, "{path}: {types:?} mapped as {ty}");
        if path.ends_with(".ip") {
            assert_eq!(ty, "ip", "{path}");
        }
        if path.ends_with(".bytes") || path.ends_with(".packets") {
            assert_eq!(ty, "long", "{path}");
        }
    }
}

/// A Splunk `.conf` file: stanzas of `key = value`, with `#` comments.
fn conf(rel: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (n, line) in read(rel).lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            out.push((name.to_string(), Vec::new()));
            continue;
        }
        let (k, v) = t
            .split_once(" = ")
            .unwrap_or_else(|| panic!("{rel}:{}: not `key = value`: {t}", n + 1));
        let stanza = out
            .last_mut()
            .unwrap_or_else(|| panic!("{rel}:{}: key before any stanza", n + 1));
        stanza.1.push((k.trim().to_string(), v.trim().to_string()));
    }
    out
}

#[test]
fn splunk_add_on_parses_and_feeds_cim_network_traffic() {
    let props_keys = [
        "category",
        "description",
        "pulldown_type",
        "KV_MODE",
        "SHOULD_LINEMERGE",
        "LINE_BREAKER",
        "TRUNCATE",
        "TIME_PREFIX",
        "TIME_FORMAT",
        "MAX_TIMESTAMP_LOOKAHEAD",
        "TZ",
        "rename",
    ];
    let props = conf("splunk/TA-nsgflow/default/props.conf");
    let names: Vec<&str> = props.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        ["nsgflow:flow", "azure:network:flow", "nsgflow:alert"]
    );
    for (stanza, kv) in &props {
        for (k, _) in kv {
            let class = k.starts_with("FIELDALIAS-") || k.starts_with("EVAL-");
            assert!(
                class || props_keys.contains(&k.as_str()),
                "props.conf [{stanza}]: unknown key {k}"
            );
        }
    }
    // The default sourcetype of the encoder is searched as nsgflow:flow.
    let default_st = run_text_with(
        "x",
        &std::fs::read_to_string(fixture("nsg-v2-blob.json")).unwrap(),
        Format::Splunk,
        &Config::default(),
    )
    .events()[0]["sourcetype"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(props
        .iter()
        .any(|(s, kv)| *s == default_st && kv.contains(&("rename".into(), "nsgflow:flow".into()))));

    let eventtypes = conf("splunk/TA-nsgflow/default/eventtypes.conf");
    for (stanza, kv) in &eventtypes {
        for (k, _) in kv {
            assert!(
                ["search", "description", "priority", "color", "disabled"].contains(&k.as_str()),
                "eventtypes.conf [{stanza}]: {k}"
            );
        }
    }
    let search_of = |name: &str| {
        eventtypes
            .iter()
            .find(|(s, _)| s == name)
            .and_then(|(_, kv)| kv.iter().find(|(k, _)| k == "search"))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("eventtype {name}"))
    };
    assert_eq!(search_of("nsgflow_traffic"), "sourcetype=\"nsgflow:flow\"");
    assert_eq!(search_of("nsgflow_alert"), "sourcetype=\"nsgflow:alert\"");

    // CIM: Network_Traffic's All_Traffic constraint is tag=network tag=communicate;
    // Intrusion_Detection's is tag=ids tag=attack.
    let tags = conf("splunk/TA-nsgflow/default/tags.conf");
    let tagged = |stanza: &str, tag: &str| {
        tags.iter()
            .any(|(s, kv)| s == stanza && kv.contains(&(tag.into(), "enabled".into())))
    };
    for tag in ["network", "communicate"] {
        assert!(tagged("eventtype=nsgflow_traffic", tag), "{tag}");
    }
    for tag in ["ids", "attack"] {
        assert!(tagged("eventtype=nsgflow_alert", tag), "{tag}");
    }
    let app = conf("splunk/TA-nsgflow/default/app.conf");
    assert!(app
        .iter()
        .any(|(s, kv)| s == "package" && kv.contains(&("id".into(), "TA-nsgflow".into()))));
    // Every SPL flow search goes through the eventtype, so the TA's tags apply.
    let m = manifest();
    for s in scenarios(&m) {
        let text = read(s["queries"]["splunk"]["file"].as_str().unwrap());
        let base = if s["needs"] == "detection" {
            "sourcetype=\"nsgflow:alert\""
        } else {
            "eventtype=nsgflow_traffic"
        };
        assert!(text.starts_with(base), "{}: starts with {base}", s["id"]);
    }
}

// ---------------------------------------------------------------------------------------
// Dashboards, generated from the manifest and the query files.

/// The query text as a dashboard panel holds it. ClickHouse: the query parameters become
/// the Grafana ClickHouse data source's macros and dashboard variables.
fn panel_query(backend: &str, text: &str) -> String {
    let text = text.trim_end().to_string();
    match backend {
        "clickhouse" => {
            let mut t = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            for (from, to) in [
                ("{from:DateTime64(3)}", "$__fromTime"),
                ("{to:DateTime64(3)}", "$__toTime"),
                ("{vm:String}", "'${vm}'"),
                ("{host_a:String}", "'${host_a}'"),
                ("{host_b:String}", "'${host_b}'"),
            ] {
                t = t.replace(from, to);
            }
            t
        }
        // Kibana applies the dashboard's time range and filters to ES|QL panels; a line
        // with a `?param` is left out there (set the VM or hosts with the filter bar).
        "elasticsearch" => text
            .lines()
            .filter(|l| !l.contains('?'))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => text,
    }
}

fn grid(i: usize, w: u64, h: u64) -> Value {
    json!({"h": h, "w": w, "x": (i % 2) as u64 * 12, "y": (i / 2) as u64 * h})
}

fn grafana_variables(datasource_type: &str, label: &str) -> Value {
    json!({"list": [
        {"name": "datasource", "label": label, "type": "datasource", "query": datasource_type,
         "current": {}, "hide": 0, "refresh": 1, "options": []},
        {"name": "vm", "label": "VM address", "type": "textbox", "query": "10.40.3.4",
         "current": {"text": "10.40.3.4", "value": "10.40.3.4"}, "hide": 0, "options": []},
        {"name": "host_a", "label": "Host A", "type": "textbox", "query": "10.40.2.4",
         "current": {"text": "10.40.2.4", "value": "10.40.2.4"}, "hide": 0, "options": []},
        {"name": "host_b", "label": "Host B", "type": "textbox", "query": "10.40.3.4",
         "current": {"text": "10.40.3.4", "value": "10.40.3.4"}, "hide": 0, "options": []}
    ]})
}

fn grafana_dashboard(m: &Value, backend: &str) -> Value {
    let (ds_type, uid, title) = match backend {
        "loki" => ("loki", "nsgflow-loki", "nsgflow: Azure flow logs (Loki)"),
        _ => (
            "grafana-clickhouse-datasource",
            "nsgflow-clickhouse",
            "nsgflow: Azure flow logs (ClickHouse)",
        ),
    };
    let ds = json!({"type": ds_type, "uid": "${datasource}"});
    let mut panels = Vec::new();
    for (i, s) in scenarios(m).iter().enumerate() {
        let q = &s["queries"][backend];
        let text = panel_query(backend, &read(q["file"].as_str().unwrap()));
        let kind = s["panel"].as_str().unwrap();
        let metric = backend == "loki" && !text.starts_with('{');
        let (ptype, target) = if backend == "loki" {
            let instant = metric && kind == "table";
            let ptype = if !metric {
                "logs"
            } else if kind == "table" {
                "table"
            } else {
                "timeseries"
            };
            (
                ptype,
                json!({"refId": "A", "datasource": ds, "expr": text, "queryType": if instant { "instant" } else { "range" },
                       "instant": instant, "range": !instant, "legendFormat": ""}),
            )
        } else {
            let ts = kind == "timeseries";
            (
                if ts { "timeseries" } else { "table" },
                json!({"refId": "A", "datasource": ds, "editorType": "sql", "rawSql": text,
                       "format": if ts { 0 } else { 1 }, "queryType": if ts { "timeseries" } else { "table" }}),
            )
        };
        let mut panel = json!({
            "id": i + 1,
            "type": ptype,
            "title": s["title"],
            "description": format!("{} (queries/{})", s["question"].as_str().unwrap(), q["file"].as_str().unwrap()),
            "datasource": ds,
            "gridPos": grid(i, 12, 9),
            "targets": [target],
            "fieldConfig": {"defaults": {}, "overrides": []},
            "options": {}
        });
        if backend == "loki" && ptype == "table" {
            panel["transformations"] = json!([{"id": "labelsToFields", "options": {}}]);
        }
        panels.push(panel);
    }
    json!({
        "uid": uid,
        "title": title,
        "description": "nsgflow query pack: one panel per scenario (queries/manifest.yaml). Generated by tests/queries.rs.",
        "tags": ["nsgflow", "azure", "flow-logs"],
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "graphTooltip": 0,
        "time": {"from": "now-24h", "to": "now"},
        "timezone": "utc",
        "refresh": "",
        "templating": grafana_variables(ds_type, if backend == "loki" { "Loki" } else { "ClickHouse" }),
        "annotations": {"list": []},
        "links": [],
        "panels": panels
    })
}

fn kibana_objects(m: &Value) -> Vec<Value> {
    const CORE: &str = "8.17.0";
    let mut objects = Vec::new();
    let mut panels = Vec::new();
    let mut references = Vec::new();
    for (i, s) in scenarios(m).iter().enumerate() {
        let id = s["id"].as_str().unwrap();
        let q = &s["queries"]["elasticsearch"];
        let esql = panel_query("elasticsearch", &read(q["file"].as_str().unwrap()));
        let search_id = format!("nsgflow-{}", id.replace('_', "-"));
        // An ES|QL saved search carries an ad hoc data view of type `esql` (the FROM
        // pattern, with its time field, so the dashboard's time range applies).
        let search_source = json!({
            "query": {"esql": esql},
            "index": {"title": "logs-nsgflow-*", "name": "logs-nsgflow-*", "type": "esql",
                      "timeFieldName": "@timestamp", "sourceFilters": [], "fieldFormats": {},
                      "runtimeFieldMap": {}, "allowNoIndex": false, "allowHidden": false},
            "filter": []
        });
        objects.push(json!({
            "id": search_id,
            "type": "search",
            "attributes": {
                "title": format!("nsgflow: {}", s["title"].as_str().unwrap()),
                "description": s["question"],
                "columns": [],
                "sort": [],
                "isTextBasedQuery": true,
                "usesAdHocDataView": false,
                "timeRestore": false,
                "grid": {},
                "hideChart": false,
                "kibanaSavedObjectMeta": {"searchSourceJSON": search_source.to_string()}
            },
            "references": [],
            "managed": false,
            "coreMigrationVersion": CORE,
            "typeMigrationVersion": "10.5.0"
        }));
        let panel_ref = format!("panel_{i}");
        panels.push(json!({
            "type": "search",
            "gridData": {"x": (i % 2) * 24, "y": (i / 2) * 15, "w": 24, "h": 15, "i": format!("{}", i + 1)},
            "panelIndex": format!("{}", i + 1),
            "embeddableConfig": {},
            "panelRefName": panel_ref,
            "title": s["title"]
        }));
        references.push(json!({"name": panel_ref, "type": "search", "id": search_id}));
    }
    objects.push(json!({
        "id": "nsgflow-overview",
        "type": "dashboard",
        "attributes": {
            "title": "nsgflow: Azure flow logs",
            "description": "One ES|QL panel per scenario of the nsgflow query pack (queries/manifest.yaml). Set the VM or hosts with the filter bar, e.g. destination.ip : 10.40.3.4",
            "panelsJSON": Value::Array(panels).to_string(),
            "optionsJSON": json!({"useMargins": true, "syncColors": false, "syncCursor": true, "syncTooltips": false, "hidePanelTitles": false}).to_string(),
            "timeRestore": true,
            "timeFrom": "now-24h",
            "timeTo": "now",
            "refreshInterval": {"pause": true, "value": 60000},
            "kibanaSavedObjectMeta": {"searchSourceJSON": json!({"query": {"query": "", "language": "kuery"}, "filter": []}).to_string()}
        },
        "references": references,
        "managed": false,
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "10.2.0"
    }));
    objects
}

fn splunk_studio(m: &Value) -> Value {
    let mut data_sources = serde_json::Map::new();
    let mut visualizations = serde_json::Map::new();
    let mut structure = Vec::new();
    for (i, s) in scenarios(m).iter().enumerate() {
        let id = s["id"].as_str().unwrap();
        let spl = read(s["queries"]["splunk"]["file"].as_str().unwrap());
        data_sources.insert(
            format!("ds_{id}"),
            json!({"type": "ds.search", "name": s["title"],
                   "options": {"query": spl.trim_end(),
                               "queryParameters": {"earliest": "$global_time.earliest$", "latest": "$global_time.latest$"}}}),
        );
        let viz = if s["panel"] == "timeseries" {
            "splunk.line"
        } else {
            "splunk.table"
        };
        visualizations.insert(
            format!("viz_{id}"),
            json!({"type": viz, "title": s["title"], "description": s["question"],
                   "dataSources": {"primary": format!("ds_{id}")}}),
        );
        structure.push(json!({"item": format!("viz_{id}"), "type": "block",
            "position": {"x": (i % 2) * 720, "y": (i / 2) * 400, "w": 720, "h": 400}}));
    }
    let text_input = |token: &str, title: &str, value: &str| json!({"type": "input.text", "title": title, "options": {"token": token, "defaultValue": value}});
    json!({
        "title": "nsgflow: Azure flow logs",
        "description": "One panel per scenario of the nsgflow query pack (queries/manifest.yaml); needs TA-nsgflow. Generated by tests/queries.rs.",
        "inputs": {
            "input_time": {"type": "input.timerange", "title": "Time", "options": {"token": "global_time", "defaultValue": "-24h@h,now"}},
            "input_vm": text_input("vm", "VM address", "10.40.3.4"),
            "input_host_a": text_input("host_a", "Host A", "10.40.2.4"),
            "input_host_b": text_input("host_b", "Host B", "10.40.3.4")
        },
        "defaults": {"dataSources": {"ds.search": {"options": {"queryParameters": {"earliest": "$global_time.earliest$", "latest": "$global_time.latest$"}}}}},
        "dataSources": data_sources,
        "visualizations": visualizations,
        "layout": {
            "type": "absolute",
            "options": {"width": 1440, "height": structure.len().div_ceil(2) * 400},
            "globalInputs": ["input_time", "input_vm", "input_host_a", "input_host_b"],
            "structure": structure
        }
    })
}

/// Writes `rel` when blessing, else checks it equals `text`.
fn bless_or_check(rel: &str, text: &str) {
    let path = queries_dir().join(rel);
    if std::env::var_os("NSGFLOW_BLESS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == text,
        "{rel} is not what the manifest and the query files give: regenerate it with \
         NSGFLOW_BLESS=1 cargo test -p nsgflow-tests --test queries, and review the diff"
    );
}

#[test]
fn dashboards_are_generated_from_the_queries() {
    let m = manifest();
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap() + "\n";
    bless_or_check(
        "loki/grafana-dashboard.json",
        &pretty(&grafana_dashboard(&m, "loki")),
    );
    bless_or_check(
        "clickhouse/grafana-dashboard.json",
        &pretty(&grafana_dashboard(&m, "clickhouse")),
    );
    bless_or_check("splunk/dashboard-studio.json", &pretty(&splunk_studio(&m)));
    let ndjson: String = kibana_objects(&m)
        .iter()
        .map(|o| o.to_string() + "\n")
        .collect();
    bless_or_check("elasticsearch/kibana-dashboard.ndjson", &ndjson);
}

/// The committed dashboards, read as a user's tool would: they parse, and every scenario
/// has its panel with its query.
#[test]
fn dashboards_parse_and_hold_every_scenario() {
    let m = manifest();
    let n = scenarios(&m).len();
    for backend in ["loki", "clickhouse"] {
        let d: Value = serde_json::from_str(&read(&format!("{backend}/grafana-dashboard.json")))
            .expect("Grafana dashboard JSON");
        assert!(d["schemaVersion"].as_u64().unwrap() >= 36);
        let panels = d["panels"].as_array().unwrap();
        assert_eq!(panels.len(), n);
        for p in panels {
            let t = &p["targets"][0];
            let q = t["expr"].as_str().or(t["rawSql"].as_str()).unwrap();
            assert!(!q.is_empty());
            assert!(!q.contains("{from:"), "{backend}: unreplaced parameter");
        }
    }
    let studio: Value =
        serde_json::from_str(&read("splunk/dashboard-studio.json")).expect("Studio JSON");
    let vizs = studio["visualizations"].as_object().unwrap();
    assert_eq!(vizs.len(), n);
    for v in vizs.values() {
        let ds = v["dataSources"]["primary"].as_str().unwrap();
        assert!(
            studio["dataSources"][ds]["options"]["query"].is_string(),
            "{ds}"
        );
    }
    for item in studio["layout"]["structure"].as_array().unwrap() {
        assert!(vizs.contains_key(item["item"].as_str().unwrap()));
    }
    // Tokens used in the searches have inputs.
    for ds in studio["dataSources"].as_object().unwrap().values() {
        let q = ds["options"]["query"].as_str().unwrap();
        for token in ["vm", "host_a", "host_b"] {
            if q.contains(&format!("${token}$")) {
                let input = format!("input_{token}");
                assert_eq!(studio["inputs"][&input]["options"]["token"], token);
            }
        }
    }

    // Kibana: each line one saved object with what the import API requires (id, type,
    // attributes, references, migration versions), every reference resolving to an object
    // in the file, and the ES|QL saved searches marked as text-based.
    let objects: Vec<Value> = read("elasticsearch/kibana-dashboard.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect();
    let ids: BTreeSet<(String, String)> = objects
        .iter()
        .map(|o| {
            (
                o["type"].as_str().unwrap().to_string(),
                o["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut dashboards = 0;
    for o in &objects {
        for key in [
            "id",
            "type",
            "attributes",
            "references",
            "coreMigrationVersion",
            "typeMigrationVersion",
        ] {
            assert!(!o[key].is_null(), "{}: {key}", o["id"]);
        }
        assert!(["search", "dashboard", "index-pattern"].contains(&o["type"].as_str().unwrap()));
        for r in o["references"].as_array().unwrap() {
            let target = (
                r["type"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
            );
            assert!(ids.contains(&target), "{}: dangling reference {r}", o["id"]);
        }
        let meta: Value = serde_json::from_str(
            o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]
                .as_str()
                .unwrap(),
        )
        .expect("searchSourceJSON is JSON text");
        if o["type"] == "search" {
            assert_eq!(o["attributes"]["isTextBasedQuery"], true);
            let esql = meta["query"]["esql"].as_str().unwrap();
            assert!(esql.starts_with("FROM logs-nsgflow"), "{esql}");
            assert_eq!(meta["index"]["type"], "esql");
            assert_eq!(meta["index"]["timeFieldName"], "@timestamp");
        }
        if o["type"] == "dashboard" {
            dashboards += 1;
            let panels: Value =
                serde_json::from_str(o["attributes"]["panelsJSON"].as_str().unwrap()).unwrap();
            let refs: BTreeSet<&str> = o["references"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap())
                .collect();
            assert_eq!(panels.as_array().unwrap().len(), n);
            for p in panels.as_array().unwrap() {
                assert!(refs.contains(p["panelRefName"].as_str().unwrap()), "{p}");
            }
        }
    }
    assert_eq!(dashboards, 1);
}

/// The user guide's "Questions and answers" chapter (`docs/src/queries.md`, moved there from
/// the README) links every scenario's query in every back end, and every link there points
/// at a file that exists.
#[test]
fn the_guide_links_every_scenario_in_every_back_end() {
    let chapter = queries_dir().join("../docs/src");
    let section = std::fs::read_to_string(chapter.join("queries.md")).expect("docs/src/queries.md");
    assert!(section.starts_with("# Questions and answers"));
    let m = manifest();
    for s in scenarios(&m) {
        for (backend, _) in BACKENDS {
            let file = s["queries"][backend]["file"].as_str().unwrap();
            assert!(
                section.contains(&format!("(../../queries/{file})")),
                "docs/src/queries.md: no link to queries/{file}"
            );
        }
    }
    for link in section.split("](").skip(1) {
        let target = &link[..link.find(')').unwrap()];
        if !target.starts_with("http") {
            assert!(
                chapter.join(target).exists(),
                "docs/src/queries.md links {target}, which does not exist"
            );
        }
    }
}
