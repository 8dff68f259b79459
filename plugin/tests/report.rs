//! `nsgflow report`, run as a user runs it, and the page it writes rendered by a real
//! browser: headless Chromium (Debian's `chromium`, which `.ci/run` installs). The browser
//! test fails on any JavaScript console message, checks the key numbers in the rendered
//! DOM (`--dump-dom`) and that the screenshot (`--screenshot`) is not blank. Without
//! Chromium it is skipped with a message, except in CI (`CI=true`), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nsgflow::config::Config;
use nsgflow::output::DeadLetterWriter;
use nsgflow::report::html::{bytes, num};
use nsgflow::report::{ReportConfig, ReportTap, Summary};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nsgflow-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn nsgflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsgflow"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run nsgflow")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The README's report command: the Azure blob layout fixture, the other good fixtures,
/// the hand-counted report fixture and the attack fixture (a port scan and a sweep), in
/// time order, with the enrichment fixtures (feeds, topology, service tags) and detection.
const INPUTS: [&str; 6] = [
    "tests/fixtures/azure-layout",
    "tests/fixtures/nsg-v2-blob.json",
    "tests/fixtures/vnet-blob.json",
    "tests/fixtures/nsg-v1-blob.json",
    "tests/fixtures/report/hand-counted.json",
    "tests/fixtures/report/attack.json",
];
const CONFIG: &str = "tests/fixtures/enrichment/enrichment.yaml";

/// The numbers the page must show, from the library's own model over the same inputs,
/// on a pipeline with detection as `report --detect` builds it.
fn expected() -> Summary {
    let mut config = Config::load(&repo().join(CONFIG)).unwrap();
    config.detect.enabled = true;
    let mut p = config
        .pipeline(std::io::sink(), DeadLetterWriter::new(None))
        .unwrap();
    p.discard_events();
    let model = ReportTap::attach(&mut p, ReportConfig::default());
    let (inputs, errors) = nsgflow::input::expand(
        &INPUTS
            .iter()
            .map(|p| repo().join(p).display().to_string())
            .collect::<Vec<_>>(),
    );
    assert!(errors.is_empty());
    for i in inputs {
        if let nsgflow::input::Input::File(f) = i {
            let t = std::fs::read_to_string(&f).unwrap();
            p.process(&f.display().to_string(), &t);
        }
    }
    p.finish(nsgflow::aggregate::FlushReason::EndOfInput);
    let s = Summary::new(&model.lock(), &p.engine.stats);
    s
}

fn render_report(out: &Path) -> Output {
    let mut args: Vec<&str> = vec!["report"];
    args.extend(INPUTS);
    let out_s = out.display().to_string();
    args.extend(["--config", CONFIG, "--detect", "--output", &out_s]);
    nsgflow(&args)
}

#[test]
fn report_command_writes_one_self_contained_page() {
    let out = tmp("fixtures.html");
    let run = render_report(&out);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("report:") && stderr.contains("written to"),
        "{stderr}"
    );
    let page = std::fs::read_to_string(&out).unwrap();
    let s = expected();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    // Every view is there.
    for id in [
        "overview",
        "time",
        "talkers",
        "ports",
        "open",
        "denied",
        "rules",
        "malicious",
        "geo",
        "volume",
        "alerts",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "view {id} missing");
    }
    assert!(page.contains(&num(s.totals.total.flows)));
    // The alerts of the attack fixture, with their counts in the overview.
    let alerts = s.alerts.as_ref().expect("--detect");
    assert_eq!(alerts.total, 2, "{:?}", alerts.rows);
    assert!(page.contains("<span>port_scan</span><b data-v=\"1\">1</b>"));
    assert!(
        stderr.contains("2 alerts (") && stderr.contains("port_scan: 1"),
        "{stderr}"
    );
    // Nothing is fetched: no external URL, script or stylesheet.
    for needle in ["http://", "https://", " src=\"", "<link", "@import", "url("] {
        assert!(!page.contains(needle), "{needle} in the page");
    }
}

