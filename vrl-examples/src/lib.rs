//! The VRL programs of `vrl-examples/`, compiled and run with the `vrl` crate: the same
//! compiler and standard library Vector's `remap` transform uses. Tests and benchmarks use
//! this to hold the programs to the native engine; `examples/vrl_run.rs` uses it to try a
//! program on a file.
//!
//! ```
//! use nsgflow_vrl::Program;
//! let p = Program::compile("demo", r#". = [{"n": .n}, {"n": 2}]"#).unwrap();
//! let out = p.run_json(serde_json::json!({"n": 1})).unwrap();
//! // A program that sets `.` to an array emits one event per element, as `remap` does.
//! assert_eq!(out, vec![serde_json::json!({"n": 1}), serde_json::json!({"n": 2})]);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use vrl::compiler::state::{ExternalEnv, RuntimeState};
use vrl::compiler::{CompileConfig, Context, TargetValue, TimeZone};
use vrl::value::kind::Collection;
use vrl::value::{Kind, Secrets, Value};

/// The directory holding the `.vrl` programs (`<repo>/vrl-examples`).
pub fn programs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `*.vrl` file in `vrl-examples/`, sorted.
pub fn program_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(programs_dir())
        .expect("vrl-examples dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "vrl"))
        .collect();
    files.sort();
    files
}

/// A compiled VRL program.
pub struct Program {
    name: String,
    program: vrl::compiler::Program,
    timezone: TimeZone,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program").field("name", &self.name).finish()
    }
}

impl Program {
    /// Compiles `source` as Vector's `remap` does: the event is an object of any shape, the
    /// whole standard library is available, and warnings are allowed but errors are not.
    /// The error lists VRL's diagnostics (with line and column) under `name`.
    pub fn compile(name: &str, source: &str) -> Result<Self, String> {
        Self::compile_with(name, source, Vec::new())
    }

    /// [`Program::compile`] with functions beyond the standard library: Vector adds its
    /// own (`get_enrichment_table_record`...); tests add stand-ins for them.
    pub fn compile_with(
        name: &str,
        source: &str,
        extra: Vec<Box<dyn vrl::compiler::Function>>,
    ) -> Result<Self, String> {
        let mut functions = vrl::stdlib::all();
        functions.extend(extra);
        let external = ExternalEnv::new_with_kind(
            Kind::object(Collection::any()),
            Kind::object(Collection::any()),
        );
        let result = vrl::compiler::compile_with_external(
            source,
            &functions,
            &external,
            CompileConfig::default(),
        )
        .map_err(|diagnostics| {
            format!(
                "{name}: VRL does not compile:\n{}",
                vrl::diagnostic::Formatter::new(source, diagnostics)
            )
        })?;
        Ok(Program {
            name: name.to_string(),
            program: result.program,
            timezone: TimeZone::parse("UTC").expect("UTC is a time zone"),
        })
    }

    /// Reads and compiles a `.vrl` file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::compile(&path.display().to_string(), &source)
    }

    /// [`Program::load`], compiled once per process and shared: `explode.vrl` takes seconds
    /// to compile in a debug build, and every test wants it.
    pub fn shared(path: &Path) -> Result<Arc<Self>, String> {
        static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Program>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(p) = cache.lock().expect("cache lock").get(path) {
            return Ok(p.clone());
        }
        let program = Arc::new(Self::load(path)?);
        cache
            .lock()
            .expect("cache lock")
            .insert(path.to_path_buf(), program.clone());
        Ok(program)
    }

    /// Loads `vrl-examples/<name>.vrl` (shared, see [`Program::shared`]).
    pub fn example(name: &str) -> Arc<Self> {
        Self::shared(&programs_dir().join(format!("{name}.vrl"))).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the program on one event and returns what `.` is afterwards.
    pub fn run(&self, event: Value) -> Result<Value, String> {
        self.execute(event).map(|(_, event)| event)
    }

    /// Runs the program on one event and returns the value of its last expression (what a
    /// `route` or `filter` condition gives).
    pub fn eval(&self, event: Value) -> Result<Value, String> {
        self.execute(event).map(|(result, _)| result)
    }

    /// Runs the program: (its result, the event afterwards).
    fn execute(&self, event: Value) -> Result<(Value, Value), String> {
        let mut target = TargetValue {
            value: event,
            metadata: Value::Object(BTreeMap::new()),
            secrets: Secrets::default(),
        };
        let mut state = RuntimeState::default();
        let mut ctx = Context::new(&mut target, &mut state, &self.timezone);
        let result = self
            .program
            .resolve(&mut ctx)
            .map_err(|e| format!("{}: runtime error: {e}", self.name))?;
        Ok((result, target.value))
    }

    /// Runs the program on a JSON event and returns the events `remap` would emit: one per
    /// element when the program leaves an array in `.`, else one.
    pub fn run_json(&self, event: serde_json::Value) -> Result<Vec<serde_json::Value>, String> {
        let out = self.run(Value::from(event))?;
        let items = match out {
            Value::Array(items) => items,
            other => vec![other],
        };
        items
            .into_iter()
            .map(|v| {
                v.try_into()
                    .map_err(|e| format!("{}: output is not JSON: {e:?}", self.name))
            })
            .collect()
    }
}

/// What a Vector source with the `json` codec hands `remap` for `text`: one event per
/// top-level JSON value (a whole pretty-printed file is one value; NDJSON is one per line),
/// and one per element of a top-level array. `Err` when the text is not JSON: Vector's
/// decoder logs that and `remap` never sees it.
pub fn decoded_events(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut events = Vec::new();
    for value in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
        match value.map_err(|e| format!("not JSON: {e}"))? {
            serde_json::Value::Array(items) => events.extend(items),
            other => events.push(other),
        }
    }
    Ok(events)
}
