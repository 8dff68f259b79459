//! The container walker: finds the records in any container (a blob, one record, NDJSON,
//! an array, pretty-printed), hands each one to [`header`](super::header) to identify and to
//! [`flows`](super::flows) to walk, and reports what is not a record.

use crate::json::{JsonError, Scanner};
use crate::rejection::{clip, reason, Location, RejectLevel, Rejection};
use crate::tuple::TupleLayout;

use super::flows::{walk_nsg, walk_vnet};
use super::header::{header_field, identify};
use super::{FlowLogKind, FlowSink, Record, RecordHeader, WalkSummary};

/// Walks every record in `text` and hands each tuple or rejection to `sink`.
pub fn walk(text: &str, sink: &mut impl FlowSink) -> WalkSummary {
    walk_with(text, 0, false, sink).0
}

/// [`walk`] for a stream read in pieces. With `partial`, it walks the complete top-level
/// values (records, blobs, NDJSON lines) at the start of `text` and stops, without
/// reporting anything, before one that the text cuts off; without it, a cut-off value is
/// reported as incomplete. Returns the summary and the number of bytes consumed: the
/// caller keeps the rest for the next call. `first_record` numbers the records.
pub fn walk_with(
    text: &str,
    first_record: usize,
    partial: bool,
    sink: &mut impl FlowSink,
) -> (WalkSummary, usize) {
    let mut w = Walker {
        text,
        summary: WalkSummary::default(),
        record_index: first_record,
        partial,
        tail_from: None,
    };
    let consumed = w.top_level(sink);
    w.summary.next_record_index = w.record_index;
    (w.summary, consumed)
}

/// Walks one range of a blob's `records` array (see [`super::BlobSplitter`]) in the whole text
/// `text`, so that offsets, record indexes and rejected text are those of a walk of the
/// whole blob. `blob_start` is where the blob object starts. A range with an `end` holds
/// the elements up to it; the last range (no `end`) goes on to the blob's closing `]}`
/// and past it, exactly as a whole walk does (a blob cut mid-write ends in the same
/// `incomplete` rejection).
///
/// Returns the summary and, when a record of a bounded range could not be read (invalid
/// JSON the boundary scan let through), where a whole walk goes on: the start of the next
/// line, to be read with [`walk_from`]. What the later ranges gave must then be dropped.
pub fn walk_records(
    text: &str,
    range: &super::RecordRange,
    blob_start: usize,
    sink: &mut impl FlowSink,
) -> (WalkSummary, Option<usize>) {
    let mut w = Walker {
        text,
        summary: WalkSummary::default(),
        record_index: range.first_record,
        partial: false,
        // As in a whole walk: right after `[` or after the element before the range.
        tail_from: Some(range.from),
    };
    let mut sc = Scanner::at(text, range.from);
    let mut first = range.first;
    let result = match range.end {
        Some(end) => (|| {
            while sc.pos() < end && sc.next_element(first)? {
                first = false;
                w.element(&mut sc, sink)?;
            }
            Ok(())
        })(),
        None => (|| {
            while sc.next_element(first)? {
                first = false;
                w.element(&mut sc, sink)?;
            }
            w.object_rest(
                &mut sc,
                RecordHeader::default(),
                blob_start,
                true,
                false,
                sink,
            )
        })(),
    };
    // Where a whole walk would go on after this range (`None`: the next range).
    let go_on = match result {
        Ok(()) => range.end.is_none().then(|| sc.pos()),
        // The input ended (a cut record): the walk ends there.
        Err(e) if !w.fail(e, blob_start, sink) => Some(text.len()),
        Err(e) => Some(line_end(text, e.offset.max(blob_start))),
    };
    let resume = match (range.end, go_on) {
        // The last range: past the blob, the rest of the text, as top-level values.
        (None, Some(at)) => {
            w.top_level_from(at, sink);
            None
        }
        (_, go_on) => go_on,
    };
    w.summary.next_record_index = w.record_index;
    (w.summary, resume)
}

