//! stdin as a stream: records are processed as soon as they are complete, so NDJSON piped
//! in from a follower flows through without waiting for the end of input. A reader thread
//! feeds chunks through a channel, so a signal is handled even while stdin is idle: the
//! complete records already read are processed, and the caller flushes.

use std::io::{self, Read, Write};
use std::sync::mpsc;

use indicatif::ProgressBar;
use nsgflow::engine::InputOutcome;
use nsgflow::input;
use nsgflow::pipeline::Pipeline;
use nsgflow::record::WalkSummary;

use super::signals::{Signal, Signals};

/// What the stdin reader and the signal watcher tell the main thread.
enum Msg {
    Data(Vec<u8>),
    Eof,
    Error(String),
    Signal(Signal),
}

/// Reads stdin to its end (or a signal) through `pipeline`; returns the outcome and the
/// signal that stopped it, if one did.
pub fn process<W: Write>(
    pipeline: &mut Pipeline<W>,
    bar: &ProgressBar,
    signals: &Signals,
) -> Result<(InputOutcome, Option<Signal>), String> {
    let (tx, rx) = mpsc::channel::<Msg>();
    let (sig_tx, sig_rx) = mpsc::channel::<Signal>();
    signals.subscribe(sig_tx);
    let forward = tx.clone();
    std::thread::Builder::new()
        .name("nsgflow-signal-forward".into())
        .spawn(move || {
            if let Ok(s) = sig_rx.recv() {
                let _ = forward.send(Msg::Signal(s));
            }
        })
        .map_err(|e| format!("cannot start the signal forwarder: {e}"))?;
    std::thread::Builder::new()
        .name("nsgflow-stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut chunk = vec![0u8; 1 << 20];
            loop {
                let msg = match stdin.read(&mut chunk) {
                    Ok(0) => Msg::Eof,
                    Ok(n) => Msg::Data(chunk[..n].to_vec()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Msg::Error(format!("reading stdin: {e}")),
                };
                let last = !matches!(msg, Msg::Data(_));
                if tx.send(msg).is_err() || last {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start the stdin reader: {e}"))?;
    let mut pending: Vec<u8> = Vec::new();
    let mut record_index = 0usize;
    let mut total = 0usize;
    let mut summary = WalkSummary::default();
    let mut interrupted = signals.received();
    // Retry a cut-off value only once the buffer has grown past this (avoids rescanning a
    // large pretty-printed blob for every chunk).
    let mut retry_at = 0usize;
    while interrupted.is_none() {
        let data = match rx.recv() {
            Ok(Msg::Data(d)) => d,
            Ok(Msg::Eof) | Err(_) => break,
            Ok(Msg::Error(e)) => return Err(e),
            Ok(Msg::Signal(s)) => {
                interrupted = Some(s);
                break;
            }
        };
        total += data.len();
        bar.inc(data.len() as u64);
        pending.extend_from_slice(&data);
        if pending.len() < retry_at {
            continue;
        }
        // Only whole lines: a chunk may end inside a multi-byte character.
        let Some(last_nl) = pending.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        let text = input::as_text(&pending[..=last_nl]).map_err(|e| format!("stdin: {e}"))?;
        let (s, consumed) = pipeline.process_part("-", text, record_index, true);
        summary.add(&s);
        record_index = s.next_record_index;
        pending.drain(..consumed);
        retry_at = if consumed == 0 { pending.len() * 2 } else { 0 };
        if pipeline.output_failed() {
            break;
        }
    }
    let text = input::as_text(&pending).map_err(|e| format!("stdin: {e}"))?;
    // On a signal, the complete records are processed; a partial last one is `incomplete`.
    let (s, _) = pipeline.process_part("-", text, record_index, false);
    summary.add(&s);
    Ok((pipeline.engine.finish_input(total, summary), interrupted))
}
