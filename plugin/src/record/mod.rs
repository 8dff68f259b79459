//! Records: finding them in any container, reading their headers, and walking their
//! rule -> MAC -> `flowTuples` nesting down to each tuple.
//!
//! Containers accepted, in any mix, one after another in the same text:
//! - a blob, `{"records":[ record, record, ... ]}` (Azure's `PT1H.json`, one line an hour);
//! - a single record object;
//! - NDJSON, one record (or one blob) per line;
//! - a JSON array of records;
//! - pretty-printed JSON, escapes included.
//!
//! A blob cut mid-write (read while Azure appends to it) yields every complete record and
//! then an `incomplete` rejection for the tail, which is not counted as corruption.
//! Record keys may come in any order. Nothing here allocates unless a string holds an
//! escape or something is rejected.

use std::borrow::Cow;
use std::fmt;

use crate::json::{JsonError, Scanner};
use crate::tuple::{FlowTuple, TupleError, TupleLayout};

/// Which flow-log product wrote the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowLogKind {
    /// NSG flow logs, category `NetworkSecurityGroupFlowEvent` (Version 1 or 2).
    Nsg,
    /// VNet flow logs, category `FlowLogFlowEvent` (flowLogVersion 4).
    Vnet,
}

impl FlowLogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowLogKind::Nsg => "nsg",
            FlowLogKind::Vnet => "vnet",
        }
    }
}

pub const NSG_CATEGORY: &str = "NetworkSecurityGroupFlowEvent";
pub const VNET_CATEGORY: &str = "FlowLogFlowEvent";

/// A record's header: everything but its flows.
#[derive(Debug, Clone, Default)]
pub struct RecordHeader<'a> {
    pub time: Option<Cow<'a, str>>,
    pub category: Option<Cow<'a, str>>,
    pub operation_name: Option<Cow<'a, str>>,
    /// The record-level `macAddress` (NSG records also carry a `mac` per flow group).
    pub mac_address: Option<Cow<'a, str>>,
    /// NSG `systemId`.
    pub system_id: Option<Cow<'a, str>>,
    /// NSG `resourceId` (the NSG).
    pub resource_id: Option<Cow<'a, str>>,
    /// VNet `flowLogVersion`.
    pub flow_log_version: Option<u64>,
    /// VNet `flowLogGUID`.
    pub flow_log_guid: Option<Cow<'a, str>>,
    /// VNet `flowLogResourceID` (the flow log).
    pub flow_log_resource_id: Option<Cow<'a, str>>,
    /// VNet `targetResourceID` (the VNet, subnet or NIC the flow log watches).
    pub target_resource_id: Option<Cow<'a, str>>,
    /// Offset of the `properties` (NSG) value.
    properties: Option<usize>,
    /// Offset of the `flowRecords` (VNet) value.
    flow_records: Option<usize>,
    /// A `records` array inside a record: the Microsoft docs sample bug.
    nested_records: bool,
}

/// A record ready to walk: its kind, version and header.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub kind: FlowLogKind,
    /// NSG `Version` (1, 2) or VNet `flowLogVersion` (4).
    pub version: u64,
    pub header: RecordHeader<'a>,
}

/// The rule and interface a run of tuples belongs to.
#[derive(Debug, Clone, Copy)]
pub struct FlowGroup<'r> {
    pub rule: &'r str,
    /// VNet `aclID`: a GUID, an NSG resource path, or `unspecified`.
    pub acl_id: Option<&'r str>,
    /// The MAC as written (the flow group's `mac`, else the record's `macAddress`).
    pub mac: Option<&'r str>,
    /// Unique per group in this process: encoders cache what is constant per group by it.
    pub group_id: u64,
}

/// Where something was found: record and tuple indexes (0-based) and a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub record_index: Option<usize>,
    pub tuple_index: Option<usize>,
    pub offset: usize,
}

/// Which part of the input a rejection throws out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectLevel {
    /// The whole input (not a flow log at all, or not JSON).
    Input,
    /// One record (or the rest of it, from a broken flow group on).
    Record,
    /// One tuple.
    Tuple,
}

impl RejectLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectLevel::Input => "input",
            RejectLevel::Record => "record",
            RejectLevel::Tuple => "tuple",
        }
    }
}

