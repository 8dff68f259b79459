//! No import cycles between modules, in the library, the binary and the WASM crate.
//!
//! The data path reads top-down (input -> records -> tuples -> enrichment -> aggregation ->
//! encoding -> output); a lower module that imports from a higher one ties the two together and
//! the layering is lost. This test reads the sources, builds the module tree from the `mod`
//! declarations of each crate root, collects every `crate::`, `super::` and `self::` path
//! outside `#[cfg(test)]` modules and comments, and turns each one into an edge between the two
//! sibling modules it crosses (at every depth: `encode -> aggregate` between top-level modules,
//! `aggregate::key -> aggregate::window` inside `aggregate`). A strongly connected component of
//! more than one module is a cycle, and the test names its members and the lines that tie them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nsgflow_tests::tests_dir;

/// One source file: its module path (`["aggregate", "key"]`) and its text.
struct SourceFile {
    module: Vec<String>,
    path: PathBuf,
    text: String,
}

/// The files of one crate, found from its root through `mod name;` declarations.
fn crate_files(root: &Path) -> Vec<SourceFile> {
    let mut files = Vec::new();
    let dir = root.parent().unwrap().to_path_buf();
    collect(root, &dir, Vec::new(), &mut files);
    files
}

fn collect(file: &Path, dir: &Path, module: Vec<String>, out: &mut Vec<SourceFile>) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let code = code_only(&text);
    let children = declared_modules(&code);
    out.push(SourceFile {
        module: module.clone(),
        path: file.to_path_buf(),
        text: code,
    });
    for (name, inline_children) in children {
        let mut child = module.clone();
        child.push(name.clone());
        match inline_children {
            // `mod cli { pub mod tail; }`: the inline module's own text is already part of the
            // parent's; its file children live under `dir/cli/`.
            Some(nested) => {
                let sub = dir.join(&name);
                for n in nested {
                    let mut m = child.clone();
                    m.push(n.clone());
                    let (f, d) = module_file(&sub, &n);
                    collect(&f, &d, m, out);
                }
            }
            None => {
                let (f, d) = module_file(dir, &name);
                collect(&f, &d, child, out);
            }
        }
    }
}

/// `dir/name.rs` (children under `dir/name/`) or `dir/name/mod.rs`.
fn module_file(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let flat = dir.join(format!("{name}.rs"));
    let sub = dir.join(name);
    if flat.exists() {
        (flat, sub)
    } else {
        (sub.join("mod.rs"), sub)
    }
}