/// [`walk`] from byte `start` of `text` (offsets stay those of the whole text), numbering
/// records from `first_record`: where a blob walked in ranges goes on after a record it
/// could not read (see [`walk_records`]).
pub fn walk_from(
    text: &str,
    start: usize,
    first_record: usize,
    sink: &mut impl FlowSink,
) -> WalkSummary {
    let mut w = Walker {
        text,
        summary: WalkSummary::default(),
        record_index: first_record,
        partial: false,
        tail_from: None,
    };
    w.top_level_from(start, sink);
    w.summary.next_record_index = w.record_index;
    w.summary
}

struct Walker<'a> {
    text: &'a str,
    summary: WalkSummary,
    record_index: usize,
    /// Stop quietly before a top-level value the text cuts off (streaming).
    partial: bool,
    /// Inside a blob: where the unread tail starts (the record being read, or the end of
    /// the last complete one), so a cut blob's rejection holds only the tail.
    tail_from: Option<usize>,
}

impl<'a> Walker<'a> {
    /// Walks the text; returns how far it got (all of it unless `partial` stopped early).
    fn top_level(&mut self, sink: &mut impl FlowSink) -> usize {
        self.top_level_from(0, sink)
    }

    /// [`Walker::top_level`] from byte `start`.
    fn top_level_from(&mut self, start: usize, sink: &mut impl FlowSink) -> usize {
        let mut sc = Scanner::at(self.text, start);
        while let Some(first) = sc.peek() {
            let start = sc.pos();
            if self.partial {
                let mut probe = sc.clone();
                if probe.skip_value().is_err_and(|e| e.is_unexpected_end()) {
                    return start;
                }
            }
            self.summary.values += 1;
            self.tail_from = None;
            let result = match first {
                b'{' => self.object(&mut sc, sink),
                b'[' => self.records_array(&mut sc, sink),
                _ => {
                    self.summary.foreign_values += 1;
                    // Nothing read yet: the input as a whole is not JSON flow logs; one
                    // rejection for it, not one per line.
                    let whole = self.record_index == 0;
                    let end = if whole {
                        self.text.len()
                    } else {
                        line_end(self.text, start)
                    };
                    sink.reject(Rejection {
                        level: if whole { RejectLevel::Input } else { RejectLevel::Record },
                        reason: if whole { reason::NOT_A_FLOW_LOG } else { reason::INVALID_JSON },
                        detail: format!(
                            "expected a JSON object (a record or a `{{\"records\":[...]}}` blob) at byte {start}, found `{}`",
                            self.text[start..].chars().take(20).collect::<String>()
                        ),
                        location: Location {
                            record_index: (!whole).then_some(self.record_index),
                            tuple_index: None,
                            offset: start,
                        },
                        text: clip(&self.text[start..line_end(self.text, start)]),
                    });
                    if !whole {
                        self.record_index += 1;
                    }
                    sc.set_pos(end);
                    continue;
                }
            };
            if let Err(e) = result {
                if !self.fail(e, start, sink) {
                    return self.text.len();
                }
                // Not the end of input: resume on the next line (NDJSON keeps going).
                let end = line_end(self.text, e.offset.max(start));
                sc.set_pos(end);
            }
        }
        self.text.len()
    }

