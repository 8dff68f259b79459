//! The YAML config file. It mirrors the command-line flags (a flag given on the command
//! line wins) and adds what flags cannot say well, such as the user's internal networks.
//! `docs/config.example.yaml` is a complete, commented example; a test loads it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::aggregate::AggregateConfig;
use crate::aggregate::Aggregation;
use crate::blob::config::AzureBlobConfig;
use crate::classify::{Classifier, NamedNetwork};
use crate::encode::codec::Codec;
use crate::encode::encoder;
use crate::encode::{EncodeOptions, Format};
use crate::engine::Engine;
use crate::event::Enricher;
use crate::geo::{Geo, GeoConfig};
use crate::net::Cidr;
use crate::output::{DeadLetterWriter, EventWriter};
use crate::pipeline::{Output, Pipeline};
use crate::reputation::{Reputation, ReputationConfig};
use crate::topology::Topology;
use std::io::Write;

/// Everything the `process` command can be told.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Files, directories (walked recursively) or `-` (stdin). Used when the command line
    /// names none.
    pub inputs: Vec<String>,
    /// `flat` (default), `ecs`, `splunk` or `ocsf`.
    pub format: Option<Format>,
    /// How events are written (`--codec`): `ndjson` (the default: one JSON object a line),
    /// `json-batch` (a JSON array of up to 256 events a line, which Vector's `json` codec
    /// or `parse_json` splits into events, faster than one a line) or `vector-native`
    /// (Vector's `decoding.codec: native` protobuf frames). `--format` still chooses the fields.
    pub codec: Option<Codec>,
    /// Where events go: a file path, or `-` for stdout (the default).
    pub output: Option<String>,
    /// Where rejected records and tuples go, as NDJSON. Unset: they are only counted.
    pub dead_letter: Option<String>,
    /// Read files incrementally: this file keeps, per input file, how far it was read, so
    /// each run (cron, Vector's exec in scheduled mode) emits only what is new, including
    /// the new records of a blob that grew. Unset: every run reads everything.
    pub checkpoint: Option<PathBuf>,
    /// Fluent Bit's in_exec_wasi program only: once a run has printed this many events it
    /// starts no further file; the rest is read by the next runs, from the checkpoint.
    /// Fluent Bit holds a run's whole output in memory, so this bounds it. Unset: no cap.
    pub max_events_per_run: Option<u64>,
    /// Progress bar: `auto` (on a terminal, the default), `always` or `never`.
    pub progress: Option<ProgressMode>,
    /// The Community ID seed. Leave it at 0 unless every tool you join with uses another.
    pub community_id_seed: Option<u16>,
    /// Your networks, by name: each address in one is classed `internal` and named. These
    /// win over the built-in classes. `hub-vnet: [10.0.0.0/16, 10.1.0.0/16]`.
    pub networks: BTreeMap<String, Vec<Cidr>>,
    /// Splunk HEC envelope settings.
    pub splunk: SplunkConfig,
    /// Where `nsgflow tail` reads flow logs in Azure Blob Storage, and how politely.
    pub azure_blob: AzureBlobConfig,
    /// Threat feeds (`--feeds`), their lookup cache and hot reload.
    pub reputation: ReputationConfig,
    /// Your VNets, subnets and gateway ranges, for FlowType (`--topology`): a YAML file,
    /// see `tests/fixtures/enrichment/topology.yaml`.
    pub topology: Option<PathBuf>,
    /// Azure's `ServiceTags_Public_*.json` (`--service-tags`): Microsoft-owned addresses.
    pub service_tags: Option<PathBuf>,
    /// Aggregation per key and window (`--aggregate`, `--window`, `--key`).
    pub aggregate: AggregateConfig,
    /// Country and ASN of public addresses (`--geoip-country`, `--geoip-asn`).
    pub geoip: GeoConfig,
    /// `nsgflow report`: rows per table and the cap on distinct keys (`--top`).
    pub report: crate::report::ReportConfig,
    /// In-stream detection (`--detect`): alerts for scans, sweeps, deny bursts, fan-out,
    /// malicious flows, new internet exposure, volume anomalies and beaconing.
    pub detect: crate::detect::DetectConfig,
    /// Where alerts go (`--alerts`): a file, or `-` for stdout. Unset: into the main output,
    /// told apart by `kind` / `event.kind`.
    pub alerts: Option<String>,
    /// Detection state kept between runs (`--detect-state`): baselines, learned exposures,
    /// open windows. Unset: every run starts fresh.
    pub detect_state: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplunkConfig {
    /// HEC `sourcetype` (default `azure:network:flow`).
    pub sourcetype: String,
    /// HEC `index`; unset uses the token's default index.
    pub index: String,
}

impl Default for SplunkConfig {
    fn default() -> Self {
        let d = EncodeOptions::default();
        SplunkConfig {
            sourcetype: d.splunk_sourcetype,
            index: d.splunk_index,
        }
    }
}

