//! `nsgflow report`: what Azure Traffic Analytics shows, as one self-contained HTML file.
//!
//! The report is an event handler ([`ReportModel`]) that aggregates while it reads, into
//! tables whose size is bounded by distinct keys (each capped, see [`ReportConfig`]);
//! [`summary::Summary`] turns it into the numbers the page shows (top N, ratios, buckets),
//! and [`html`] renders them. [`ReportTap`] puts the model on a pipeline, where it also
//! receives the detection stage's alerts (`report --detect`). Every number is computed before any HTML is written, so the
//! tests check the model, and the browser test checks the page.

pub mod html;
pub mod model;
pub mod summary;
pub mod tap;

pub use model::{ReportConfig, ReportModel};
pub use summary::Summary;
pub use tap::{ModelHandle, ReportTap};
