//! The `aggregate` section of the config (and `--aggregate`, `--window`, `--key`).
//!
//! ```
//! use nsgflow::aggregate::{AggregateConfig, KeySpec};
//! let c: AggregateConfig = serde_saphyr::from_str("enabled: true\nwindow: 10m\nkey: traffic-analytics\n").unwrap();
//! assert_eq!(c.window.as_secs(), 600);
//! assert_eq!(c.key, KeySpec::TRAFFIC_ANALYTICS);
//! assert_eq!(c.max_keys, 1_000_000);
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::key::KeySpec;

/// How to aggregate. Runtime state lives in [`super::Aggregator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AggregateConfig {
    /// Emit one aggregate per key and window instead of one event per tuple.
    pub enabled: bool,
    /// Tumbling event-time window: `60s` (default), `10m` or `1h` as Traffic Analytics
    /// uses, or any whole number of seconds.
    pub window: Seconds,
    /// `5tuple` (default), `traffic-analytics` (no source port; distinct source ports are
    /// counted instead), or a list of fields.
    pub key: KeySpec,
    /// How far behind the newest event time a tuple may be and still join its window
    /// (default `5m`). Older tuples are never dropped: they go to a `late` aggregate.
    pub allowed_lateness: Seconds,
    /// The most keys held at once (default 1,000,000, about 130 MB). At the cap the oldest
    /// window is flushed early.
    pub max_keys: usize,
}

impl Default for AggregateConfig {
    fn default() -> Self {
        AggregateConfig {
            enabled: false,
            window: Seconds(60),
            key: KeySpec::FIVE_TUPLE,
            allowed_lateness: Seconds(300),
            max_keys: 1_000_000,
        }
    }
}

/// A duration in whole seconds, written `90`, `90s`, `10m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub u64);

impl Seconds {
    pub fn as_secs(self) -> u64 {
        self.0
    }

    pub fn as_millis(self) -> u64 {
        self.0.saturating_mul(1000)
    }
}

impl FromStr for Seconds {
    type Err = String;

    /// ```
    /// use nsgflow::aggregate::Seconds;
    /// assert_eq!("1h".parse::<Seconds>().unwrap(), Seconds(3600));
    /// assert!("10 minutes".parse::<Seconds>().unwrap_err().contains("10m"));
    /// ```
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => t.split_at(i),
            None => (t, "s"),
        };
        let mult = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => 0,
        };
        match num.parse::<u64>() {
            Ok(n) if mult > 0 => Ok(Seconds(n * mult)),
            _ => Err(format!(
                "`{s}` is not a duration: write whole seconds or a number with s, m or h (60s, 10m, 1h)"
            )),
        }
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            N(u64),
            S(String),
        }
        match Repr::deserialize(d)? {
            Repr::N(n) => Ok(Seconds(n)),
            Repr::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl AggregateConfig {
    /// Checks the values together; the error names the setting, its value and what to
    /// write instead. Run by [`super::Aggregator::new`], where the runtime state is built.
    ///
    /// ```
    /// use nsgflow::aggregate::{AggregateConfig, Seconds};
    /// let c = AggregateConfig { window: Seconds(0), ..AggregateConfig::default() };
    /// assert!(c.validate().unwrap_err().contains("aggregate.window `0s`"));
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        if self.window.0 == 0 || self.window.0 > 86_400 {
            return Err(format!(
                "aggregate.window `{}` must be between 1s and 24h: set `aggregate.window` (or --window) to e.g. 60s, 10m or 1h",
                self.window
            ));
        }
        if self.max_keys == 0 {
            return Err(
                "aggregate.max_keys `0` must be at least 1: leave it out for the default (1000000)"
                    .into(),
            );
        }
        if self.key.is_empty() {
            return Err("aggregate.key has no fields: name at least one, or use 5tuple".into());
        }
        Ok(())
    }
}
