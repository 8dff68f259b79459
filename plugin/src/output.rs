//! Output: the NDJSON event stream and the dead-letter stream.

use crate::k;
use std::io::{self, Write};

use crate::encode::codec::{Codec, Framer};
use crate::encode::json::Obj;
use crate::record::Rejection;

/// Opens an output or dead-letter file, creating its parent folders first (as checkpoint
/// folders are created): a fresh host without `/var/log/nsgflow/` works as is. `append`
/// keeps what is there (a long-running reader's restart adds to it); otherwise the file
/// is truncated. The error says which file and what to check.
pub fn open_file(target: &str, append: bool) -> Result<std::fs::File, String> {
    let path = std::path::Path::new(target);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            format!(
                "cannot create the folder {} for {target}: {e} (check the user running nsgflow may write there)",
                parent.display()
            )
        })?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .map_err(|e| format!("cannot open {target}: {e} (check it is a writable file path)"))
}

/// Buffers NDJSON lines and writes them out in large blocks.
///
/// Encoders write straight into [`EventWriter::buffer`]; the writer flushes when the
/// buffer passes its high-water mark. The first write error is kept (and later writes
/// skipped) so a closed pipe stops the run instead of being ignored.
pub struct EventWriter<W: Write> {
    buf: Vec<u8>,
    /// Frames events for a codec other than NDJSON (`--codec`).
    framer: Option<Box<Framer>>,
    inner: W,
    high_water: usize,
    error: Option<io::Error>,
    /// Lines written so far.
    pub lines: u64,
}

impl<W: Write> EventWriter<W> {
    pub fn new(inner: W) -> Self {
        const HIGH_WATER: usize = 1 << 20;
        EventWriter {
            // Room for the line that crosses the mark: the buffer is never re-allocated
            // (in a fresh WASM instance per run that would copy 1 MB into 2 MB of new
            // pages, every run).
            buf: Vec::with_capacity(HIGH_WATER + (64 << 10)),
            framer: None,
            inner,
            high_water: HIGH_WATER,
            error: None,
            lines: 0,
        }
    }

    /// Writes events with `codec` (`--codec`) instead of as NDJSON lines.
    pub fn set_codec(&mut self, codec: Codec) {
        self.close_frame();
        self.framer = Framer::new(codec).map(Box::new);
    }

    /// The buffer to encode the next line into.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        match self.framer.as_mut() {
            Some(f) => &mut f.line,
            None => &mut self.buf,
        }
    }

    /// Ends the line just encoded and flushes if the buffer is full.
    pub fn end_line(&mut self) {
        match self.framer.as_mut() {
            Some(f) => f.end_event(&mut self.buf),
            None => self.buf.push(b'\n'),
        }
        self.event_added();
    }

    /// Counts the event just added to the buffer and writes out whole frames or lines
    /// once the buffer is full.
    fn event_added(&mut self) {
        self.lines += 1;
        // Only whole frames go out: an open frame waits until it is closed.
        let open = self.framer.as_ref().is_some_and(|f| f.is_open());
        if self.buf.len() >= self.high_water && !open {
            self.write_out();
        }
    }

    fn close_frame(&mut self) {
        if let Some(f) = self.framer.as_mut() {
            f.close(&mut self.buf);
        }
    }

    fn write_out(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.inner.write_all(&self.buf) {
                self.error = Some(e);
            }
        }
        self.buf.clear();
    }

    /// Writes out everything buffered and flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.close_frame();
        self.write_out();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.inner.flush()
    }

    /// Appends `lines` complete NDJSON lines encoded elsewhere (a worker's chunk, in
    /// `nsgflow process --threads`); a large chunk goes out without a copy.
    pub fn write_lines(&mut self, bytes: &[u8], lines: u64) {
        if self.framer.is_some() {
            // Each line is one event, framed straight from the chunk.
            for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if let Some(f) = self.framer.as_mut() {
                    f.add_event(line, &mut self.buf);
                }
                self.event_added();
            }
            return;
        }
        self.lines += lines;
        if self.buf.len() + bytes.len() < self.high_water {
            self.buf.extend_from_slice(bytes);
            return;
        }
        self.write_out();
        if self.error.is_none() {
            if let Err(e) = self.inner.write_all(bytes) {
                self.error = Some(e);
            }
        }
    }

    /// True once a write has failed (the reader went away).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.inner)
    }
}

/// Writes each rejection as one NDJSON line: where, what, why.
///
/// `{"input":..,"level":"tuple","reason":"tuple_address","detail":"field 2 (src_ip) is ...",
///   "record_index":0,"tuple_index":3,"offset":1234,"text":"..."}`
pub struct DeadLetterWriter {
    out: Option<EventWriter<Box<dyn Write + Send>>>,
}

impl DeadLetterWriter {
    /// Dead letters go to `out`, or are only counted when `None`.
    pub fn new(out: Option<Box<dyn Write + Send>>) -> Self {
        DeadLetterWriter {
            out: out.map(EventWriter::new),
        }
    }

    pub fn write(&mut self, input: &str, r: &Rejection<'_>) {
        let Some(w) = self.out.as_mut() else { return };
        let mut o = Obj::open(w.buffer());
        o.str(k!("input"), input);
        o.str(k!("level"), r.level.as_str());
        o.str(k!("reason"), r.reason);
        o.str(k!("detail"), &r.detail);
        o.opt_u64(
            k!("record_index"),
            r.location.record_index.map(|i| i as u64),
        );
        o.opt_u64(k!("tuple_index"), r.location.tuple_index.map(|i| i as u64));
        o.u64(k!("offset"), r.location.offset as u64);
        o.str(k!("text"), r.text);
        o.close();
        w.end_line();
    }

    /// True when dead letters are written (not only counted).
    pub fn enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Appends complete dead-letter lines written elsewhere (a worker's chunk).
    pub fn write_lines(&mut self, bytes: &[u8]) {
        if let Some(w) = self.out.as_mut() {
            let lines = memchr::memchr_iter(b'\n', bytes).count() as u64;
            w.write_lines(bytes, lines);
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}