/// The text without comments and without `#[cfg(test)] mod ...` blocks (tests may reach
/// anywhere).
fn code_only(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    let mut skip_depth: Option<i64> = None;
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(depth) = skip_depth.as_mut() {
            *depth += brace_balance(line);
            if *depth <= 0 && line.contains('}') {
                skip_depth = None;
            }
            out.push('\n');
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            if let Some(next) = lines.peek() {
                let n = next.trim_start();
                if n.starts_with("mod ") || n.starts_with("pub mod ") {
                    let next = lines.next().unwrap();
                    let depth = brace_balance(next);
                    if depth > 0 {
                        skip_depth = Some(depth);
                    }
                    out.push_str("\n\n");
                    continue;
                }
            }
        }
        if trimmed.starts_with("//") {
            // Kept as an empty line, so line numbers stay those of the file.
            out.push('\n');
            continue;
        }
        let code = match line.find(" // ") {
            Some(at) => &line[..at],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn brace_balance(line: &str) -> i64 {
    line.chars()
        .map(|c| match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        })
        .sum()
}

/// `mod name;` (None) and `mod name { mod a; mod b; }` (Some([a, b])) at the top of a file.
fn declared_modules(code: &str) -> Vec<(String, Option<Vec<String>>)> {
    let mut out = Vec::new();
    let mut inline: Option<(String, Vec<String>, i64)> = None;
    for line in code.lines() {
        let t = line.trim();
        if let Some((_, children, depth)) = inline.as_mut() {
            if let Some(name) = mod_decl(t).filter(|(_, semi)| *semi).map(|(n, _)| n) {
                children.push(name);
            }
            *depth += brace_balance(line);
            if *depth <= 0 {
                let (name, children, _) = inline.take().unwrap();
                out.push((name, Some(children)));
            }
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            continue;
        }
        match mod_decl(t) {
            Some((name, true)) => out.push((name, None)),
            Some((name, false)) => inline = Some((name, Vec::new(), brace_balance(line))),
            None => {}
        }
    }
    out
}

/// `pub(crate) mod name;` -> (name, true); `mod name {` -> (name, false).
fn mod_decl(line: &str) -> Option<(String, bool)> {
    let rest = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub(super) "))
        .or_else(|| line.strip_prefix("pub "))
        .unwrap_or(line);
    let rest = rest.strip_prefix("mod ")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let after = rest[name.len()..].trim();
    if name.is_empty() {
        None
    } else if after.starts_with(';') {
        Some((name, true))
    } else if after.starts_with('{') {
        Some((name, false))
    } else {
        None
    }
}

/// Every absolute module path the code names through `crate::`, `super::` or `self::`.
fn referenced_paths(module: &[String], code: &str) -> Vec<(Vec<String>, usize)> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_ident = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':';
        if !starts_ident {
            i += 1;
            continue;
        }
        let (base, mut j) = if code[i..].starts_with("crate::") {
            (Vec::new(), i + "crate::".len())
        } else if code[i..].starts_with("self::") {
            (module.to_vec(), i + "self::".len())
        } else if code[i..].starts_with("super::") {
            let mut j = i;
            let mut up = 0;
            while code[j..].starts_with("super::") {
                up += 1;
                j += "super::".len();
            }
            let keep = module.len().saturating_sub(up);
            (module[..keep].to_vec(), j)
        } else {
            i += 1;
            continue;
        };
        let line = code[..i].matches('\n').count() + 1;
        let mut paths = Vec::new();
        parse_tree(bytes, &mut j, base, &mut paths);
        out.extend(paths.into_iter().map(|p| (p, line)));
        i = j.max(i + 1);
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A `use` tree or an expression path after its prefix: `a::{b, c::d}` or `a::b::f(`.
fn parse_tree(s: &[u8], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    while *i < s.len() && s[*i].is_ascii_whitespace() {
        *i += 1;
    }
    if *i < s.len() && s[*i] == b'{' {
        *i += 1;
        loop {
            while *i < s.len() && (s[*i].is_ascii_whitespace() || s[*i] == b',') {
                *i += 1;
            }
            if *i >= s.len() || s[*i] == b'}' {
                *i += 1;
                return;
            }
            let before = *i;
            parse_tree(s, i, prefix.clone(), out);
            if *i == before {
                *i += 1;
            }
        }
    }
    let start = *i;
    while *i < s.len() && is_ident(s[*i]) {
        *i += 1;
    }
    if *i == start {
        out.push(prefix);
        return;
    }
    let ident = std::str::from_utf8(&s[start..*i]).unwrap().to_string();
    let mut path = prefix;
    if ident != "self" {
        path.push(ident);
    }
    if s[*i..].starts_with(b"::") {
        *i += 2;
        parse_tree(s, i, path, out);
    } else {
        out.push(path);
    }
}

/// Edges between sibling modules: `(from, to) -> [file:line, ...]`.
type Edges = BTreeMap<(Vec<String>, Vec<String>), Vec<String>>;

fn sibling_edges(files: &[SourceFile]) -> (BTreeSet<Vec<String>>, Edges) {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut edges = Edges::new();
    for f in files {
        for (target, line) in referenced_paths(&f.module, &f.text) {
            // The longest prefix of the target that is a module (the rest names an item).
            let target: Vec<String> = (0..=target.len())
                .rev()
                .map(|n| target[..n].to_vec())
                .find(|p| modules.contains(p))
                .unwrap_or_default();
            let common = f
                .module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common < f.module.len() && common < target.len() {
                let from = f.module[..=common].to_vec();
                let to = target[..=common].to_vec();
                edges
                    .entry((from, to))
                    .or_default()
                    .push(format!("{}:{line}", f.path.display()));
                let at = edges
                    .get_mut(&(f.module[..=common].to_vec(), target[..=common].to_vec()))
                    .unwrap();
                at.dedup();
            }
        }
    }
    (modules, edges)
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(modules: &BTreeSet<Vec<String>>, edges: &Edges) -> Vec<Vec<Vec<String>>> {
    let nodes: Vec<&Vec<String>> = modules.iter().collect();
    let index_of: BTreeMap<&Vec<String>, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut adj = vec![Vec::new(); nodes.len()];
    for (from, to) in edges.keys() {
        if let (Some(&a), Some(&b)) = (index_of.get(from), index_of.get(to)) {
            adj[a].push(b);
        }
    }
    struct Tarjan<'a> {
        adj: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: usize) {
            self.index[v] = Some(self.next);
            self.low[v] = self.next;
            self.next += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            for &w in &self.adj[v] {
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut scc = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack[w] = false;
                    scc.push(w);
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    self.out.push(scc);
                }
            }
        }
    }
    let mut t = Tarjan {
        adj: &adj,
        index: vec![None; nodes.len()],
        low: vec![0; nodes.len()],
        on_stack: vec![false; nodes.len()],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..nodes.len() {
        if t.index[v].is_none() {
            t.visit(v);
        }
    }
    t.out
        .into_iter()
        .map(|scc| {
            let mut names: Vec<Vec<String>> = scc.into_iter().map(|i| nodes[i].clone()).collect();
            names.sort();
            names
        })
        .collect()
}

