//! The rejection vocabulary: what was thrown out ([`Rejection`]), how much of the input
//! ([`RejectLevel`]), where ([`Location`]) and why (a stable [`reason`] code, or a
//! [`crate::tuple::TupleErrorReason`] code). Every stage that drops something says it in
//! these words; the dead-letter writer ([`crate::output::DeadLetterWriter`]) writes them.

use std::fmt;

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

/// The largest piece of text a rejection carries (a broken record can be megabytes).
pub const MAX_REJECTED_TEXT: usize = 64 * 1024;

/// `text`, cut to [`MAX_REJECTED_TEXT`] at a character boundary.
pub(crate) fn clip(text: &str) -> &str {
    if text.len() <= MAX_REJECTED_TEXT {
        return text;
    }
    let mut end = MAX_REJECTED_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