/// When to show the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ProgressMode {
    #[default]
    Auto,
    Always,
    Never,
}

/// A config file that could not be used: which file, and what is wrong where.
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "config {}: {} (see docs/config.example.yaml for every setting)",
            self.path.display(),
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut config = Config::from_yaml(&text).map_err(|message| ConfigError {
            path: path.to_path_buf(),
            message,
        })?;
        if let Some(dir) = path.parent() {
            config.resolve_paths(dir);
        }
        Ok(config)
    }

    /// Makes the feed, topology and service-tag paths relative to `dir` (the config
    /// file's directory) absolute.
    pub fn resolve_paths(&mut self, dir: &Path) {
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for f in &mut self.reputation.feeds {
            rebase(&mut f.path);
        }
        if let Some(p) = self.topology.as_mut() {
            rebase(p);
        }
        if let Some(p) = self.service_tags.as_mut() {
            rebase(p);
        }
        if let Some(p) = self.geoip.country.as_mut() {
            rebase(p);
        }
        for p in &mut self.geoip.asn {
            rebase(p);
        }
    }

    /// The enricher: classifier, and the feeds and topology when configured (loading
    /// them; an error names the file). Starts the feed reload thread when asked for.
    pub fn enricher(&self) -> Result<Enricher, String> {
        let mut e = Enricher::new(self.classifier(), self.community_id_seed.unwrap_or(0));
        if !self.reputation.feeds.is_empty() {
            e.reputation = Some(Reputation::load(&self.reputation)?);
        }
        if self.topology.is_some() || self.service_tags.is_some() {
            e.topology = Some(std::sync::Arc::new(Topology::load(
                self.topology.as_deref(),
                self.service_tags.as_deref(),
            )?));
        }
        if self.geoip.is_configured() {
            e.geo = Some(Geo::load(&self.geoip)?);
        }
        Ok(e)
    }

    pub fn from_yaml(text: &str) -> Result<Config, String> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }

    /// The classifier for the configured networks.
    pub fn classifier(&self) -> Classifier {
        Classifier::new(
            self.networks
                .iter()
                .flat_map(|(name, cidrs)| {
                    cidrs.iter().map(move |c| NamedNetwork {
                        net: c.0,
                        name: name.clone(),
                    })
                })
                .collect(),
        )
    }

    pub fn encode_options(&self) -> EncodeOptions {
        EncodeOptions {
            splunk_sourcetype: self.splunk.sourcetype.clone(),
            splunk_index: self.splunk.index.clone(),
        }
    }
}

impl Config {
    /// The pipeline this config describes (format, enrichment, aggregation), writing events
    /// to `out` and rejections to `dead`. (Here rather than in [`crate::pipeline`], which
    /// sits below the sources that the config also configures.)
    pub fn pipeline<W: Write>(
        &self,
        out: W,
        dead: DeadLetterWriter,
    ) -> Result<Pipeline<W>, String> {
        let engine = Engine::new(self.enricher()?);
        let output = if self.aggregate.enabled {
            Output::Aggregates(Box::new(Aggregation::new(
                &self.aggregate,
                engine.enricher.clone(),
            )?))
        } else {
            Output::Events
        };
        // Detection (`detect:`): alerts into the event writer unless the front end sets an
        // alerts writer (`--alerts`); the state is loaded here and saved on each flush.
        let detection = if self.detect.enabled {
            let mut d = crate::detect::Detection::new(&self.detect, engine.enricher.clone())
                .map_err(|e| format!("detect: {e}"))?;
            if let Some(p) = &self.detect_state {
                d.load_state(p)?;
            }
            Some(d)
        } else {
            None
        };
        let enc = encoder(self.format.unwrap_or_default(), &self.encode_options());
        let mut writer = EventWriter::new(out);
        writer.set_codec(self.codec.unwrap_or_default());
        let mut p = Pipeline::new(engine, output, enc, writer, dead);
        p.set_encoding(self.format.unwrap_or_default(), self.encode_options());
        if let Some(d) = detection {
            p.set_detection(d, self.detect_state.clone());
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_networks_and_format() {
        let c = Config::from_yaml(
            "format: ecs\nnetworks:\n  hub-vnet: [10.0.0.0/16, 10.1.0.5]\n  onprem: ['192.168.0.0/16']\n",
        )
        .unwrap();
        assert_eq!(c.format, Some(Format::Ecs));
        let cl = c.classifier();
        assert_eq!(cl.networks().len(), 3);
        assert_eq!(cl.networks()[0].net.to_string(), "10.1.0.5/32");
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = Config::from_yaml("format: xml\n").unwrap_err();
        assert!(err.contains("xml"), "{err}");
        let err = Config::from_yaml("formt: ecs\n").unwrap_err();
        assert!(err.contains("formt"), "{err}");
        let err = Config::from_yaml("networks:\n  hub: [10.0.0.0/33]\n").unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(err.contains('3') || err.contains("line"), "{err}");
    }
}
