//! The user guide (`docs/`, an mdBook) cannot drift from the code:
//!
//! - `docs/src/config-reference.md` is generated from the config structs' doc comments (parsed
//!   with `syn`) and their real `Default` values (read from `Debug`), so a new field, a changed
//!   default or a changed doc comment changes the page; every field must have a doc comment.
//! - `docs/src/troubleshooting.md` ends with every error and warning message nsgflow can print,
//!   extracted from the sources; the hand-written entries above it quote only messages that exist.
//! - every relative link and anchor in the guide and the README resolves, and `SUMMARY.md`
//!   lists every chapter.
//!
//! `NSGFLOW_BLESS=1 cargo test -p nsgflow-tests --test book` rewrites the generated parts;
//! review the diff.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nsgflow_tests::tests_dir;
use proc_macro2::{Delimiter, TokenStream, TokenTree};

fn root() -> PathBuf {
    tests_dir().join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bless() -> bool {
    std::env::var_os("NSGFLOW_BLESS").is_some()
}

/// Compares a generated file (or the generated part of one) with what is on disk, or
/// rewrites it under `NSGFLOW_BLESS=1`.
fn check_generated(path: &Path, expected: &str) {
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    if on_disk == expected {
        return;
    }
    if bless() {
        std::fs::write(path, expected).unwrap();
        eprintln!("rewrote {}", path.display());
        return;
    }
    let first = on_disk
        .lines()
        .zip(expected.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| on_disk.lines().count().min(expected.lines().count()));
    panic!(
        "{} is out of date (first difference at line {}: on disk {:?}, generated {:?}); \
         run NSGFLOW_BLESS=1 cargo test -p nsgflow-tests --test book and review the diff",
        path.display(),
        first + 1,
        on_disk.lines().nth(first),
        expected.lines().nth(first)
    );
}

// ---------------------------------------------------------------------------------------
// The config reference
// ---------------------------------------------------------------------------------------

/// The files holding the config structs: `config.rs`'s `Config` and every struct it reaches.
const CONFIG_FILES: &[&str] = &[
    "plugin/src/config.rs",
    "plugin/src/aggregate/config.rs",
    "plugin/src/blob/config.rs",
    "plugin/src/detect/config.rs",
    "plugin/src/geo/mod.rs",
    "plugin/src/report/model.rs",
    "plugin/src/reputation/config.rs",
    "plugin/src/topology/config.rs",
];

struct Field {
    key: String,
    doc: String,
    ty: syn::Type,
    /// `#[serde(default)]` on the field or its struct.
    has_default: bool,
}

struct Struct {
    doc: String,
    fields: Vec<Field>,
}

fn doc_of(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    // Rustdoc's intra-doc links (`[`super::Aggregator`]`) mean nothing in the guide: keep the code.
    let mut doc = lines.join(" ").trim().to_string();
    while let Some(i) = doc.find("[`") {
        let Some(j) = doc[i..].find("`]").map(|j| i + j) else {
            break;
        };
        if doc[j + 2..].starts_with('(') {
            break;
        }
        doc.replace_range(j + 1..j + 2, "");
        doc.replace_range(i..i + 1, "");
    }
    doc
}

/// `(skip, rename, default)` from `#[serde(...)]`.
fn serde_attrs(attrs: &[syn::Attribute]) -> (bool, Option<String>, bool) {
    let (mut skip, mut rename, mut default) = (false, None, false);
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = a.parse_nested_meta(|m| {
            if m.path.is_ident("skip") {
                skip = true;
            } else if m.path.is_ident("rename") {
                let s: syn::LitStr = m.value()?.parse()?;
                rename = Some(s.value());
            } else if m.path.is_ident("default") {
                default = true;
                if m.input.peek(syn::Token![=]) {
                    let _: syn::LitStr = m.value()?.parse()?;
                }
            } else if m.input.peek(syn::Token![=]) {
                let _: syn::Expr = m.value()?.parse()?;
            }
            Ok(())
        });
    }
    (skip, rename, default)
}

