//! The explode bench's blob (20,000 tuples) through the engine with each encoder, timed by
//! the thread's on-CPU time (`CLOCK_THREAD_CPUTIME_ID`, Linux) instead of the wall
//! clock: on a machine shared with other work, time spent waiting for the CPU is left out,
//! so runs of two builds can be compared where criterion's wall-clock medians swing 2x.
//! The criterion bench (`benches/explode.rs`) stays the reference on an idle machine.
//!
//! Run: `ITERS=40 taskset -c 1 cargo run --release -p nsgflow --example oncpu_explode`
//! (`FORMATS=flat,ecs` to run some formats only, `WARMUP=0` to skip the warm-up runs, e.g.
//! under `valgrind --tool=callgrind`, which counts instructions whatever the load;
//! `DUMP=DIR` to write each format's output for the blob to `DIR/FORMAT.ndjson` first, to
//! compare two builds byte for byte).
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::output::{DeadLetterWriter, EventWriter};
mod data {
    include!("../benches/support/data.rs");
}
/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, exact to the nanosecond;
/// `/proc/thread-self/schedstat`, read before, advances only at the scheduler tick, 4 ms
/// here, so its medians were multiples of the tick).
mod clock {
    include!("../benches/support/clock.rs");
}
use clock::Clock;

fn main() {
    let blob = data::blob(20_000, 7);
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let warmup: usize = std::env::var("WARMUP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let only = std::env::var("FORMATS").unwrap_or_default();
    for format in Format::ALL {
        if !only.is_empty() && !only.split(',').any(|f| f == format.as_str()) {
            continue;
        }
        let mut engine = Engine::default();
        let mut enc = encoder(format, &EncodeOptions::default());
        if let Ok(dir) = std::env::var("DUMP") {
            let file = std::fs::File::create(format!("{dir}/{format}.ndjson")).unwrap();
            let mut out = EventWriter::new(std::io::BufWriter::new(file));
            let mut dead = DeadLetterWriter::new(None);
            let mut lines = EncodeLines {
                encoder: enc.as_mut(),
                writer: &mut out,
            };
            engine.process("b", &blob, &mut lines, &mut dead);
            out.flush().unwrap();
        }
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
        for _ in 0..warmup {
            run();
        }
        let mut samples = Vec::new();
        for _ in 0..iters {
            let t = Clock::now();
            run();
            samples.push(t.elapsed().as_nanos() as u64);
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
