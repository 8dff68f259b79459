//! The one place that plumbs the stages together: engine (records -> tuples -> enriched
//! events) -> taps -> aggregation or encoding -> the event writer, with rejections to the
//! dead-letter writer. `nsgflow process`, `nsgflow tail` and the WASM runner all build a
//! [`Pipeline`] and feed it input; none of them wires stages by hand.
//!
//! ```text
//!             +-------- taps (each sees every enriched event) ---------+
//! input --> Engine --> event --+--> Aggregation --> aggregate lines --+--> EventWriter
//!             |                +--> Encode ------> event lines -------+
//!             +--> rejections ----------------------------------------> DeadLetterWriter
//! ```
//!
//! # Adding a stage (the extension point)
//!
//! A stage that must see every enriched event (detection, the report, a hardening
//! check) implements [`Tap`] and is added once with [`Pipeline::add_tap`]: every front end
//! then runs it, in `process`, `tail` and WASM alike. A tap is called after enrichment and
//! before the event is aggregated or encoded; it is told about [`Pipeline::flush`] (before
//! a checkpoint moves past the input it saw: write out what it owes then) and about
//! [`Pipeline::finish`] (end of input or a signal). Taps must not allocate per event (the
//! hot path's rule, `tests/alloc.rs`). A stage that replaces the per-event output (as
//! aggregation does) is an [`Output`] variant instead; a front end that wants only its
//! taps (`report`, `harden`) uses [`Output::Discard`], so no event is encoded at all.
//! Taps also see every alert the detection stage raises ([`Tap::alert`]), before it is
//! encoded.
//!
//! # Detection
//!
//! Detection (`--detect`, the config's `detect:` section) is one optional stage: it sees
//! every enriched event beside aggregation or encoding. Its alerts are encoded with the
//! pipeline's encoder (`Encode::encode_alert`) into the alerts writer when one is set
//! (`--alerts`), otherwise into the event writer, told apart by `kind` / `event.kind`.
//! They are written out between inputs and on [`Pipeline::flush`]; with a state file
//! (`--detect-state`) the state is saved by [`Pipeline::flush`] once the events and
//! alerts it covers are flushed, so a checkpoint written after the flush never moves past
//! alerts that were not raised. Without a state file, [`Pipeline::finish`] closes the open
//! volume buckets.
//!
//! # Checkpoints and open windows
//!
//! Aggregation holds tuples in open windows. A source that checkpoints its input (the
//! blob reader) asks [`Pipeline::hold_mark`] after a batch and may write that batch's
//! checkpoint only once [`Pipeline::released`] says every window open at the mark has
//! been emitted and flushed. Without aggregation every mark is released at once.
//!
//! ```
//! use nsgflow::config::Config;
//! use nsgflow::output::DeadLetterWriter;
//! use nsgflow::pipeline::Pipeline;
//! let blob = r#"{"records":[{"time":"2018-11-13T12:00:35.3899262Z","category":"NetworkSecurityGroupFlowEvent",
//!   "resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG",
//!   "properties":{"Version":2,"flows":[{"rule":"DefaultRule_AllowInternetOutBound","flows":[{"mac":"000D3AF87856",
//!   "flowTuples":["1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66"]}]}]}}]}"#;
//! let mut p: Pipeline<Vec<u8>> = Config::default().pipeline(Vec::new(), DeadLetterWriter::new(None)).unwrap();
//! p.process("blob", blob);
//! p.finish(nsgflow::aggregate::FlushReason::EndOfInput);
//! let text = String::from_utf8(p.into_writer().unwrap()).unwrap();
//! assert!(text.starts_with(r#"{"timestamp":"2018-11-13T11:59:39.000Z","src_ip":"10.5.16.4""#));
//! ```

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::aggregate::{Aggregation, FlushReason};
use crate::detect::{Alert, Detection};
use crate::encode::Encode;
use crate::engine::{Engine, EventHandler, InputOutcome};
use crate::event::FlowEvent;
use crate::output::{DeadLetterWriter, EventWriter};
use crate::record::WalkSummary;