fn config_structs() -> BTreeMap<String, Struct> {
    let mut out = BTreeMap::new();
    for f in CONFIG_FILES {
        let file = syn::parse_file(&read(&root().join(f))).unwrap_or_else(|e| panic!("{f}: {e}"));
        for item in file.items {
            let syn::Item::Struct(s) = item else { continue };
            let derives_deserialize = s.attrs.iter().any(|a| match &a.meta {
                syn::Meta::List(l) if a.path().is_ident("derive") => {
                    l.tokens.to_string().contains("Deserialize")
                }
                _ => false,
            });
            let syn::Fields::Named(named) = &s.fields else {
                continue;
            };
            if !derives_deserialize {
                continue;
            }
            let (_, _, struct_default) = serde_attrs(&s.attrs);
            let fields = named
                .named
                .iter()
                .filter_map(|fld| {
                    let (skip, rename, default) = serde_attrs(&fld.attrs);
                    let name = fld.ident.as_ref().unwrap().to_string();
                    (!skip).then(|| Field {
                        key: rename.unwrap_or(name),
                        doc: doc_of(&fld.attrs),
                        ty: fld.ty.clone(),
                        has_default: default || struct_default,
                    })
                })
                .collect();
            out.insert(
                s.ident.to_string(),
                Struct {
                    doc: doc_of(&s.attrs),
                    fields,
                },
            );
        }
    }
    out
}

