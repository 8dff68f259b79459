//! `nsgflow process --threads N`: the inputs of a local run shared among N workers, each
//! with its own engine and encoder, and written out in order by the calling thread.
//!
//! ```text
//!  inputs --> coordinator --jobs--> queue, earliest --> worker 1..N: read, UTF-8 check,
//!  (files)    (hands out    in the output order first    scan (cut), Engine -> Encode
//!              inputs)             ^                       -> a chunk of lines
//!                 |                +---- ranges of a cut blob ----+   |
//!                 +<------------------- results (mpsc) --------------+
//!                 +--> chunks in order --> EventWriter / DeadLetterWriter, Stats
//! ```
//!
//! **Work.** Each file is one job, handed out by the calling thread (the coordinator),
//! which then only writes finished chunks in order. The worker that takes a file reads
//! it (into a read buffer reused across files), checks it is UTF-8 and, when it is a blob
//! of at least [`Options::split_bytes`], cuts it at record boundaries into ranges of about
//! [`Options::range_bytes`] ([`crate::record::BlobSplitter`]): each range is queued as a
//! job as the scan finds it, so the other workers start on the first ones while it scans
//! on. Otherwise the worker reads the file whole. The queue hands out the job earliest in
//! the output order first: a blob's ranges before the next file.
//!
//! **Order (the guarantee).** Output is written in job order: inputs in the order given
//! (a directory in the order [`crate::input::expand`] gives, hour by hour), and within
//! an input in input order. Events, dead letters, the checkpoint and the run summary are
//! byte for byte those of `--threads 1`: a range is walked in the whole blob's text, so
//! offsets and record indexes are the blob's, and a record the fast scan delimited but the
//! walker cannot read ends the range where a whole walk would go on, on this thread.
//! Lines are never interleaved: a worker encodes whole lines into its own chunk.
//!
//! **Bounds.** At most N + 1 inputs are handed out and not written, and at most 8N jobs
//! are taken and not written (the next job to write is always taken), so memory stays
//! bounded when the job at the head of the order is slow: a job's chunk is the output of
//! one 256 KiB range or one small file, about 1-1.5 MB of flat events, so some 20 MB for
//! two workers. The window was 3N: a range is about 1.5 ms of work, and on a VM whose
//! vCPUs lose the host for milliseconds at a time a window of 6 can leave the other
//! worker waiting behind a stalled head. Measured with `examples/parallel_cli.rs`, five
//! alternated runs each: one 100 MB blob 1.58x -> 1.62x, a directory 1.76x -> 1.85x (the
//! medians of the runs' ratios; within that host's noise, so a small gain at most).
//!
//! **Allocation.** A worker allocates per job, never per tuple: the job and its result,
//! a dead-letter buffer when there are dead letters, with aggregation the job's context
//! list (and a context only when it is new to the worker); chunk, tuple and file read
//! buffers come from pools and go back once written (`tests/alloc_parallel.rs`).
//!
//! **Aggregation.** With aggregation, a worker makes each event a [`TupleIn`] (its key
//! fields and counters, the rule and resource as a context id of the worker's own
//! [`TupleKeys`], emptied after each job) instead of a line. The calling thread takes the
//! batches in job order, imports each job's contexts (ids as one thread would have given
//! them) and folds the tuples into the windows in order
//! ([`crate::aggregate::Aggregation::add_batch`]): the same aggregates, in the same order,
//! for the same flush reasons as one thread. Enriching and encoding aggregates stays on the
//! calling thread.
//!
//! **What runs on one thread.** Detection and taps keep state across every enriched
//! event, in event order; a pipeline with either (or one built without
//! [`Pipeline::set_encoding`]) runs [`crate::checkpoint::run_inputs`] on the calling
//! thread, whatever the thread count, so their results stay exact. Stdin is read on the
//! calling thread, in its place in the order.
//!
//! **Panics.** A panic on a worker or on the calling thread ends the run with an error
//! naming the input (see [`run_inputs`]); the queue closes, so nothing waits for ever. With `--checkpoint` each file is one job
//! (new records are read incrementally, never cut into ranges); marks move in order and
//! the checkpoint is saved after the output is flushed, as with one thread.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::aggregate::{Context, TupleIn, TupleKeys};
use crate::checkpoint::{self, Checkpoint, FileMark, InputRun, RunHooks};
use crate::encode::Encode;
use crate::engine::{Engine, EventHandler};
use crate::event::FlowEvent;
use crate::input::Input;
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
///
/// A panic on any thread (a bug) ends the run without hanging: the other workers stop
/// after their job and the error names the input being read (`Err`); what was written
/// before stays written, and the caller must not save a checkpoint.
pub fn run_inputs<W: Write>(
    pipeline: &mut Pipeline<W>,
    checkpoint: Option<&mut Checkpoint>,
    inputs: &[Input],
    hooks: &mut impl RunHooks<W>,
    options: &Options,
) -> Result<Report, String> {
    let one_thread = Report::default();
    if options.threads <= 1 || !pipeline.shares_work() {
        checkpoint::run_inputs(pipeline, checkpoint, inputs, hooks);
        return Ok(one_thread);
    }
    let Some((format, encode_options)) = pipeline.encoding().cloned() else {
        return Ok(one_thread);
    };
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let shared = Shared {
        queue: Mutex::new(Queue::default()),
        wake: Condvar::new(),
        max_out: options.threads * 8,
        chunks: Mutex::new(Vec::new()),
        tuples: Mutex::new(Vec::new()),
        texts: Mutex::new(Vec::new()),
        failure: Mutex::new(None),
        options: *options,
    };
    let dead_letters = pipeline.writes_dead_letters();
    let mut worker_reputation: Vec<(u64, Option<ReputationStats>)> =
        vec![(0, None); options.threads];
    let report = std::thread::scope(|s| {
        for id in 0..options.threads {
            let mut worker = Worker::new(
                id,
                Engine::new(pipeline.engine.enricher.clone()),
                crate::encode::encoder(format, &encode_options),
                dead_letters,
                pipeline.worker_keys(),
            );
            let (shared, done_tx) = (&shared, done_tx.clone());
            s.spawn(move || {
                while let Some((key, job)) = shared.take() {
                    let name = job.name.clone();
                    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        worker.run(key, job, shared, &done_tx)
                    }));
                    match run {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(panic) => {
                            // The job's result never comes: the run ends (see `fail`).
                            shared.fail(format!(
                                "{name}: a worker thread panicked reading it: {}",
                                panic_text(&*panic)
                            ));
                            break;
                        }
                    }
                }
                // This worker's sender of results goes with it: once every worker has
                // ended, the calling thread stops waiting for results.
                drop(done_tx);
            });
        }
        drop(done_tx);
        let mut c = Coordinator {
            shared: &shared,
            done: done_rx,
            max_inputs: options.threads + 1,
            next_seq: 0,
            slots: VecDeque::new(),
            head_part: 0,
            ready: BTreeMap::new(),
            splits: BTreeMap::new(),
            reputation: &mut worker_reputation,
            checkpoint,
            report: Report::default(),
        };
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.run(pipeline, inputs, hooks)
        }));
        if let Err(panic) = run {
            let name = c.slots.front().map_or("-", |s| &*s.1);
            shared.fail(format!(
                "{name}: the thread writing the output panicked at it: {}",
                panic_text(&*panic)
            ));
        }
        // Every input is written (or the output closed, or a thread failed): the
        // workers end.
        shared.close();
        c.report
    });
    if let Some(failure) = lock(&shared.failure).take() {
        return Err(format!(
            "{failure} (a bug in nsgflow: please report it with this input); the inputs before it were written, the run stopped there and no checkpoint was saved"
        ));
    }
    let combined = worker_reputation
        .into_iter()
        .filter_map(|(_, r)| r)
        .chain(pipeline.engine.stats.reputation)
        .reduce(ReputationStats::combine);
    if combined.is_some() {
        pipeline.engine.stats.reputation = combined;
    }
    Ok(Report {
        workers: options.threads,
        ..report
    })
}