/// A stage that sees every enriched event beside the output (see the module docs).
pub trait Tap: Send {
    /// One enriched event (called on the hot path: no allocation per event).
    fn event(&mut self, event: &FlowEvent<'_>);
    /// One alert of the detection stage, enriched, as it is written out (not on the hot
    /// path: alerts are few).
    fn alert(&mut self, _alert: &Alert) {}
    /// The output is about to be flushed and a checkpoint may follow.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The input ended or the run is stopping.
    fn finish(&mut self, _reason: FlushReason) {}
}

/// What becomes of each event: one line each, aggregates, or nothing.
pub enum Output {
    /// One encoded line per event.
    Events,
    /// Events folded into windows; one line per key and window when a window closes.
    Aggregates(Box<Aggregation>),
    /// No event output: the taps and detection see every event, none is encoded (for
    /// `report` and `harden`). Alerts still go to the alerts writer when one is set, and
    /// to the taps.
    Discard,
}

/// Why [`Pipeline::flush`] failed.
#[derive(Debug)]
pub enum FlushError {
    /// The reader of the events went away (a closed pipe): not a failure, the run ends.
    OutputClosed,
    /// Writing events failed.
    Events(io::Error),
    /// Writing dead letters failed.
    DeadLetters(io::Error),
    /// Writing alerts to their own target (`--alerts`, named) failed.
    Alerts(String, io::Error),
    /// Saving the detection state failed (the message says where and why).
    DetectState(String),
}

impl fmt::Display for FlushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlushError::OutputClosed => f.write_str("output closed"),
            FlushError::Events(e) => write!(f, "writing events: {e}"),
            FlushError::DeadLetters(e) => write!(f, "writing dead letters: {e}"),
            FlushError::Alerts(target, e) => write!(f, "writing alerts to {target}: {e}"),
            FlushError::DetectState(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for FlushError {}

/// The detection stage of a pipeline: where its alerts go and its state file.
struct DetectionStage {
    detection: Detection,
    /// `--alerts`: alerts to their own target (named for messages); `None` puts them into
    /// the event writer.
    alerts: Option<(String, EventWriter<Box<dyn Write + Send>>)>,
    /// `--detect-state`: saved on every [`Pipeline::flush`].
    state: Option<PathBuf>,
}

/// Engine, taps, detection, aggregation or encoding, event writer and dead-letter writer.
pub struct Pipeline<W: Write> {
    /// Enrichment and the run's counters.
    pub engine: Engine,
    output: Output,
    taps: Vec<Box<dyn Tap>>,
    detection: Option<DetectionStage>,
    encoder: Box<dyn Encode + Send>,
    writer: EventWriter<W>,
    dead: DeadLetterWriter,
    /// [`Pipeline::finish`] ran.
    finished: bool,
    /// The format and options the encoder was built from, so that workers can build
    /// their own ([`crate::parallel`]); `None`: this pipeline runs on one thread only.
    encoding: Option<(crate::encode::Format, crate::encode::EncodeOptions)>,
}

/// The handler the engine feeds: taps, then aggregation or encoding. Borrowed from a
/// [`Pipeline`] by [`Pipeline::handler`].
pub struct Stages<'a, W: Write> {
    output: &'a mut Output,
    taps: &'a mut [Box<dyn Tap>],
    detection: Option<&'a mut Detection>,
    encoder: &'a mut dyn Encode,
    writer: &'a mut EventWriter<W>,
}

impl<W: Write> EventHandler for Stages<'_, W> {
    #[inline]
    fn event(&mut self, event: &FlowEvent<'_>) {
        for t in self.taps.iter_mut() {
            t.event(event);
        }
        if let Some(d) = self.detection.as_deref_mut() {
            d.event(event);
        }
        match self.output {
            Output::Events => {
                self.encoder.encode(event, self.writer.buffer());
                self.writer.end_line();
            }
            Output::Aggregates(agg) => agg.add_event(
                event,
                &mut crate::engine::aggregate_line(&mut *self.encoder, &mut *self.writer),
            ),
            Output::Discard => {}
        }
    }
}

