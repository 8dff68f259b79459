//! Checkpoints: reading local flow-log files incrementally, run after run, so that each
//! tuple is handed on exactly once.
//!
//! Azure appends to an hour's `PT1H.json` about once a minute by inserting a record block
//! before the closing `]}`: the bytes up to the end of a complete record never change. A
//! [`FileMark`] keeps, per file, the byte offset just past the last complete record read,
//! whether that offset lies inside a blob's `records` array, the next record index, and a
//! hash of the file's head (its identity: a file replaced by another is read again from
//! the start). The next run reads only the bytes after the offset:
//!
//! - a blob that grew yields only its new records;
//! - a blob cut mid-record (read while Azure writes it) yields its complete records; the
//!   cut one is read whole next run, from the same offset;
//! - NDJSON and other streams are read with [`record::walk_with`] in partial mode, so an
//!   unfinished last line waits for the next run too.
//!
//! The checkpoint file is JSON, written atomically ([`crate::atomic`]).
//! The I/O is plain `std::fs`, so the same code runs natively and under WASI.
//!
//! ```
//! use nsgflow::checkpoint::{read_new, process_new, FileMark};
//! use nsgflow::engine::{EventHandler, Engine};
//! use nsgflow::event::FlowEvent;
//! use nsgflow::output::DeadLetterWriter;
//!
//! struct Count(usize);
//! impl EventHandler for Count { fn event(&mut self, _: &FlowEvent<'_>) { self.0 += 1; } }
//!
//! let rec = r#"{"time":"2026-03-02T10:01:35Z","category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[{"rule":"R","flows":[{"mac":"000D3AF87856","flowTuples":["1772445660,203.0.113.5,10.0.0.4,5000,22,T,I,D,B,,,,"]}]}]}}"#;
//! let dir = std::env::temp_dir().join(format!("nsgflow-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("PT1H.json");
//! let (mut engine, mut dead) = (Engine::default(), DeadLetterWriter::new(None));
//!
//! // First run: one record so far.
//! std::fs::write(&path, format!(r#"{{"records":[{rec}]}}"#)).unwrap();
//! let mut buf = Vec::new();
//! let start = read_new(&path, None, &mut buf).unwrap();
//! let mut seen = Count(0);
//! let run = process_new(&mut engine, "PT1H.json", std::str::from_utf8(&buf).unwrap(), &start, &mut seen, &mut dead);
//! assert_eq!(seen.0, 1);
//!
//! // Azure appends a record: the next run sees only it.
//! std::fs::write(&path, format!(r#"{{"records":[{rec},{rec}]}}"#)).unwrap();
//! let start = read_new(&path, Some(&run.mark), &mut buf).unwrap();
//! let mut seen = Count(0);
//! process_new(&mut engine, "PT1H.json", std::str::from_utf8(&buf).unwrap(), &start, &mut seen, &mut dead);
//! assert_eq!(seen.0, 1);
//! # std::fs::remove_dir_all(&dir).ok();
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, EventHandler};
use crate::json::Scanner;
use crate::output::DeadLetterWriter;
use crate::record::WalkSummary;

/// How many leading bytes of a file identify it.
pub const HEAD_LEN: usize = 4096;

/// How far one file has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMark {
    /// Bytes consumed: just past the last complete record (or top-level value) read.
    pub offset: u64,
    /// FNV-1a hash of the file's first `head_len` bytes: its identity.
    pub head: u64,
    /// `min(offset, HEAD_LEN)` when the file was first read.
    pub head_len: u64,
    /// The offset lies inside a blob's `{"records":[` array.
    pub blob: bool,
    /// The index the next record gets (dead letters number records by it).
    pub next_record: usize,
}

/// Every file's mark, by path.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The format of this file (1).
    pub version: u32,
    pub files: BTreeMap<String, FileMark>,
}

/// A checkpoint file that could not be read or written.
#[derive(Debug)]
pub struct CheckpointError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "checkpoint {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for CheckpointError {}

impl Checkpoint {
    pub const VERSION: u32 = 1;

