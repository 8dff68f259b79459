//! The counting global allocator of the allocation tests (`tests/alloc.rs`,
//! `tests/alloc_parallel.rs`), included by each as a module: a test binary has one global
//! allocator. It counts allocations and reallocations two ways:
//!
//! - on this thread only, while [`COUNTING`] is set on it ([`ALLOCATIONS`]), so tests
//!   running side by side do not count each other's;
//! - on every thread of the process, while [`ALL_THREADS`] is set ([`ALL_COUNT`]), for
//!   runs that spread work over threads (the binary then holds that test alone).

// Each binary uses one of the two counts.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub struct Counting;

/// This thread's count.
pub struct Allocations;

impl Allocations {
    pub fn store(&self, n: usize, _: Ordering) {
        COUNT.with(|c| c.set(n));
    }
    pub fn load(&self, _: Ordering) -> usize {
        COUNT.with(Cell::get)
    }
}

pub static ALLOCATIONS: Allocations = Allocations;

thread_local! {
    pub static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

/// Count on every thread.
pub static ALL_THREADS: AtomicBool = AtomicBool::new(false);
/// The count over every thread.
pub static ALL_COUNT: AtomicUsize = AtomicUsize::new(0);

fn count() {
    if ALL_THREADS.load(Ordering::Relaxed) {
        ALL_COUNT.fetch_add(1, Ordering::Relaxed);
    }
    if COUNTING.with(Cell::get) {
        COUNT.with(|c| c.set(c.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;