impl<W: Write> Pipeline<W> {
    /// A pipeline from its parts.
    pub fn new(
        engine: Engine,
        output: Output,
        encoder: Box<dyn Encode + Send>,
        writer: EventWriter<W>,
        dead: DeadLetterWriter,
    ) -> Self {
        Pipeline {
            engine,
            output,
            taps: Vec::new(),
            detection: None,
            encoder,
            writer,
            dead,
            finished: false,
            encoding: None,
        }
    }

    /// Says which format and options the encoder was built from, so that
    /// [`crate::parallel::run_inputs`] may run workers with encoders of their own.
    pub fn set_encoding(
        &mut self,
        format: crate::encode::Format,
        options: crate::encode::EncodeOptions,
    ) {
        self.encoding = Some((format, options));
    }

    /// The format and options the encoder was built from, when known.
    pub fn encoding(&self) -> Option<&(crate::encode::Format, crate::encode::EncodeOptions)> {
        self.encoding.as_ref()
    }

    /// True when workers can share the work (`nsgflow process --threads`, see
    /// [`crate::parallel`]): events are encoded one line each or aggregated, with no
    /// detection or tap, and the encoding is known.
    pub fn shares_work(&self) -> bool {
        matches!(self.output, Output::Events | Output::Aggregates(_))
            && self.taps.is_empty()
            && self.detection.is_none()
            && self.encoding.is_some()
    }

    /// A worker's key maker when events are aggregated: the worker turns its events into
    /// tuples, [`Pipeline::add_batch`] aggregates them (see [`crate::parallel`]).
    pub fn worker_keys(&self) -> Option<crate::aggregate::TupleKeys> {
        match &self.output {
            Output::Aggregates(agg) => Some(agg.worker_keys()),
            Output::Events | Output::Discard => None,
        }
    }

    /// Aggregates a worker's batch (see [`Aggregation::add_batch`]), the aggregates whose
    /// window closes written as lines; nothing without aggregation.
    pub fn add_batch(
        &mut self,
        tuples: &mut [crate::aggregate::TupleIn],
        contexts: &mut Vec<std::sync::Arc<crate::aggregate::Context>>,
    ) {
        if let Output::Aggregates(agg) = &mut self.output {
            // Like the engine, pick up reloaded feeds once per input (or part).
            agg.refresh();
            let emit = &mut crate::engine::aggregate_line(self.encoder.as_mut(), &mut self.writer);
            agg.add_batch(tuples, contexts, emit);
        }
    }

    /// True when rejections are written out (not only counted).
    pub fn writes_dead_letters(&self) -> bool {
        self.dead.enabled()
    }

    /// Appends lines encoded elsewhere (a worker's chunk): `lines` whole event lines and
    /// whole dead-letter lines.
    pub fn write_chunk(&mut self, events: &[u8], lines: u64, dead: &[u8]) {
        self.writer.write_lines(events, lines);
        self.dead.write_lines(dead);
    }

    /// Adds a stage that sees every enriched event (see the module docs).
    pub fn add_tap(&mut self, tap: Box<dyn Tap>) {
        self.taps.push(tap);
    }

    /// Adds the detection stage; `state` is the file its state is saved to on every
    /// [`Pipeline::flush`] (load it into `detection` first).
    pub fn set_detection(&mut self, detection: Detection, state: Option<PathBuf>) {
        self.detection = Some(DetectionStage {
            detection,
            alerts: None,
            state,
        });
    }