/// What [`run_inputs`] did: whether workers shared the run, and how much aggregation they
/// fed (for the run summary and the tests that check the work was shared).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Worker threads that shared the run; 0: it ran on the calling thread alone.
    pub workers: usize,
    /// Jobs whose events the workers made into tuples, aggregated on the calling thread.
    pub aggregated_batches: u64,
}

/// The text of a panic's payload.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A job's place in the output order: its input, and its part of that input (0: the
/// input's first job; a cut blob's ranges are parts 1, 2, ...).
type Key = (u64, u32);

/// One piece of work.
struct Job {
    name: Arc<str>,
    work: Work,
}

enum Work {
    /// A file the worker reads: whole, or cut into ranges when it is a large blob (`mark`
    /// `None`), or from its checkpoint mark (`Some`).
    File {
        path: PathBuf,
        mark: Option<Option<FileMark>>,
    },
    /// A range of a blob's records.
    Range {
        text: Arc<String>,
        range: RecordRange,
        blob_start: usize,
    },
}

/// What the threads share: the jobs waiting, in output order, and the buffers to reuse.
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job is queued, a result written or the run ends.
    wake: Condvar,
    /// At most this many jobs taken and not yet written (memory stays bounded when the
    /// job at the head of the order is slow); the head input's jobs are always taken.
    max_out: usize,
    /// Chunk buffers, reused once written.
    chunks: Mutex<Vec<Vec<u8>>>,
    /// Tuple batch buffers (aggregation), reused once aggregated.
    tuples: Mutex<Vec<Vec<TupleIn>>>,
    /// Read buffers of whole files, reused once their input is written.
    texts: Mutex<Vec<Vec<u8>>>,
    /// A thread panicked (the first one's message): the run ends.
    failure: Mutex<Option<String>>,
    options: Options,
}

