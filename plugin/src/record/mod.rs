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
//!
//! | step | module |
//! |---|---|
//! | containers: blob, record, NDJSON, array | `walk` ([`walk`], [`walk_with`]) |
//! | one large blob cut into record ranges for several threads | `split` ([`BlobSplitter`], [`walk_records`]) |
//! | a record's header: NSG or VNet, which version | `header` |
//! | rule -> MAC -> `flowTuples` (NSG), flow -> group -> `flowTuples` (VNet) | `flows` |
//! | what was thrown out, and why | [`crate::rejection`] |

use std::borrow::Cow;

use crate::tuple::FlowTuple;

mod flows;
mod header;
mod split;
mod walk;

pub use crate::rejection::{reason, Location, RejectLevel, Rejection, MAX_REJECTED_TEXT};
pub use split::{BlobSplitter, RecordRange};
pub use walk::{walk, walk_from, walk_records, walk_with};

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
    pub(super) properties: Option<usize>,
    /// The `properties` object as read in the same pass (its `Version` and where its
    /// `flows` start), or why it could not be read.
    pub(super) nsg_properties: Option<Result<header::NsgProperties, crate::json::JsonError>>,
    /// Offset of the `flowRecords` (VNet) value.
    pub(super) flow_records: Option<usize>,
    /// A `records` array inside a record: the Microsoft docs sample bug.
    pub(super) nested_records: bool,
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