    /// Loads a checkpoint; a missing file is an empty checkpoint (everything is new).
    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Checkpoint {
                    version: Self::VERSION,
                    files: BTreeMap::new(),
                })
            }
            Err(e) => {
                return Err(CheckpointError {
                    path: path.to_path_buf(),
                    message: format!("cannot read it: {e}"),
                })
            }
        };
        let cp: Checkpoint = serde_json::from_str(&text).map_err(|e| CheckpointError {
            path: path.to_path_buf(),
            message: format!(
                "not a valid checkpoint ({e}); delete it to read every file again from the start"
            ),
        })?;
        if cp.version != Self::VERSION {
            return Err(CheckpointError {
                path: path.to_path_buf(),
                message: format!(
                    "checkpoint format {} is not {}; delete it to read every file again from the start",
                    cp.version,
                    Self::VERSION
                ),
            });
        }
        Ok(cp)
    }

    /// Writes the checkpoint atomically ([`crate::atomic::write_atomic`]: a uniquely
    /// named temporary file, fsync, rename over `path`, fsync of the directory).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let err = |what: &str, e: io::Error| CheckpointError {
            path: path.to_path_buf(),
            message: format!("cannot {what}: {e} (is its directory writable?)"),
        };
        let text = serde_json::to_vec(self).map_err(|e| err("encode it", io::Error::other(e)))?;
        crate::atomic::write_atomic(path, &text).map_err(|e| err("write it", e))
    }
}

/// FNV-1a, 64 bits: the identity hash of a file's head.
pub fn head_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Where this run starts reading a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The byte offset the text handed to [`process_new`] starts at.
    pub from: u64,
    /// The identity kept from the mark (when resuming).
    pub head: u64,
    pub head_len: u64,
    /// `from` lies inside a blob's `records` array.
    pub blob: bool,
    pub next_record: usize,
    /// The file was read before but is not the same file any more (shorter, or its head
    /// changed): it is read again from the start.
    pub restarted: bool,
    /// The file's size now.
    pub size: u64,
}

impl Start {
    /// Nothing new since the mark.
    pub fn is_unchanged(&self) -> bool {
        self.from == self.size
    }
}

/// Reads into `buf` the bytes of `path` that `mark` has not consumed (all of them when the
/// file is new or was replaced). `buf` is cleared first.
pub fn read_new(path: &Path, mark: Option<&FileMark>, buf: &mut Vec<u8>) -> io::Result<Start> {
    buf.clear();
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    let mut start = Start {
        from: 0,
        head: 0,
        head_len: 0,
        blob: false,
        next_record: 0,
        restarted: false,
        size,
    };
    if let Some(m) = mark.filter(|m| m.offset > 0) {
        let same = m.offset <= size && m.head_len <= m.offset && {
            let mut head = vec![0u8; m.head_len as usize];
            f.read_exact(&mut head)?;
            head_hash(&head) == m.head
        };
        if same {
            start.from = m.offset;
            start.head = m.head;
            start.head_len = m.head_len;
            start.blob = m.blob;
            start.next_record = m.next_record;
        } else {
            start.restarted = true;
        }
    }
    if start.from < size {
        f.seek(SeekFrom::Start(start.from))?;
        buf.reserve((size - start.from) as usize);
        f.read_to_end(buf)?;
    }
    Ok(start)
}

/// What one incremental read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileProgress {
    /// The mark to store for next run.
    pub mark: FileMark,
    /// What the engine found in the new part (records, foreign values...).
    pub summary: WalkSummary,
    /// Bytes left unread at the end: an unfinished record, read again next run.
    pub pending: u64,
}

