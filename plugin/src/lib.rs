//! nsgflow: Azure NSG and VNet flow logs, exploded into one labelled, classified event
//! per flow tuple and encoded as flat JSON, ECS, Splunk CIM or OCSF.
//!
//! The modules follow one tuple from bytes to output, top-down; each imports only from
//! the rows below it or beside it (no import cycles: `tests/module_graph.rs` keeps it so):
//!
//! | stage | module |
//! |---|---|
//! | input: files, directories, stdin; Azure Blob Storage (`nsgflow tail`) | [`input`], [`checkpoint`] (local folders across runs), [`blob`] |
//! | records: find them in any container, read headers, walk the nesting | [`json`] (borrowed scanner), [`record`] |
//! | what was thrown out, and why | [`rejection`] |
//! | tuples: one flow tuple, its labels | [`tuple`], [`labels`] |
//! | enrichment: one event per tuple | [`event`] (the [`event::Enricher`], FlowType), [`classify`], [`l7`], [`community_id`], [`resource`], [`reputation`], [`topology`], over [`prefix_table`] and [`net`] |
//! | geography and ASN of public addresses | [`geo`] |
//! | aggregation (or, later, detection) | [`aggregate`] |
//! | the HTML report (a pipeline tap) | [`report`] |
//! | encoding: flat, ECS, Splunk, OCSF | [`encode`] |
//! | output: event and dead-letter writers, counters | [`output`], [`stats`], [`atomic`] (state files) |
//! | the stages plumbed together | [`engine`] (records -> events), [`pipeline`] (events -> aggregation or encoding -> output) |
//! | a local run shared among threads (`nsgflow process --threads`) | [`parallel`] |
//! | built from the config file | [`config`] |
//! | least-privilege NSG rules from observed traffic (`nsgflow harden`) | [`harden`] |
//!
//! ```
//! use nsgflow::encode::{encoder, EncodeOptions, Format};
//! use nsgflow::engine::{EncodeLines, Engine};
//! use nsgflow::output::{DeadLetterWriter, EventWriter};
//!
//! let blob = r#"{"records":[{"time":"2018-11-13T12:00:35.3899262Z","category":"NetworkSecurityGroupFlowEvent",
//!   "resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG",
//!   "properties":{"Version":2,"flows":[{"rule":"DefaultRule_AllowInternetOutBound","flows":[{"mac":"000D3AF87856",
//!   "flowTuples":["1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66"]}]}]}}]}"#;
//! let mut engine = Engine::default();
//! let mut enc = encoder(Format::Flat, &EncodeOptions::default());
//! let mut out = EventWriter::new(Vec::new());
//! let mut dead = DeadLetterWriter::new(None);
//! engine.process("blob", blob, &mut EncodeLines { encoder: enc.as_mut(), writer: &mut out }, &mut dead);
//! let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
//! assert!(text.starts_with(r#"{"timestamp":"2018-11-13T11:59:39.000Z","src_ip":"10.5.16.4""#));
//! assert!(text.contains(r#""nsg":"WEB-NSG""#));
//! ```

#![forbid(unsafe_code)]

pub mod aggregate;
pub mod atomic;
pub mod blob;
pub mod checkpoint;
pub mod classify;
pub mod community_id;
pub mod config;
pub mod detect;
pub mod encode;
pub mod engine;
pub mod event;
pub mod geo;
pub mod harden;
pub mod input;
pub mod json;
pub mod l7;
pub mod labels;
pub mod net;
pub mod output;
pub mod parallel;
pub mod pipeline;
pub mod prefix_table;
pub mod record;
pub mod rejection;
pub mod report;
pub mod reputation;
pub mod resource;
pub mod stats;
pub mod time;
pub mod topology;
pub mod tuple;
