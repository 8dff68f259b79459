//! Atomic file replacement, shared by every state file (blob checkpoints, local-folder
//! checkpoints): a crash at any point leaves either the old file or the new one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the temporary files of one process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to `path`: a temporary file beside it with a unique name
/// (`.<name>.<host>~<pid>.<n>.tmp`, unique also among replicas sharing a directory), fsync, rename over `path`, fsync of the directory.
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
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", writer_tag()));
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

/// `<host>~<pid>`: the writer of a temporary file, host name reduced to `[A-Za-z0-9-]`.
fn writer_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| format!("{}~{}", host_tag(), process_id()))
}

/// This host's name (`HOSTNAME`, else `/etc/hostname`), reduced to `[A-Za-z0-9-]`.
pub fn host_tag() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    let tag: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    if tag.is_empty() {
        "unknown".into()
    } else {
        tag
    }
}

/// True for a temporary file of [`write_atomic`] left by a writer that died: one of this
/// host whose process is gone, or any older than 10 minutes (a live write takes
/// milliseconds). A young one of another host or of a live process is a write in progress
/// (replicas can share a directory) and is kept.
pub fn is_litter(file_name: &str, age: Option<std::time::Duration>) -> bool {
    let Some(rest) = file_name
        .strip_prefix('.')
        .and_then(|r| r.strip_suffix(".tmp"))
    else {
        return false;
    };
    if age.is_some_and(|a| a.as_secs() >= 600) {
        return true;
    }
    let tag = rest.rsplit('.').nth(1).unwrap_or("");
    let Some((host, pid)) = tag.rsplit_once('~') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    host == host_tag()
        && pid != process_id()
        && cfg!(target_os = "linux")
        && !Path::new(&format!("/proc/{pid}")).exists()
}

/// This process's id, to keep temporary names of concurrent writers apart. WASI has no
/// process ids (`std::process::id` panics there) and one instance runs at a time: 0.
fn process_id() -> u32 {
    if cfg!(target_os = "wasi") {
        0
    } else {
        std::process::id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn litter_is_a_dead_writers_or_an_old_temp_file_never_a_live_one() {
        let me = writer_tag();
        let young = Some(Duration::from_secs(1));
        let old = Some(Duration::from_secs(601));
        // This process is writing it: kept, unless it is 10 minutes old.
        assert!(!is_litter(&format!(".cp.json.{me}.3.tmp"), young));
        assert!(is_litter(&format!(".cp.json.{me}.3.tmp"), old));
        // Another host's young temp: another replica's write in progress.
        assert!(!is_litter(".cp.json.other-host~1.0.tmp", young));
        assert!(is_litter(".cp.json.other-host~1.0.tmp", old));
        // This host, a process that is gone (pids stay below 2^22 on Linux).
        let dead = format!(".cp.json.{}~4194305.0.tmp", host_tag());
        assert_eq!(is_litter(&dead, young), cfg!(target_os = "linux"));
        // Not a temp file at all.
        assert!(!is_litter("cp.json", old));
        assert!(!is_litter(".hidden", old));
    }
}