#[derive(Default)]
struct Queue {
    /// Taken first to last: the earliest job in the output order first.
    jobs: BTreeMap<Key, Job>,
    /// Jobs taken and not yet written.
    out: usize,
    /// The job to write next: always taken, whatever `out` is.
    head: Key,
    closed: bool,
}

impl Shared {
    /// The next job, waiting for one; `None` once the run is over.
    fn take(&self) -> Option<(Key, Job)> {
        let mut q = lock(&self.queue);
        loop {
            if q.closed {
                return None;
            }
            let (out, head) = (q.out, q.head);
            let next = q.jobs.first_key_value().map(|(k, _)| *k);
            if next.is_some_and(|k| k == head || out < self.max_out) {
                q.out += 1;
                return q.jobs.pop_first();
            }
            q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn push(&self, key: Key, job: Job) {
        lock(&self.queue).jobs.insert(key, job);
        self.wake.notify_one();
    }

    /// A result was written; `head`: the job to write next.
    fn written(&self, head: Key) {
        let mut q = lock(&self.queue);
        q.out -= 1;
        q.head = head;
        drop(q);
        self.wake.notify_all();
    }

    fn close(&self) {
        lock(&self.queue).closed = true;
        self.wake.notify_all();
    }

    /// A thread panicked: keeps the first message and closes the queue, so the other
    /// workers end after their job, every sender of results is dropped and the calling
    /// thread stops waiting for the result that never comes (no hang).
    fn fail(&self, message: String) {
        lock(&self.failure).get_or_insert(message);
        self.close();
    }

    fn failed(&self) -> bool {
        lock(&self.failure).is_some()
    }
}

/// A job's result: its lines (or, aggregating, its tuples and the contexts they name),
/// dead letters and counters.
struct Done {
    key: Key,
    worker: usize,
    /// The worker's count of results sent, this one included.
    sent: u64,
    out: Vec<u8>,
    lines: u64,
    tuples: Vec<TupleIn>,
    /// The contexts the job made, in id order (see [`TupleKeys::drain_contexts`]).
    contexts: Vec<Arc<Context>>,
    dead: Vec<u8>,
    stats: Stats,
    what: Outcome,
}

enum Outcome {
    /// A whole file (or its new part): the input is done.
    File {
        run: InputRun,
        /// The file's mark after the read (checkpointed runs).
        mark: Option<FileMark>,
    },
    /// The file is a blob, cut into ranges: parts 1 to the one marked `last` follow.
    Cut { text: Arc<String> },
    Range {
        summary: WalkSummary,
        /// A record could not be read: a whole walk goes on from here.
        resume: Option<usize>,
        not_flow_log: Option<String>,
        /// The range's bytes (progress).
        bytes: u64,
        last: bool,
    },
}

/// Encodes each event as one line into a chunk or, aggregating, makes its tuple.
struct Lines<'a> {
    encoder: &'a mut dyn Encode,
    out: &'a mut Vec<u8>,
    lines: u64,
    keys: Option<&'a mut TupleKeys>,
    tuples: &'a mut Vec<TupleIn>,
}

impl EventHandler for Lines<'_> {
    #[inline]
    fn event(&mut self, event: &FlowEvent<'_>) {
        if let Some(keys) = self.keys.as_deref_mut() {
            self.tuples.push(keys.tuple_in(event));
            return;
        }
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
    /// Results sent so far (numbers them: see [`Coordinator::reputation`]).
    sent: u64,
    engine: Engine,
    encoder: Box<dyn Encode + Send>,
    dead: DeadLetterWriter,
    dead_buf: Arc<Mutex<Vec<u8>>>,
    /// The read buffer of checkpointed files.
    buf: Vec<u8>,
    /// Aggregating: events become tuples, aggregated on the calling thread.
    keys: Option<TupleKeys>,
}

impl Worker {
    fn new(
        id: usize,
        engine: Engine,
        encoder: Box<dyn Encode + Send>,
        dead: bool,
        keys: Option<TupleKeys>,
    ) -> Self {
        let dead_buf = Arc::new(Mutex::new(Vec::new()));
        let writer = dead.then(|| Box::new(SharedBuf(dead_buf.clone())) as Box<dyn Write + Send>);
        Worker {
            id,
            sent: 0,
            engine,
            encoder,
            dead: DeadLetterWriter::new(writer),
            dead_buf,
            buf: Vec::new(),
            keys,
        }
    }

