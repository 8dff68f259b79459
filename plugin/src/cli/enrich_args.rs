//! The enrichment flags `process` and `report` share: feeds, topology, service tags and
//! geography. Each wins over its config-file setting.

use std::path::PathBuf;

use nsgflow::config::Config;
use nsgflow::reputation::FeedConfig;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct EnrichArgs {
    /// A threat feed file, [NAME=]PATH, format guessed from the name (repeat for more).
    #[arg(long = "feeds", value_name = "[NAME=]PATH")]
    pub feeds: Vec<String>,
    /// Your VNets, subnets and gateways (YAML), for FlowType.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Azure's ServiceTags_Public_*.json, to recognise Microsoft addresses.
    #[arg(long, value_name = "FILE")]
    pub service_tags: Option<PathBuf>,
    /// A MaxMind-format country database (.mmdb): country of public addresses.
    #[arg(long, value_name = "FILE")]
    pub geoip_country: Option<PathBuf>,
    /// ASN ranges as CSV (start,end,asn,organisation); repeat for IPv4 and IPv6 files.
    #[arg(long, value_name = "FILE")]
    pub geoip_asn: Vec<PathBuf>,
}

impl EnrichArgs {
    /// Puts the flags given into `config`.
    pub fn apply(&self, config: &mut Config) -> Result<(), String> {
        if !self.feeds.is_empty() {
            config.reputation.feeds = self
                .feeds
                .iter()
                .map(|f| FeedConfig::from_arg(f))
                .collect::<Result<_, _>>()?;
        }
        if self.topology.is_some() {
            config.topology = self.topology.clone();
        }
        if self.service_tags.is_some() {
            config.service_tags = self.service_tags.clone();
        }
        if self.geoip_country.is_some() {
            config.geoip.country = self.geoip_country.clone();
        }
        if !self.geoip_asn.is_empty() {
            config.geoip.asn = self.geoip_asn.clone();
        }
        Ok(())
    }
}
