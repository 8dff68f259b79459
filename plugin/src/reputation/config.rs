//! The `reputation` section of the config: the feed files, the lookup cache and the
//! reload interval. Loaded and checked by [`super::Reputation::load`], which builds the
//! prefix table.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::FeedFormat;

/// One feed file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed's name in events (`feeds: [firehol_level1]`; required).
    pub name: String,
    /// The feed file (required). Reloaded when it changes (`reload_interval_secs`).
    pub path: PathBuf,
    /// `list`, `spamhaus`, `feodo-csv`, `ipsum` or `csv`; unset: guessed from the file name.
    #[serde(default)]
    pub format: Option<FeedFormat>,
    /// The category for its entries (default `malicious`; a `csv` feed's own column wins).
    #[serde(default = "default_category")]
    pub category: String,
}

fn default_category() -> String {
    "malicious".into()
}

impl FeedConfig {
    /// A feed with the default category and a guessed format.
    pub fn new(name: &str, path: impl Into<PathBuf>) -> Self {
        FeedConfig {
            name: name.into(),
            path: path.into(),
            format: None,
            category: default_category(),
        }
    }

    /// Parses the command line's `--feeds [NAME=]PATH`: the name defaults to the file stem.
    ///
    /// ```
    /// use nsgflow::reputation::{FeedConfig, FeedFormat};
    /// let f = FeedConfig::from_arg("/feeds/drop_v4.json").unwrap();
    /// assert_eq!((f.name.as_str(), f.format_or_guess()), ("drop_v4", FeedFormat::Spamhaus));
    /// let f = FeedConfig::from_arg("c2=/feeds/ipblocklist.csv").unwrap();
    /// assert_eq!((f.name.as_str(), f.format_or_guess()), ("c2", FeedFormat::FeodoCsv));
    /// ```
    pub fn from_arg(arg: &str) -> Result<Self, String> {
        let (name, path) = match arg.split_once('=') {
            Some((n, p)) if !n.is_empty() && !n.contains('/') => (n.to_string(), p),
            _ => (
                Path::new(arg)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("--feeds `{arg}`: expected [NAME=]PATH"))?,
                arg,
            ),
        };
        Ok(FeedConfig::new(&name, path))
    }

    /// The configured format, or one guessed from the file name: `*drop*` Spamhaus,
    /// `*ipsum*` IPsum, `*.csv` with `feodo` or `ipblocklist` Feodo CSV, other `*.csv` the
    /// generic CSV, anything else a plain list.
    pub fn format_or_guess(&self) -> FeedFormat {
        if let Some(f) = self.format {
            return f;
        }
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.contains("drop") {
            FeedFormat::Spamhaus
        } else if name.contains("ipsum") {
            FeedFormat::Ipsum
        } else if name.ends_with(".csv") && (name.contains("feodo") || name.contains("ipblocklist"))
        {
            FeedFormat::FeodoCsv
        } else if name.ends_with(".csv") {
            FeedFormat::Csv
        } else {
            FeedFormat::List
        }
    }
}

/// The `reputation` section of the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReputationConfig {
    /// The feed files, in order of precedence for the category shown (default none).
    pub feeds: Vec<FeedConfig>,
    /// The lookup cache (off by default: on only when `capacity` is set).
    pub cache: CacheConfig,
    /// Seconds between checks of the feed files for changes (default 60); 0 never reloads.
    pub reload_interval_secs: u64,
}

impl Default for ReputationConfig {
    fn default() -> Self {
        ReputationConfig {
            feeds: Vec::new(),
            cache: CacheConfig::default(),
            reload_interval_secs: 60,
        }
    }
}

/// The LRU cache in front of the prefix table. Off by default: measured against the
/// indexed range table it costs more than it saves (user guide, docs/src/performance.md,
/// "Reputation"); turn it on to compare on your own traffic, the summary shows its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Addresses kept (default 0: no cache).
    pub capacity: usize,
    /// Seconds an answer is reused (default 3600).
    pub ttl_secs: u32,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity: 0,
            ttl_secs: 3600,
        }
    }
}