/// The stable reason codes of record- and input-level rejections.
pub mod reason {
    /// The input ends inside a record, or before the blob's closing `]}`: a blob read
    /// while Azure was still writing it. Not corruption: the next read will have it.
    pub const INCOMPLETE: &str = "incomplete";
    /// Not valid JSON at this point.
    pub const INVALID_JSON: &str = "invalid_json";
    /// A JSON value that is neither a flow-log record nor a blob of them.
    pub const NOT_A_FLOW_LOG: &str = "not_a_flow_log";
    /// An NSG `Version` or VNet `flowLogVersion` this version of nsgflow does not read.
    pub const UNSUPPORTED_VERSION: &str = "unsupported_version";
    /// A `records` array inside a record (the Microsoft docs sample bug).
    pub const NESTED_RECORDS: &str = "nested_records";
    /// A flow group of the wrong shape (e.g. `flows` that is not an array).
    pub const BAD_FLOW_GROUP: &str = "bad_flow_group";
    /// A `flowTuples` element that is not a string.
    pub const TUPLE_NOT_STRING: &str = "tuple_not_string";
}

/// Something thrown out, with the text it was found in and why.
#[derive(Debug, Clone)]
pub struct Rejection<'a> {
    pub level: RejectLevel,
    /// A stable code: one of [`reason`] or a [`crate::tuple::TupleErrorReason`] code.
    pub reason: &'static str,
    /// What was wrong, for a person.
    pub detail: String,
    pub location: Location,
    /// The rejected text (a tuple, a record, or the start of the input).
    pub text: &'a str,
}

impl fmt::Display for Rejection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.level.as_str(), self.reason)?;
        if let Some(r) = self.location.record_index {
            write!(f, " in record {r}")?;
        }
        if let Some(t) = self.location.tuple_index {
            write!(f, " tuple {t}")?;
        }
        write!(f, " (byte {}): {}", self.location.offset, self.detail)
    }
}

/// Receives what [`walk`] finds.
pub trait FlowSink {
    /// One good tuple, with its record and group.
    fn tuple(
        &mut self,
        record: &Record<'_>,
        group: &FlowGroup<'_>,
        tuple: &FlowTuple<'_>,
        at: Location,
    );
    /// Something thrown out.
    fn reject(&mut self, rejection: Rejection<'_>);
    /// A record was read to its end (whether or not parts of it were rejected); `end` is
    /// the byte offset just past it.
    fn record_done(&mut self, _record: &Record<'_>, _end: usize) {}
}

/// What a walk found, in counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkSummary {
    /// Records read (good or partly rejected), not counting rejected whole records.
    pub records: usize,
    /// Records rejected whole.
    pub rejected_records: usize,
    /// The input ended mid-record or before its closing `]}`.
    pub incomplete: bool,
    /// Values that were not flow logs at all (a file of them is "not a flow log").
    pub foreign_values: usize,
    /// Top-level JSON values seen (0: the input was empty or blank).
    pub values: usize,
    /// The index the next record would get (records seen, counting from `first_record`).
    pub next_record_index: usize,
}

impl WalkSummary {
    /// Adds the counts of a later piece of the same input (see [`walk_with`]).
    pub fn add(&mut self, part: &WalkSummary) {
        self.records += part.records;
        self.rejected_records += part.rejected_records;
        self.incomplete |= part.incomplete;
        self.foreign_values += part.foreign_values;
        self.values += part.values;
        self.next_record_index = part.next_record_index;
    }
}

static NEXT_GROUP_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_group_id() -> u64 {
    NEXT_GROUP_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The largest piece of text a rejection carries (a broken record can be megabytes).
pub const MAX_REJECTED_TEXT: usize = 64 * 1024;

fn clip(text: &str) -> &str {
    if text.len() <= MAX_REJECTED_TEXT {
        return text;
    }
    let mut end = MAX_REJECTED_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

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
        let mut sc = Scanner::new(self.text);
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
        let mut header = RecordHeader::default();
        let mut was_blob = false;
        sc.begin_object()?;
        let mut first = true;
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
                continue;
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
        }
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

/// What a record is: its kind, its version and where its flows array starts (`None` when
/// it has none), or the reason code and detail of why it is not a record nsgflow reads.
fn identify(
    text: &str,
    header: &RecordHeader<'_>,
) -> Result<(FlowLogKind, u64, Option<usize>), (&'static str, String)> {
    if header.nested_records {
        return Err((reason::NESTED_RECORDS, "a `records` array inside a record: this is the shape of the Microsoft docs sample bug (MicrosoftDocs/azure-docs#106229), not Azure output; its inner records were not read".into()));
    }
    if let Some(c) = header.category.as_deref() {
        if c != NSG_CATEGORY && c != VNET_CATEGORY {
            return Err((reason::NOT_A_FLOW_LOG, format!("record category `{c}` is not a flow log (expected `{NSG_CATEGORY}` or `{VNET_CATEGORY}`)")));
        }
    }
    match (header.properties, header.flow_records) {
        (_, Some(flow_records)) => match header.flow_log_version {
            Some(4) => Ok((FlowLogKind::Vnet, 4, Some(flow_records))),
            Some(v) => Err((
                reason::UNSUPPORTED_VERSION,
                format!("VNet flowLogVersion {v} is not supported (nsgflow reads version 4)"),
            )),
            None => Err((
                reason::UNSUPPORTED_VERSION,
                "VNet record has no numeric `flowLogVersion` (expected 4)".into(),
            )),
        },
        (Some(properties), None) => {
            let props = nsg_properties(&mut Scanner::at(text, properties)).map_err(|e| {
                (
                    reason::BAD_FLOW_GROUP,
                    format!("`properties`: {e} (offset in the input)"),
                )
            })?;
            Ok((FlowLogKind::Nsg, props.version?, props.flows))
        }
        (None, None) => Err((
            reason::NOT_A_FLOW_LOG,
            "object has neither `properties` (NSG flow log) nor `flowRecords` (VNet flow log)"
                .into(),
        )),
    }
}

fn line_end(text: &str, from: usize) -> usize {
    match memchr::memchr(b'\n', &text.as_bytes()[from.min(text.len())..]) {
        Some(i) => from + i + 1,
        None => text.len(),
    }
}

/// A string value, or `None` (skipping the value) when it is not a string.
fn opt_string<'a>(sc: &mut Scanner<'a>) -> Result<Option<Cow<'a, str>>, JsonError> {
    if sc.peek() == Some(b'"') {
        sc.string().map(Some)
    } else {
        sc.skip_value().map(|_| None)
    }
}

