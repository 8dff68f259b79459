//! Inputs: files, directories walked recursively (Azure's
//! `.../y=YYYY/m=MM/d=DD/h=HH/m=00/macAddress=.../PT1H.json` layout or any other), and stdin.
//!
//! **Order.** A walked directory in the Azure layout is read hour by hour across every
//! resource: every NSG's and NIC's hour H before any hour H+1 (path order within an hour,
//! and for files outside the layout, which come first). Event time then only moves back
//! within an hour, never by days, which is what aggregation windows and detection need.
//! Within an hour the blobs are not merged record by record: detection keeps its windows
//! open for `detect.allowed_lateness` (default 1 h) instead.

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    /// How dead letters and errors name this input.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "-".into(),
        }
    }
}

/// A path that could not be turned into inputs.
#[derive(Debug)]
pub struct InputError {
    pub path: PathBuf,
    pub error: io::Error,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (check the path, or pass - for stdin)",
            self.path.display(),
            self.error
        )
    }
}

/// Which files in a walked directory are read: `*.json`, `*.ndjson`, `*.jsonl`.
/// Files named on the command line are always read, whatever their name.
pub fn is_flow_log_file_name(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("json" | "ndjson" | "jsonl")
    )
}

/// Expands command-line paths into inputs, in a stable order (directories sorted by path).
/// `-` is stdin. Hidden files and directories (`.name`) inside walked directories are
/// skipped.
pub fn expand(paths: &[String]) -> (Vec<Input>, Vec<InputError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(p);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                let mut found = Vec::new();
                walk_dir(&path, &mut found, &mut errors);
                // Hours in time order across resources (stable: path order within an hour).
                found.sort_by_key(|i| match i {
                    Input::File(p) => azure_hour(p).unwrap_or(0),
                    Input::Stdin => 0,
                });
                inputs.extend(found);
            }
            Ok(_) => inputs.push(Input::File(path)),
            Err(error) => errors.push(InputError { path, error }),
        }
    }
    (inputs, errors)
}

fn walk_dir(dir: &Path, inputs: &mut Vec<Input>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(error) => {
            errors.push(InputError {
                path: dir.to_path_buf(),
                error,
            });
            return;
        }
    };
    let mut paths: Vec<(PathBuf, bool)> = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => {
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                // Follow symlinks (blobfuse and azcopy layouts may use them).
                let is_dir = std::fs::metadata(e.path())
                    .map(|m| m.is_dir())
                    .unwrap_or(false);
                paths.push((e.path(), is_dir));
            }
            Err(error) => errors.push(InputError {
                path: dir.to_path_buf(),
                error,
            }),
        }
    }
    paths.sort();
    for (path, is_dir) in paths {
        if is_dir {
            walk_dir(&path, inputs, errors);
        } else if is_flow_log_file_name(&path) {
            inputs.push(Input::File(path));
        }
    }
}

/// The hour of an Azure-layout blob path (`.../y=2026/m=03/d=02/h=10/m=00/...`) as
/// `YYYYMMDDHH`, or `None` for a path outside the layout.
///
/// ```
/// use nsgflow::input::azure_hour;
/// use std::path::Path;
/// let p = Path::new("c/resourceId=/SUBSCRIPTIONS/S/y=2026/m=03/d=02/h=10/m=00/macAddress=M/PT1H.json");
/// assert_eq!(azure_hour(p), Some(2026030210));
/// assert_eq!(azure_hour(Path::new("logs/x.json")), None);
/// ```
pub fn azure_hour(path: &Path) -> Option<u64> {
    let mut parts: [Option<u64>; 4] = [None; 4];
    for c in path.components() {
        let c = c.as_os_str().to_str()?;
        let Some((k, v)) = c.split_once('=') else {
            continue;
        };
        let slot = match k {
            "y" => 0,
            // The first `m=` is the month, the second the minute.
            "m" if parts[1].is_none() => 1,
            "m" => continue,
            "d" => 2,
            "h" => 3,
            _ => continue,
        };
        parts[slot] = v.parse().ok();
    }
    let [Some(y), Some(m), Some(d), Some(h)] = parts else {
        return None;
    };
    (m <= 12 && d <= 31 && h <= 23).then_some(((y * 100 + m) * 100 + d) * 100 + h)
}

/// Reads a whole file into `buf` (cleared first, capacity reused).
pub fn read_file(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let mut f = std::fs::File::open(path)?;
    if let Ok(m) = f.metadata() {
        buf.reserve(m.len() as usize);
    }
    f.read_to_end(buf)?;
    Ok(())
}

/// The input as text, or an error saying where it stops being UTF-8.
pub fn as_text(buf: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(buf).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {}): flow logs are UTF-8 JSON; is this a compressed or binary file?",
            e.valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_filter() {
        assert!(is_flow_log_file_name(Path::new("a/PT1H.json")));
        assert!(is_flow_log_file_name(Path::new("x.NDJSON")));
        assert!(!is_flow_log_file_name(Path::new("checkpoint.txt")));
        assert!(!is_flow_log_file_name(Path::new("README")));
    }

    #[test]
    fn utf8_error_names_offset() {
        let err = as_text(b"{\"a\":\xff}").unwrap_err();
        assert!(err.contains("offset 5"), "{err}");
    }
}
