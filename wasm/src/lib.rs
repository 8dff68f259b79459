//! nsgflow for Fluent Bit: the engine built for `wasm32-wasip1`, in two artifacts.
//!
//! | artifact | Fluent Bit plugin | modules |
//! |---|---|---|
//! | `nsgflow-wasi.wasm` (the `nsgflow-wasi` binary) | `in_exec_wasi`: reads flow-log files, prints one NDJSON event per tuple, keeps a checkpoint | [`runner`], [`preopens`], [`config`] |
//! | `nsgflow_wasm.wasm` (this library as a `cdylib`) | `filter_wasm`: a split-tuple record to an event; a flat event to ECS, Splunk or OCSF | [`abi`], [`filter`], [`split`], [`reshape`] |
//!
//! Everything is the core engine (`nsgflow`, without its CLI): scanning, records, tuples,
//! labels, classification, encoders and the incremental reader. This crate adds only the
//! plumbing Fluent Bit needs. See `wasm/README.md`.

pub mod abi;
pub mod config;
pub mod filter;
pub mod preopens;
pub mod reshape;
pub mod runner;
pub mod split;