    /// Reports a scan error; false when it ends the walk (the input ran out).
    fn fail(&mut self, e: JsonError, start: usize, sink: &mut impl FlowSink) -> bool {
        if e.is_unexpected_end() {
            let start = self.tail_from.unwrap_or(start);
            self.summary.incomplete = true;
            let tail = self.text[start..].trim_matches(|c: char| c == ',' || c.is_whitespace());
            let detail = if tail.is_empty() {
                "input ends before the blob's closing `]}`: a blob still being written?".to_string()
            } else {
                format!(
                    "input ends inside a record ({} bytes from byte {start}): a blob still being written? Complete records before it were read",
                    self.text.len() - start
                )
            };
            sink.reject(Rejection {
                level: RejectLevel::Record,
                reason: reason::INCOMPLETE,
                detail,
                location: Location {
                    record_index: (!tail.is_empty()).then_some(self.record_index),
                    tuple_index: None,
                    offset: start,
                },
                text: clip(&self.text[start..]),
            });
            false
        } else {
            self.summary.rejected_records += 1;
            sink.reject(Rejection {
                level: RejectLevel::Record,
                reason: reason::INVALID_JSON,
                detail: format!("{e}; skipped to the next line"),
                location: Location {
                    record_index: Some(self.record_index),
                    tuple_index: None,
                    offset: e.offset,
                },
                text: clip(&self.text[start..line_end(self.text, e.offset.max(start))]),
            });
            self.record_index += 1;
            true
        }
    }

    /// A top-level object: a blob (has `records`) or a record.
    fn object(&mut self, sc: &mut Scanner<'a>, sink: &mut impl FlowSink) -> Result<(), JsonError> {
        let start = sc.pos();
        sc.begin_object()?;
        self.object_rest(sc, RecordHeader::default(), start, false, true, sink)
    }

    /// The keys of a top-level object from the scanner on (`first`: none read yet), then
    /// the object itself as a record unless it was a blob (`was_blob`: its `records` array
    /// was read already).
    fn object_rest(
        &mut self,
        sc: &mut Scanner<'a>,
        mut header: RecordHeader<'a>,
        start: usize,
        mut was_blob: bool,
        mut first: bool,
        sink: &mut impl FlowSink,
    ) -> Result<(), JsonError> {
        while let Some(key) = sc.next_key(first)? {
            first = false;
            if key == "records" && sc.peek() == Some(b'[') {
                was_blob = true;
                self.records_array(sc, sink)?;
            } else {
                header_field(sc, &key, &mut header)?;
            }
        }
        let end = sc.pos();
        if was_blob && header.properties.is_none() && header.flow_records.is_none() {
            return Ok(());
        }
        self.record(header, start, end, sink);
        Ok(())
    }

    /// `[ record, record, ... ]`, each record handled as soon as it is complete.
    fn records_array(
        &mut self,
        sc: &mut Scanner<'a>,
        sink: &mut impl FlowSink,
    ) -> Result<(), JsonError> {
        sc.begin_array()?;
        self.tail_from = Some(sc.pos());
        let mut first = true;
        while sc.next_element(first)? {
            first = false;
            self.element(sc, sink)?;
        }
        Ok(())
    }

    /// One element of a `records` array (the scanner is at it): a record, or a rejection.
    fn element(&mut self, sc: &mut Scanner<'a>, sink: &mut impl FlowSink) -> Result<(), JsonError> {
        sc.skip_ws();
        let start = sc.pos();
        self.tail_from = Some(start);
        if sc.peek() != Some(b'{') {
            let text = sc.skip_value()?;
            self.summary.rejected_records += 1;
            self.summary.foreign_values += 1;
            sink.reject(Rejection {
                level: RejectLevel::Record,
                reason: reason::NOT_A_FLOW_LOG,
                detail: "a `records` element that is not an object".into(),
                location: Location {
                    record_index: Some(self.record_index),
                    tuple_index: None,
                    offset: start,
                },
                text: clip(text),
            });
            self.record_index += 1;
            return Ok(());
        }
        let mut header = RecordHeader::default();
        sc.begin_object()?;
        let mut first_key = true;
        while let Some(key) = sc.next_key(first_key)? {
            first_key = false;
            header_field(sc, &key, &mut header)?;
        }
        let end = sc.pos();
        self.tail_from = Some(end);
        self.record(header, start, end, sink);
        Ok(())
    }

