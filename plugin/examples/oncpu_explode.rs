//! The explode bench's blob (20,000 tuples) through the engine with each encoder, timed by
//! the thread's on-CPU time (`/proc/thread-self/schedstat`, Linux) instead of the wall
//! clock: on a machine shared with other work, time spent waiting for the CPU is left out,
//! so runs of two builds can be compared where criterion's wall-clock medians swing 2x.
//! The criterion bench (`benches/explode.rs`) stays the reference on an idle machine.
//!
//! Run: `ITERS=40 taskset -c 1 cargo run --release -p nsgflow --example oncpu_explode`
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::output::{DeadLetterWriter, EventWriter};
mod data {
    include!("../benches/support/data.rs");
}
fn oncpu() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}
fn main() {
    let blob = data::blob(20_000, 7);
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    for format in Format::ALL {
        let mut engine = Engine::default();
        let mut enc = encoder(format, &EncodeOptions::default());
        let mut out = EventWriter::new(std::io::sink());
        let mut dead = DeadLetterWriter::new(None);
        let mut run = || {
            engine.process(
                "b",
                &blob,
                &mut EncodeLines {
                    encoder: enc.as_mut(),
                    writer: &mut out,
                },
                &mut dead,
            )
        };
        for _ in 0..10 {
            run();
        }
        let mut samples = Vec::new();
        for _ in 0..iters {
            let t = oncpu();
            run();
            samples.push(oncpu() - t);
        }
        samples.sort();
        let med = samples[samples.len() / 2] as f64 / 1e6;
        let min = samples[0] as f64 / 1e6;
        println!(
            "{format}: median {med:.3} ms  min {min:.3} ms  ({:.2} M tuples/s at median)",
            20_000.0 / med / 1e3
        );
    }
}