    /// Sends alerts to `writer` (named `target` in messages) instead of the event writer.
    /// Without a detection stage there are no alerts and this does nothing.
    pub fn set_alerts_writer(&mut self, target: String, writer: Box<dyn Write + Send>) {
        if let Some(d) = self.detection.as_mut() {
            d.alerts = Some((target, EventWriter::new(writer)));
        }
    }

    /// The detection stage, when there is one.
    pub fn detection(&self) -> Option<&Detection> {
        self.detection.as_ref().map(|d| &d.detection)
    }

    /// Shows the alerts raised so far to the taps, then encodes them to the alerts writer
    /// or the event writer (not with [`Output::Discard`] and no alerts writer).
    fn write_alerts(&mut self) {
        let Some(d) = self.detection.as_mut() else {
            return;
        };
        if d.detection.pending().is_empty() {
            return;
        }
        let alerts = d.detection.take_alerts();
        for t in self.taps.iter_mut() {
            alerts.iter().for_each(|a| t.alert(a));
        }
        match d.alerts.as_mut() {
            Some((_, w)) => encode_alerts(&alerts, self.encoder.as_mut(), w),
            None if matches!(self.output, Output::Discard) => {}
            None => encode_alerts(&alerts, self.encoder.as_mut(), &mut self.writer),
        }
    }

    /// No event output from here on ([`Output::Discard`]): for front ends that want only
    /// their taps and alerts. (Aggregation, if the config turned it on, is dropped.)
    pub fn discard_events(&mut self) {
        self.output = Output::Discard;
    }

    /// True when events are aggregated.
    pub fn aggregates(&self) -> bool {
        matches!(self.output, Output::Aggregates(_))
    }

    /// The engine, the handler it feeds and the dead-letter writer, borrowed together (for
    /// readers that drive the engine themselves, such as the incremental file reader).
    pub fn handler(&mut self) -> (&mut Engine, Stages<'_, W>, &mut DeadLetterWriter) {
        // The alerts of the input (or chunk) before go out ahead of this one's events.
        self.write_alerts();
        if let Output::Aggregates(agg) = &mut self.output {
            // Like the engine, pick up reloaded feeds once per input (or chunk).
            agg.refresh();
        }
        (
            &mut self.engine,
            Stages {
                output: &mut self.output,
                taps: &mut self.taps,
                detection: self.detection.as_mut().map(|d| &mut d.detection),
                encoder: self.encoder.as_mut(),
                writer: &mut self.writer,
            },
            &mut self.dead,
        )
    }

    /// Processes one whole input (`name` labels it in dead letters).
    pub fn process(&mut self, name: &str, text: &str) -> InputOutcome {
        let (engine, mut h, dead) = self.handler();
        engine.process(name, text, &mut h, dead)
    }

    /// Processes a piece of a stream (see [`Engine::process_part`]).
    pub fn process_part(
        &mut self,
        name: &str,
        text: &str,
        first_record: usize,
        partial: bool,
    ) -> (WalkSummary, usize) {
        let (engine, mut h, dead) = self.handler();
        engine.process_part(name, text, first_record, partial, &mut h, dead)
    }

    /// Counts and writes out a rejection found outside the engine (a blob block that is
    /// not UTF-8, say); `name` labels the input.
    pub fn reject(&mut self, name: &str, rejection: &crate::record::Rejection<'_>) {
        self.engine.stats.reject(rejection.reason);
        self.dead.write(name, rejection);
    }

    /// A mark for the events handed in so far: see [`Pipeline::released`].
    pub fn hold_mark(&self) -> u64 {
        match &self.output {
            Output::Aggregates(agg) => agg.aggregator.windows_opened(),
            Output::Events | Output::Discard => 0,
        }
    }

    /// True once every event handed in before `mark` was taken has left in a flushed
    /// line: no window open at the mark is still open. (Call after [`Pipeline::flush`].)
    pub fn released(&self, mark: u64) -> bool {
        match &self.output {
            Output::Aggregates(agg) => agg
                .aggregator
                .oldest_open_window()
                .is_none_or(|oldest| oldest >= mark),
            Output::Events | Output::Discard => true,
        }
    }