    /// Runs `job` and sends its result; false when the coordinator is gone.
    fn run(&mut self, key: Key, job: Job, shared: &Shared, done: &Sender<Done>) -> Sent {
        #[cfg(test)]
        if job.name.ends_with("panic-in-worker.json") {
            panic!("a test's panic in a worker");
        }
        let mut whole = Vec::new();
        if let Work::File { path, mark: None } = &job.work {
            let mut buf = lock(&shared.texts).pop().unwrap_or_default();
            if let Err(e) = crate::input::read_file(path, &mut buf) {
                lock(&shared.texts).push(buf);
                let run = checkpoint::read_error(&mut self.engine, &job.name, &e);
                let what = Outcome::File { run, mark: None };
                return self.send(key, (Vec::new(), 0, Vec::new()), what, done);
            }
            match self.cut(key, &job.name, buf, shared, done) {
                Ok(sent) => return sent,
                Err(buf) => whole = buf,
            }
        }
        let aggregating = self.keys.is_some();
        let mut out = Vec::new();
        let mut tuples = Vec::new();
        if aggregating {
            tuples = lock(&shared.tuples).pop().unwrap_or_default();
        } else {
            out = lock(&shared.chunks).pop().unwrap_or_default();
        }
        let mut h = Lines {
            encoder: self.encoder.as_mut(),
            out: &mut out,
            lines: 0,
            keys: self.keys.as_mut(),
            tuples: &mut tuples,
        };
        let (engine, dead, name) = (&mut self.engine, &mut self.dead, &*job.name);
        let what = match job.work {
            Work::File { mark: None, .. } => {
                let run = checkpoint::whole_input(engine, name, &whole, &mut h, dead);
                lock(&shared.texts).push(whole);
                Outcome::File { run, mark: None }
            }
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
                    bytes: (range.end.unwrap_or(text.len()) - range.from) as u64,
                    last: range.end.is_none(),
                }
            }
        };
        let lines = h.lines;
        self.send(key, (out, lines, tuples), what, done)
    }

    /// Sends a job's result (its chunk, lines and tuples) with the contexts, dead letters
    /// and counters it gathered.
    fn send(
        &mut self,
        key: Key,
        (out, lines, tuples): (Vec<u8>, u64, Vec<TupleIn>),
        what: Outcome,
        done: &Sender<Done>,
    ) -> Sent {
        // Into the shared buffer, which never fails.
        let _ = self.dead.flush();
        let dead = std::mem::take(&mut *lock(&self.dead_buf));
        self.sent += 1;
        let mut contexts = Vec::new();
        if let Some(keys) = self.keys.as_mut() {
            keys.drain_contexts(&mut contexts);
        }
        done.send(Done {
            key,
            worker: self.id,
            sent: self.sent,
            out,
            lines,
            tuples,
            contexts,
            dead,
            stats: std::mem::take(&mut self.engine.stats),
            what,
        })
        .is_ok()
    }

    /// Cuts a large blob read into `buf` into ranges of records, queued as parts 1, 2, ...
    /// of input `key` as the scan finds them (the other workers start on them at once),
    /// after part 0 that tells the coordinator. Gives `buf` back when the file is small,
    /// not UTF-8 or not a blob: it is read whole.
    fn cut(
        &mut self,
        key: Key,
        name: &Arc<str>,
        buf: Vec<u8>,
        shared: &Shared,
        done: &Sender<Done>,
    ) -> Result<Sent, Vec<u8>> {
        let target = shared.options.range_bytes;
        if (buf.len() as u64) < shared.options.split_bytes {
            return Err(buf);
        }
        let text = String::from_utf8(buf).map_err(|e| e.into_bytes())?;
        if BlobSplitter::new(&text, target).is_none() {
            return Err(text.into_bytes());
        }
        let text = Arc::new(text);
        let what = Outcome::Cut { text: text.clone() };
        if !self.send(key, (Vec::new(), 0, Vec::new()), what, done) {
            return Ok(false);
        }
        let splitter = BlobSplitter::new(&text, target);
        let blob_start = splitter.as_ref().map_or(0, BlobSplitter::blob_start);
        for (part, range) in (1..).zip(splitter.into_iter().flatten()) {
            let work = Work::Range {
                text: text.clone(),
                range,
                blob_start,
            };
            let job = Job {
                name: name.clone(),
                work,
            };
            shared.push((key.0, part), job);
        }
        Ok(true)
    }
}

