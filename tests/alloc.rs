//! The hot path allocates nothing per tuple: after a warm-up pass, exploding and encoding
//! a 10,000-tuple blob makes fewer than 0.01 heap allocations per tuple, in every format.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::output::{DeadLetterWriter, EventWriter};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TUPLES: usize = 10_000;

#[test]
fn fewer_than_one_allocation_per_hundred_tuples_in_every_format() {
    let blob = nsgflow_bench_data::blob(TUPLES, 42);
    let mut report = Vec::new();
    for format in Format::ALL {
        let mut engine = Engine::default();
        let mut enc = encoder(format, &EncodeOptions::default());
        let mut out = EventWriter::new(std::io::sink());
        let mut dead = DeadLetterWriter::new(None);
        // Warm-up: buffers reach their working size.
        engine.process(
            "warm-up",
            &blob,
            &mut EncodeLines {
                encoder: enc.as_mut(),
                writer: &mut out,
            },
            &mut dead,
        );
        let before = engine.stats.events;
        ALLOCATIONS.store(0, Ordering::Relaxed);
        COUNTING.with(|c| c.set(true));
        engine.process(
            "measured",
            &blob,
            &mut EncodeLines {
                encoder: enc.as_mut(),
                writer: &mut out,
            },
            &mut dead,
        );
        COUNTING.with(|c| c.set(false));
        let allocs = ALLOCATIONS.load(Ordering::Relaxed);
        let events = (engine.stats.events - before) as usize;
        assert_eq!(events, TUPLES, "{format}");
        report.push(format!(
            "{format}: {allocs} allocations for {events} tuples"
        ));
        assert!(
            (allocs as f64) < 0.01 * events as f64,
            "{format}: {allocs} allocations for {events} tuples ({:.4} per tuple)",
            allocs as f64 / events as f64
        );
    }
    eprintln!("{}", report.join("\n"));
}

/// The synthetic blob the benches use too (same generator, same shape as real blobs).
mod nsgflow_bench_data {
    include!("../plugin/benches/support/data.rs");
}
