//! Test harnesses that load the `.wasm` files with wasmtime and call them the way Fluent
//! Bit does (`src/wasm/flb_wasm.c`, `plugins/filter_wasm`, `plugins/in_exec_wasi`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use wasmtime::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::WasiCtxBuilder;
use wasmtime_wasi::preview1::{self, WasiP1Ctx};
use wasmtime_wasi::{DirPerms, FilePerms, I32Exit};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where the `.wasm` files are built: a target directory of their own, so the nested
/// `cargo build` does not wait on the lock of the `cargo test` that runs this.
pub fn wasm_dir() -> PathBuf {
    root().join("target/wasm-harness/wasm32-wasip1/wasm")
}

/// Builds both `.wasm` files once per test process (a no-op when `.ci/run` or an earlier
/// run built them and nothing changed); returns their directory. `NSGFLOW_WASM_DIR`
/// names a directory of already built modules to load instead (e.g. another profile's).
pub fn build() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        if let Some(dir) = std::env::var_os("NSGFLOW_WASM_DIR") {
            return PathBuf::from(dir);
        }
        // A fresh machine has no wasm32-wasip1 standard library yet: add it, as `.ci/run`
        // does (rustup is how this toolchain is installed).
        let installed = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-wasip1"))
            .unwrap_or(true);
        if !installed {
            eprintln!("adding the wasm32-wasip1 target: rustup target add wasm32-wasip1");
            let _ = Command::new("rustup")
                .args(["target", "add", "wasm32-wasip1"])
                .status();
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args([
                "build",
                "-p",
                "nsgflow-wasm",
                "--target",
                "wasm32-wasip1",
                "--profile",
                "wasm",
                "--target-dir",
                "target/wasm-harness",
            ])
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("run cargo to build the .wasm files");
        assert!(
            status.success(),
            "building the .wasm files failed: is the target installed? `rustup target add wasm32-wasip1`"
        );
        wasm_dir()
    })
}

/// The wasmtime engine. Test builds (debug) compile the modules without Cranelift
/// optimisations, which is several times faster to compile and runs the same code; the
/// benchmark (release) uses the default, optimising, configuration.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        if cfg!(debug_assertions) {
            config.cranelift_opt_level(wasmtime::OptLevel::None);
        }
        // `NSGFLOW_WASM_PERFMAP=1`: name the compiled functions for `perf` (/tmp/perf-PID.map).
        if std::env::var_os("NSGFLOW_WASM_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        Engine::new(&config).expect("wasmtime engine")
    })
}

fn module(name: &str) -> Module {
    module_in(build(), name)
}

/// `name` from the directory `dir` (e.g. a build of another commit, for an A/B run of the
/// benchmark: `NSGFLOW_WASM_BASELINE_DIR`).
pub fn module_in(dir: &Path, name: &str) -> Module {
    let path = dir.join(name);
    Module::from_file(engine(), &path).unwrap_or_else(|e| panic!("load {}: {e}", path.display()))
}

/// The filter_wasm module's file name.
pub const FILTER_WASM: &str = "nsgflow_wasm.wasm";
/// The in_exec_wasi program's file name.
pub const WASI_WASM: &str = "nsgflow-wasi.wasm";

pub fn filter_module() -> &'static Module {
    static M: OnceLock<Module> = OnceLock::new();
    M.get_or_init(|| module(FILTER_WASM))
}

pub fn wasi_module() -> &'static Module {
    static M: OnceLock<Module> = OnceLock::new();
    M.get_or_init(|| module(WASI_WASM))
}

/// A new instance of `module` with WASI preview 1: `accessible` preopened under the same
/// paths (what Fluent Bit's `accessible_paths` do), no arguments, no environment.
fn instantiate(
    mut b: WasiCtxBuilder,
    accessible: &[&Path],
    module: &Module,
) -> (Store<WasiP1Ctx>, Instance) {
    for dir in accessible {
        let guest = dir.display().to_string();
        b.preopened_dir(dir, guest, DirPerms::all(), FilePerms::all())
            .expect("preopen");
    }
    let mut store = Store::new(engine(), b.build_p1());
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine());
    preview1::add_to_linker_sync(&mut linker, |c| c).expect("link WASI");
    let instance = linker.instantiate(&mut store, module).expect("instantiate");
    (store, instance)
}