    /// Writes out everything buffered (taps first, then alerts, events and dead letters),
    /// then saves the detection state (when kept): it moves past only what is flushed.
    pub fn flush(&mut self) -> Result<(), FlushError> {
        for t in self.taps.iter_mut() {
            t.flush().map_err(FlushError::Events)?;
        }
        self.write_alerts();
        if let Some((target, w)) = self.detection.as_mut().and_then(|d| d.alerts.as_mut()) {
            w.flush()
                .map_err(|e| FlushError::Alerts(target.clone(), e))?;
        }
        self.writer.flush().map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                FlushError::OutputClosed
            } else {
                FlushError::Events(e)
            }
        })?;
        self.dead.flush().map_err(FlushError::DeadLetters)?;
        // Events, alerts and dead letters are flushed: only now may the detection state
        // move past them (and a checkpoint after it: a crash between the two re-reads
        // input whose alerts were already raised, and the state suppresses them).
        // A failed write of events (the reader went away) leaves the state where it was.
        if let Some(DetectionStage {
            detection,
            state: Some(path),
            ..
        }) = self.detection.as_mut().filter(|_| !self.writer.failed())
        {
            detection
                .save_state(path)
                .map_err(FlushError::DetectState)?;
        }
        Ok(())
    }

    /// The input ended (or a signal came): open windows are emitted and the aggregation
    /// counters go to the stats. Call [`Pipeline::flush`] after it.
    pub fn finish(&mut self, reason: FlushReason) {
        for t in self.taps.iter_mut() {
            t.finish(reason);
        }
        if let Output::Aggregates(agg) = &mut self.output {
            agg.finish(reason, self.encoder.as_mut(), &mut self.writer);
            self.engine.stats.aggregation = Some(agg.aggregator.stats);
        }
        if let Some(d) = self.detection.as_mut() {
            // Without a state file the open volume buckets close with the run; with one
            // they stay open for the next run.
            if d.state.is_none() {
                d.detection.finish();
            }
        }
        self.write_alerts();
        self.engine.stats.detection = self.detection().map(Detection::stats);
        self.finished = true;
    }

    /// True once a write of events has failed (the reader went away).
    pub fn output_failed(&self) -> bool {
        self.writer.failed()
    }

    /// Lines written so far (events or aggregates).
    pub fn lines(&self) -> u64 {
        self.writer.lines
    }

    /// Flushes and returns the event writer's target.
    pub fn into_writer(mut self) -> io::Result<W> {
        if !self.finished {
            self.finish(FlushReason::EndOfInput);
        }
        self.dead.flush()?;
        self.writer.into_inner()
    }
}

/// Encodes the pending alerts of `detection`, one line each, into `writer`.
pub fn write_alerts<W: Write>(
    detection: &mut Detection,
    encoder: &mut dyn Encode,
    writer: &mut EventWriter<W>,
) {
    encode_alerts(&detection.take_alerts(), encoder, writer);
}

/// Encodes `alerts`, one line each, into `writer`.
fn encode_alerts<W: Write>(
    alerts: &[Alert],
    encoder: &mut dyn Encode,
    writer: &mut EventWriter<W>,
) {
    for a in alerts {
        encoder.encode_alert(a, writer.buffer());
        writer.end_line();
    }
}

/// An event handler that shows each event to a detection stage (when there is one), then
/// hands it on: for driving the engine and detection without a whole [`Pipeline`] (the
/// detection tests and benchmarks).
pub struct Detecting<'a, H: EventHandler> {
    pub detection: Option<&'a mut Detection>,
    pub inner: H,
}

impl<H: EventHandler> EventHandler for Detecting<'_, H> {
    #[inline]
    fn event(&mut self, event: &FlowEvent<'_>) {
        if let Some(d) = self.detection.as_deref_mut() {
            d.event(event);
        }
        self.inner.event(event);
    }
}
