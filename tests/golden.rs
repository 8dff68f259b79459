//! Golden outputs: every fixture, through every encoder, must give exactly the lines in
//! `golden/<fixture>.<format>.ndjson`, and its rejections exactly `golden/<fixture>.dead.ndjson`.
//! The VRL and WASM front ends are held to the same files.
//!
//! After a deliberate change of output, regenerate with `NSGFLOW_BLESS=1 cargo test -p
//! nsgflow-tests --test golden` and review the diff before committing it.

use nsgflow::aggregate::KeySpec;
use nsgflow::config::Config;
use nsgflow::encode::Format;
use nsgflow_tests::{
    enrichment_config, fixture, golden_dir, golden_fixtures, run_text_with, ENRICHED_FIXTURES,
};

fn check(path: &std::path::Path, expected: &str, bless: bool, failures: &mut Vec<String>) {
    if bless {
        std::fs::write(path, expected).expect("write golden");
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(golden) if golden == expected => {}
        Ok(golden) => {
            let first_diff = golden
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(golden.lines().count().min(expected.lines().count()));
            failures.push(format!(
                "{}: differs at line {} (golden {} lines, got {})\n  golden: {}\n  got:    {}",
                path.display(),
                first_diff + 1,
                golden.lines().count(),
                expected.lines().count(),
                golden.lines().nth(first_diff).unwrap_or("<none>"),
                expected.lines().nth(first_diff).unwrap_or("<none>"),
            ));
        }
        Err(e) => failures.push(format!(
            "{}: {e}; run NSGFLOW_BLESS=1 cargo test -p nsgflow-tests --test golden",
            path.display()
        )),
    }
}

#[test]
fn every_fixture_matches_its_golden_output_in_every_format() {
    let bless = std::env::var_os("NSGFLOW_BLESS").is_some();
    if bless {
        std::fs::create_dir_all(golden_dir()).expect("golden dir");
    }
    let mut failures = Vec::new();
    let fixtures = golden_fixtures();
    assert!(fixtures.len() >= 12, "fixtures missing: {fixtures:?}");
    for fixture in fixtures {
        let name = fixture.file_name().unwrap().to_string_lossy().to_string();
        let stem = name
            .rsplit_once('.')
            .map(|(s, _)| s)
            .unwrap_or(&name)
            .to_string();
        let text = std::fs::read_to_string(&fixture).expect("read fixture");
        let mut dead_first: Option<Vec<String>> = None;
        for format in Format::ALL {
            let run = run_text_with(&name, &text, format, &Config::default());
            let mut lines = run.lines.join("\n");
            if !lines.is_empty() {
                lines.push('\n');
            }
            check(
                &golden_dir().join(format!("{stem}.{format}.ndjson")),
                &lines,
                bless,
                &mut failures,
            );
            // Rejections do not depend on the output format.
            match &dead_first {
                None => dead_first = Some(run.dead.clone()),
                Some(d) => assert_eq!(
                    d, &run.dead,
                    "{name}: dead letters differ in format {format}"
                ),
            }
        }
        let dead = dead_first.unwrap_or_default();
        if !dead.is_empty() {
            let mut text = dead.join("\n");
            text.push('\n');
            check(
                &golden_dir().join(format!("{stem}.dead.ndjson")),
                &text,
                bless,
                &mut failures,
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs the enrichment fixtures with `config` in every format against `golden/<dir>/`.
fn check_variant(dir: &str, config: &Config) {
    let bless = std::env::var_os("NSGFLOW_BLESS").is_some();
    let out_dir = golden_dir().join(dir);
    if bless {
        std::fs::create_dir_all(&out_dir).expect("golden dir");
    }
    let mut failures = Vec::new();
    for name in ENRICHED_FIXTURES {
        let text = std::fs::read_to_string(fixture(name)).expect("read fixture");
        let stem = name.trim_end_matches(".json");
        for format in Format::ALL {
            let run = run_text_with(name, &text, format, config);
            let mut lines = run.lines.join("\n");
            lines.push('\n');
            check(
                &out_dir.join(format!("{stem}.{format}.ndjson")),
                &lines,
                bless,
                &mut failures,
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn enriched_output_matches_golden() {
    check_variant("enriched", &enrichment_config());
}

#[test]
fn aggregated_output_matches_golden() {
    let mut config = enrichment_config();
    config.aggregate.enabled = true;
    check_variant("aggregated", &config);
}

#[test]
fn traffic_analytics_aggregates_match_golden() {
    let mut config = enrichment_config();
    config.aggregate.enabled = true;
    config.aggregate.key = KeySpec::TRAFFIC_ANALYTICS;
    config.aggregate.window = "10m".parse().unwrap();
    check_variant("aggregated-ta", &config);
}