/// Processes `text`, the new part of a file read by [`read_new`] from `start`, handing
/// each event of every complete record to `handler` and every rejection to `dead`.
///
/// Dead letters name `name`; the record index in them counts from the file's start, the
/// byte offset from the start of the new part (in a blob, plus one: the records read are
/// walked as a `[...]` array).
pub fn process_new(
    engine: &mut Engine,
    name: &str,
    text: &str,
    start: &Start,
    handler: &mut impl EventHandler,
    dead: &mut DeadLetterWriter,
) -> FileProgress {
    let mut summary = WalkSummary {
        next_record_index: start.next_record,
        ..WalkSummary::default()
    };
    let mut blob = start.blob;
    let mut pos = 0usize;
    if start.from == 0 {
        match blob_prefix(text) {
            Prefix::Blob(after) => {
                blob = true;
                pos = after;
                // The blob itself is a value, so an empty one (`{"records":[]}`, as Azure
                // creates a blob) is a flow log with no records, as in a whole read.
                summary.values += 1;
            }
            Prefix::NotBlob => {}
            Prefix::TooShort => {
                return progress(start, 0, false, text, summary, 0);
            }
        }
    }
    if !blob {
        let (s, consumed) =
            engine.process_part(name, &text[pos..], start.next_record, true, handler, dead);
        summary.add(&s);
        return progress(
            start,
            pos + consumed,
            false,
            text,
            summary,
            s.next_record_index,
        );
    }
    // Inside `{"records":[`: find the complete records (a quick pre-pass), then walk them
    // as the array they are part of, so each is read exactly as in a whole blob.
    let mut sc = Scanner::at(text, pos);
    // Right after `[` (a first run, or a run that found no complete record yet) the first
    // record has no comma before it.
    let mut first = sc.peek() != Some(b',');
    let mut first_start = None;
    let mut end = pos;
    let mut closed = false;
    let mut corrupt = false;
    loop {
        let mut probe = sc.clone();
        match probe.next_element(first) {
            Ok(true) => {}
            // `]`: the blob is closed; the offset stays before it, where Azure inserts
            // the next record block.
            Ok(false) => {
                closed = true;
                break;
            }
            Err(e) => {
                corrupt = !e.is_unexpected_end();
                break;
            }
        }
        probe.skip_ws();
        first_start.get_or_insert(probe.pos());
        if let Err(e) = probe.skip_value() {
            corrupt = !e.is_unexpected_end();
            break;
        }
        end = probe.pos();
        sc = probe;
        first = false;
    }
    if corrupt {
        // Records that cannot be delimited (invalid JSON, not a cut): the rest goes to the
        // engine whole, which reports it as the native reader would, and the file counts
        // as read to its end.
        end = text.len();
    }
    let mut next_record = start.next_record;
    if let Some(from) = first_start.filter(|&f| f < end) {
        let mut array = String::with_capacity(end - from + 2);
        array.push('[');
        array.push_str(&text[from..end]);
        if !corrupt {
            array.push(']');
        }
        let (s, _) = engine.process_part(name, &array, next_record, false, handler, dead);
        summary.add(&s);
        next_record = s.next_record_index;
    }
    let mut p = progress(start, end, !corrupt, text, summary, next_record);
    if closed {
        p.pending = 0;
    }
    p
}

fn progress(
    start: &Start,
    consumed: usize,
    blob: bool,
    text: &str,
    mut summary: WalkSummary,
    next_record: usize,
) -> FileProgress {
    let offset = start.from + consumed as u64;
    // Read from the start: the identity is this read's head. Resumed: it is kept.
    let (head, head_len) = if start.from == 0 {
        let n = consumed.min(HEAD_LEN);
        (head_hash(&text.as_bytes()[..n]), n as u64)
    } else {
        (start.head, start.head_len)
    };
    summary.next_record_index = next_record;
    FileProgress {
        mark: FileMark {
            offset,
            head,
            head_len,
            blob,
            next_record,
        },
        summary,
        pending: (text.len() - consumed) as u64,
    }
}

enum Prefix {
    /// `{"records":[` and the offset after the `[`.
    Blob(usize),
    NotBlob,
    /// Too short to tell (an empty file, or one cut inside the prefix).
    TooShort,
}

fn blob_prefix(text: &str) -> Prefix {
    let mut sc = Scanner::new(text);
    let r = (|| {
        sc.begin_object()?;
        let key = sc.next_key(true)?;
        let is_records = key.as_deref() == Some("records") && sc.peek() == Some(b'[');
        if is_records {
            sc.begin_array()?;
        }
        Ok::<bool, crate::json::JsonError>(is_records)
    })();
    match r {
        Ok(true) => Prefix::Blob(sc.pos()),
        Ok(false) => Prefix::NotBlob,
        Err(e) if e.is_unexpected_end() => Prefix::TooShort,
        Err(_) => Prefix::NotBlob,
    }
}

/// What one file of an incremental run gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRun {
    /// Nothing new since the checkpoint.
    Unchanged,
    /// New bytes were read and processed.
    Read {
        /// Bytes left unread at the end (an unfinished record, read again next run).
        pending: u64,
        /// The file was read before but is no longer the same file (replaced or
        /// truncated): it was read again from the start.
        restarted: bool,
        /// Read from its start and found not to be a flow log: why.
        not_flow_log: Option<String>,
    },
}

