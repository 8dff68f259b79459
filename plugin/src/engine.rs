//! The engine: input text -> records -> tuples -> events -> a handler (the encoder and
//! writer, or the aggregation and then the encoder), with rejections to the dead-letter
//! output and every count kept in [`Stats`]. The handlers that join aggregation to
//! encoding ([`AggregateLines`], [`Aggregation::new`] with the encoders' context renderer)
//! live here, above both; [`crate::pipeline`] chooses between them.

use std::io::Write;

use crate::aggregate::{AggregateEvent, Aggregation, FlushReason};
use crate::encode::Encode;
use crate::event::{Enricher, FlowEvent};
use crate::output::{DeadLetterWriter, EventWriter};
use crate::record::{self, reason, FlowGroup, FlowSink, Location, Record, RejectLevel, Rejection};
use crate::stats::Stats;
use crate::tuple::FlowTuple;

/// What the engine hands each event to.
pub trait EventHandler {
    fn event(&mut self, event: &FlowEvent<'_>);
}

/// Encodes each event as one NDJSON line.
pub struct EncodeLines<'w, W: Write> {
    pub encoder: &'w mut dyn Encode,
    pub writer: &'w mut EventWriter<W>,
}

impl<W: Write> EventHandler for EncodeLines<'_, W> {
    fn event(&mut self, event: &FlowEvent<'_>) {
        self.encoder.encode(event, self.writer.buffer());
        self.writer.end_line();
    }
}

/// Encodes each aggregate as one NDJSON line.
pub(crate) fn aggregate_line<'a, W: Write>(
    encoder: &'a mut dyn Encode,
    writer: &'a mut EventWriter<W>,
) -> impl FnMut(&AggregateEvent<'_>) + 'a {
    move |ev| {
        encoder.encode_aggregate(ev, writer.buffer());
        writer.end_line();
    }
}

impl Aggregation {
    /// Aggregation as `config` says, its aggregates' contexts rendered for the encoders; an
    /// invalid config is an error naming the setting (see
    /// [`crate::aggregate::AggregateConfig::validate`]).
    pub fn new(
        config: &crate::aggregate::AggregateConfig,
        enricher: Enricher,
    ) -> Result<Self, String> {
        Aggregation::with_renderer(config, enricher, crate::encode::aggregate::render_context)
    }

    /// The handler for one input: events in, aggregate lines out to `writer`.
    pub fn lines<'a, W: Write>(
        &'a mut self,
        encoder: &'a mut dyn Encode,
        writer: &'a mut EventWriter<W>,
    ) -> AggregateLines<'a, W> {
        // Like the engine, pick up reloaded feeds once per input (or stdin chunk).
        self.refresh();
        AggregateLines {
            agg: self,
            encoder,
            writer,
        }
    }

    /// Folds one event in; aggregates whose window closes go to `writer` as lines.
    #[inline]
    pub fn add<W: Write>(
        &mut self,
        event: &FlowEvent<'_>,
        encoder: &mut dyn Encode,
        writer: &mut EventWriter<W>,
    ) {
        self.add_event(event, &mut aggregate_line(encoder, writer));
    }

    /// Flushes every window (end of input or a signal), each aggregate a line.
    pub fn finish<W: Write>(
        &mut self,
        reason: FlushReason,
        encoder: &mut dyn Encode,
        writer: &mut EventWriter<W>,
    ) {
        self.flush_all(reason, &mut aggregate_line(encoder, writer));
    }
}

/// The per-input handler; see [`Aggregation::lines`].
pub struct AggregateLines<'a, W: Write> {
    agg: &'a mut Aggregation,
    encoder: &'a mut dyn Encode,
    writer: &'a mut EventWriter<W>,
}

impl<W: Write> EventHandler for AggregateLines<'_, W> {
    #[inline]
    fn event(&mut self, event: &FlowEvent<'_>) {
        self.agg.add_event(
            event,
            &mut aggregate_line(&mut *self.encoder, &mut *self.writer),
        );
    }
}

