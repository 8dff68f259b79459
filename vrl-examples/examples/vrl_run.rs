//! Runs a VRL program over a file as Vector's `remap` would see it (one event per
//! top-level JSON value) and prints the events it emits, one JSON line each.
//!
//! `cargo run -p nsgflow-vrl --example vrl_run -- vrl-examples/explode.vrl tests/fixtures/nsg-v2-blob.json`

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [program, input] = args.as_slice() else {
        eprintln!("usage: vrl_run PROGRAM.vrl INPUT.json");
        std::process::exit(2);
    };
    let program = nsgflow_vrl::Program::load(program.as_ref()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let text = std::fs::read_to_string(input).unwrap_or_else(|e| {
        eprintln!("{input}: {e}");
        std::process::exit(1)
    });
    let events = nsgflow_vrl::decoded_events(&text).unwrap_or_else(|e| {
        eprintln!("{input}: {e} (Vector's json decoder would reject it too)");
        std::process::exit(1)
    });
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    for event in events {
        match program.run_json(event) {
            Ok(out) => {
                for e in out {
                    if writeln!(stdout, "{e}").is_err() {
                        return; // closed pipe (`| head`): stop quietly
                    }
                }
            }
            Err(e) => eprintln!("{e}"),
        }
    }
}