/// Reads one record-header key's value into `h`, skipping (and remembering) the rest.
fn header_field<'a>(
    sc: &mut Scanner<'a>,
    key: &str,
    h: &mut RecordHeader<'a>,
) -> Result<(), JsonError> {
    let slot = match key {
        "time" => &mut h.time,
        "category" => &mut h.category,
        "operationName" => &mut h.operation_name,
        "macAddress" => &mut h.mac_address,
        "systemId" => &mut h.system_id,
        "resourceId" => &mut h.resource_id,
        "flowLogGUID" => &mut h.flow_log_guid,
        "flowLogResourceID" => &mut h.flow_log_resource_id,
        "targetResourceID" => &mut h.target_resource_id,
        "flowLogVersion" => {
            h.flow_log_version = match sc.peek() {
                Some(b'0'..=b'9') => Some(sc.u64()?),
                _ => {
                    sc.skip_value()?;
                    None
                }
            };
            return Ok(());
        }
        "properties" => {
            sc.skip_ws();
            h.properties = Some(sc.pos());
            sc.skip_value()?;
            return Ok(());
        }
        "flowRecords" => {
            sc.skip_ws();
            h.flow_records = Some(sc.pos());
            sc.skip_value()?;
            return Ok(());
        }
        "records" => {
            h.nested_records = true;
            sc.skip_value()?;
            return Ok(());
        }
        _ => {
            sc.skip_value()?;
            return Ok(());
        }
    };
    *slot = opt_string(sc)?;
    Ok(())
}