/// How one input went, for the caller's error reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputOutcome {
    /// Read; `incomplete` when it ended mid-record (a blob still being written).
    Read { incomplete: bool },
    /// Not a flow log (or not JSON at all): the reason, for an error naming the input.
    NotFlowLog(String),
}

/// Called with the bytes of input read since the last call (for a progress bar).
pub type ProgressFn = Box<dyn FnMut(u64) + Send>;

/// How many bytes pass between progress reports.
const PROGRESS_EVERY: usize = 1 << 20;

/// The engine: enrichment plus counters. One per thread; it holds no buffers of its own.
#[derive(Default)]
pub struct Engine {
    pub enricher: Enricher,
    pub stats: Stats,
    /// Reports how far [`Engine::process`] has read, about every MiB and at the end.
    pub progress: Option<ProgressFn>,
    /// Why the current input looks like something other than a flow log.
    not_flow_log_detail: Option<String>,
}

impl Engine {
    pub fn new(enricher: Enricher) -> Self {
        Engine {
            enricher,
            stats: Stats::default(),
            progress: None,
            not_flow_log_detail: None,
        }
    }

    /// Processes one whole input (`name` labels it in dead letters).
    pub fn process(
        &mut self,
        name: &str,
        text: &str,
        handler: &mut impl EventHandler,
        dead: &mut DeadLetterWriter,
    ) -> InputOutcome {
        let mut progress = self.progress.take();
        let (summary, _) = self.walk(name, text, 0, false, handler, dead, progress.as_mut());
        self.progress = progress;
        self.finish_input(text.len(), summary)
    }

    /// Processes a piece of a stream (see [`record::walk_with`]); returns the outcome so
    /// far, the bytes consumed and the next record index.
    pub fn process_part(
        &mut self,
        name: &str,
        text: &str,
        first_record: usize,
        partial: bool,
        handler: &mut impl EventHandler,
        dead: &mut DeadLetterWriter,
    ) -> (record::WalkSummary, usize) {
        self.walk(name, text, first_record, partial, handler, dead, None)
    }

    /// Processes one range of a blob's records (see [`record::walk_records`]): a worker's
    /// share of a large blob in `nsgflow process --threads`. Returns the summary and, when
    /// a record could not be read, where a whole walk goes on ([`Engine::process_from`]).
    pub fn process_range(
        &mut self,
        name: &str,
        text: &str,
        range: &record::RecordRange,
        blob_start: usize,
        handler: &mut impl EventHandler,
        dead: &mut DeadLetterWriter,
    ) -> (record::WalkSummary, Option<usize>) {
        let mut resume = None;
        let (summary, _) = self.walk_by(name, text, handler, dead, None, |sink| {
            let (summary, r) = record::walk_records(text, range, blob_start, sink);
            resume = r;
            (summary, text.len())
        });
        (summary, resume)
    }

    /// Processes `text` from byte `start` on, numbering records from `first_record` (see
    /// [`record::walk_from`]).
    pub fn process_from(
        &mut self,
        name: &str,
        text: &str,
        start: usize,
        first_record: usize,
        handler: &mut impl EventHandler,
        dead: &mut DeadLetterWriter,
    ) -> record::WalkSummary {
        self.walk_by(name, text, handler, dead, None, |sink| {
            (
                record::walk_from(text, start, first_record, sink),
                text.len(),
            )
        })
        .0
    }

    /// Why the input read so far looks like something other than a flow log (the first
    /// such rejection), taken: a worker hands it to the thread that closes the input.
    pub fn take_not_flow_log_detail(&mut self) -> Option<String> {
        self.not_flow_log_detail.take()
    }