#[test]
fn empty_input_gives_a_valid_page_saying_no_flows() {
    let input = tmp("empty.json");
    std::fs::write(&input, "{\"records\":[]}\n").unwrap();
    let out = tmp("empty.html");
    let run = nsgflow(&[
        "report",
        &input.display().to_string(),
        "--output",
        &out.display().to_string(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.contains("No flows in the input"), "{page}");
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
}

/// `-` reads stdin; `--from`/`--to` narrow the report and the page says what was left out.
#[test]
fn stdin_and_time_range() {
    use std::io::Write;
    let out = tmp("stdin.html");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nsgflow"))
        .args([
            "report",
            "-",
            "--from",
            "2026-03-02T10:10",
            "--to",
            "2026-03-02T11:00Z",
            "--output",
        ])
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let blob = std::fs::read(repo().join("tests/fixtures/report/hand-counted.json")).unwrap();
    child.stdin.take().unwrap().write_all(&blob).unwrap();
    let run = child.wait_with_output().unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
    let page = std::fs::read_to_string(&out).unwrap();
    // In [10:10, 11:00): tuples 5 to 11 of the hand-counted fixture, 6 flows; 5 left out.
    assert!(
        page.contains("<div class=\"lbl\">Flows</div><div class=\"val\">6</div>"),
        "6 flows in the overview"
    );
    assert!(
        page.contains("5 tuples left out"),
        "the page says what --from/--to left out"
    );
}

#[test]
fn bad_arguments_say_what_is_wrong() {
    let out = tmp("bad.html").display().to_string();
    let run = nsgflow(&[
        "report",
        "tests/fixtures/nsg-v2-blob.json",
        "--output",
        &out,
        "--from",
        "yesterday",
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        text(&run.stderr).contains("--from: `yesterday` is not a UTC time"),
        "{}",
        text(&run.stderr)
    );
    let run = nsgflow(&[
        "report",
        "tests/fixtures/nsg-v2-blob.json",
        "--output",
        &out,
        "--geoip-country",
        "no/such/GeoLite2-Country.mmdb",
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        text(&run.stderr).contains("no/such/GeoLite2-Country.mmdb"),
        "{}",
        text(&run.stderr)
    );
}

/// Chromium, or `None` (skipped with a message) outside CI.
fn chromium(test: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("NSGFLOW_CHROMIUM").map(PathBuf::from),
        Some("chromium".into()),
        Some("chromium-browser".into()),
    ];
    for c in candidates.into_iter().flatten() {
        if Command::new(&c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(c);
        }
    }
    let why = "Chromium is not installed (apt-get install chromium, as .ci/run does, or set NSGFLOW_CHROMIUM)";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: {why} (CI=true: the browser test must not be skipped)");
    }
    eprintln!("{test}: SKIPPED: {why}");
    None
}

/// Headless Chromium with the flags that work in containers, a fresh profile each run.
fn headless(chromium: &Path, profile: &Path, extra: &[&str], url: &str) -> Output {
    let profile = format!("--user-data-dir={}", profile.display());
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            &profile,
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium")
}

/// Console messages (errors, warnings, logs) Chromium reports for the page.
fn console_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

#[test]
fn browser_renders_the_report_without_errors() {
    let Some(chromium) = chromium("browser_renders_the_report_without_errors") else {
        return;
    };
    let out = tmp("browser.html");
    let run = render_report(&out);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let url = format!("file://{}", out.display());
    let s = expected();

    let dom = headless(&chromium, &tmp("profile-dom"), &["--dump-dom"], &url);
    let stderr = text(&dom.stderr);
    assert!(dom.status.success(), "chromium failed: {stderr}");
    let console = console_messages(&stderr);
    assert!(
        console.is_empty(),
        "JavaScript console messages: {console:#?}"
    );
    let dom = text(&dom.stdout);
    // The script ran to its end.
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script did not finish"
    );
    // Key numbers, as the model has them.
    let top = &s.talkers[0];
    for needle in [
        num(s.totals.total.flows),
        num(s.totals.total.denied),
        bytes(s.totals.bytes_in),
        top.key.ip.to_string(),
        bytes(top.tally.bytes),
        s.denied_rules[0].key.1.clone(),
        s.malicious[0].ip.to_string(),
        s.open_ports[0].host.ip.to_string(),
        format!("{:.1}&times;", s.volume[0].ratio).replace("&times;", "\u{d7}"),
    ] {
        assert!(
            dom.contains(&needle),
            "{needle} is not in the rendered page"
        );
    }
    // The alerts view: a row per alert with its numbers, the counts by detector in the
    // overview and in the view, all in the DOM on load.
    let alerts = s.alerts.as_ref().expect("--detect");
    assert!(!alerts.rows.is_empty());
    assert!(dom.contains("id=\"alerts-t\""));
    for (detector, n) in &alerts.by_detector {
        let counter = format!("<span>{detector}</span><b data-v=\"{n}\">{n}</b>");
        assert!(
            dom.contains(&counter),
            "{counter} is not in the rendered page"
        );
        let overview = format!("{detector} <b data-v=\"{n}\">{n}</b>");
        assert!(dom.contains(&overview), "{overview} is not in the overview");
    }
    for r in &alerts.rows {
        let a = &r.alert;
        let row = dom
            .split("<tr ")
            .find(|row| {
                row.contains(&format!(">{}</b>", a.detector))
                    && row.contains("class=\"win\"")
                    && row.contains(&format!("data-host=\"{}\"", a.subject))
            })
            .unwrap_or_else(|| panic!("no row for {} in the rendered alerts", a.detector));
        for needle in [
            a.subject.to_string(),
            a.severity.as_str().to_string(),
            a.summary.clone(),
            format!("data-v=\"{}\">{}</td>", a.count, num(a.count)),
            format!("data-v=\"{}\"", a.observed.unwrap()),
            format!("data-v=\"{}\"", a.threshold.unwrap()),
        ] {
            assert!(
                row.contains(&needle),
                "{needle} is not in the {} row: {row}",
                a.detector
            );
        }
    }

    let shot = tmp("browser.png");
    let run = headless(
        &chromium,
        &tmp("profile-shot"),
        &[
            "--window-size=1400,1800",
            &format!("--screenshot={}", shot.display()),
        ],
        &url,
    );
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "chromium failed: {stderr}");
    assert!(console_messages(&stderr).is_empty(), "{stderr}");
    let (colors, share) = picture(&shot);
    // A blank page is one colour; this one has charts, cards and text.
    assert!(
        colors > 200,
        "only {colors} colours in the screenshot: blank?"
    );
    assert!(
        share < 0.9,
        "{:.0}% of the screenshot is one colour: blank?",
        share * 100.0
    );
}