struct NsgProperties {
    /// The version, or the reason code and detail of why it cannot be read.
    version: Result<u64, (&'static str, String)>,
    /// Offset of the `flows` array.
    flows: Option<usize>,
}

fn nsg_properties(sc: &mut Scanner<'_>) -> Result<NsgProperties, JsonError> {
    let mut version: Option<Result<u64, (&'static str, String)>> = None;
    let mut flows = None;
    sc.begin_object()?;
    let mut first = true;
    while let Some(key) = sc.next_key(first)? {
        first = false;
        match key.as_ref() {
            "Version" => {
                version = Some(match sc.peek() {
                    Some(b'0'..=b'9') => match sc.u64()? {
                        v @ (1 | 2) => Ok(v),
                        v => Err((
                            reason::UNSUPPORTED_VERSION,
                            format!(
                                "NSG flow log Version {v} is not supported (nsgflow reads 1 and 2)"
                            ),
                        )),
                    },
                    Some(b'"') => {
                        let v = sc.string()?;
                        Err((reason::NOT_A_FLOW_LOG, format!("`Version` is the string \"{v}\", not a number: Azure Network Watcher writes a number. A string version with `portId`/`portName` flows is the Azure Stack HCI / Windows Server SDN Datacenter Firewall audit log, a different product nsgflow does not read")))
                    }
                    _ => {
                        let v = sc.skip_value()?;
                        Err((
                            reason::UNSUPPORTED_VERSION,
                            format!("`Version` is `{v}`, expected 1 or 2"),
                        ))
                    }
                });
            }
            "flows" => {
                sc.skip_ws();
                flows = Some(sc.pos());
                sc.skip_value()?;
            }
            _ => {
                sc.skip_value()?;
            }
        }
    }
    let version = version.unwrap_or_else(|| {
        Err((
            reason::UNSUPPORTED_VERSION,
            "NSG record has no `properties.Version`".into(),
        ))
    });
    Ok(NsgProperties { version, flows })
}

/// Walks an array of objects, calling `each` with a scanner positioned at each object.
fn for_each_object<'a>(
    sc: &mut Scanner<'a>,
    what: &'static str,
    mut each: impl FnMut(&mut Scanner<'a>) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    if sc.peek() != Some(b'[') {
        return Err(JsonError {
            offset: sc.pos(),
            kind: crate::json::JsonErrorKind::Expected(what),
        });
    }
    sc.begin_array()?;
    let mut first = true;
    while sc.next_element(first)? {
        first = false;
        each(sc)?;
    }
    Ok(())
}

/// Reads an object with one array of children (`array_key`) and some scalar keys that
/// `field` reads into `state`. The children are walked by `children` in the same pass when
/// `ready(state)` already holds at the array (the usual key order), else once the object
/// is read (keys may come in any order).
fn parent_object<'a, S>(
    sc: &mut Scanner<'a>,
    array_key: &str,
    state: &mut S,
    field: fn(&str, &mut Scanner<'a>, &mut S) -> Result<(), JsonError>,
    ready: fn(&S) -> bool,
    mut children: impl FnMut(&mut Scanner<'a>, &S) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    let mut deferred = None;
    sc.begin_object()?;
    let mut first = true;
    while let Some(key) = sc.next_key(first)? {
        first = false;
        if key == array_key {
            if ready(state) {
                children(sc, state)?;
            } else {
                sc.skip_ws();
                deferred = Some(sc.pos());
                sc.skip_value()?;
            }
        } else {
            field(&key, sc, state)?;
        }
    }
    if let Some(off) = deferred {
        let mut later = Scanner::at(sc.text(), off);
        children(&mut later, state)?;
    }
    Ok(())
}

/// Reads `key` into `slot` if it is `want` (a string), else skips the value.
fn string_field<'a>(
    key: &str,
    want: &str,
    sc: &mut Scanner<'a>,
    slot: &mut Option<Cow<'a, str>>,
) -> Result<(), JsonError> {
    if key == want {
        *slot = opt_string(sc)?;
    } else {
        sc.skip_value()?;
    }
    Ok(())
}

fn walk_nsg<'a>(
    sc: &mut Scanner<'a>,
    record: &Record<'a>,
    layout: TupleLayout,
    index: usize,
    sink: &mut impl FlowSink,
) -> Result<(), JsonError> {
    let mut tuple_index = 0usize;
    for_each_object(sc, "`properties.flows` array", |sc| {
        // A rule: `{"rule": R, "flows": [ {"mac": M, "flowTuples": [...]}, ... ]}`.
        let mut rule: Option<Cow<'a, str>> = None;
        parent_object(
            sc,
            "flows",
            &mut rule,
            |k, sc, rule| string_field(k, "rule", sc, rule),
            Option::is_some,
            |sc, rule| {
                for_each_object(sc, "rule `flows` array", |sc| {
                    let mut mac: Option<Cow<'a, str>> = None;
                    parent_object(
                        sc,
                        "flowTuples",
                        &mut mac,
                        |k, sc, mac| string_field(k, "mac", sc, mac),
                        Option::is_some,
                        |sc, mac| {
                            let group = FlowGroup {
                                rule: rule.as_deref().unwrap_or(""),
                                acl_id: None,
                                mac: mac.as_deref().or(record.header.mac_address.as_deref()),
                                group_id: next_group_id(),
                            };
                            tuples_array(sc, record, &group, layout, index, &mut tuple_index, sink)
                        },
                    )
                })
            },
        )
    })
}

fn walk_vnet<'a>(
    sc: &mut Scanner<'a>,
    record: &Record<'a>,
    index: usize,
    sink: &mut impl FlowSink,
) -> Result<(), JsonError> {
    let mut tuple_index = 0usize;
    parent_object(
        sc,
        "flows",
        &mut (),
        |_, sc, _| sc.skip_value().map(|_| ()),
        |_| true,
        |sc, _| {
            for_each_object(sc, "`flowRecords.flows` array", |sc| {
                // An ACL: `{"aclID": A, "flowGroups": [ {"rule": R, "flowTuples": [...]}, ... ]}`.
                let mut acl: Option<Cow<'a, str>> = None;
                parent_object(
                    sc,
                    "flowGroups",
                    &mut acl,
                    |k, sc, acl| string_field(k, "aclID", sc, acl),
                    Option::is_some,
                    |sc, acl| {
                        for_each_object(sc, "`flowGroups` array", |sc| {
                            let mut rule: Option<Cow<'a, str>> = None;
                            parent_object(
                                sc,
                                "flowTuples",
                                &mut rule,
                                |k, sc, rule| string_field(k, "rule", sc, rule),
                                Option::is_some,
                                |sc, rule| {
                                    let group = FlowGroup {
                                        rule: rule.as_deref().unwrap_or(""),
                                        acl_id: acl.as_deref(),
                                        mac: record.header.mac_address.as_deref(),
                                        group_id: next_group_id(),
                                    };
                                    tuples_array(
                                        sc,
                                        record,
                                        &group,
                                        TupleLayout::Vnet,
                                        index,
                                        &mut tuple_index,
                                        sink,
                                    )
                                },
                            )
                        })
                    },
                )
            })
        },
    )
}

