//! The YAML config (`nsgflow.yaml`, `--config`) over arbitrary text: a config or an error,
//! and a config's classifier and aggregation settings can be built or refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsgflow::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_yaml(text) {
        let _ = config.classifier();
        let _ = config.encode_options();
        if config.reputation.feeds.is_empty()
            && config.topology.is_none()
            && config.service_tags.is_none()
        {
            let _ = config.enricher();
        }
    }
});