    /// Walks a complete record object's flows, or rejects it whole.
    fn record(
        &mut self,
        header: RecordHeader<'a>,
        start: usize,
        end: usize,
        sink: &mut impl FlowSink,
    ) {
        let index = self.record_index;
        self.record_index += 1;
        let at = Location {
            record_index: Some(index),
            tuple_index: None,
            offset: start,
        };
        let text = clip(&self.text[start..end]);
        let (kind, version, flows) = match identify(self.text, &header) {
            Ok(identified) => identified,
            Err((reason, detail)) => {
                self.summary.rejected_records += 1;
                if reason == reason::NOT_A_FLOW_LOG {
                    self.summary.foreign_values += 1;
                }
                sink.reject(Rejection {
                    level: RejectLevel::Record,
                    reason,
                    detail,
                    location: at,
                    text,
                });
                return;
            }
        };
        let record = Record {
            kind,
            version,
            header,
        };
        if let Some(offset) = flows {
            let mut sc = Scanner::at(self.text, offset);
            let walked = match kind {
                FlowLogKind::Vnet => walk_vnet(&mut sc, &record, index, sink),
                FlowLogKind::Nsg => {
                    let layout = if version == 1 {
                        TupleLayout::NsgV1
                    } else {
                        TupleLayout::NsgV2
                    };
                    walk_nsg(&mut sc, &record, layout, index, sink)
                }
            };
            if let Err(e) = walked {
                sink.reject(Rejection {
                    level: RejectLevel::Record,
                    reason: reason::BAD_FLOW_GROUP,
                    detail: format!(
                        "{e} (offset in the input); the rest of this record was skipped"
                    ),
                    location: at,
                    text,
                });
            }
        }
        self.summary.records += 1;
        sink.record_done(&record, end);
    }
}

