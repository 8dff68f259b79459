//! `nsgflow process --threads N`: the inputs of a local run shared among N workers, each
//! with its own engine and encoder, and written out in order by the calling thread.
//!
//! ```text
//!  inputs --> coordinator --jobs--> worker 1..N: Engine -> Encode -> a chunk of lines
//!  (files,    (cuts large    <-done--    (their own enricher view, encoder,
//!   ranges)    blobs)                     dead-letter buffer and counters)
//!                 |
//!                 +--> chunks in job order --> EventWriter / DeadLetterWriter, Stats
//! ```
//!
//! **Work.** Each file is one job. A file of at least [`Options::split_bytes`] that is a
//! blob is read by the coordinator and cut at record boundaries into ranges of about
//! [`Options::range_bytes`] ([`crate::record::BlobSplitter`]), each range a job, while the
//! workers already run the first ones.
//!
//! **Order (the guarantee).** Output is written in job order: inputs in the order given
//! (a directory in the order [`crate::input::expand`] gives, hour by hour), and within
//! an input in input order. Events, dead letters, the checkpoint and the run summary are
//! byte for byte those of `--threads 1`: a range is walked in the whole blob's text, so
//! offsets and record indexes are the blob's, and a record the fast scan delimited but the
//! walker cannot read ends the range where a whole walk would go on, on this thread.
//! Lines are never interleaved: a worker encodes whole lines into its own chunk.
//!
//! **Allocation.** A worker allocates per job, never per tuple: its chunk buffer (reused
//! from a pool once written), a dead-letter buffer, and for a large blob the coordinator
//! reads it into one buffer shared by its ranges (`tests/alloc_parallel.rs`).
//!
//! **What runs on one thread.** Aggregation, detection and taps keep state across every
//! event, in event order; a pipeline with any of them (or one built without
//! [`Pipeline::set_encoding`]) runs [`crate::checkpoint::run_inputs`] on the calling
//! thread, whatever the thread count, so their results stay exact. Stdin is read on the
//! calling thread, in its place in the order. With `--checkpoint` each file is one job
//! (new records are read incrementally, never cut into ranges); marks move in order and
//! the checkpoint is saved after the output is flushed, as with one thread.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::checkpoint::{self, Checkpoint, FileMark, InputRun, RunHooks};
use crate::encode::Encode;
use crate::engine::{Engine, EventHandler};
use crate::event::FlowEvent;
use crate::input::{self, Input};
use crate::output::DeadLetterWriter;
use crate::record::{BlobSplitter, RecordRange, WalkSummary};
use crate::reputation::ReputationStats;
use crate::stats::Stats;

use crate::pipeline::Pipeline;

/// How a run is shared among threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Worker threads (1: everything on the calling thread).
    pub threads: usize,
    /// Bytes of records per range of a large blob.
    pub range_bytes: usize,
    /// Files at least this large are cut into ranges.
    pub split_bytes: u64,
}

impl Options {
    /// `threads` workers; files of 1 MiB and more cut into ranges of 256 KiB. Small jobs
    /// measured faster than whole files of a few MB: a range's lines (about three times
    /// its bytes) stay in the cache between the worker and the thread writing them out.
    pub fn new(threads: usize) -> Self {
        Options {
            threads: threads.max(1),
            range_bytes: 256 << 10,
            split_bytes: 1 << 20,
        }
    }
}

