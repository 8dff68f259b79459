//! The `nsgflow harden` outputs are well formed and say the same as the JSON rules:
//!
//! - Terraform: parsed as HCL (`hcl-rs`; `terraform` itself is on no package registry CI
//!   can reach, and `terraform validate` would need the azurerm provider from the
//!   Terraform registry). Each block is a literal `azurerm_network_security_rule` (no
//!   `count`/`for_each`) with every argument the provider requires, exactly one of each
//!   singular/plural pair, valid values, and the values of the JSON rule.
//! - Bicep: parsed (the subset it is written in: resources, objects, arrays, strings,
//!   integers, symbols) into its JSON equivalent; every `securityRules` resource's
//!   `name` and `properties` equal the JSON rule, `parent` and `dependsOn` name declared
//!   resources. (The Bicep CLI is on NuGet/GitHub only, not on a registry CI can reach.)
//! - az: each command splits as a POSIX shell would (`shlex`), uses only parameters
//!   `az network nsg rule create` has, with valid values, equal to the JSON rule.
//!
//! Over the fixtures (inbound and outbound, every address and port form) and the
//! generated estate.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use nsgflow::config::Config;
use nsgflow::harden::{self, HardenConfig, OutputFormat, Proposal};
use nsgflow_tests::harden_support::{run_paths, run_texts};
use nsgflow_tests::{enrichment_dir, fixture, ENRICHED_FIXTURES};
use serde_json::{json, Value};

fn proposals() -> Vec<(String, Proposal)> {
    let config = Config {
        topology: Some(enrichment_dir().join("topology.yaml")),
        service_tags: Some(enrichment_dir().join("ServiceTags_Public_20260302.json")),
        ..Config::default()
    };
    let mut files: Vec<std::path::PathBuf> = ENRICHED_FIXTURES.iter().map(|f| fixture(f)).collect();
    files.extend(["azure-layout", "records.ndjson", "pretty-escaped.json"].map(fixture));
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let hc = HardenConfig {
        outbound: true,
        ..HardenConfig::default()
    };
    let fixtures = run_paths(&paths, &config, hc).proposal;
    let layout = run_paths(
        &[&fixture("azure-layout")],
        &Config::default(),
        HardenConfig::default(),
    )
    .proposal;

    let scenario =
        nsgflow_tests::estate::Scenario::generate(&nsgflow_tests::estate::ScenarioConfig {
            days: 1,
            inject: false,
            ..Default::default()
        });
    let dir = std::env::temp_dir().join(format!("nsgflow-harden-outputs-{}", std::process::id()));
    let config = Config::load(&scenario.write_config(&dir, "").unwrap()).unwrap();
    let texts: Vec<(String, String)> = scenario
        .blobs
        .iter()
        .map(|b| (b.path.clone(), b.text.clone()))
        .collect();
    let estate = run_texts(
        &texts,
        &config,
        HardenConfig {
            outbound: true,
            ..HardenConfig::default()
        },
    )
    .proposal;
    let _ = std::fs::remove_dir_all(&dir);
    vec![
        ("fixtures".into(), fixtures),
        ("azure-layout".into(), layout),
        ("estate".into(), estate),
    ]
}

