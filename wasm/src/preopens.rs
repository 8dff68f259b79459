//! The directories the host opened for this module: Fluent Bit's `accessible_paths`
//! (in_exec_wasi and filter_wasm pass no arguments and no environment, so this is how the
//! module finds its config and its flow logs).

use std::path::PathBuf;

/// The preopened directories, in the host's order (WASI); on a native build, the current
/// directory.
pub fn dirs() -> Vec<PathBuf> {
    imp::dirs()
}

#[cfg(target_os = "wasi")]
mod imp {
    use std::path::PathBuf;

    /// `__wasi_prestat_t`: a tag (0: a directory) and the length of its name.
    #[repr(C)]
    struct Prestat {
        tag: u8,
        name_len: usize,
    }

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        fn fd_prestat_get(fd: u32, out: *mut Prestat) -> u16;
        fn fd_prestat_dir_name(fd: u32, path: *mut u8, len: usize) -> u16;
    }

    pub fn dirs() -> Vec<PathBuf> {
        let mut out = Vec::new();
        // Preopens are numbered from 3 (after stdio) until the first fd that is not one.
        for fd in 3u32..1024 {
            let mut p = Prestat {
                tag: 0,
                name_len: 0,
            };
            // SAFETY: `p` is a valid out-pointer of the WASI prestat layout.
            if unsafe { fd_prestat_get(fd, &mut p) } != 0 {
                break;
            }
            if p.tag != 0 {
                continue;
            }
            let mut name = vec![0u8; p.name_len];
            // SAFETY: `name` has room for `name_len` bytes.
            if unsafe { fd_prestat_dir_name(fd, name.as_mut_ptr(), name.len()) } != 0 {
                continue;
            }
            while name.last() == Some(&0) {
                name.pop();
            }
            if let Ok(s) = String::from_utf8(name) {
                out.push(PathBuf::from(s));
            }
        }
        out
    }
}

#[cfg(not(target_os = "wasi"))]
mod imp {
    use std::path::PathBuf;

    pub fn dirs() -> Vec<PathBuf> {
        vec![PathBuf::from(".")]
    }
}
