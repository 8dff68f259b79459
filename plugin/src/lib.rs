//! nsgflow: Azure NSG and VNet flow logs, exploded into one labelled, classified event
//! per flow tuple and encoded as flat JSON, ECS, Splunk CIM or OCSF.
//!
//! The modules follow the data path:
//!
//! | stage | module |
//! |---|---|
//! | input (files, directories, stdin) | [`input`] |
//! | incremental reads across runs | [`checkpoint`] |
//! | JSON scanning, borrowed | [`json`] |
//! | records and their nesting | [`record`] |
//! | tuples | [`tuple`], [`labels`] |
//! | enrichment | [`event`], [`classify`], [`l7`], [`community_id`], [`resource`] |
//! | reputation and topology (FlowType) | [`reputation`], [`topology`], over [`prefix_table`] |
//! | aggregation (an event handler) | [`aggregate`] |
//! | encoding | [`encode`] |
//! | output, counters | [`output`], [`stats`] |
//! | the whole path | [`engine`], configured by [`config`] |
//! | Azure Blob Storage source (`nsgflow tail`) | [`blob`] |
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

pub mod aggregate;
pub mod blob;
pub mod checkpoint;
pub mod classify;
pub mod community_id;
pub mod config;
pub mod detect;
pub mod encode;
pub mod engine;
pub mod event;
pub mod input;
pub mod json;
pub mod l7;
pub mod labels;
pub mod output;
pub mod prefix_table;
pub mod record;
pub mod reputation;
pub mod resource;
pub mod stats;
pub mod time;
pub mod topology;
pub mod tuple;
