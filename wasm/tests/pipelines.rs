//! The shipped Fluent Bit pipelines (`pipelines/fluent-bit/`): each config is checked for
//! what makes it run (every variable defined, files and functions that exist, the WASM
//! heap set, json event format), and the in_exec_wasi layout it describes (config and
//! checkpoint in NSGFLOW_STATE, blobs in NSGFLOW_DATA) is run under wasmtime.

mod harness;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use harness::{filter_module, root, run_wasi, TempDir};
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_tests::{fixture, run_text_with};
use serde_json::Value;

fn dir() -> PathBuf {
    root().join("pipelines/fluent-bit")
}

fn configs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["exec-wasi/loki", "exec-wasi/es", "exec-wasi/splunk"] {
        out.push(dir().join(sub).join("fluent-bit.yaml"));
    }
    for sink in ["loki", "es", "splunk"] {
        out.push(dir().join("tail-lua-wasm").join(format!("{sink}.yaml")));
    }
    out
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn section<'v>(cfg: &'v Value, name: &str) -> Vec<&'v Value> {
    cfg["pipeline"][name]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

#[test]
fn every_config_is_complete() {
    let exports: BTreeSet<String> = filter_module()
        .exports()
        .map(|e| e.name().to_string())
        .collect();
    let lua = std::fs::read_to_string(dir().join("nsgflow_explode.lua")).unwrap();
    for path in configs() {
        let text = std::fs::read_to_string(&path).unwrap();
        let cfg = load(&path);
        let name = path.display();
        // Every ${VAR} is defined in env:.
        let env = cfg["env"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: no env"));
        for part in text.split("${").skip(1) {
            let var = part.split('}').next().unwrap();
            assert!(env.contains_key(var), "{name}: ${{{var}}} not in env");
        }
        let parsers: Vec<&str> = cfg["parsers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let mut wasm_plugins = 0;
        for plugin in section(&cfg, "inputs")
            .into_iter()
            .chain(section(&cfg, "filters"))
        {
            let kind = plugin["name"].as_str().unwrap();
            if let Some(p) = plugin.get("parser").and_then(Value::as_str) {
                assert!(parsers.contains(&p), "{name}: parser {p} not defined");
            }
            if kind == "exec_wasi" || kind == "wasm" {
                wasm_plugins += 1;
                let heap = plugin["wasm_heap_size"].as_str().unwrap_or_default();
                assert!(
                    heap.ends_with('M'),
                    "{name}: {kind} needs wasm_heap_size of a few MB, has `{heap}`"
                );
                assert!(
                    plugin.get("wasm_stack_size").is_some(),
                    "{name}: {kind} stack"
                );
            }
            if kind == "exec_wasi" {
                assert!(plugin["wasi_path"]
                    .as_str()
                    .unwrap()
                    .contains("NSGFLOW_WASI"));
                assert!(
                    plugin["buf_size"].is_string(),
                    "{name}: buf_size (4096 cuts ECS lines)"
                );
                let nsgflow_yaml = path.parent().unwrap().join("nsgflow.yaml");
                let c = std::fs::read_to_string(&nsgflow_yaml).unwrap();
                Config::from_yaml(&c).unwrap_or_else(|e| panic!("{}: {e}", nsgflow_yaml.display()));
            }
            if kind == "wasm" {
                let f = plugin["function_name"].as_str().unwrap();
                assert!(
                    exports.contains(f),
                    "{name}: {f} is not exported by nsgflow_wasm.wasm"
                );
                assert_eq!(plugin["event_format"], "json", "{name}");
            }
            if kind == "lua" {
                let call = plugin["call"].as_str().unwrap();
                assert!(lua.contains(&format!("function {call}(")), "{name}: {call}");
            }
        }
        assert!(wasm_plugins >= 1, "{name}");
        assert!(!section(&cfg, "outputs").is_empty(), "{name}");
    }
}

#[test]
fn exec_wasi_layout_runs_with_the_shipped_nsgflow_yaml() {
    for (sink, format) in [
        ("loki", Format::Flat),
        ("es", Format::Ecs),
        ("splunk", Format::Splunk),
    ] {
        let shipped = dir().join("exec-wasi").join(sink).join("nsgflow.yaml");
        let yaml = std::fs::read_to_string(&shipped).unwrap();
        let config = Config::from_yaml(&yaml).unwrap();
        assert_eq!(config.format, Some(format), "{sink}");
        // NSGFLOW_STATE holds nsgflow.yaml; NSGFLOW_DATA the synced containers.
        let state = TempDir::new(&format!("state-{sink}"));
        let data = TempDir::new(&format!("data-{sink}"));
        std::fs::copy(&shipped, state.0.join("nsgflow.yaml")).unwrap();
        let layout = fixture("azure-layout");
        let mut expected = Vec::new();
        let (files, _) = nsgflow::input::expand(&[layout.display().to_string()]);
        for f in files {
            let nsgflow::input::Input::File(f) = f else {
                continue;
            };
            let rel = f.strip_prefix(&layout).unwrap();
            let to = data.0.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&f, &to).unwrap();
            let text = std::fs::read_to_string(&f).unwrap();
            expected.extend(run_text_with("x", &text, format, &config).lines);
        }
        assert!(!expected.is_empty());
        let run = run_wasi(&[&state.0, &data.0]);
        assert_eq!(run.exit, 0, "{}", run.stderr);
        assert_eq!(run.lines(), expected, "{sink}");
        assert!(state.0.join(".nsgflow-checkpoint.json").is_file());
        let again = run_wasi(&[&state.0, &data.0]);
        assert!(again.stdout.is_empty(), "second run prints nothing new");
    }
}

/// The env default of a config (`env: NAME: value`).
fn env_default(cfg: &Value, name: &str) -> String {
    cfg["env"][name].as_str().unwrap_or_default().to_string()
}

/// The tail pipelines read `*.ndjson`, and so does in_exec_wasi: by default they must not
/// read the same folder, or each tuple of a file there is shipped twice.
#[test]
fn tail_and_exec_wasi_default_to_different_folders() {
    let exec_data: BTreeSet<String> = ["loki", "es", "splunk"]
        .iter()
        .map(|s| {
            env_default(
                &load(&dir().join("exec-wasi").join(s).join("fluent-bit.yaml")),
                "NSGFLOW_DATA",
            )
        })
        .collect();
    for sink in ["loki", "es", "splunk"] {
        let tail = load(&dir().join("tail-lua-wasm").join(format!("{sink}.yaml")));
        let data = env_default(&tail, "NSGFLOW_DATA");
        assert!(
            !exec_data.iter().any(|e| *e == data
                || e.starts_with(&format!("{data}/"))
                || data.starts_with(&format!("{e}/"))),
            "tail-lua-wasm/{sink}.yaml reads {data}, which the exec-wasi pipelines also read ({exec_data:?})"
        );
    }
}

/// `fluent-bit --dry-run` loads the Lua script: a relative `script` is taken from the
/// config's folder, so the default must name a file that is there in the checkout.
#[test]
fn the_lua_script_a_tail_config_names_exists_beside_it() {
    for sink in ["loki", "es", "splunk"] {
        let path = dir().join("tail-lua-wasm").join(format!("{sink}.yaml"));
        let cfg = load(&path);
        let lua = env_default(&cfg, "NSGFLOW_LUA");
        let resolved = if Path::new(&lua).is_absolute() {
            PathBuf::from(&lua)
        } else {
            path.parent().unwrap().join(&lua)
        };
        assert!(
            resolved.is_file(),
            "{}: NSGFLOW_LUA {lua} is not a file ({}): --dry-run fails",
            path.display(),
            resolved.display()
        );
    }
}

/// Splunk's HEC certificate is self-signed by default: an output that verifies TLS says
/// where to give the CA (`tls.ca_file`), or Fluent Bit drops the chunks.
#[test]
fn splunk_outputs_that_verify_tls_say_how_to_set_the_ca() {
    for path in configs() {
        let text = std::fs::read_to_string(&path).unwrap();
        let cfg = load(&path);
        for out in section(&cfg, "outputs") {
            if out["name"] == "splunk" && out["tls.verify"] == "on" {
                assert!(
                    out.get("tls.ca_file").is_some() || text.contains("tls.ca_file"),
                    "{}: splunk output with tls.verify on and no word of tls.ca_file",
                    path.display()
                );
            }
        }
    }
}

/// filter_wasm's module is a WASI reactor (exports `_initialize`), so WAMR loads it
/// without its "neither a command nor a reactor" warning; the in_exec_wasi program is a
/// command (`_start`) and not both.
#[test]
fn the_filter_module_is_a_reactor_and_the_program_a_command() {
    let filter: BTreeSet<String> = filter_module()
        .exports()
        .map(|e| e.name().to_string())
        .collect();
    assert!(filter.contains("_initialize"), "{filter:?}");
    assert!(!filter.contains("_start"), "{filter:?}");
    let program: BTreeSet<String> = harness::wasi_module()
        .exports()
        .map(|e| e.name().to_string())
        .collect();
    assert!(program.contains("_start"), "{program:?}");
    assert!(!program.contains("_initialize"), "{program:?}");
}

/// The sizes `wasm/README.md` gives are the built files' (within 2%).
#[test]
fn the_wasm_readme_gives_the_built_sizes() {
    let built_dir = harness::build();
    let readme = std::fs::read_to_string(root().join("wasm/README.md")).unwrap();
    for file in ["nsgflow-wasi.wasm", "nsgflow_wasm.wasm"] {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{file}` |")))
            .unwrap_or_else(|| panic!("wasm/README.md has no size row for {file}"));
        let said: u64 = row
            .split('|')
            .nth(2)
            .unwrap()
            .trim()
            .trim_end_matches(" B")
            .replace(',', "")
            .parse()
            .unwrap();
        let built = std::fs::metadata(built_dir.join(file)).unwrap().len();
        let off = (said as f64 - built as f64).abs() / built as f64;
        assert!(
            off < 0.02,
            "wasm/README.md says {file} is {said} B; the build gives {built} B"
        );
    }
}
