//! Reading flow logs straight from Azure Blob Storage, block by block.
//!
//! Azure re-commits each hourly `PT1H.json` block blob about once a minute with one more
//! record block before its `]}` tail. This source reads the committed block list and
//! downloads only the byte ranges of blocks it has not read (Microsoft's own connector's
//! method), so an hour is downloaded about once instead of about sixty times.
//!
//! | step | module |
//! |---|---|
//! | settings (`azure_blob:` in the config) | [`config`] |
//! | sign-in: connection string, SharedKey, SAS | [`auth`] |
//! | REST calls, retries, counters | `client` (feature `azure`), [`retry`], [`xml`] |
//! | recent hours only | [`list`] |
//! | which blocks are new; head, tail and comma | [`blocks`] |
//! | per-blob checkpoints, atomic | [`checkpoint`] |
//! | the stored discovery walk (cheap `--once` runs) | [`discovered`] |
//! | which replica reads which resource (`--shard K/N`) | [`shard`] |
//! | replicas of two plans never read at once | [`fence`] |
//! | one poll: list, fetch, engine, flush, checkpoint | `poll` (feature `azure`) |

pub mod auth;
pub mod blocks;
pub mod checkpoint;
#[cfg(feature = "azure")]
pub mod client;
pub mod config;
pub mod discovered;
pub mod fence;
pub mod list;
#[cfg(feature = "azure")]
pub mod poll;
pub mod retry;
pub mod shard;
pub mod xml;
