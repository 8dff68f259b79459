//! Cutting one large blob into ranges of records, so that several threads can walk it
//! (`nsgflow process --threads`): a fast scan of the `records` array that finds where each
//! element ends without reading it ([`crate::json::Scanner::skip_value`], the boundary the
//! walker itself uses), and [`super::walk_records`] to walk one range exactly as a walk of
//! the whole blob would.
//!
//! ```
//! use nsgflow::record::{BlobSplitter, RecordRange};
//! let blob = r#"{"records":[{"a":1},{"b":"}"},{"c":[2]}]}"#;
//! let ranges: Vec<RecordRange> = BlobSplitter::new(blob, 10).unwrap().collect();
//! // Two elements reach 10 bytes; the last range has no end: it runs to the blob's `]}`
//! // and past it.
//! assert_eq!(ranges.len(), 2);
//! assert_eq!(&blob[ranges[0].from..ranges[0].end.unwrap()], r#"{"a":1},{"b":"}"}"#);
//! assert_eq!((ranges[1].first_record, ranges[1].end), (2, None));
//! assert_eq!(&blob[ranges[1].from..], r#"{"c":[2]}]}"#);
//! // Not a blob: nothing to split.
//! assert!(BlobSplitter::new(r#"{"time":"x","records":[]}"#, 10).is_none());
//! //! ```

use crate::json::Scanner;

/// One range of a blob's `records` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRange {
    /// Where the range starts: its first element (or, in a last range that holds no
    /// element, the `,` or `]` after the elements before it).
    pub from: usize,
    /// Just past the range's last element; `None` for the last range, which runs on to the
    /// blob's closing `]}` and to the end of the text.
    pub end: Option<usize>,
    /// The index of the range's first record in the blob.
    pub first_record: usize,
    /// No element comes before `from` (the range starts right after `[`).
    pub first: bool,
}

/// Cuts a blob's `records` array into ranges of at least `target` bytes (the last one may
/// be shorter); an iterator of [`RecordRange`]s in order. The scan stops at the first
/// element it cannot delimit (a blob cut mid-write, invalid JSON): the last range then
/// starts there, and its walk reports what a whole walk reports.
pub struct BlobSplitter<'a> {
    sc: Scanner<'a>,
    target: usize,
    blob_start: usize,
    /// Elements delimited so far.
    elements: usize,
    /// No element read yet.
    first: bool,
    done: bool,
}

impl<'a> BlobSplitter<'a> {
    /// A splitter for `text` when it starts with a blob (`{"records":[`, `records` its
    /// first key), else `None`.
    pub fn new(text: &'a str, target: usize) -> Option<Self> {
        let mut sc = Scanner::new(text);
        sc.skip_ws();
        let blob_start = sc.pos();
        sc.begin_object().ok()?;
        let key = sc.next_key(true).ok()??;
        if key != "records" || sc.peek() != Some(b'[') {
            return None;
        }
        sc.begin_array().ok()?;
        Some(BlobSplitter {
            sc,
            target: target.max(1),
            blob_start,
            elements: 0,
            first: true,
            done: false,
        })
    }

    /// Where the blob object starts (after whitespace and a byte-order mark).
    pub fn blob_start(&self) -> usize {
        self.blob_start
    }
}

impl Iterator for BlobSplitter<'_> {
    type Item = RecordRange;

    fn next(&mut self) -> Option<RecordRange> {
        if self.done {
            return None;
        }
        let mut range: Option<RecordRange> = None;
        loop {
            let mut probe = self.sc.clone();
            let element = probe.next_element(self.first).ok().filter(|&more| more);
            if element.is_some() {
                probe.skip_ws();
            }
            let start = probe.pos();
            if element.is_none() || probe.skip_value().is_err() {
                // `]`, a cut or invalid JSON: the last range starts with the range being
                // gathered, or else here.
                self.done = true;
                let mut last = range.unwrap_or(RecordRange {
                    from: self.sc.pos(),
                    end: None,
                    first_record: self.elements,
                    first: self.first,
                });
                last.end = None;
                return Some(last);
            }
            let r = range.get_or_insert(RecordRange {
                from: start,
                end: None,
                first_record: self.elements,
                first: true,
            });
            r.end = Some(probe.pos());
            self.elements += 1;
            self.first = false;
            self.sc = probe;
            if probe_len(r) >= self.target {
                return range;
            }
        }
    }
}

fn probe_len(r: &RecordRange) -> usize {
    r.end.unwrap_or(r.from) - r.from
}