/// One step of an incremental run over local files (an azcopy-synced or blobfuse-mounted
/// container): reads what `path` gained since its mark in `checkpoint`, hands the events of
/// its complete records to `handler`, and moves the mark in `checkpoint` (in memory: save it
/// only after the events are flushed, so a crash repeats events and never loses them).
/// `buf` is reused between files.
pub fn process_file(
    engine: &mut Engine,
    checkpoint: &mut Checkpoint,
    path: &Path,
    buf: &mut Vec<u8>,
    handler: &mut impl EventHandler,
    dead: &mut DeadLetterWriter,
) -> Result<FileRun, String> {
    let key = path.display().to_string();
    let start =
        read_new(path, checkpoint.files.get(&key), buf).map_err(|e| format!("{key}: {e}"))?;
    if start.is_unchanged() {
        return Ok(FileRun::Unchanged);
    }
    let text = match std::str::from_utf8(buf) {
        Ok(t) => t,
        // A cut inside a multi-byte character at the end: read up to it, the rest next run.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(e) => {
            return Err(format!(
                "{key}: not UTF-8 text (invalid byte at offset {}): flow logs are UTF-8 JSON",
                start.from + e.valid_up_to() as u64
            ))
        }
    };
    let p = process_new(engine, &key, text, &start, handler, dead);
    // A closed blob read to its last record still has its closing `]}` after the mark:
    // nothing was consumed and nothing is pending, so nothing is new.
    if start.from > 0 && p.mark.offset == start.from && p.pending == 0 && p.summary.values == 0 {
        return Ok(FileRun::Unchanged);
    }
    // A file read from its start is judged (flow log or not) once something in it is
    // complete; a blob whose first record is still being written is not judged yet.
    let mut not_flow_log = None;
    if start.from == 0 && (p.summary.values > 0 || p.pending == 0) {
        if let crate::engine::InputOutcome::NotFlowLog(why) =
            engine.finish_input(text.len(), p.summary)
        {
            not_flow_log = Some(why);
        }
    } else {
        engine.stats.inputs += 1;
        engine.stats.bytes += text.len() as u64;
    }
    checkpoint.files.insert(key, p.mark);
    Ok(FileRun::Read {
        pending: p.pending,
        restarted: start.restarted,
        not_flow_log,
    })
}

/// How one input of a local-files run went (see [`run_inputs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputRun {
    /// Checkpointed and nothing new since.
    Unchanged,
    /// Read. `pending`: bytes of an unfinished last record left for the next run
    /// (checkpointed runs); `incomplete`: a whole read ended mid-record; `restarted`: the
    /// checkpoint saw another file at this path, so it was read again from its start.
    Read {
        pending: u64,
        incomplete: bool,
        restarted: bool,
    },
    /// Not a flow log (or not JSON): why.
    NotFlowLog(String),
    /// Could not be read: the message names the input and the cause.
    Failed(String),
}

impl From<crate::engine::InputOutcome> for InputRun {
    fn from(outcome: crate::engine::InputOutcome) -> Self {
        match outcome {
            crate::engine::InputOutcome::NotFlowLog(why) => InputRun::NotFlowLog(why),
            crate::engine::InputOutcome::Read { incomplete } => InputRun::Read {
                pending: 0,
                incomplete,
                restarted: false,
            },
        }
    }
}

/// What a local-files run asks its front end (the CLI or the WASM runner).
pub trait RunHooks<W: Write> {
    /// Checked before each input: stop the run (a signal, say).
    fn stop(&mut self) -> bool {
        false
    }
    /// An input is about to be read.
    fn begin(&mut self, _name: &str) {}
    /// Checked after [`RunHooks::begin`], given the lines written so far this run: leave
    /// this input for the next run (its checkpoint mark stays where it is). The WASM
    /// runner's `max_events_per_run`.
    fn defer(&mut self, _lines: u64) -> bool {
        false
    }
    /// An input was read (or not).
    fn done(&mut self, name: &str, run: InputRun);
    /// Reads stdin through `pipeline` (only the CLI can).
    fn stdin(&mut self, _pipeline: &mut crate::pipeline::Pipeline<W>) -> InputRun {
        InputRun::Failed("-: stdin cannot be read here".into())
    }
}

/// One whole input already read into `buf`, through `pipeline` (a file read whole, or
/// stdin read to its end).
pub fn process_whole<W: Write>(
    pipeline: &mut crate::pipeline::Pipeline<W>,
    name: &str,
    buf: &[u8],
) -> InputRun {
    let (engine, mut h, dead) = pipeline.handler();
    whole_input(engine, name, buf, &mut h, dead)
}

/// One whole input already read into `buf`, through `engine` into `handler`.
pub fn whole_input(
    engine: &mut Engine,
    name: &str,
    buf: &[u8],
    handler: &mut impl EventHandler,
    dead: &mut DeadLetterWriter,
) -> InputRun {
    match crate::input::as_text(buf) {
        Ok(text) => engine.process(name, text, handler, dead).into(),
        Err(why) => {
            engine.stats.input_failed();
            InputRun::NotFlowLog(why)
        }
    }
}

/// A file that could not be read: counted, and what the run reports.
pub fn read_error(engine: &mut Engine, name: &str, e: &io::Error) -> InputRun {
    engine.stats.input_failed();
    InputRun::Failed(format!("{name}: cannot read: {e}"))
}

