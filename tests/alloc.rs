//! The hot path allocates nothing per tuple: after a warm-up pass, exploding and encoding
//! a 10,000-tuple blob makes fewer than 0.01 heap allocations per tuple, in every format.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering;

use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::output::{DeadLetterWriter, EventWriter};

struct Counting;

/// Per thread, so tests running in parallel do not count each other's allocations.
struct Allocations;

impl Allocations {
    fn store(&self, n: usize, _: Ordering) {
        COUNT.with(|c| c.set(n));
    }
    fn load(&self, _: Ordering) -> usize {
        COUNT.with(Cell::get)
    }
}

static ALLOCATIONS: Allocations = Allocations;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
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

/// Enrichment (feeds with their LRU cache, topology, service tags) and aggregation keep the
/// hot path free of per-tuple allocations too.
#[test]
fn enrichment_and_aggregation_allocate_nothing_per_tuple() {
    use nsgflow::aggregate::{Aggregation, FlushReason};
    // Event time moves on: the measured half follows the warm-up half (replaying the same
    // blob would make every tuple late, which is a different path).
    let whole: serde_json::Value =
        serde_json::from_str(&nsgflow_bench_data::blob(2 * TUPLES, 43)).unwrap();
    let records = whole["records"].as_array().unwrap();
    let (first, second) = records.split_at(records.len() / 2);
    let halves = [first, second].map(|r| serde_json::json!({ "records": r }).to_string());
    let config = nsgflow_tests::enrichment_config();
    for aggregate in [false, true] {
        let mut engine = Engine::new(config.enricher().unwrap());
        let mut enc = encoder(Format::Ecs, &EncodeOptions::default());
        let mut out = EventWriter::new(std::io::sink());
        let mut dead = DeadLetterWriter::new(None);
        let mut agg = aggregate.then(|| {
            let mut c = config.aggregate;
            c.enabled = true;
            Aggregation::new(&c, engine.enricher.clone()).unwrap()
        });
        let mut allocs = 0;
        let mut tuples = 0;
        for (pass, blob) in halves.iter().enumerate() {
            let before = engine.stats.tuples;
            ALLOCATIONS.store(0, Ordering::Relaxed);
            COUNTING.with(|c| c.set(pass == 1));
            match agg.as_mut() {
                Some(a) => {
                    engine.process(
                        "blob",
                        blob,
                        &mut a.lines(enc.as_mut(), &mut out),
                        &mut dead,
                    );
                    if pass == 1 {
                        a.finish(FlushReason::EndOfInput, enc.as_mut(), &mut out);
                    }
                }
                None => {
                    engine.process(
                        "blob",
                        blob,
                        &mut EncodeLines {
                            encoder: enc.as_mut(),
                            writer: &mut out,
                        },
                        &mut dead,
                    );
                }
            }
            COUNTING.with(|c| c.set(false));
            allocs = ALLOCATIONS.load(Ordering::Relaxed);
            tuples = engine.stats.tuples - before;
        }
        let rep = engine.stats.reputation.unwrap();
        assert!(rep.lookups >= 2 * 2 * (TUPLES as u64 - 100), "{rep:?}");
        assert!(
            (allocs as f64) < 0.01 * tuples as f64,
            "aggregate {aggregate}: {allocs} allocations for {tuples} tuples"
        );
        eprintln!("enriched, aggregate {aggregate}: {allocs} allocations for {tuples} tuples");
    }
}

/// The synthetic blob the benches use too (same generator, same shape as real blobs).
mod nsgflow_bench_data {
    include!("../plugin/benches/support/data.rs");
}