/// The number of threads `--threads` defaults to: the cores this process may use.
pub fn available_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// [`crate::checkpoint::run_inputs`] on `options.threads` threads: each input in turn
/// through `pipeline` (incrementally when there is a `checkpoint`), written out in input
/// order, until the output closes or `hooks` says stop. The caller then calls
/// [`crate::checkpoint::finish_run`]. With one thread, or a pipeline that does not
/// [share work](Pipeline::shares_work), it is `run_inputs` itself.
///
/// [`RunHooks::begin`] and [`RunHooks::defer`] are asked when an input is handed out,
/// [`RunHooks::done`] when it is written, in order.
pub fn run_inputs<W: Write>(
    pipeline: &mut Pipeline<W>,
    checkpoint: Option<&mut Checkpoint>,
    inputs: &[Input],
    hooks: &mut impl RunHooks<W>,
    options: &Options,
) {
    if options.threads <= 1 || !pipeline.shares_work() {
        checkpoint::run_inputs(pipeline, checkpoint, inputs, hooks);
        return;
    }
    let Some((format, encode_options)) = pipeline.encoding().cloned() else {
        return;
    };
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let pool: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let dead_letters = pipeline.writes_dead_letters();
    let mut worker_reputation: Vec<Option<ReputationStats>> = vec![None; options.threads];
    std::thread::scope(|s| {
        for id in 0..options.threads {
            let mut worker = Worker::new(
                id,
                Engine::new(pipeline.engine.enricher.clone()),
                crate::encode::encoder(format, &encode_options),
                dead_letters,
            );
            let (job_rx, done_tx, pool) = (&job_rx, done_tx.clone(), &pool);
            s.spawn(move || loop {
                let job = lock(job_rx).recv();
                let Ok(job) = job else { break };
                let out = lock(pool).pop().unwrap_or_default();
                if done_tx.send(worker.run(job, out)).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let mut c = Coordinator {
            jobs: job_tx,
            done: done_rx,
            pool: &pool,
            options,
            max_in_flight: options.threads * 3,
            in_flight: 0,
            next_seq: 0,
            slots: VecDeque::new(),
            ready: BTreeMap::new(),
            splits: BTreeMap::new(),
            next_split: 0,
            reputation: &mut worker_reputation,
            checkpoint,
        };
        c.run(pipeline, inputs, hooks);
        // Dropping the coordinator closes the job channel: the workers end.
    });
    let combined = worker_reputation
        .into_iter()
        .flatten()
        .chain(pipeline.engine.stats.reputation)
        .reduce(ReputationStats::combine);
    if combined.is_some() {
        pipeline.engine.stats.reputation = combined;
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One piece of work.
struct Job {
    seq: u64,
    name: Arc<str>,
    work: Work,
}

enum Work {
    /// A file the worker reads: whole, or from its checkpoint mark (`Some`).
    File {
        path: PathBuf,
        mark: Option<Option<FileMark>>,
    },
    /// A large file the coordinator read but could not cut (not a blob): whole.
    Whole { text: Arc<String> },
    /// A range of a blob's records.
    Range {
        text: Arc<String>,
        range: RecordRange,
        blob_start: usize,
    },
}

/// A job's result: its lines, dead letters and counters.
struct Done {
    seq: u64,
    worker: usize,
    out: Vec<u8>,
    lines: u64,
    dead: Vec<u8>,
    stats: Stats,
    what: Outcome,
}

enum Outcome {
    File {
        run: InputRun,
        /// The file's mark after the read (checkpointed runs).
        mark: Option<FileMark>,
    },
    Range {
        summary: WalkSummary,
        /// A record could not be read: a whole walk goes on from here.
        resume: Option<usize>,
        not_flow_log: Option<String>,
    },
}

/// Encodes each event as one line into a chunk.
struct Lines<'a> {
    encoder: &'a mut dyn Encode,
    out: &'a mut Vec<u8>,
    lines: u64,
}

impl EventHandler for Lines<'_> {
    #[inline]
    fn event(&mut self, event: &FlowEvent<'_>) {
        self.encoder.encode(event, self.out);
        self.out.push(b'\n');
        self.lines += 1;
    }
}

/// Dead letters into a buffer the worker takes after each job.
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Worker {
    id: usize,
    engine: Engine,
    encoder: Box<dyn Encode + Send>,
    dead: DeadLetterWriter,
    dead_buf: Arc<Mutex<Vec<u8>>>,
    /// The read buffer of whole files.
    buf: Vec<u8>,
}

impl Worker {
    fn new(id: usize, engine: Engine, encoder: Box<dyn Encode + Send>, dead: bool) -> Self {
        let dead_buf = Arc::new(Mutex::new(Vec::new()));
        let writer = dead.then(|| Box::new(SharedBuf(dead_buf.clone())) as Box<dyn Write + Send>);
        Worker {
            id,
            engine,
            encoder,
            dead: DeadLetterWriter::new(writer),
            dead_buf,
            buf: Vec::new(),
        }
    }

    fn run(&mut self, job: Job, mut out: Vec<u8>) -> Done {
        let mut h = Lines {
            encoder: self.encoder.as_mut(),
            out: &mut out,
            lines: 0,
        };
        let (engine, dead, name) = (&mut self.engine, &mut self.dead, &*job.name);
        let what = match job.work {
            Work::File { path, mark: None } => Outcome::File {
                run: checkpoint::file_input(engine, None, &path, name, &mut self.buf, &mut h, dead),
                mark: None,
            },
            Work::File {
                path,
                mark: Some(mark),
            } => {
                let key = path.display().to_string();
                let mut cp = Checkpoint {
                    version: Checkpoint::VERSION,
                    files: mark.map(|m| (key.clone(), m)).into_iter().collect(),
                };
                let run = checkpoint::file_input(
                    engine,
                    Some(&mut cp),
                    &path,
                    name,
                    &mut self.buf,
                    &mut h,
                    dead,
                );
                Outcome::File {
                    run,
                    mark: cp.files.remove(&key),
                }
            }
            Work::Whole { text } => Outcome::File {
                run: engine.process(name, &text, &mut h, dead).into(),
                mark: None,
            },
            Work::Range {
                text,
                range,
                blob_start,
            } => {
                let (summary, resume) =
                    engine.process_range(name, &text, &range, blob_start, &mut h, dead);
                Outcome::Range {
                    summary,
                    resume,
                    not_flow_log: engine.take_not_flow_log_detail(),
                }
            }
        };
        let lines = h.lines;
        // Into the shared buffer, which never fails.
        let _ = self.dead.flush();
        let dead = std::mem::take(&mut *lock(&self.dead_buf));
        Done {
            seq: job.seq,
            worker: self.id,
            out,
            lines,
            dead,
            stats: std::mem::take(&mut self.engine.stats),
            what,
        }
    }
}

/// What each job in order stands for.
enum Slot {
    /// A whole file (or its new part).
    File { name: Arc<str> },
    /// A range of the cut file `file`; `last`: its last range.
    Range { file: usize, last: bool, bytes: u64 },
    /// Settled without a worker: a large file that could not be read, or not UTF-8.
    Settled { name: Arc<str>, run: InputRun },
}

/// A large blob being read in ranges.
struct Split {
    name: Arc<str>,
    text: Arc<String>,
    summary: WalkSummary,
    /// A range stopped where a whole walk would go on without the later ranges: they
    /// are dropped.
    dropped: bool,
    not_flow_log: Option<String>,
}

struct Coordinator<'a> {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<Done>,
    pool: &'a Mutex<Vec<Vec<u8>>>,
    options: &'a Options,
    max_in_flight: usize,
    in_flight: usize,
    next_seq: u64,
    /// Jobs not yet written, in order.
    slots: VecDeque<(u64, Slot)>,
    /// Results come back in any order; kept here until their turn.
    ready: BTreeMap<u64, Done>,
    splits: BTreeMap<usize, Split>,
    next_split: usize,
    /// Each worker's reputation counters (cumulative), last seen.
    reputation: &'a mut [Option<ReputationStats>],
    checkpoint: Option<&'a mut Checkpoint>,
}

impl Coordinator<'_> {
    fn run<W: Write>(
        &mut self,
        pipeline: &mut Pipeline<W>,
        inputs: &[Input],
        hooks: &mut impl RunHooks<W>,
    ) {
        for inp in inputs {
            let name = match checkpoint::admit(pipeline, hooks, inp) {
                ControlFlow::Break(()) => break,
                ControlFlow::Continue(None) => continue,
                ControlFlow::Continue(Some(name)) => name,
            };
            match inp {
                Input::Stdin => {
                    // Read here, in its place: everything before it is written first.
                    self.drain(pipeline, hooks);
                    let run = hooks.stdin(pipeline);
                    hooks.done(&name, run);
                }
                Input::File(path) => {
                    let name: Arc<str> = name.into();
                    let large = self.checkpoint.is_none()
                        && std::fs::metadata(path)
                            .is_ok_and(|m| m.len() >= self.options.split_bytes);
                    if large {
                        self.cut(pipeline, hooks, name, path);
                    } else {
                        let mark = self
                            .checkpoint
                            .as_deref()
                            .map(|cp| cp.files.get(&*name).copied());
                        let work = Work::File {
                            path: path.clone(),
                            mark,
                        };
                        self.send(
                            pipeline,
                            hooks,
                            Some((name.clone(), work)),
                            Slot::File { name },
                        );
                    }
                }
            }
        }
        self.drain(pipeline, hooks);
    }

    /// Reads a large file and hands it out in ranges (whole when it is not a blob).
    fn cut<W: Write>(
        &mut self,
        pipeline: &mut Pipeline<W>,
        hooks: &mut impl RunHooks<W>,
        name: Arc<str>,
        path: &std::path::Path,
    ) {
        let mut bytes = Vec::new();
        if let Err(e) = input::read_file(path, &mut bytes) {
            let run = InputRun::Failed(format!("{name}: cannot read: {e}"));
            return self.send(pipeline, hooks, None, Slot::Settled { name, run });
        }
        let text = match String::from_utf8(bytes) {
            Ok(t) => Arc::new(t),
            Err(e) => {
                let why = input::as_text(e.as_bytes()).err().unwrap_or_default();
                let run = InputRun::NotFlowLog(why);
                return self.send(pipeline, hooks, None, Slot::Settled { name, run });
            }
        };
        let Some(splitter) = BlobSplitter::new(&text, self.options.range_bytes) else {
            let work = Work::Whole { text: text.clone() };
            return self.send(
                pipeline,
                hooks,
                Some((name.clone(), work)),
                Slot::File { name },
            );
        };
        let file = self.next_split;
        self.next_split += 1;
        self.splits.insert(
            file,
            Split {
                name: name.clone(),
                text: text.clone(),
                summary: WalkSummary::default(),
                dropped: false,
                not_flow_log: None,
            },
        );
        let blob_start = splitter.blob_start();
        for range in splitter {
            let last = range.end.is_none();
            let bytes = (range.end.unwrap_or(text.len()) - range.from) as u64;
            let work = Work::Range {
                text: text.clone(),
                range,
                blob_start,
            };
            let slot = Slot::Range { file, last, bytes };
            self.send(pipeline, hooks, Some((name.clone(), work)), slot);
        }
    }

    /// Hands out a job (none for a settled slot), waiting while too many are out, and
    /// writes what is ready.
    fn send<W: Write>(
        &mut self,
        pipeline: &mut Pipeline<W>,
        hooks: &mut impl RunHooks<W>,
        job: Option<(Arc<str>, Work)>,
        slot: Slot,
    ) {
        // Results waiting for their turn count too: memory stays bounded when the job at
        // the head of the order is slow.
        while job.is_some()
            && self.in_flight > 0
            && self.in_flight + self.ready.len() >= self.max_in_flight
        {
            if !self.receive(true) {
                return;
            }
            self.write_ready(pipeline, hooks);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some((name, work)) = job {
            if self.jobs.send(Job { seq, name, work }).is_err() {
                return;
            }
            self.in_flight += 1;
        }
        self.slots.push_back((seq, slot));
        while self.receive(false) {}
        self.write_ready(pipeline, hooks);
    }

    /// Takes one result (waiting for it when `wait`); false when there is none.
    fn receive(&mut self, wait: bool) -> bool {
        let done = if wait {
            self.done.recv().ok()
        } else {
            self.done.try_recv().ok()
        };
        let Some(done) = done else { return false };
        self.in_flight -= 1;
        self.ready.insert(done.seq, done);
        true
    }

    /// Waits for every job out and writes everything.
    fn drain<W: Write>(&mut self, pipeline: &mut Pipeline<W>, hooks: &mut impl RunHooks<W>) {
        while self.in_flight > 0 && self.receive(true) {}
        self.write_ready(pipeline, hooks);
    }

    /// Writes the results whose turn it is.
    fn write_ready<W: Write>(&mut self, pipeline: &mut Pipeline<W>, hooks: &mut impl RunHooks<W>) {
        while let Some((seq, _)) = self.slots.front() {
            let done = match &self.slots[0].1 {
                Slot::Settled { .. } => None,
                _ => match self.ready.remove(seq) {
                    Some(d) => Some(d),
                    None => return,
                },
            };
            let Some((_, slot)) = self.slots.pop_front() else {
                return;
            };
            self.write(pipeline, hooks, slot, done);
        }
    }

    fn write<W: Write>(
        &mut self,
        pipeline: &mut Pipeline<W>,
        hooks: &mut impl RunHooks<W>,
        slot: Slot,
        done: Option<Done>,
    ) {
        let Some(done) = done else {
            if let Slot::Settled { name, run } = slot {
                pipeline.engine.stats.input_failed();
                hooks.done(&name, run);
            }
            return;
        };
        let Done {
            worker,
            out,
            lines,
            dead,
            stats,
            what,
            ..
        } = done;
        self.reputation[worker] = stats.reputation.or(self.reputation[worker]);
        let take = |pipeline: &mut Pipeline<W>| {
            pipeline.write_chunk(&out, lines, &dead);
            pipeline.engine.stats.add_counts(&stats);
        };
        match (slot, what) {
            (Slot::File { name }, Outcome::File { run, mark }) => {
                take(pipeline);
                progress(pipeline, stats.bytes);
                if let (Some(cp), Some(mark)) = (self.checkpoint.as_deref_mut(), mark) {
                    cp.files.insert(name.to_string(), mark);
                }
                hooks.done(&name, run);
            }
            (
                Slot::Range { file, last, bytes },
                Outcome::Range {
                    summary,
                    resume,
                    not_flow_log,
                },
            ) => {
                let Some(split) = self.splits.get_mut(&file) else {
                    return;
                };
                if !split.dropped {
                    take(pipeline);
                    split.summary.add(&summary);
                    split.not_flow_log = split.not_flow_log.take().or(not_flow_log);
                    if let Some(at) = resume {
                        // A whole walk goes on from here, without the later ranges.
                        split.dropped = true;
                        let (engine, mut h, dead) = pipeline.handler();
                        engine.note_not_flow_log(split.not_flow_log.take());
                        let next = split.summary.next_record_index;
                        let s =
                            engine.process_from(&split.name, &split.text, at, next, &mut h, dead);
                        split.summary.add(&s);
                    }
                }
                progress(pipeline, bytes);
                if last {
                    if let Some(split) = self.splits.remove(&file) {
                        let engine = &mut pipeline.engine;
                        engine.note_not_flow_log(split.not_flow_log);
                        let mut summary = split.summary;
                        // The blob itself is a top-level value, as in a whole walk.
                        summary.values += 1;
                        let run = engine.finish_input(split.text.len(), summary).into();
                        hooks.done(&split.name, run);
                    }
                }
            }
            _ => {}
        }
        let mut out = out;
        out.clear();
        lock(self.pool).push(out);
    }
}

fn progress<W: Write>(pipeline: &mut Pipeline<W>, bytes: u64) {
    if let Some(p) = pipeline.engine.progress.as_mut() {
        p(bytes);
    }
}
