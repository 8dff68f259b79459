//! The in_exec_wasi program (see `nsgflow_wasm::runner`). Fluent Bit passes no arguments:
//! the accessible directories are the preopened ones. Other runtimes may name the
//! directories as arguments instead (`wasmtime run --dir /data nsgflow-wasi.wasm /data`).

fn main() {
    let args: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let dirs = if args.is_empty() {
        nsgflow_wasm::preopens::dirs()
    } else {
        args
    };
    let (code, _) = nsgflow_wasm::runner::run(&dirs, std::io::stdout().lock(), std::io::stderr());
    std::process::exit(code);
}