fn tuples_array<'a>(
    sc: &mut Scanner<'a>,
    record: &Record<'a>,
    group: &FlowGroup<'_>,
    layout: TupleLayout,
    record_index: usize,
    tuple_index: &mut usize,
    sink: &mut impl FlowSink,
) -> Result<(), JsonError> {
    if sc.peek() != Some(b'[') {
        return Err(JsonError {
            offset: sc.pos(),
            kind: crate::json::JsonErrorKind::Expected("a `flowTuples` array"),
        });
    }
    sc.begin_array()?;
    let mut first = true;
    while sc.next_element(first)? {
        first = false;
        let offset = sc.pos();
        let at = Location {
            record_index: Some(record_index),
            tuple_index: Some(*tuple_index),
            offset,
        };
        *tuple_index += 1;
        if sc.peek() != Some(b'"') {
            let text = sc.skip_value()?;
            sink.reject(Rejection {
                level: RejectLevel::Tuple,
                reason: reason::TUPLE_NOT_STRING,
                detail: "a `flowTuples` element that is not a string".into(),
                location: at,
                text: clip(text),
            });
            continue;
        }
        let s = sc.string()?;
        match FlowTuple::parse(&s, layout) {
            Ok(t) => sink.tuple(record, group, &t, at),
            Err(TupleError { reason, detail, .. }) => sink.reject(Rejection {
                level: RejectLevel::Tuple,
                reason: reason.code(),
                detail,
                location: at,
                text: clip(&sc.text()[offset + 1..sc.pos() - 1]),
            }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        tuples: Vec<(String, String, Option<String>, String)>,
        rejects: Vec<(RejectLevel, &'static str, String)>,
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
            self.rejects.push((r.level, r.reason, r.text.to_string()));
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
}