/// JSON rules by (NSG, rule name).
fn json_rules(p: &Proposal) -> BTreeMap<(String, String), Value> {
    let doc: Value = serde_json::from_str(&harden::render(p, OutputFormat::Json).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for n in doc["nsgs"].as_array().unwrap() {
        for r in n["rules"].as_array().unwrap() {
            out.insert(
                (
                    n["nsg"].as_str().unwrap().to_string(),
                    r["name"].as_str().unwrap().to_string(),
                ),
                r.clone(),
            );
        }
    }
    assert!(!out.is_empty());
    out
}

const PROTOCOLS: [&str; 6] = ["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"];

fn check_rule_values(r: &Value, what: &str) {
    let prio = r["priority"].as_u64().unwrap_or(0);
    assert!((100..=4096).contains(&prio), "{what}: priority {prio}");
    assert!(
        ["Allow", "Deny"].contains(&r["access"].as_str().unwrap()),
        "{what}"
    );
    assert!(
        ["Inbound", "Outbound"].contains(&r["direction"].as_str().unwrap()),
        "{what}"
    );
    assert!(
        PROTOCOLS.contains(&r["protocol"].as_str().unwrap()),
        "{what}"
    );
    assert!(
        harden::rules::valid_name(r["name"].as_str().unwrap()),
        "{what}"
    );
    assert!(
        r["description"].as_str().unwrap().chars().count() <= 140,
        "{what}"
    );
    for (single, plural) in [
        ("sourceAddressPrefix", "sourceAddressPrefixes"),
        ("sourcePortRange", "sourcePortRanges"),
        ("destinationAddressPrefix", "destinationAddressPrefixes"),
        ("destinationPortRange", "destinationPortRanges"),
    ] {
        let n = usize::from(r.get(single).is_some()) + usize::from(r.get(plural).is_some());
        assert_eq!(n, 1, "{what}: exactly one of {single}/{plural}: {r}");
        if let Some(list) = r.get(plural) {
            assert!(
                list.as_array().unwrap().len() > 1,
                "{what}: a plural with one entry"
            );
        }
    }
}

#[test]
fn json_rules_use_azure_property_names_and_values() {
    for (name, p) in proposals() {
        for ((nsg, rule), r) in json_rules(&p) {
            check_rule_values(&r, &format!("{name} {nsg} {rule}"));
            // The JSON rule is exactly RuleJson's fields.
            let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
            for k in keys {
                assert!(
                    [
                        "name",
                        "priority",
                        "access",
                        "direction",
                        "protocol",
                        "sourceAddressPrefix",
                        "sourceAddressPrefixes",
                        "sourcePortRange",
                        "sourcePortRanges",
                        "destinationAddressPrefix",
                        "destinationAddressPrefixes",
                        "destinationPortRange",
                        "destinationPortRanges",
                        "description"
                    ]
                    .contains(&k),
                    "{k}"
                );
            }
        }
        // Priorities unique per NSG and direction.
        for n in &p.nsgs {
            let mut seen = BTreeSet::new();
            for r in &n.rules {
                assert!(
                    seen.insert((r.direction, r.priority)),
                    "{} {}",
                    n.nsg.name,
                    r.priority
                );
            }
        }
    }
}

/// The HCL expression as JSON (strings, numbers, arrays of strings).
fn hcl_value(e: &hcl::Expression) -> Value {
    match e {
        hcl::Expression::String(s) => json!(s),
        hcl::Expression::Number(n) => json!(n.as_u64().expect("integer")),
        hcl::Expression::Array(items) => Value::Array(items.iter().map(hcl_value).collect()),
        other => panic!("unexpected HCL expression {other:?}"),
    }
}

#[test]
fn terraform_is_literal_azurerm_rules_with_every_required_argument() {
    let required = [
        "name",
        "resource_group_name",
        "network_security_group_name",
        "priority",
        "direction",
        "access",
        "protocol",
    ];
    let pairs = [
        (
            "source_port_range",
            "source_port_ranges",
            "sourcePortRange",
            "sourcePortRanges",
        ),
        (
            "destination_port_range",
            "destination_port_ranges",
            "destinationPortRange",
            "destinationPortRanges",
        ),
        (
            "source_address_prefix",
            "source_address_prefixes",
            "sourceAddressPrefix",
            "sourceAddressPrefixes",
        ),
        (
            "destination_address_prefix",
            "destination_address_prefixes",
            "destinationAddressPrefix",
            "destinationAddressPrefixes",
        ),
    ];
    for (name, p) in proposals() {
        let tf = harden::render(&p, OutputFormat::Terraform).unwrap();
        let body = hcl::parse(&tf).unwrap_or_else(|e| panic!("{name}: HCL does not parse: {e}"));
        assert_eq!(body.attributes().count(), 0);
        let want = json_rules(&p);
        let mut labels = BTreeSet::new();
        let mut count = 0;
        for block in body.blocks() {
            assert_eq!(block.identifier.as_str(), "resource");
            let l: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
            assert_eq!(l[0], "azurerm_network_security_rule");
            assert!(
                labels.insert(l[1].to_string()),
                "{name}: label {} twice",
                l[1]
            );
            assert_eq!(block.body.blocks().count(), 0, "no nested blocks");
            let attrs: HashMap<&str, Value> = block
                .body
                .attributes()
                .map(|a| (a.key.as_str(), hcl_value(&a.expr)))
                .collect();
            for k in ["count", "for_each"] {
                assert!(!attrs.contains_key(k), "{name}: {k}");
            }
            for k in required {
                assert!(
                    attrs.contains_key(k),
                    "{name} {}: missing required `{k}`",
                    l[1]
                );
            }
            let key = (
                attrs["network_security_group_name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                attrs["name"].as_str().unwrap().to_string(),
            );
            let j = &want[&key];
            assert_eq!(attrs["priority"], j["priority"]);
            for (a, b) in [
                ("direction", "direction"),
                ("access", "access"),
                ("protocol", "protocol"),
                ("description", "description"),
            ] {
                assert_eq!(attrs[a], j[b], "{name} {key:?} {a}");
            }
            for (s, pl, js, jp) in pairs {
                let n = usize::from(attrs.contains_key(s)) + usize::from(attrs.contains_key(pl));
                assert_eq!(n, 1, "{name} {key:?}: exactly one of {s}/{pl}");
                assert_eq!(
                    attrs.get(s).or(attrs.get(pl)),
                    j.get(js).or(j.get(jp)),
                    "{name} {key:?} {s}"
                );
            }
            count += 1;
        }
        assert_eq!(count, want.len(), "{name}: one resource per rule");
        // Laid out as terraform fmt does: `=` aligned within each block.
        for block in tf.split("\n\n").filter(|b| b.starts_with("resource")) {
            let cols: BTreeSet<usize> = block.lines().filter_map(|l| l.find(" = ")).collect();
            assert_eq!(cols.len(), 1, "{block}");
        }
    }
}

// ---- Bicep ---------------------------------------------------------------------------

/// A parser for the Bicep subset the renderer writes: `resource SYM 'TYPE' [existing] = {…}`
/// with objects (`key: value` per line), arrays (a value per line), strings, integers and
/// symbols; `//` comments.
struct Bicep<'a> {
    tokens: Vec<Tok<'a>>,
    at: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Str(String),
    Int(u64),
    Punct(char),
}

fn lex(text: &str) -> Vec<Tok<'_>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if text[i..].starts_with("//") {
            i += text[i..].find('\n').unwrap_or(text.len() - i);
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            let mut chars = text[i..].char_indices();
            loop {
                let (k, ch) = chars.next().expect("unterminated Bicep string");
                match ch {
                    '\'' => {
                        i += k + 1;
                        break;
                    }
                    '\\' => {
                        let (_, e) = chars.next().expect("escape");
                        s.push(match e {
                            'n' => '\n',
                            'r' => '\r',
                            't' => '\t',
                            '\\' | '\'' | '$' => e,
                            other => panic!("unknown Bicep escape \\{other}"),
                        });
                    }
                    '$' if text[i + k..].starts_with("${") => {
                        panic!("unescaped interpolation in {s}")
                    }
                    ch => s.push(ch),
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit() {
            let n = text[i..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len() - i);
            out.push(Tok::Int(text[i..i + n].parse().unwrap()));
            i += n;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let n = text[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(text.len() - i);
            out.push(Tok::Word(&text[i..i + n]));
            i += n;
        } else if "{}[]:=".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else {
            panic!("unexpected `{c}` in Bicep at byte {i}");
        }
    }
    out
}

impl<'a> Bicep<'a> {
    fn next(&mut self) -> Tok<'a> {
        let t = self.tokens[self.at].clone();
        self.at += 1;
        t
    }

    fn expect(&mut self, c: char) {
        assert_eq!(self.next(), Tok::Punct(c));
    }

    fn value(&mut self) -> Value {
        match self.next() {
            Tok::Str(s) => json!(s),
            Tok::Int(n) => json!(n),
            Tok::Word("true") => json!(true),
            Tok::Word("false") => json!(false),
            Tok::Word(sym) => json!({ "$symbol": sym }),
            Tok::Punct('{') => {
                let mut m = serde_json::Map::new();
                loop {
                    match self.next() {
                        Tok::Punct('}') => break,
                        Tok::Word(k) => {
                            self.expect(':');
                            let v = self.value();
                            assert!(m.insert(k.to_string(), v).is_none(), "duplicate key {k}");
                        }
                        t => panic!("expected a key, got {t:?}"),
                    }
                }
                Value::Object(m)
            }
            Tok::Punct('[') => {
                let mut v = Vec::new();
                while self.tokens[self.at] != Tok::Punct(']') {
                    v.push(self.value());
                }
                self.at += 1;
                Value::Array(v)
            }
            t => panic!("expected a value, got {t:?}"),
        }
    }

    /// Every resource: symbol -> {type, existing, body}.
    fn resources(text: &'a str) -> Vec<(String, String, bool, Value)> {
        let mut p = Bicep {
            tokens: lex(text),
            at: 0,
        };
        let mut out = Vec::new();
        while p.at < p.tokens.len() {
            assert_eq!(p.next(), Tok::Word("resource"));
            let Tok::Word(sym) = p.next() else {
                panic!("symbol")
            };
            let Tok::Str(ty) = p.next() else {
                panic!("type")
            };
            let existing = p.tokens[p.at] == Tok::Word("existing");
            if existing {
                p.at += 1;
            }
            p.expect('=');
            out.push((sym.to_string(), ty, existing, p.value()));
        }
        out
    }
}

#[test]
fn bicep_is_well_formed_and_equals_the_json_rules() {
    for (name, p) in proposals() {
        // A Bicep file deploys to one resource group: one file per group.
        let groups: BTreeSet<String> = p
            .nsgs
            .iter()
            .filter_map(|n| {
                n.nsg
                    .resource_group
                    .as_ref()
                    .map(|g| g.to_ascii_uppercase())
            })
            .collect();
        if groups.len() > 1 {
            let err = harden::render(&p, OutputFormat::Bicep).unwrap_err();
            assert!(err.contains("--resource-group"), "{err}");
        }
        let want = json_rules(&p);
        let mut seen = 0;
        for g in groups {
            let mut one = p.clone();
            one.nsgs.retain(|n| {
                n.nsg
                    .resource_group
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(&g))
            });
            let text = harden::render(&one, OutputFormat::Bicep).unwrap();
            let resources = Bicep::resources(&text);
            let mut symbols: HashMap<String, String> = HashMap::new();
            for (sym, ty, existing, body) in &resources {
                if *existing {
                    assert!(
                        ty.starts_with("Microsoft.Network/networkSecurityGroups@"),
                        "{ty}"
                    );
                    symbols.insert(sym.clone(), body["name"].as_str().unwrap().to_string());
                    continue;
                }
                assert!(
                    ty.starts_with("Microsoft.Network/networkSecurityGroups/securityRules@"),
                    "{ty}"
                );
                assert_eq!(
                    ty.split('@').nth(1),
                    Some(harden::render_bicep::API_VERSION)
                );
                let parent = body["parent"]["$symbol"].as_str().expect("parent");
                let nsg = symbols
                    .get(parent)
                    .unwrap_or_else(|| panic!("{name}: parent {parent} not declared before"));
                for d in body
                    .get("dependsOn")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let s = d["$symbol"].as_str().unwrap();
                    assert!(
                        symbols.contains_key(s),
                        "{name}: dependsOn {s} not declared before"
                    );
                }
                let mut rule = body["properties"].clone();
                rule.as_object_mut()
                    .unwrap()
                    .insert("name".into(), body["name"].clone());
                let key = (nsg.clone(), body["name"].as_str().unwrap().to_string());
                assert_eq!(&rule, &want[&key], "{name} {key:?}");
                check_rule_values(&rule, &format!("{name} {key:?}"));
                symbols.insert(sym.clone(), key.1);
                seen += 1;
            }
        }
        assert_eq!(seen, want.len(), "{name}: one resource per rule");
    }
}