type FilterFn = TypedFunc<(i32, i32, i32, i32, i32, i32), i32>;

/// One filter_wasm instance: instantiated once and called record after record, as Fluent
/// Bit does for the filter's life.
pub struct FilterHarness {
    store: Store<WasiP1Ctx>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    instance: Instance,
    /// WAMR's app heap size (filter_wasm's `wasm_heap_size`): a tag or record that does not
    /// fit is passed as pointer 0, as `wasm_runtime_module_dup_data` fails then.
    pub heap_size: usize,
    /// The last result's pointer (to check it stays valid until the next call).
    pub last_ptr: i32,
}

impl FilterHarness {
    /// With `accessible` preopened as filter_wasm's `accessible_paths` (same path inside).
    pub fn new(accessible: &[&Path]) -> FilterHarness {
        FilterHarness::with_module(filter_module(), accessible)
    }

    /// The same, for another build of the filter module.
    pub fn with_module(module: &Module, accessible: &[&Path]) -> FilterHarness {
        let mut b = WasiCtxBuilder::new();
        b.inherit_stderr();
        let (mut store, instance) = instantiate(b, accessible, module);
        // WAMR runs a reactor's `_initialize` when it instantiates it.
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ()).expect("_initialize");
        }
        let memory = instance
            .get_memory(&mut store, "memory")
            .expect("memory export");
        let alloc = instance
            .get_typed_func(&mut store, "nsgflow_alloc")
            .expect("alloc");
        let free = instance
            .get_typed_func(&mut store, "nsgflow_free")
            .expect("free");
        FilterHarness {
            store,
            memory,
            alloc,
            free,
            instance,
            heap_size: 8 << 20,
            last_ptr: 0,
        }
    }

    /// `wasm_runtime_module_dup_data`: a copy with a NUL after it, or 0 when it does not fit.
    fn dup(&mut self, data: &[u8]) -> i32 {
        if data.len() + 1 > self.heap_size {
            return 0;
        }
        let ptr = self
            .alloc
            .call(&mut self.store, data.len() as i32 + 1)
            .expect("alloc");
        assert_ne!(ptr, 0, "module out of memory");
        let mem = self.memory.data_mut(&mut self.store);
        mem[ptr as usize..ptr as usize + data.len()].copy_from_slice(data);
        mem[ptr as usize + data.len()] = 0;
        ptr
    }

    /// Calls `function` exactly as `flb_wasm_call_function_format_json` does and returns
    /// the NUL-terminated result Fluent Bit would `strdup`, or `None` where Fluent Bit
    /// would drop the record (a trap, or a result pointer outside memory).
    pub fn call(
        &mut self,
        function: &str,
        tag: &str,
        sec: u32,
        nsec: u32,
        record: &[u8],
    ) -> Option<String> {
        let f: FilterFn = self
            .instance
            .get_typed_func(&mut self.store, function)
            .unwrap_or_else(|e| panic!("export {function}: {e}"));
        let tag_ptr = self.dup(tag.as_bytes());
        let rec_ptr = self.dup(record);
        let result = f.call(
            &mut self.store,
            (
                tag_ptr,
                tag.len() as i32,
                sec as i32,
                nsec as i32,
                rec_ptr,
                record.len() as i32,
            ),
        );
        let out = match result {
            Ok(ptr) => {
                self.last_ptr = ptr;
                self.read_cstr(ptr)
            }
            Err(_) => None,
        };
        for (p, len) in [(tag_ptr, tag.len()), (rec_ptr, record.len())] {
            if p != 0 {
                self.free
                    .call(&mut self.store, (p, len as i32 + 1))
                    .expect("free");
            }
        }
        out
    }

    /// The NUL-terminated string at `ptr` (`wasm_runtime_validate_app_str_addr`: it must
    /// lie in memory with its NUL).
    pub fn read_cstr(&self, ptr: i32) -> Option<String> {
        let mem = self.memory.data(&self.store);
        let start = usize::try_from(ptr)
            .ok()
            .filter(|&p| p != 0 && p < mem.len())?;
        let len = mem[start..].iter().position(|&b| b == 0)?;
        // Fluent Bit `strdup`s it: one copy (checked as UTF-8 the quick way first).
        let bytes = &mem[start..start + len];
        Some(match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        })
    }
}

