//! The nesting walkers: an NSG record's rule -> MAC -> `flowTuples`, and a VNet record's
//! flow -> flow group -> `flowTuples`, down to each tuple, in one pass whatever the key
//! order.

use std::borrow::Cow;

use crate::json::{JsonError, Scanner};
use crate::rejection::{clip, reason, Location, RejectLevel, Rejection};
use crate::tuple::{FlowTuple, TupleError, TupleLayout};

use super::header::opt_string;
use super::{FlowGroup, FlowSink, Record};

static NEXT_GROUP_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_group_id() -> u64 {
    NEXT_GROUP_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
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

pub(super) fn walk_nsg<'a>(
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

pub(super) fn walk_vnet<'a>(
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
        let next = sc.peek();
        if next == Some(b'"') {
            // The usual case: a well-formed tuple, read where it lies in the JSON.
            if let Some((t, end)) = FlowTuple::parse_quoted(sc.text(), sc.pos(), layout) {
                sc.set_pos(end);
                sink.tuple(record, group, &t, at);
                continue;
            }
        } else {
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