// ---- az --------------------------------------------------------------------------------

#[test]
fn az_commands_parse_as_shell_and_carry_valid_parameters() {
    // `az network nsg rule create` parameters (az 2.x), and whether each takes a list.
    let params: HashMap<&str, bool> = [
        ("--subscription", false),
        ("--resource-group", false),
        ("--nsg-name", false),
        ("--name", false),
        ("--priority", false),
        ("--access", false),
        ("--direction", false),
        ("--protocol", false),
        ("--source-address-prefixes", true),
        ("--source-port-ranges", true),
        ("--destination-address-prefixes", true),
        ("--destination-port-ranges", true),
        ("--description", false),
    ]
    .into();
    for (name, p) in proposals() {
        let script = harden::render(&p, OutputFormat::Az).unwrap();
        let want = json_rules(&p);
        let mut n = 0;
        for line in script
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && *l != "set -e")
        {
            let words = shlex::split(line).unwrap_or_else(|| panic!("{name}: not shell: {line}"));
            assert_eq!(
                &words[..5],
                ["az", "network", "nsg", "rule", "create"],
                "{line}"
            );
            let mut args: HashMap<String, Vec<String>> = HashMap::new();
            let mut current = None;
            for w in &words[5..] {
                if w.starts_with("--") {
                    assert!(
                        params.contains_key(w.as_str()),
                        "{name}: unknown parameter {w}"
                    );
                    assert!(args.insert(w.clone(), Vec::new()).is_none(), "{w} twice");
                    current = Some(w.clone());
                } else {
                    args.get_mut(current.as_ref().expect("a value after a flag"))
                        .unwrap()
                        .push(w.clone());
                }
            }
            for (flag, vals) in &args {
                assert!(!vals.is_empty(), "{flag} without a value");
                assert!(
                    params[flag.as_str()] || vals.len() == 1,
                    "{flag} takes one value: {vals:?}"
                );
            }
            for f in [
                "--resource-group",
                "--nsg-name",
                "--name",
                "--priority",
                "--access",
                "--direction",
                "--protocol",
                "--source-address-prefixes",
                "--source-port-ranges",
                "--destination-address-prefixes",
                "--destination-port-ranges",
            ] {
                assert!(args.contains_key(f), "{name}: {f} missing in {line}");
            }
            let one = |f: &str| args[f][0].clone();
            let j = &want[&(one("--nsg-name"), one("--name"))];
            assert_eq!(
                json!(one("--priority").parse::<u64>().unwrap()),
                j["priority"]
            );
            for (f, k) in [
                ("--access", "access"),
                ("--direction", "direction"),
                ("--protocol", "protocol"),
                ("--description", "description"),
            ] {
                assert_eq!(json!(one(f)), j[k], "{f}");
            }
            let list = |j: &Value, s: &str, p: &str| -> Vec<String> {
                match (j.get(s), j.get(p)) {
                    (Some(v), None) => vec![v.as_str().unwrap().to_string()],
                    (None, Some(v)) => v
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_str().unwrap().to_string())
                        .collect(),
                    _ => panic!("{j}"),
                }
            };
            assert_eq!(
                args["--source-address-prefixes"],
                list(j, "sourceAddressPrefix", "sourceAddressPrefixes")
            );
            assert_eq!(
                args["--destination-address-prefixes"],
                list(j, "destinationAddressPrefix", "destinationAddressPrefixes")
            );
            assert_eq!(
                args["--source-port-ranges"],
                list(j, "sourcePortRange", "sourcePortRanges")
            );
            assert_eq!(
                args["--destination-port-ranges"],
                list(j, "destinationPortRange", "destinationPortRanges")
            );
            n += 1;
        }
        assert_eq!(n, want.len(), "{name}: one command per rule");
        // The deny-the-rest rules come after every allow of their NSG and direction.
        let lines: Vec<&str> = script.lines().collect();
        for nsg in &p.nsgs {
            for dir in ["Inbound", "Outbound"] {
                let of = |l: &&str| {
                    l.contains(&format!("--nsg-name {} ", nsg.nsg.name))
                        && l.contains(&format!("--direction {dir}"))
                };
                let last_allow = lines
                    .iter()
                    .rposition(|l| of(l) && l.contains("--access Allow"));
                let deny_all = lines.iter().position(|l| of(l) && l.contains("all-else"));
                assert!(
                    last_allow < deny_all || last_allow.is_none(),
                    "{} {dir}",
                    nsg.nsg.name
                );
            }
        }
    }
}