/// One file through `engine` into `handler`: what it gained since its mark when there is
/// a `checkpoint` (the mark moves in memory), else read whole. `buf` is reused.
pub fn file_input(
    engine: &mut Engine,
    checkpoint: Option<&mut Checkpoint>,
    path: &Path,
    name: &str,
    buf: &mut Vec<u8>,
    handler: &mut impl EventHandler,
    dead: &mut DeadLetterWriter,
) -> InputRun {
    let Some(cp) = checkpoint else {
        return match crate::input::read_file(path, buf) {
            Err(e) => read_error(engine, name, &e),
            Ok(()) => whole_input(engine, name, buf, handler, dead),
        };
    };
    match process_file(engine, cp, path, buf, handler, dead) {
        Ok(FileRun::Unchanged) => InputRun::Unchanged,
        Ok(FileRun::Read {
            not_flow_log: Some(why),
            ..
        }) => InputRun::NotFlowLog(why),
        Ok(FileRun::Read {
            pending, restarted, ..
        }) => InputRun::Read {
            pending,
            incomplete: false,
            restarted,
        },
        Err(e) => {
            engine.stats.input_failed();
            InputRun::Failed(e)
        }
    }
}

/// Stdin read to its end, then through `pipeline` as one input named `-` (for commands
/// that need the whole input before they answer: `report`, `harden`).
pub fn process_stdin_whole<W: Write>(pipeline: &mut crate::pipeline::Pipeline<W>) -> InputRun {
    let mut buf = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut buf) {
        pipeline.engine.stats.input_failed();
        return InputRun::Failed(format!("-: cannot read: {e}"));
    }
    process_whole(pipeline, "-", &buf)
}

/// The local-files run loop shared by `nsgflow process` and the WASM runner: each input in
/// turn through `pipeline` (incrementally when there is a `checkpoint`), until the output
/// closes or `hooks` says stop. The caller then calls [`finish_run`].
pub fn run_inputs<W: Write>(
    pipeline: &mut crate::pipeline::Pipeline<W>,
    mut checkpoint: Option<&mut Checkpoint>,
    inputs: &[crate::input::Input],
    hooks: &mut impl RunHooks<W>,
) {
    use crate::input::Input;
    let mut buf = Vec::new();
    for inp in inputs {
        let name = match admit(pipeline, hooks, inp) {
            ControlFlow::Break(()) => break,
            ControlFlow::Continue(None) => continue,
            ControlFlow::Continue(Some(name)) => name,
        };
        let run = match inp {
            Input::Stdin => hooks.stdin(pipeline),
            Input::File(path) => {
                let (engine, mut h, dead) = pipeline.handler();
                file_input(
                    engine,
                    checkpoint.as_deref_mut(),
                    path,
                    &name,
                    &mut buf,
                    &mut h,
                    dead,
                )
            }
        };
        hooks.done(&name, run);
    }
}

/// The run loop's gate before each input: break when the output closed or `hooks` says
/// stop; else the input's name, or `None` when `hooks` defers it to the next run.
pub(crate) fn admit<W: Write>(
    pipeline: &crate::pipeline::Pipeline<W>,
    hooks: &mut impl RunHooks<W>,
    input: &crate::input::Input,
) -> ControlFlow<(), Option<String>> {
    if pipeline.output_failed() || hooks.stop() {
        return ControlFlow::Break(());
    }
    let name = input.name();
    hooks.begin(&name);
    ControlFlow::Continue((!hooks.defer(pipeline.lines())).then_some(name))
}

/// Ends a local-files run: open windows are emitted (`reason`), events and dead letters
/// flushed, and only then the checkpoint saved, without the files that no longer exist
/// (the one pruning rule: a file deleted or rotated away is forgotten; files merely not
/// named this run keep their marks).
pub fn finish_run<W: Write>(
    pipeline: &mut crate::pipeline::Pipeline<W>,
    checkpoint: Option<(&mut Checkpoint, &Path)>,
    reason: crate::aggregate::FlushReason,
) -> Result<(), RunError> {
    pipeline.finish(reason);
    pipeline.flush().map_err(RunError::Flush)?;
    if let Some((cp, path)) = checkpoint {
        cp.files.retain(|file, _| Path::new(file).exists());
        cp.save(path).map_err(RunError::Checkpoint)?;
    }
    Ok(())
}

/// Why [`finish_run`] failed.
#[derive(Debug)]
pub enum RunError {
    /// Events or dead letters could not be written (the checkpoint was not saved).
    Flush(crate::pipeline::FlushError),
    /// The checkpoint could not be saved.
    Checkpoint(CheckpointError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Flush(e) => e.fmt(f),
            RunError::Checkpoint(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RunError {}
