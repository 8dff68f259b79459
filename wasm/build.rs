//! Makes `nsgflow_wasm.wasm` (the cdylib filter_wasm loads) a WASI *reactor*: it links
//! wasi-libc's `crt1-reactor.o`, which exports `_initialize` (run the constructors, once).
//! WAMR calls it when it instantiates the module; without it WAMR warns that a module with
//! WASI imports "should be either a command or a reactor". The in_exec_wasi program (the
//! bin) stays a command (`_start`); the link argument is for the cdylib only.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("wasi") {
        return;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "wasm32-wasip1".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    let crt = sysroot.map(|s| {
        s.join("lib/rustlib")
            .join(&target)
            .join("lib/self-contained/crt1-reactor.o")
    });
    match crt.filter(|c| c.is_file()) {
        Some(crt) => println!("cargo::rustc-link-arg-cdylib={}", crt.display()),
        None => println!(
            "cargo::warning=crt1-reactor.o not found in the {target} sysroot: nsgflow_wasm.wasm \
             is built without `_initialize` (WAMR will warn it is not a reactor)"
        ),
    }
}