/// Distinct colours in a PNG and the share of its most common one.
fn picture(path: &Path) -> (usize, f64) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let px = info.color_type.samples();
    let mut counts = std::collections::HashMap::new();
    for p in buf[..info.buffer_size()].chunks(px) {
        *counts.entry(p.to_vec()).or_insert(0usize) += 1;
    }
    let total: usize = counts.values().sum();
    let most = counts.values().copied().max().unwrap_or(0);
    (counts.len(), most as f64 / total.max(1) as f64)
}

/// Detection from the config's `detect:` section, tuned as there; `--alerts` writes the
/// alerts as NDJSON beside the page; `--detect-state` is saved only once the page is written,
/// and a report over input the state has seen raises nothing again.
#[test]
fn detect_from_the_config_alerts_file_and_state() {
    let attack = "tests/fixtures/report/attack.json";
    let config = tmp("detect.yaml");
    // port_scan needs 30 ports now: the fixture's 20 no longer make one.
    std::fs::write(
        &config,
        "detect:\n  enabled: true\n  port_scan: {ports: 30}\n",
    )
    .unwrap();
    let (page, alerts, state) = (tmp("detect.html"), tmp("alerts.ndjson"), tmp("state.json"));
    let _ = std::fs::remove_file(&state);
    let args = |page: &Path| {
        vec![
            "report".to_string(),
            attack.into(),
            "--config".into(),
            config.display().to_string(),
            "--output".into(),
            page.display().to_string(),
            "--alerts".into(),
            alerts.display().to_string(),
            "--detect-state".into(),
            state.display().to_string(),
        ]
    };
    let run = |v: Vec<String>| nsgflow(&v.iter().map(String::as_str).collect::<Vec<_>>());

    // The page cannot be written: an error, and the state is not saved.
    let out = run(args(Path::new("/nonexistent-dir/report.html")));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("/nonexistent-dir/report.html"));
    assert!(
        !state.exists(),
        "the state was saved though the page was not written"
    );

    let out = run(args(&page));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<span>sweep</span><b data-v=\"1\">1</b>"));
    assert!(html.contains("<span>port_scan</span><b data-v=\"0\">0</b>"));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["detector"], "sweep");
    assert_eq!(lines[0]["src_ip"], "193.32.162.10");
    assert!(state.exists());

    // Again with the state: the sweep was raised already.
    let out = run(args(&page));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<span>sweep</span><b data-v=\"0\">0</b>"));
}