/// The last path segment of a type and its generic arguments.
fn segments(ty: &syn::Type) -> (String, Vec<syn::Type>) {
    match ty {
        syn::Type::Path(p) => {
            let seg = p.path.segments.last().unwrap();
            let args = match &seg.arguments {
                syn::PathArguments::AngleBracketed(a) => a
                    .args
                    .iter()
                    .filter_map(|g| match g {
                        syn::GenericArgument::Type(t) => Some(t.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            (seg.ident.to_string(), args)
        }
        _ => (String::new(), Vec::new()),
    }
}

/// A value of `Debug` output: enough of the format to read defaults back.
#[derive(Debug, Clone)]
enum V {
    Atom(String),
    Str(String),
    List(Vec<V>),
    Map(Vec<(V, V)>),
    Tuple(String, Vec<V>),
    Struct(String, Vec<(String, V)>),
}

struct DebugParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl DebugParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn token(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"_.-+:".contains(&self.s[self.i]))
        {
            // `a: b` inside a struct: the colon ends a field name (followed by a space).
            if self.s[self.i] == b':' && self.s.get(self.i + 1) == Some(&b' ') {
                break;
            }
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn items(&mut self, close: u8) -> Vec<V> {
        let mut v = Vec::new();
        while !self.eat(close) {
            v.push(self.value());
            self.eat(b',');
        }
        v
    }
    fn value(&mut self) -> V {
        self.ws();
        match self.s.get(self.i) {
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                while self.s[self.i] != b'"' {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                    }
                    out.push(self.s[self.i] as char);
                    self.i += 1;
                }
                self.i += 1;
                V::Str(out)
            }
            Some(b'[') => {
                self.i += 1;
                V::List(self.items(b']'))
            }
            Some(b'{') => {
                self.i += 1;
                let mut entries = Vec::new();
                while !self.eat(b'}') {
                    let k = self.value();
                    self.eat(b':');
                    let v = self.value();
                    entries.push((k, v));
                    self.eat(b',');
                }
                V::Map(entries)
            }
            _ => {
                let name = self.token();
                if self.eat(b'(') {
                    let items = self.items(b')');
                    V::Tuple(name, items)
                } else if self.eat(b'{') {
                    let mut fields = Vec::new();
                    while !self.eat(b'}') {
                        let k = self.token();
                        self.eat(b':');
                        fields.push((k, self.value()));
                        self.eat(b',');
                    }
                    V::Struct(name, fields)
                } else {
                    V::Atom(name)
                }
            }
        }
    }
}

fn parse_debug(s: &str) -> V {
    DebugParser {
        s: s.as_bytes(),
        i: 0,
    }
    .value()
}

fn duration(secs: u64) -> String {
    if secs > 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// A default value as a reader writes it in YAML; `None` when the `Debug` form says
/// nothing a reader can use (the doc comment says it then).
fn render_default(v: &V) -> Option<String> {
    Some(match v {
        V::Atom(a) if a == "None" => "unset".into(),
        V::Atom(a) => format!("`{a}`"),
        V::Str(s) if s.is_empty() => "unset".into(),
        V::Str(s) => format!("`{s}`"),
        V::List(items) if items.is_empty() => "none".into(),
        V::Map(items) if items.is_empty() => "none".into(),
        V::Tuple(name, items) if name == "Some" && items.len() == 1 => {
            return render_default(&items[0])
        }
        V::Tuple(name, items) if name == "Seconds" && items.len() == 1 => match &items[0] {
            V::Atom(n) => format!("`{}`", duration(n.parse().ok()?)),
            _ => return None,
        },
        V::List(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|i| render_default(i).map(|s| s.trim_matches('`').to_string()))
                .collect();
            format!("`[{}]`", parts?.join(", "))
        }
        _ => return None,
    })
}

fn type_name(ty: &syn::Type, structs: &BTreeMap<String, Struct>) -> String {
    let (name, args) = segments(ty);
    match name.as_str() {
        "Option" => type_name(&args[0], structs),
        "Vec" => format!("list of {}", type_name(&args[0], structs)),
        "BTreeMap" | "HashMap" => format!("map of name to {}", type_name(&args[1], structs)),
        "String" => "string".into(),
        "PathBuf" => "path".into(),
        "bool" => "`true` or `false`".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "integer".into(),
        "f32" | "f64" => "number".into(),
        "Seconds" => "duration (`90`, `90s`, `10m`, `1h`)".into(),
        "Cidr" => "CIDR or address".into(),
        "Format" => "`flat`, `ecs`, `splunk` or `ocsf`".into(),
        "Codec" => "`ndjson`, `json-batch` or `vector-native`".into(),
        "ProgressMode" => "`auto`, `always` or `never`".into(),
        "FeedFormat" => "`list`, `spamhaus`, `feodo-csv`, `ipsum` or `csv`".into(),
        "KeySpec" => "`5tuple`, `traffic-analytics` or a list of fields".into(),
        "GatewayKind" => "`s2s` or `p2s`".into(),
        other if structs.contains_key(other) => "section".into(),
        other => format!("`{other}`"),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// mdBook's heading id (and GitHub's, for the headings used here): lower case, letters,
/// digits, `-` and `_` kept, spaces to `-`, everything else dropped.
fn slug(heading: &str) -> String {
    let text: String = {
        // Drop markdown link syntax and emphasis, keep the text.
        let mut t = heading.to_string();
        while let (Some(a), Some(b)) = (t.find("]("), t.find(')')) {
            if b < a {
                break;
            }
            t.replace_range(a + 1..=b, "");
        }
        t
    };
    text.trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_lowercase().next().unwrap())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

struct Section {
    heading: String,
    doc: String,
    rows: Vec<String>,
}

fn walk(
    structs: &BTreeMap<String, Struct>,
    name: &str,
    path: &str,
    defaults: Option<&V>,
    out: &mut Vec<Section>,
    undocumented: &mut Vec<String>,
) {
    let s = &structs[name];
    let index = out.len();
    out.push(Section {
        heading: path.to_string(),
        doc: s.doc.clone(),
        rows: Vec::new(),
    });
    let default_fields: BTreeMap<&str, &V> = match defaults {
        Some(V::Struct(_, fields)) => fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        _ => BTreeMap::new(),
    };
    let mut rows = Vec::new();
    for f in &s.fields {
        let full = if path.is_empty() {
            f.key.clone()
        } else {
            format!("{path}.{}", f.key)
        };
        if f.doc.is_empty() {
            undocumented.push(format!("{name}.{} ({full})", f.key));
        }
        let (ty_name, args) = segments(&f.ty);
        let inner = match ty_name.as_str() {
            "Vec" | "Option" => segments(&args[0]).0,
            _ => ty_name.clone(),
        };
        let field_default = default_fields
            .iter()
            .find(|(k, _)| **k == f.key || f.key == "type" && **k == "kind")
            .map(|(_, v)| *v);
        let (ty, default) = if structs.contains_key(&inner) {
            let sub = if ty_name == "Vec" {
                format!("{full}[]")
            } else {
                full.clone()
            };
            let link = format!("[`{sub}`](#{})", slug(&sub));
            let ty = if ty_name == "Vec" {
                format!("list of {link}")
            } else {
                format!("section {link}")
            };
            let default = if ty_name == "Vec" {
                field_default.and_then(render_default)
            } else {
                Some("see the section".into())
            };
            walk(
                structs,
                &inner,
                &sub,
                if ty_name == "Vec" {
                    None
                } else {
                    field_default
                },
                out,
                undocumented,
            );
            (ty, default)
        } else {
            let default = match field_default {
                Some(v) => render_default(v),
                None if !f.has_default => Some("required".into()),
                None => None,
            };
            (type_name(&f.ty, structs), default)
        };
        rows.push(format!(
            "| `{}` | {} | {} | {} |",
            f.key,
            ty,
            default.unwrap_or_else(|| "see meaning".into()),
            cell(&f.doc)
        ));
    }
    out[index].rows = rows;
}

fn render_sections(md: &mut String, sections: &[Section], top: &str) {
    for s in sections {
        if s.heading.is_empty() {
            writeln!(md, "## {top}\n").unwrap();
        } else {
            writeln!(md, "## `{}`\n", s.heading).unwrap();
        }
        if !s.doc.is_empty() {
            writeln!(md, "{}\n", s.doc).unwrap();
        }
        md.push_str("| key | type | default | meaning |\n|---|---|---|---|\n");
        for r in &s.rows {
            md.push_str(r);
            md.push('\n');
        }
        md.push('\n');
    }
}

fn config_reference() -> (String, Vec<String>) {
    let structs = config_structs();
    let mut undocumented = Vec::new();
    let mut md = String::from(
        "# Configuration reference\n\n\
         <!-- GENERATED by tests/book.rs from the config structs' doc comments and their Default\n\
         values: do not edit by hand. Change the doc comment in the source, then run\n\
         NSGFLOW_BLESS=1 cargo test -p nsgflow-tests --test book -->\n\n\
         Every key of the YAML file given with `--config` (`nsgflow process`, `tail`, `report`,\n\
         `harden`; the in_exec_wasi module's `nsgflow.yaml`). Flags given on the command line win\n\
         over the file, and the file wins over the environment. Unknown keys and bad values are\n\
         errors that name the file, the key and the line. A complete, commented example is\n\
         [`docs/config.example.yaml`](config-example.md).\n\n\
         This page is generated from the source (`plugin/src/config.rs` and the structs it\n\
         reaches): the *meaning* is the field's doc comment, the *default* is the value the\n\
         code uses when the key is left out.\n\n",
    );
    let defaults = parse_debug(&format!("{:?}", nsgflow::config::Config::default()));
    let mut sections = Vec::new();
    walk(
        &structs,
        "Config",
        "",
        Some(&defaults),
        &mut sections,
        &mut undocumented,
    );
    render_sections(&mut md, &sections, "Top level");
    md.push_str(
        "# Topology file\n\n\
         The file `--topology` (or `topology:`) names: your VNets, subnets and gateway ranges,\n\
         for FlowType and the `*_vnet`, `*_subnet`, `*_region`, `*_gateway` fields. Example:\n\
         [`docs/topology.example.yaml`](config-example.md#topology-file).\n\n",
    );
    let defaults = parse_debug(&format!(
        "{:?}",
        nsgflow::topology::TopologyConfig::default()
    ));
    let mut sections = Vec::new();
    walk(
        &structs,
        "TopologyConfig",
        "",
        Some(&defaults),
        &mut sections,
        &mut undocumented,
    );
    render_sections(&mut md, &sections, "Top level of the topology file");
    (md.trim_end().to_string() + "\n", undocumented)
}

#[test]
fn every_config_field_has_a_doc_comment() {
    let (_, undocumented) = config_reference();
    assert!(
        undocumented.is_empty(),
        "config fields without a doc comment (the config reference shows it as their \
         meaning; say what the field does and its default): {undocumented:#?}"
    );
}

#[test]
fn the_config_reference_is_generated_from_the_source() {
    let (md, _) = config_reference();
    // Every section the generator walks is reached: a field of a config struct is listed.
    for key in [
        "`checkpoint_dir`",
        "`detect.volume_anomaly`",
        "`reputation.feeds[]`",
        "`vnets[].subnets[]`",
    ] {
        assert!(md.contains(key), "the reference lacks {key}");
    }
    // Defaults come from the code: these are the values `Default` gives.
    assert!(md.contains("| `max_keys` | integer | `1000000` |"), "{md}");
    assert!(md.contains("| `window` | duration (`90`, `90s`, `10m`, `1h`) | `5m` |"));
    check_generated(&root().join("docs/src/config-reference.md"), &md);
}

#[test]
fn the_debug_reader_reads_what_derive_debug_writes() {
    let v = parse_debug(r#"A { a: Some(Seconds(600)), b: "x \"y\"", c: [1, 2], d: {}, e: None }"#);
    let V::Struct(name, fields) = v else {
        panic!("{v:?}")
    };
    assert_eq!(name, "A");
    let r: Vec<Option<String>> = fields.iter().map(|(_, v)| render_default(v)).collect();
    assert_eq!(
        r,
        [
            Some("`10m`".to_string()),
            Some("`x \"y\"`".to_string()),
            Some("`[1, 2]`".to_string()),
            Some("none".to_string()),
            Some("unset".to_string())
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Troubleshooting: every message nsgflow can print
// ---------------------------------------------------------------------------------------

/// Identifiers after which a string literal is a message a user sees.
const MESSAGE_CONTEXT: &[&str] = &[
    "Err",
    "map_err",
    "ok_or_else",
    "ok_or",
    "eprintln",
    "eprint",
    "error",
    "warn",
    "warning",
    "message",
    "reject",
    "Error",
    "bail",
];

/// `Err`, `map_err`, `eprintln`... and any name ending in `error` or `warning`
/// (`CheckpointError`, `short_warning`).
fn is_context(ident: &str) -> bool {
    let lower = ident.to_lowercase();
    MESSAGE_CONTEXT.contains(&ident) || lower.ends_with("error") || lower.ends_with("warning")
}

/// Walks a file's tokens: string literals in a message context, attributes (doc comments)
/// skipped.
fn messages_in(stream: TokenStream, in_context: bool, out: &mut Vec<String>) {
    let mut recent: Vec<String> = Vec::new();
    let mut skip_next_group = false;
    for tt in stream {
        let context = in_context || recent.iter().rev().take(6).any(|i| is_context(i));
        match tt {
            TokenTree::Punct(p) => {
                skip_next_group = p.as_char() == '#';
                recent.push(p.as_char().to_string());
            }
            TokenTree::Group(g) => {
                if skip_next_group && g.delimiter() == Delimiter::Bracket {
                    skip_next_group = false;
                    continue;
                }
                skip_next_group = false;
                // A function's body is a message context when its name is one.
                let fn_name = recent
                    .iter()
                    .rposition(|i| i == "fn")
                    .and_then(|p| recent.get(p + 1));
                let body_of_message_fn =
                    g.delimiter() == Delimiter::Brace && fn_name.is_some_and(|n| is_context(n));
                messages_in(g.stream(), context || body_of_message_fn, out);
                recent.push("()".into());
            }
            TokenTree::Ident(i) => {
                skip_next_group = false;
                recent.push(i.to_string());
            }
            TokenTree::Literal(l) => {
                skip_next_group = false;
                let text = l.to_string();
                if context {
                    if let Ok(syn::Lit::Str(s)) = syn::parse_str::<syn::Lit>(&text) {
                        out.push(s.value());
                    }
                }
                recent.push("lit".into());
            }
        }
    }
}

/// A message's placeholders (`{}`, `{e}`, `{:?}`) shown as `…`; `{{`/`}}` as braces.
fn template(message: &str) -> String {
    let mut out = String::new();
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut inner = String::new();
                for d in chars.by_ref() {
                    if d == '}' {
                        break;
                    }
                    inner.push(d);
                }
                // `{}`, `{e}`, `{:?}`, `{n:.2}` are placeholders; `{enabled: true}` in a plain
                // string is text.
                if inner.contains(' ') {
                    out.push('{');
                    out.push_str(&inner);
                    out.push('}');
                } else {
                    out.push('…');
                }
            }
            c => out.push(c),
        }
    }
    out.replace('\n', " ").trim().to_string()
}

/// A literal is a message when it has at least two words of its own (not only a prefix
/// such as `nsgflow: error: {e}`).
fn is_message(t: &str) -> bool {
    let words = t
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.len() > 1 && !["nsgflow", "error", "warning"].contains(w))
        .count();
    words >= 2 && t.contains(' ') && !t.starts_with('<')
}

fn area(file: &str) -> &'static str {
    let f = file.trim_start_matches("plugin/src/");
    match f.split('/').next().unwrap_or(f).trim_end_matches(".rs") {
        "blob" => "Azure Blob Storage (`nsgflow tail`)",
        "checkpoint" => "Local folders and their checkpoint (`process --checkpoint`)",
        "cli" | "main" => "Command line",
        "config" | "net" | "encode" => "Config file and flags",
        "aggregate" => "Aggregation",
        "detect" => "Detection",
        "geo" => "Geography and ASN",
        "harden" => "`nsgflow harden`",
        "record" | "tuple" | "input" | "json" => "Flow-log input: rejected files, records, tuples",
        "reputation" => "Threat feeds",
        "topology" => "Topology and Service Tags",
        "output" | "pipeline" => "Outputs",
        "report" => "`nsgflow report`",
        _ if file.starts_with("wasm/") => "Fluent Bit WASM modules",
        _ => "Other",
    }
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            source_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every message, by area: `(area, [(message template, files)])`.
fn messages() -> BTreeMap<&'static str, BTreeMap<String, BTreeSet<String>>> {
    let root = root();
    let mut files = Vec::new();
    source_files(&root.join("plugin/src"), &mut files);
    source_files(&root.join("wasm/src"), &mut files);
    let mut out: BTreeMap<&str, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for path in files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.contains("/bin/") || rel.contains("/benches/") {
            continue;
        }
        let src = read(&path);
        // Unit tests sit at the end of a file, after `#[cfg(test)]`.
        let src = src
            .find("\n#[cfg(test)]")
            .map_or(src.as_str(), |i| &src[..i]);
        let stream: TokenStream = src
            .parse()
            .unwrap_or_else(|e| panic!("{rel}: cannot tokenize: {e:?}"));
        let mut found = Vec::new();
        messages_in(stream, false, &mut found);
        for m in found {
            let t = template(&m);
            if is_message(&t) {
                out.entry(area(&rel))
                    .or_default()
                    .entry(t)
                    .or_default()
                    .insert(rel.trim_start_matches("plugin/src/").to_string());
            }
        }
    }
    out
}

const CATALOGUE_START: &str = "<!-- GENERATED: every message";
const CATALOGUE_END: &str = "<!-- /GENERATED -->";

fn catalogue() -> String {
    let mut md = String::from(
        "<!-- GENERATED: every message, extracted by tests/book.rs from plugin/src and wasm/src; \
         do not edit by hand, run NSGFLOW_BLESS=1 cargo test -p nsgflow-tests --test book -->\n\n",
    );
    for (area, msgs) in messages() {
        writeln!(md, "### {area}\n").unwrap();
        for (t, files) in msgs {
            let files: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
            writeln!(
                md,
                "- `` {} `` ({})",
                t.replace("``", "` `"),
                files.join(", ")
            )
            .unwrap();
        }
        md.push('\n');
    }
    md.push_str(CATALOGUE_END);
    md
}

#[test]
fn troubleshooting_lists_every_message_the_code_can_print() {
    let path = root().join("docs/src/troubleshooting.md");
    let doc = read(&path);
    let start = doc
        .find(CATALOGUE_START)
        .expect("troubleshooting.md: the generated catalogue's start marker");
    let end = doc
        .find(CATALOGUE_END)
        .expect("troubleshooting.md: the generated catalogue's end marker")
        + CATALOGUE_END.len();
    let expected = format!("{}{}{}", &doc[..start], catalogue(), &doc[end..]);
    // The extraction finds the messages it must (one per kind of source).
    for must in [
        "no storage credentials",
        "not a valid checkpoint",
        "is not a flow log",
        "nothing to read",
        "must be at least 1",
    ] {
        assert!(expected.contains(must), "the catalogue lacks `{must}`");
    }
    check_generated(&path, &expected);
}

/// The hand-written entries quote messages as they are: each `### ` heading of "Common
/// problems" quotes, in backticks, a piece of a message the code prints.
#[test]
fn troubleshooting_entries_quote_real_messages() {
    let doc = read(&root().join("docs/src/troubleshooting.md"));
    let common = &doc[..doc.find(CATALOGUE_START).unwrap()];
    let all: Vec<String> = messages()
        .into_values()
        .flat_map(|m| m.into_keys())
        .collect();
    let mut quoted = 0;
    for line in common.lines().filter(|l| l.starts_with("### ")) {
        for piece in line.split('`').skip(1).step_by(2) {
            quoted += 1;
            let parts: Vec<&str> = piece.split('…').filter(|p| !p.is_empty()).collect();
            assert!(
                all.iter().any(|m| parts.iter().all(|p| m.contains(p))),
                "troubleshooting.md quotes `{piece}`, which no message of the code contains"
            );
        }
    }
    assert!(quoted >= 10, "only {quoted} messages quoted");
}

// ---------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------

/// The lines of a page outside fenced code blocks, its `{{#include FILE[:FROM:]}}`s expanded
/// (as mdBook does before rendering).
fn text_lines(path: &Path) -> Vec<String> {
    lines_in(path.parent().unwrap(), &read(path))
}

/// [`text_lines`] of `text`, a page (or the part of one) in `dir`.
fn lines_in(dir: &Path, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        if let Some(rest) = line.trim().strip_prefix("{{#include ") {
            let spec = rest.trim_end_matches("}}").trim();
            let (file, from) = match spec.split_once(':') {
                Some((f, range)) => (f, range.split(':').next().unwrap().parse().unwrap_or(1)),
                None => (spec, 1usize),
            };
            let included = dir.join(file);
            let text = read(&included);
            let cut: Vec<&str> = text.lines().skip(from - 1).collect();
            out.extend(lines_in(included.parent().unwrap(), &cut.join("\n")));
            continue;
        }
        out.push(line.to_string());
    }
    out
}

/// The prose of a page: [`text_lines`] with inline code spans removed (a `[x](y)` inside
/// code is not a link).
fn prose(path: &Path) -> String {
    let mut out = String::new();
    for line in text_lines(path) {
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                out.push_str(part);
            }
        }
        out.push('\n');
    }
    out
}

