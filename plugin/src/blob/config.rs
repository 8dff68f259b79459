//! The `azure_blob:` section of the config file: where the flow logs are, how to sign in,
//! and how politely to poll. Runtime state (clients, checkpoints) lives elsewhere.

use std::path::PathBuf;

use serde::Deserialize;

/// The NSG flow-log container Azure writes to.
pub const NSG_CONTAINER: &str = "insights-logs-networksecuritygroupflowevent";
/// The VNet flow-log container Azure writes to.
pub const VNET_CONTAINER: &str = "insights-logs-flowlogflowevent";

/// How `nsgflow tail` reads flow logs from a storage account. Every field has a default;
/// the credentials can also come from the environment (see [`crate::blob::auth`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureBlobConfig {
    /// A storage connection string (`DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...`,
    /// `BlobEndpoint=...;SharedAccessSignature=...` or `UseDevelopmentStorage=true`).
    /// Prefer the `AZURE_STORAGE_CONNECTION_STRING` environment variable to writing it here.
    pub connection_string: Option<String>,
    /// The storage account name, with `account_key` or `sas_token` (or their environment
    /// variables `AZURE_STORAGE_KEY`, `AZURE_STORAGE_SAS_TOKEN`).
    pub account: Option<String>,
    /// The account key (SharedKey), base64 as the portal shows it.
    pub account_key: Option<String>,
    /// A SAS token (`sv=...&sig=...`, with or without the leading `?`). It needs List and
    /// Read permissions on the containers.
    pub sas_token: Option<String>,
    /// The blob service endpoint; default `https://{account}.blob.core.windows.net`.
    pub endpoint: Option<String>,
    /// Containers to read. Default: the NSG and the VNet flow-log containers. A container
    /// that does not exist is reported once and skipped.
    pub containers: Vec<String>,
    /// Only blobs under this prefix (e.g. `resourceId=/SUBSCRIPTIONS/<id>/`). Default: all.
    pub prefix: String,
    /// How many hours back to list, the current hour included (default 2: this hour and
    /// the last). Raise it to catch up after the reader was stopped for longer.
    pub lookback_hours: u32,
    /// Seconds between polls in streaming mode (default 60: Azure commits about once a minute).
    pub poll_interval_secs: f64,
    /// Blobs fetched at once (default 4).
    pub concurrency: usize,
    /// Retries of a request that failed with 408, 429, 500, 502, 503, 504, a timeout or a
    /// broken connection, with exponential backoff (default 6).
    pub retries: u32,
    /// First backoff delay in milliseconds, doubled on each retry with jitter, capped at
    /// 30 s; a `Retry-After` header wins (default 500).
    pub backoff_ms: u64,
    /// Timeout of one request, in seconds (default 30).
    pub timeout_secs: f64,
    /// Seconds between re-discoveries of the resource folders (new NSGs or flow logs)
    /// (default 3600). Discovery lists folder names only, never the hourly blobs. Keep it
    /// at most `lookback_hours - 1` hours, so a new NSG's first hour is still listed when
    /// it is found. The walk is stored in `<checkpoint_dir>/state/resources.json`, so
    /// `--once` runs and other `--shard` replicas reuse it until it is this old.
    pub rediscover_secs: f64,
    /// Where per-blob checkpoints are kept (default `nsgflow-checkpoints`). Keep it on
    /// a persistent disk: it is what makes a restart resume instead of re-reading.
    pub checkpoint_dir: PathBuf,
    /// Checkpoints not written for this many hours are deleted (default 168, a week). A
    /// blob older than `lookback_hours` is never read again, so this only matters when
    /// `lookback_hours` is raised to catch up: keep it above that.
    pub checkpoint_retention_hours: u32,
    /// The most bytes read and emitted before a checkpoint is written (default 4 MiB, at
    /// least one block). After a crash, at most this batch is emitted again.
    pub batch_bytes: u64,
    /// This reader is replica `K` of `N` (`"K/N"`, 0-based; K may be a StatefulSet pod name
    /// ending in `-K`) and reads only the resource folders it owns by rendezvous hashing
    /// (the user guide's Operations, Sharding). All replicas share `checkpoint_dir`. Default: none,
    /// one reader for everything. `--shard` and `NSGFLOW_SHARD` override it.
    pub shard: Option<String>,
}

// The floats are validated finite and positive, so equality is an equivalence.
impl Eq for AzureBlobConfig {}

impl Default for AzureBlobConfig {
    fn default() -> Self {
        AzureBlobConfig {
            connection_string: None,
            account: None,
            account_key: None,
            sas_token: None,
            endpoint: None,
            containers: vec![NSG_CONTAINER.into(), VNET_CONTAINER.into()],
            prefix: String::new(),
            lookback_hours: 2,
            poll_interval_secs: 60.0,
            concurrency: 4,
            retries: 6,
            backoff_ms: 500,
            timeout_secs: 30.0,
            rediscover_secs: 3600.0,
            checkpoint_dir: PathBuf::from("nsgflow-checkpoints"),
            checkpoint_retention_hours: 168,
            batch_bytes: 4 << 20,
            shard: None,
        }
    }
}

impl AzureBlobConfig {
    /// Checks the values a typo could make useless; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.containers.is_empty() {
            return Err("azure_blob.containers is empty: name at least one container".into());
        }
        if self.lookback_hours == 0 || self.lookback_hours > 24 * 31 {
            return Err(format!(
                "azure_blob.lookback_hours is {}: use 1 to 744 (hours, the current one included)",
                self.lookback_hours
            ));
        }
        if !(self.poll_interval_secs.is_finite() && self.poll_interval_secs > 0.0) {
            return Err(
                "azure_blob.poll_interval_secs must be a number of seconds more than 0".into(),
            );
        }
        if !(self.rediscover_secs.is_finite() && self.rediscover_secs >= 0.0) {
            return Err("azure_blob.rediscover_secs must be a number of seconds, 0 or more".into());
        }
        if self.checkpoint_retention_hours <= self.lookback_hours {
            return Err(format!(
                "azure_blob.checkpoint_retention_hours ({}) must be more than lookback_hours ({}): blobs still listed would lose their checkpoints and be read again",
                self.checkpoint_retention_hours, self.lookback_hours
            ));
        }
        if self.concurrency == 0 || self.concurrency > 64 {
            return Err(format!(
                "azure_blob.concurrency is {}: use 1 to 64",
                self.concurrency
            ));
        }
        if !(self.timeout_secs.is_finite() && self.timeout_secs > 0.0) {
            return Err("azure_blob.timeout_secs must be a number of seconds more than 0".into());
        }
        self.shard()?;
        Ok(())
    }

    /// The replica this reader is (0/1 when `shard` is not set).
    pub fn shard(&self) -> Result<super::shard::Shard, String> {
        match &self.shard {
            None => Ok(super::shard::Shard::default()),
            Some(s) => super::shard::Shard::parse(s).map_err(|e| format!("azure_blob.shard: {e}")),
        }
    }
}