/// What one in_exec_wasi run printed.
pub struct WasiRun {
    pub exit: i32,
    pub stdout: String,
    pub stderr: String,
}

impl WasiRun {
    pub fn lines(&self) -> Vec<String> {
        self.stdout.lines().map(str::to_string).collect()
    }
}

/// One in_exec_wasi run: a fresh instance, `accessible` preopened (same path inside), no
/// arguments and no environment, `main` run, stdout captured.
pub fn run_wasi(accessible: &[&Path]) -> WasiRun {
    run_wasi_module(wasi_module(), accessible)
}

/// The same, for another build of the program.
pub fn run_wasi_module(module: &Module, accessible: &[&Path]) -> WasiRun {
    let stdout = MemoryOutputPipe::new(1 << 30);
    let stderr = MemoryOutputPipe::new(1 << 26);
    let mut b = WasiCtxBuilder::new();
    b.stdout(stdout.clone()).stderr(stderr.clone());
    let (mut store, instance) = instantiate(b, accessible, module);
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .expect("_start");
    let exit = match start.call(&mut store, ()) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(code)) => *code,
            None => panic!(
                "the WASI program trapped: {e:?}\nits stderr:\n{}",
                String::from_utf8_lossy(&stderr.contents())
            ),
        },
    };
    drop(store);
    // The instance and its WASI context are gone, so the pipe has one owner: take its
    // buffer as it is. (`contents()` would clone it, and `to_vec` copy it again: two
    // copies of all the output, which in_exec_wasi does not make and the benchmark would
    // count as the module's time.)
    let stdout = stdout
        .try_into_inner()
        .map(Vec::from)
        .expect("stdout pipe still shared after the instance was dropped");
    WasiRun {
        exit,
        stdout: String::from_utf8(stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
    }
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("nsgflow-wasm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d.canonicalize().unwrap())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The split-tuple records of a flow-log text, as the Lua explode script makes them (the
/// shape in `wasm/src/split.rs`): a reference built on serde_json, for the tests only.
/// `None` when the text is not a stream of JSON values (a cut blob), which Fluent Bit's
/// tail + json parser could not hand to Lua either.
pub fn split_records(text: &str) -> Option<Vec<serde_json::Value>> {
    use serde_json::{Map, Value};
    let mut out = Vec::new();
    let mut records = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match v.ok()? {
            Value::Object(mut o)
                if o.get("records").is_some_and(Value::is_array)
                    && !o.contains_key("properties")
                    && !o.contains_key("flowRecords") =>
            {
                if let Some(Value::Array(rs)) = o.remove("records") {
                    records.extend(rs);
                }
            }
            Value::Array(rs) => records.extend(rs),
            other => records.push(other),
        }
    }
    for r in records {
        let Value::Object(r) = r else { continue };
        let mut base = Map::new();
        for (k, v) in &r {
            if k != "properties" && k != "flowRecords" {
                base.insert(k.clone(), v.clone());
            }
        }
        // One split record per tuple: the base plus the group's keys and the tuple.
        let mut emit = |group: &Value, extra: &[(&str, Option<&Value>)]| {
            for t in group
                .get("flowTuples")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut s = base.clone();
                for (k, v) in extra {
                    if let Some(v) = v {
                        s.insert(k.to_string(), (*v).clone());
                    }
                }
                s.insert("tuple".into(), t.clone());
                out.push(Value::Object(s));
            }
        };
        let items = |v: Option<&Value>, key: &str| -> Vec<Value> {
            v.and_then(|v| v.get(key))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        if let Some(props) = r.get("properties") {
            let version = props.get("Version").cloned().unwrap_or(Value::Null);
            for rule in items(Some(props), "flows") {
                for group in items(Some(&rule), "flows") {
                    emit(
                        &group,
                        &[
                            ("version", Some(&version)),
                            ("rule", rule.get("rule")),
                            ("mac", group.get("mac")),
                        ],
                    );
                }
            }
        } else if let Some(fr) = r.get("flowRecords") {
            for acl in items(Some(fr), "flows") {
                for group in items(Some(&acl), "flowGroups") {
                    emit(
                        &group,
                        &[("aclID", acl.get("aclID")), ("rule", group.get("rule"))],
                    );
                }
            }
        }
    }
    Some(out)
}