fn describe(cycles: &[Vec<Vec<String>>], edges: &Edges) -> String {
    let mut msg = String::new();
    for scc in cycles {
        let name = |m: &Vec<String>| m.join("::");
        msg.push_str(&format!(
            "cycle: {}\n",
            scc.iter().map(name).collect::<Vec<_>>().join(", ")
        ));
        for ((from, to), at) in edges {
            if scc.contains(from) && scc.contains(to) {
                msg.push_str(&format!(
                    "  {} -> {}  ({})\n",
                    name(from),
                    name(to),
                    at.join(", ")
                ));
            }
        }
    }
    msg
}

fn repo() -> PathBuf {
    tests_dir().parent().unwrap().to_path_buf()
}

fn assert_acyclic(root: &str, at_least: usize) {
    let files = crate_files(&repo().join(root));
    let (modules, edges) = sibling_edges(&files);
    assert!(
        modules.len() >= at_least,
        "{root}: found only {} modules; is the module discovery broken?",
        modules.len()
    );
    let found = cycles(&modules, &edges);
    assert!(
        found.is_empty(),
        "{root}: import cycles between modules. Move the shared item down to a module both \
         can import, or inject it from above.\n{}",
        describe(&found, &edges)
    );
}

#[test]
fn library_has_no_module_cycles() {
    assert_acyclic("plugin/src/lib.rs", 40);
}

#[test]
fn binary_has_no_module_cycles() {
    assert_acyclic("plugin/src/main.rs", 1);
}

#[test]
fn wasm_crate_has_no_module_cycles() {
    assert_acyclic("wasm/src/lib.rs", 7);
}

#[test]
fn the_reader_sees_the_library_edges() {
    // A test of the test: known downward edges are found, so an empty cycle list means
    // something.
    let files = crate_files(&repo().join("plugin/src/lib.rs"));
    let (_, edges) = sibling_edges(&files);
    let has = |a: &str, b: &str| {
        edges.keys().any(|(f, t)| {
            f == &a.split("::").map(String::from).collect::<Vec<_>>()
                && t == &b.split("::").map(String::from).collect::<Vec<_>>()
        })
    };
    assert!(has("engine", "event"), "engine -> event not seen");
    assert!(has("encode", "aggregate"), "encode -> aggregate not seen");
}

#[test]
fn a_cycle_is_found_and_named() {
    let file = |module: &[&str], text: &str| SourceFile {
        module: module.iter().map(|s| s.to_string()).collect(),
        path: PathBuf::from(module.join("/")),
        text: code_only(text),
    };
    let files = vec![
        file(&[], "pub mod a;\npub mod b;\npub mod c;\n"),
        file(&["a"], "use crate::{b::Thing, c};\n"),
        file(
            &["b"],
            "// use crate::c::Nothing;\nfn f() { super::a::helper(); }\n#[cfg(test)]\nmod tests {\n    use crate::c::X;\n}\n",
        ),
        file(&["c"], "pub mod d;\npub mod e;\n"),
        file(&["c", "d"], "use super::e::E;\n"),
        file(&["c", "e"], "use crate::c::d::D;\n"),
    ];
    let (modules, edges) = sibling_edges(&files);
    let found = cycles(&modules, &edges);
    let mut names: Vec<String> = found
        .iter()
        .map(|scc| {
            scc.iter()
                .map(|m| m.join("::"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    names.sort();
    assert_eq!(names, ["a b", "c::d c::e"]);
    // The comment and the test module add no edge b -> c.
    assert!(!edges.contains_key(&(vec!["b".into()], vec!["c".into()])));
    assert!(describe(&found, &edges).contains("a -> b"));
}
