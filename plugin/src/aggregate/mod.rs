//! Bounded event-time aggregation per flow key, as Traffic Analytics does it but inside the
//! pipeline, with exact totals.
//!
//! | step | module |
//! |---|---|
//! | settings (`aggregate:` in the config, `--aggregate`, `--window`, `--key`) | [`config`] |
//! | key presets and the compact per-tuple key | [`key`] |
//! | windows, watermark, `max_keys` | [`window`] |
//! | the aggregate the encoders render | [`record`] |
//! | the event handler tying them to the engine and the encoders | [`handler`] |
//!
//! Conservation is exact: every tuple in is counted in exactly one aggregate out, with its
//! packets and bytes, whether its window closed on time, was flushed early at `max_keys`,
//! was late, or was flushed at the end of input or on SIGINT/SIGTERM
//! (`tests/aggregate.rs` checks it with proptest).

pub mod config;
pub mod handler;
pub mod key;
pub mod record;
pub mod window;

pub use config::{AggregateConfig, Seconds};
pub use handler::{Aggregation, TupleKeys};
pub use key::{Context, ContextTable, FlowKey, KeyField, KeySpec, RenderContext};
pub use record::AggregateEvent;
pub use window::{Aggregate, AggregateStats, Aggregator, Counts, FlushReason, TupleIn};
