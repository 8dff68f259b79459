//! Atomic file replacement, shared by every state file (blob checkpoints, local-folder
//! checkpoints): a crash at any point leaves either the old file or the new one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the temporary files of one process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to `path`: a temporary file beside it with a unique name
/// (`.<name>.<pid>.<n>.tmp`), fsync, rename over `path`, fsync of the directory.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("nsgflow-atomic-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("state.json");
/// nsgflow::atomic::write_atomic(&path, b"{}").unwrap();
/// nsgflow::atomic::write_atomic(&path, b"[1]").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"[1]");
/// assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", pid()));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    // Make the rename itself durable (not supported everywhere: best effort).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The process id, to keep two processes' temporary files apart. WASI has no process id
/// (std panics there, which aborted every in_exec_wasi run at its checkpoint save); its
/// runs are one fresh instance at a time, so 0 does.
fn pid() -> u32 {
    if cfg!(target_os = "wasi") {
        0
    } else {
        std::process::id()
    }
}