/// Whether a result reached the coordinator (it is gone once the output closed).
type Sent = bool;

/// A large blob being read in ranges.
struct Split {
    text: Arc<String>,
    summary: WalkSummary,
    /// A range stopped where a whole walk would go on without the later ranges: they
    /// are dropped.
    dropped: bool,
    not_flow_log: Option<String>,
}

struct Coordinator<'a> {
    shared: &'a Shared,
    done: mpsc::Receiver<Done>,
    /// At most this many inputs handed out and not yet written.
    max_inputs: usize,
    next_seq: u64,
    /// Inputs handed out and not yet written, in order.
    slots: VecDeque<(u64, Arc<str>)>,
    /// The part of the head input to write next.
    head_part: u32,
    /// Results come back in any order; kept here until their turn.
    ready: BTreeMap<Key, Done>,
    splits: BTreeMap<u64, Split>,
    /// Each worker's reputation counters (cumulative) as of the last job it sent of
    /// those written, and that job's number among the worker's (results are written in
    /// output order, not in the order a worker sent them: a worker may take a range of
    /// an earlier blob after a later file).
    reputation: &'a mut [(u64, Option<ReputationStats>)],
    checkpoint: Option<&'a mut Checkpoint>,
    report: Report,
}

impl Coordinator<'_> {
    fn run<W: Write>(
        &mut self,
        pipeline: &mut Pipeline<W>,
        inputs: &[Input],
        hooks: &mut impl RunHooks<W>,
    ) {
        for inp in inputs {
            if self.shared.failed() {
                return;
            }
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
                    let mark = self
                        .checkpoint
                        .as_deref()
                        .map(|cp| cp.files.get(&*name).copied());
                    let work = Work::File {
                        path: path.clone(),
                        mark,
                    };
                    self.send(pipeline, hooks, name, work);
                }
            }
        }
        self.drain(pipeline, hooks);
    }

    /// Hands out an input, waiting while too many are out, and writes what is ready.
    fn send<W: Write>(
        &mut self,
        pipeline: &mut Pipeline<W>,
        hooks: &mut impl RunHooks<W>,
        name: Arc<str>,
        work: Work,
    ) {
        while self.slots.len() >= self.max_inputs {
            if !self.receive(true) {
                return;
            }
            self.write_ready(pipeline, hooks);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.slots.is_empty() {
            self.head_part = 0;
        }
        self.slots.push_back((seq, name.clone()));
        self.shared.push((seq, 0), Job { name, work });
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
        self.ready.insert(done.key, done);
        true
    }

    /// Waits for every input out and writes everything.
    fn drain<W: Write>(&mut self, pipeline: &mut Pipeline<W>, hooks: &mut impl RunHooks<W>) {
        self.write_ready(pipeline, hooks);
        while !self.slots.is_empty() && self.receive(true) {
            self.write_ready(pipeline, hooks);
        }
    }

    /// Writes the results whose turn it is.
    fn write_ready<W: Write>(&mut self, pipeline: &mut Pipeline<W>, hooks: &mut impl RunHooks<W>) {
        while let Some((seq, name)) = self.slots.front() {
            let Some(done) = self.ready.remove(&(*seq, self.head_part)) else {
                return;
            };
            let (seq, name) = (*seq, name.clone());
            let finished = self.write(pipeline, hooks, seq, &name, done);
            if finished {
                self.slots.pop_front();
                self.head_part = 0;
            } else {
                self.head_part += 1;
            }
            let head = self.slots.front().map_or(self.next_seq, |s| s.0);
            self.shared.written((head, self.head_part));
        }
    }

    /// Writes one result of input `seq`; true when the input is done.
    fn write<W: Write>(
        &mut self,
        pipeline: &mut Pipeline<W>,
        hooks: &mut impl RunHooks<W>,
        seq: u64,
        name: &str,
        done: Done,
    ) -> bool {
        let Done {
            worker,
            sent,
            mut out,
            lines,
            mut tuples,
            mut contexts,
            dead,
            stats,
            what,
            ..
        } = done;
        #[cfg(test)]
        if name.ends_with("panic-in-writer.json") {
            panic!("a test's panic on the calling thread");
        }
        let last = &mut self.reputation[worker];
        if sent > last.0 {
            *last = (sent, stats.reputation.or(last.1));
        }
        let batches = &mut self.report.aggregated_batches;
        let mut take = |pipeline: &mut Pipeline<W>| {
            pipeline.write_chunk(&out, lines, &dead);
            if !tuples.is_empty() || !contexts.is_empty() {
                pipeline.add_batch(&mut tuples, &mut contexts);
                *batches += 1;
            }
            pipeline.engine.stats.add_counts(&stats);
        };
        let finished = match what {
            Outcome::File { run, mark } => {
                take(pipeline);
                progress(pipeline, stats.bytes);
                if let (Some(cp), Some(mark)) = (self.checkpoint.as_deref_mut(), mark) {
                    cp.files.insert(name.to_string(), mark);
                }
                hooks.done(name, run);
                true
            }
            Outcome::Cut { text } => {
                let split = Split {
                    text,
                    summary: WalkSummary::default(),
                    dropped: false,
                    not_flow_log: None,
                };
                self.splits.insert(seq, split);
                false
            }
            Outcome::Range {
                summary,
                resume,
                not_flow_log,
                bytes,
                last,
            } => {
                if let Some(split) = self.splits.get_mut(&seq) {
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
                            let s = engine.process_from(name, &split.text, at, next, &mut h, dead);
                            split.summary.add(&s);
                        }
                    }
                }
                progress(pipeline, bytes);
                if last {
                    if let Some(split) = self.splits.remove(&seq) {
                        let engine = &mut pipeline.engine;
                        engine.note_not_flow_log(split.not_flow_log);
                        let mut summary = split.summary;
                        // The blob itself is a top-level value, as in a whole walk.
                        summary.values += 1;
                        let run = engine.finish_input(split.text.len(), summary).into();
                        hooks.done(name, run);
                        // The read buffer, for the next file (unless a worker still
                        // holds the text: it lets go of it right after).
                        if let Ok(text) = Arc::try_unwrap(split.text) {
                            lock(&self.shared.texts).push(text.into_bytes());
                        }
                    }
                }
                last
            }
        };
        out.clear();
        if out.capacity() > 0 {
            lock(&self.shared.chunks).push(out);
        }
        tuples.clear();
        if tuples.capacity() > 0 {
            lock(&self.shared.tuples).push(tuples);
        }
        finished
    }
}

