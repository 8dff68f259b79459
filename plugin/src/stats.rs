//! Run counters and the end-of-run summary.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::aggregate::AggregateStats;
use crate::reputation::ReputationStats;

/// What a run read, wrote and threw out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Inputs (files or stdin) read.
    pub inputs: u64,
    /// Inputs that were not flow logs, or could not be read.
    pub failed_inputs: u64,
    /// Inputs that ended mid-record (a blob still being written).
    pub incomplete_inputs: u64,
    pub bytes: u64,
    /// Records read (including partly rejected ones).
    pub records: u64,
    /// Tuples seen: good ones plus rejected ones.
    pub tuples: u64,
    /// Events written.
    pub events: u64,
    /// Rejections by reason code.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Threat-feed lookups and cache counters, when feeds are configured.
    pub reputation: Option<ReputationStats>,
    /// Aggregation counters, when aggregating.
    pub aggregation: Option<AggregateStats>,
    /// Detection counters (alerts and evictions per detector), with `--detect`.
    pub detection: Option<crate::detect::DetectStats>,
}

impl Stats {
    /// An input that could not be read or was not a flow log: counted as an input and as
    /// a failed one.
    pub fn input_failed(&mut self) {
        self.inputs += 1;
        self.failed_inputs += 1;
    }

    pub fn reject(&mut self, reason: &'static str) {
        *self.rejected.entry(reason).or_insert(0) += 1;
    }

    /// Adds the input, record, tuple, event and rejection counts of `other` (a worker's
    /// share of a run: `nsgflow process --threads`). Aggregation, detection and reputation
    /// counters are not touched: each has one owner.
    pub fn add_counts(&mut self, other: &Stats) {
        self.inputs += other.inputs;
        self.failed_inputs += other.failed_inputs;
        self.incomplete_inputs += other.incomplete_inputs;
        self.bytes += other.bytes;
        self.records += other.records;
        self.tuples += other.tuples;
        self.events += other.events;
        for (reason, n) in &other.rejected {
            *self.rejected.entry(reason).or_insert(0) += n;
        }
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// The summary line for stderr.
    pub fn summary(&self, elapsed: Duration) -> Summary<'_> {
        Summary {
            stats: self,
            elapsed,
        }
    }
}

/// Renders [`Stats`] for a person.
pub struct Summary<'s> {
    stats: &'s Stats,
    elapsed: Duration,
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.stats;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "nsgflow: {} inputs ({} failed, {} incomplete), {:.1} MB, {} records, {} tuples, {} events, {} rejected",
            s.inputs,
            s.failed_inputs,
            s.incomplete_inputs,
            s.bytes as f64 / 1e6,
            s.records,
            s.tuples,
            s.events,
            s.rejected_total()
        )?;
        if !s.rejected.is_empty() {
            f.write_str(" (")?;
            for (i, (reason, n)) in s.rejected.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{reason}: {n}")?;
            }
            f.write_str(")")?;
        }
        if let Some(a) = &s.aggregation {
            write!(
                f,
                ", {} aggregates ({} late, {} flushed early at max_keys), volume {:.1}% of tuples",
                a.aggregates,
                a.late_aggregates,
                a.early_aggregates,
                100.0 * a.aggregates as f64 / (s.tuples.max(1)) as f64
            )?;
        }
        if let Some(d) = &s.detection {
            write!(f, ", {d}")?;
        }
        if let Some(r) = &s.reputation {
            write!(f, ", {} feed lookups ({} listed", r.lookups, r.listed)?;
            if r.cache_enabled {
                write!(
                    f,
                    "; cache {} hits, {} misses, {} evictions",
                    r.cache.hits, r.cache.misses, r.cache.evictions
                )?;
            }
            if r.reloads > 0 || r.reload_errors > 0 {
                write!(f, "; {} reloads, {} failed", r.reloads, r.reload_errors)?;
            }
            f.write_str(")")?;
        }
        write!(
            f,
            " in {:.3} s, {:.1} MB/s, {:.0} tuples/s",
            secs,
            s.bytes as f64 / 1e6 / secs,
            s.tuples as f64 / secs
        )
    }
}