    /// Keeps `detail` as why the current input is not a flow log, unless one is kept.
    pub fn note_not_flow_log(&mut self, detail: Option<String>) {
        if self.not_flow_log_detail.is_none() {
            self.not_flow_log_detail = detail;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        name: &str,
        text: &str,
        first_record: usize,
        partial: bool,
        handler: &mut impl EventHandler,
        dead: &mut DeadLetterWriter,
        progress: Option<&mut ProgressFn>,
    ) -> (record::WalkSummary, usize) {
        self.walk_by(name, text, handler, dead, progress, |sink| {
            record::walk_with(text, first_record, partial, sink)
        })
    }

    /// Walks with `walk` through a sink that enriches, counts and hands on.
    fn walk_by<H: EventHandler>(
        &mut self,
        name: &str,
        text: &str,
        handler: &mut H,
        dead: &mut DeadLetterWriter,
        progress: Option<&mut ProgressFn>,
        walk: impl FnOnce(&mut Sink<'_, H>) -> (record::WalkSummary, usize),
    ) -> (record::WalkSummary, usize) {
        self.enricher.refresh();
        let mut sink = Sink {
            name,
            enricher: &mut self.enricher,
            stats: &mut self.stats,
            handler,
            dead,
            first_not_flow_log: None,
            progress,
            reported: 0,
        };
        let (summary, consumed) = walk(&mut sink);
        if let Some(p) = sink.progress.as_mut() {
            p((text.len() - sink.reported) as u64);
        }
        let first = sink.first_not_flow_log.take();
        self.stats.records += summary.records as u64;
        self.stats.reputation = self.enricher.reputation.as_ref().map(|r| r.stats());
        if self.not_flow_log_detail.is_none() {
            self.not_flow_log_detail = first;
        }
        (summary, consumed)
    }

    /// Closes an input: counts it and decides whether it was a flow log at all.
    pub fn finish_input(&mut self, bytes: usize, summary: record::WalkSummary) -> InputOutcome {
        self.stats.inputs += 1;
        self.stats.bytes += bytes as u64;
        let detail = self.not_flow_log_detail.take();
        if summary.records == 0 && (summary.foreign_values > 0 || summary.values == 0) {
            self.stats.failed_inputs += 1;
            return InputOutcome::NotFlowLog(detail.unwrap_or_else(|| {
                "empty input: no JSON at all (expected a `{\"records\":[...]}` blob or flow-log records)".into()
            }));
        }
        if summary.incomplete {
            self.stats.incomplete_inputs += 1;
        }
        InputOutcome::Read {
            incomplete: summary.incomplete,
        }
    }
}

struct Sink<'s, H: EventHandler> {
    name: &'s str,
    enricher: &'s mut Enricher,
    stats: &'s mut Stats,
    handler: &'s mut H,
    dead: &'s mut DeadLetterWriter,
    first_not_flow_log: Option<String>,
    progress: Option<&'s mut ProgressFn>,
    /// Bytes already reported to `progress`.
    reported: usize,
}

impl<H: EventHandler> FlowSink for Sink<'_, H> {
    fn tuple(
        &mut self,
        record: &Record<'_>,
        group: &FlowGroup<'_>,
        tuple: &FlowTuple<'_>,
        _at: Location,
    ) {
        self.stats.tuples += 1;
        self.stats.events += 1;
        let event = self.enricher.event(record, group, tuple);
        self.handler.event(&event);
    }

    fn reject(&mut self, rejection: Rejection<'_>) {
        if rejection.level == RejectLevel::Tuple {
            self.stats.tuples += 1;
        }
        if rejection.reason == reason::NOT_A_FLOW_LOG && self.first_not_flow_log.is_none() {
            self.first_not_flow_log = Some(rejection.detail.clone());
        }
        self.stats.reject(rejection.reason);
        self.dead.write(self.name, &rejection);
    }

    fn record_done(&mut self, _record: &Record<'_>, end: usize) {
        if let Some(p) = self.progress.as_mut() {
            if end >= self.reported + PROGRESS_EVERY {
                p((end - self.reported) as u64);
                self.reported = end;
            }
        }
    }
}