fn progress<W: Write>(pipeline: &mut Pipeline<W>, bytes: u64) {
    if let Some(p) = pipeline.engine.progress.as_mut() {
        p(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::output::DeadLetterWriter;
    use std::time::Duration;

    struct Quiet;

    impl<W: Write> RunHooks<W> for Quiet {
        fn done(&mut self, _: &str, _: InputRun) {}
    }

    /// A run of 2 threads over copies of a fixture blob named `names` (a name ending in
    /// `panic-in-worker.json` or `panic-in-writer.json` panics there, under `cfg(test)`),
    /// on its own thread: a run still going after a minute is a hang and fails the test.
    fn run(tag: &str, names: &[&str], aggregate: bool) -> Result<Report, String> {
        let dir = std::env::temp_dir().join(format!("nsgflow-panic-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let blob = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/nsg-v2-blob.json"),
        )
        .unwrap();
        let inputs: Vec<Input> = names
            .iter()
            .map(|n| {
                let p = dir.join(n);
                std::fs::write(&p, &blob).unwrap();
                Input::File(p)
            })
            .collect();
        let mut config = Config::default();
        config.aggregate.enabled = aggregate;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut p = config
                .pipeline(io::sink(), DeadLetterWriter::new(None))
                .unwrap();
            let _ = tx.send(run_inputs(
                &mut p,
                None,
                &inputs,
                &mut Quiet,
                &Options::new(2),
            ));
        });
        let result = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the run ended (no hang)");
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    const NAMES: [&str; 6] = ["a.json", "b.json", "c.json", "d.json", "e.json", "f.json"];

    #[test]
    fn runs_on_the_workers_with_and_without_aggregation() {
        let events = run("ok-events", &NAMES, false).unwrap();
        assert_eq!(events.workers, 2);
        assert_eq!(events.aggregated_batches, 0);
        let agg = run("ok-agg", &NAMES, true).unwrap();
        assert_eq!(agg.workers, 2);
        assert_eq!(agg.aggregated_batches, NAMES.len() as u64);
    }

    #[test]
    fn a_worker_panic_ends_the_run_with_an_error_naming_the_input() {
        for aggregate in [false, true] {
            let mut names = NAMES.to_vec();
            names.insert(2, "x-panic-in-worker.json");
            let tag = format!("worker-{aggregate}");
            let e = run(&tag, &names, aggregate).expect_err("the run fails");
            assert!(
                e.contains("x-panic-in-worker.json: a worker thread panicked reading it: a test's panic in a worker"),
                "{e}"
            );
            assert!(e.contains("no checkpoint was saved"), "{e}");
        }
    }

    #[test]
    fn a_panic_on_the_calling_thread_ends_the_run_with_an_error_naming_the_input() {
        for aggregate in [false, true] {
            let mut names = NAMES.to_vec();
            names.insert(3, "x-panic-in-writer.json");
            let tag = format!("writer-{aggregate}");
            let e = run(&tag, &names, aggregate).expect_err("the run fails");
            assert!(
                e.contains("x-panic-in-writer.json: the thread writing the output panicked at it: a test's panic on the calling thread"),
                "{e}"
            );
        }
    }
}