/// The ids of a page's headings, as mdBook makes them (a repeated heading gets `-1`, `-2`),
/// and explicit `<a id>` anchors.
fn anchors(path: &Path) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let lines = text_lines(path);
    for line in lines {
        if let Some(h) = line.strip_prefix('#') {
            let h = h.trim_start_matches('#');
            if !h.starts_with(' ') {
                continue;
            }
            let base = slug(&h.replace('`', ""));
            let n = seen.entry(base.clone()).or_insert(0);
            out.insert(if *n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            });
            *n += 1;
        }
        // Explicit anchors: <a id="x"></a>, <a name="x"></a>
        for attr in ["id=\"", "name=\""] {
            if let Some(i) = line.find(&format!("<a {attr}")) {
                let rest = &line[i + 3 + attr.len()..];
                out.insert(rest[..rest.find('"').unwrap()].to_string());
            }
        }
    }
    out
}

fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let end = after.find(')').unwrap_or(after.len());
        out.push(after[..end].trim().to_string());
        rest = &after[end..];
    }
    out
}

fn book_pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages
}

#[test]
fn every_relative_link_and_anchor_in_the_guide_resolves() {
    let mut pages = book_pages();
    pages.push(root().join("README.md"));
    for dir in [
        "pipelines/vector",
        "pipelines/fluent-bit",
        "wasm",
        "vrl-examples",
        "queries",
    ] {
        pages.push(root().join(dir).join("README.md"));
    }
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for link in links(&prose(page)) {
            if link.starts_with("http://")
                || link.starts_with("https://")
                || link.starts_with("mailto:")
            {
                continue;
            }
            checked += 1;
            let (file, anchor) = match link.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (link.as_str(), None),
            };
            let target = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !target.exists() {
                broken.push(format!("{name}: {link}: no such file"));
                continue;
            }
            if let Some(anchor) = anchor {
                let md = if target.is_dir() {
                    target.join("README.md")
                } else {
                    target.clone()
                };
                if md.extension().is_some_and(|e| e == "md") && !anchors(&md).contains(anchor) {
                    broken.push(format!("{name}: {link}: no heading with id `{anchor}`"));
                }
            }
            // mdBook rewrites links to `.md` files to `.html`: one outside the book would break.
            if file.ends_with(".md")
                && page.starts_with(root().join("docs/src"))
                && !target
                    .canonicalize()
                    .unwrap()
                    .starts_with(root().join("docs/src").canonicalize().unwrap())
            {
                broken.push(format!(
                    "{name}: {link}: a .md file outside docs/src (mdBook turns it into .html): link its folder"
                ));
            }
        }
    }
    assert!(checked > 100, "only {checked} links checked");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_summary_lists_every_chapter() {
    let summary = read(&root().join("docs/src/SUMMARY.md"));
    let listed: BTreeSet<String> = links(&summary).into_iter().collect();
    for page in book_pages() {
        let name = page.file_name().unwrap().to_string_lossy().to_string();
        if name != "SUMMARY.md" {
            assert!(listed.contains(&name), "SUMMARY.md does not list {name}");
        }
    }
    for l in &listed {
        assert!(
            root().join("docs/src").join(l).is_file(),
            "SUMMARY.md lists {l}, which does not exist"
        );
    }
}

#[test]
fn slugs_follow_mdbook() {
    assert_eq!(
        slug("End to end, inside Vector and Fluent Bit"),
        "end-to-end-inside-vector-and-fluent-bit"
    );
    assert_eq!(slug("detect.port_scan"), "detectport_scan");
    assert_eq!(slug("ECS 8.x (--format ecs)"), "ecs-8x---format-ecs");
}

/// The README is a landing page (issue 16: at most about 200 lines); the manual is the guide.
#[test]
fn the_readme_is_a_landing_page_that_leads_to_the_guide() {
    let readme = read(&root().join("README.md"));
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines: move the detail into docs/src"
    );
    for chapter in [
        "install.md",
        "config-reference.md",
        "troubleshooting.md",
        "performance.md",
    ] {
        assert!(
            readme.contains(&format!("(docs/src/{chapter}")),
            "README.md does not link docs/src/{chapter}"
        );
    }
    assert!(readme.contains("![") && readme.contains("docs/report.png"));
}