fn line_end(text: &str, from: usize) -> usize {
    match memchr::memchr(b'\n', &text.as_bytes()[from.min(text.len())..]) {
        Some(i) => from + i + 1,
        None => text.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::FlowGroup;
    use crate::tuple::FlowTuple;

    #[derive(Default)]
    struct Collect {
        tuples: Vec<(String, String, Option<String>, String)>,
        rejects: Vec<(RejectLevel, &'static str, String, String)>,
        records: usize,
    }

    impl FlowSink for Collect {
        fn tuple(&mut self, r: &Record<'_>, g: &FlowGroup<'_>, t: &FlowTuple<'_>, _: Location) {
            self.tuples.push((
                format!("{}{}", r.kind.as_str(), r.version),
                g.rule.to_string(),
                g.mac.map(str::to_string),
                format!("{}>{}:{}", t.src_ip_text, t.dst_ip_text, t.dst_port),
            ));
        }
        fn reject(&mut self, r: Rejection<'_>) {
            self.rejects
                .push((r.level, r.reason, r.text.to_string(), r.detail));
        }
        fn record_done(&mut self, _: &Record<'_>, _: usize) {
            self.records += 1;
        }
    }

    const NSG2: &str = r#"{"time":"2026-03-02T10:01:35Z","macAddress":"000D3AF87856","category":"NetworkSecurityGroupFlowEvent","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG1","operationName":"NetworkSecurityGroupFlowEvents","properties":{"Version":2,"flows":[{"rule":"DefaultRule_DenyAllInBound","flows":[{"mac":"000D3AF87856","flowTuples":["1772445660,203.0.113.5,10.0.0.4,5000,22,T,I,D,B,,,,"]}]},{"rule":"R2","flows":[]}]}}"#;

    #[test]
    fn blob_single_record_and_ndjson_agree() {
        let blob = format!(r#"{{"records":[{NSG2},{NSG2}]}}"#);
        let ndjson = format!("{NSG2}\n{NSG2}\n");
        for text in [blob.as_str(), ndjson.as_str()] {
            let mut c = Collect::default();
            let s = walk(text, &mut c);
            assert_eq!(s.records, 2, "{text}");
            assert_eq!(c.tuples.len(), 2);
            assert_eq!(c.tuples[0].0, "nsg2");
            assert_eq!(c.tuples[0].1, "DefaultRule_DenyAllInBound");
            assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        }
    }

    #[test]
    fn key_order_does_not_matter() {
        let reordered = r#"{"flowRecords":{"flows":[{"flowGroups":[{"flowTuples":["1663146003599,10.0.0.6,52.239.184.180,23956,443,6,O,B,NX,0,0,0,0"],"rule":"Internet_4b9a"}],"aclID":"unspecified"}]},"macAddress":"00224871C205","flowLogVersion":4,"category":"FlowLogFlowEvent","time":"2022-09-14T09:00:52Z"}"#;
        let mut c = Collect::default();
        walk(reordered, &mut c);
        assert_eq!(c.tuples.len(), 1, "{:?}", c.rejects);
        assert_eq!(c.tuples[0].0, "vnet4");
        assert_eq!(c.tuples[0].1, "Internet_4b9a");
        assert_eq!(c.tuples[0].2.as_deref(), Some("00224871C205"));
    }

    #[test]
    fn cut_blob_keeps_complete_records_and_reports_incomplete() {
        let blob = format!(r#"{{"records":[{NSG2},{NSG2}]}}"#);
        let cut = &blob[..blob.len() - 40];
        let mut c = Collect::default();
        let s = walk(cut, &mut c);
        assert_eq!(c.tuples.len(), 1);
        assert!(s.incomplete);
        assert_eq!(c.rejects.len(), 1);
        assert_eq!(c.rejects[0].1, reason::INCOMPLETE);
        // Cut right after a complete record: nothing lost, still incomplete.
        let cut = &blob[..blob.len() - 2];
        let mut c = Collect::default();
        let s = walk(cut, &mut c);
        assert_eq!(c.tuples.len(), 2);
        assert!(s.incomplete);
    }

    #[test]
    fn bad_line_in_ndjson_is_skipped_and_next_kept() {
        let text = format!("{NSG2}\n{{\"time\" 12}}\n{NSG2}\n");
        let mut c = Collect::default();
        walk(&text, &mut c);
        assert_eq!(c.tuples.len(), 2);
        assert_eq!(c.rejects.len(), 1);
        assert_eq!(c.rejects[0].1, reason::INVALID_JSON);
    }

    #[test]
    fn properties_read_in_the_header_pass_whatever_their_shape() {
        // `Version` after `flows`, and other keys around them: read in the one pass.
        let late_version = NSG2
            .replace(
                r#""properties":{"Version":2,"flows":"#,
                r#""properties":{"note":[1,{"a":"}"}],"flows":"#,
            )
            .replace(
                r#"{"rule":"R2","flows":[]}]}}"#,
                r#"{"rule":"R2","flows":[]}],"Version":2}}"#,
            );
        let mut c = Collect::default();
        walk(&format!("{late_version}\n{NSG2}\n"), &mut c);
        assert_eq!(c.tuples.len(), 2, "{:?}", c.rejects);

        // Not an object, or not well formed inside: the record is rejected naming
        // `properties` and where, and the next record is still read.
        for (bad, detail) in [
            (r#""properties":5}"#, "`properties`: "),
            (r#""properties":{"Version" 2}}"#, "`properties`: "),
        ] {
            let record = format!("{}{bad}", &NSG2[..NSG2.find(r#""properties""#).unwrap()]);
            let mut c = Collect::default();
            walk(&format!("{record}\n{NSG2}\n"), &mut c);
            assert_eq!(c.tuples.len(), 1, "{record}: {:?}", c.rejects);
            assert_eq!(c.rejects.len(), 1, "{record}");
            assert_eq!(c.rejects[0].1, reason::BAD_FLOW_GROUP, "{record}");
            assert!(c.rejects[0].3.starts_with(detail), "{:?}", c.rejects[0]);
            assert!(
                c.rejects[0].3.ends_with("(offset in the input)"),
                "{:?}",
                c.rejects[0]
            );
        }
    }
}
