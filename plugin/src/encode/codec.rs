//! How events are written to the output stream (`--codec`): one JSON object a line (the
//! default), or framed for a host's faster decoder. `--format` says what an event holds;
//! `--codec` how events are put on the wire. The encoders always write one JSON object; a
//! [`Framer`] turns each into the codec's frame as it is ended.
//!
//! | `--codec` | the stream | host setting |
//! |---|---|---|
//! | `ndjson` | one JSON object a line | Vector `decoding.codec: json`, Fluent Bit `parser json` |
//! | `json-batch` | a JSON array of up to 256 events a line | Vector `decoding.codec: json`, or `bytes` + `. = parse_json!(.message)` |
//! | `vector-native` | Vector `EventArray` protobuf frames, length-delimited, up to 256 events a frame | Vector `decoding.codec: native` |
//!
//! Why batches: Vector's `exec` source does a fixed amount of work per decoded frame (a
//! channel send, its metrics, the hand-over downstream); one frame of 256 events pays it
//! once. Measured in a real Vector 0.58 (user guide: Performance, Faster feeds), both
//! batch codecs beat one event a line, `json-batch` by the most.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::vector_native::Transcoder;

/// The codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Codec {
    /// One JSON object a line.
    #[default]
    Ndjson,
    /// JSON arrays of up to [`FRAME_EVENTS`] events, one array a line: Vector's `json`
    /// codec (or `parse_json` in a `remap`) makes one event of each element.
    JsonBatch,
    /// Vector's `native` codec: protobuf `EventArray` frames, each after a 4-byte
    /// big-endian length (Vector's default framing for `decoding.codec: native`).
    VectorNative,
}

impl Codec {
    pub const ALL: [Codec; 3] = [Codec::Ndjson, Codec::JsonBatch, Codec::VectorNative];

    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Ndjson => "ndjson",
            Codec::VectorNative => "vector-native",
            Codec::JsonBatch => "json-batch",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Codec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Codec::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("unknown codec `{s}`: expected ndjson, json-batch or vector-native")
            })
    }
}

/// Events a frame holds at most: Vector's `exec` source does its per-frame work (a channel
/// send, metrics, the hand-over to the next component) once for all of them.
pub const FRAME_EVENTS: usize = 256;

/// Bytes after which a frame is closed, well under Vector's default `max_frame_length`
/// of 8 MiB (a frame over it is dropped whole).
pub const FRAME_BYTES: usize = 1 << 20;

/// Room kept in front of an open frame for its header: the 4-byte length, the
/// `EventArray.logs` tag and its varint length.
const HEADER_ROOM: usize = 4 + 1 + 5;

/// Frames events encoded as JSON into the output buffer, per [`Codec`].
#[derive(Debug)]
pub struct Framer {
    codec: Codec,
    /// The JSON of the event being encoded (the encoders write here).
    pub(crate) line: Vec<u8>,
    /// Where the open frame starts in the output buffer, if one is open.
    open: Option<usize>,
    events: usize,
    transcoder: Transcoder,
}

impl Framer {
    /// A framer for `codec`; `None` for `ndjson`, which needs none.
    pub fn new(codec: Codec) -> Option<Framer> {
        (codec != Codec::Ndjson).then(|| Framer {
            codec,
            line: Vec::with_capacity(4096),
            open: None,
            events: 0,
            transcoder: Transcoder::default(),
        })
    }

    /// True while a frame is open (its events are in the buffer, its end is not).
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Adds the event in `self.line` to the open frame in `out` (opening one), and clears
    /// the line. Closes the frame once it is full.
    pub fn end_event(&mut self, out: &mut Vec<u8>) {
        let line = std::mem::take(&mut self.line);
        self.add_event(&line, out);
        self.line = line;
        self.line.clear();
    }

    /// Adds `event` (one JSON object, encoded elsewhere: a worker's line) to the open
    /// frame in `out`, opening one. Closes the frame once it is full.
    pub fn add_event(&mut self, event: &[u8], out: &mut Vec<u8>) {
        let start = match self.open {
            Some(s) => {
                if self.codec != Codec::VectorNative {
                    out.push(b',');
                }
                s
            }
            None => {
                let s = out.len();
                match self.codec {
                    Codec::VectorNative => out.resize(s + HEADER_ROOM, 0),
                    _ => out.push(b'['),
                }
                self.open = Some(s);
                s
            }
        };
        match self.codec {
            Codec::VectorNative => self.transcoder.log(event, out),
            _ => out.extend_from_slice(event),
        }
        self.events += 1;
        if self.events >= FRAME_EVENTS || out.len() - start >= FRAME_BYTES {
            self.close(out);
        }
    }

    /// Closes the open frame, if any: writes its header (native) or its `]` and newline.
    pub fn close(&mut self, out: &mut Vec<u8>) {
        let Some(start) = self.open.take() else {
            return;
        };
        self.events = 0;
        if self.codec != Codec::VectorNative {
            out.extend_from_slice(b"]\n");
            return;
        }
        let body = out.len() - start - HEADER_ROOM;
        let mut header = [0u8; HEADER_ROOM];
        // The header is at most 10 bytes: build it on the stack.
        let frame = 1 + super::vector_native::varint_len(body as u64) + body;
        header[..4].copy_from_slice(&(frame as u32).to_be_bytes());
        header[4] = 0x0A;
        let mut n = 5;
        let mut v = body as u64;
        while v >= 0x80 {
            header[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        header[n] = v as u8;
        n += 1;
        // Put the header right before the body and close the gap in front of it.
        let gap = HEADER_ROOM - n;
        out[start + gap..start + HEADER_ROOM].copy_from_slice(&header[..n]);
        if gap > 0 {
            out.copy_within(start + gap.., start);
            out.truncate(out.len() - gap);
        }
    }
}
