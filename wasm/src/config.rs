//! Finding the config: `nsgflow.yaml` (the engine's own config file, see
//! `docs/config.example.yaml`) in the first accessible directory that has one. The
//! checkpoint of the in_exec_wasi program lives beside it.

use std::path::{Path, PathBuf};

use nsgflow::config::Config;

/// The config file's name, looked for in each accessible directory.
pub const CONFIG_FILE: &str = "nsgflow.yaml";
/// The checkpoint file's name, in the config's directory (hidden: directory walks skip it).
pub const CHECKPOINT_FILE: &str = ".nsgflow-checkpoint.json";

/// The config as the WASM build can use it: WASI has no threads, so feeds are not
/// reloaded in the background (`reputation.reload_interval_secs` is set to 0). The
/// in_exec_wasi program reads them afresh every run; filter_wasm reads them once.
pub fn for_wasm(mut config: Config) -> Config {
    config.reputation.reload_interval_secs = 0;
    config
}

/// The first `dir/nsgflow.yaml` that exists.
pub fn find(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| d.join(CONFIG_FILE))
        .find(|p| p.is_file())
}

/// The config found in `dirs` (the default when there is none), and where it was.
pub fn load(dirs: &[PathBuf]) -> Result<(Config, Option<PathBuf>), String> {
    match find(dirs) {
        None => Ok((Config::default(), None)),
        Some(path) => Config::load(&path)
            .map(|c| (for_wasm(c), Some(path)))
            .map_err(|e| e.to_string()),
    }
}

/// The directory state goes in: the config's, else the first accessible one.
pub fn state_dir(config_path: Option<&Path>, dirs: &[PathBuf]) -> Option<PathBuf> {
    config_path
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .or_else(|| dirs.first().cloned())
}
