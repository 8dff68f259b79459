//! The Azure Blob Storage source against the real storage emulator (Azurite), with a writer
//! that commits `PT1H.json` blobs block by block as Azure does.

mod support;

use std::io::Write;
use std::path::PathBuf;

use nsgflow::blob::client::BlobClient;
use nsgflow::blob::config::AzureBlobConfig;
use nsgflow::blob::poll::{BlobSource, PollReport};
use nsgflow::pipeline::Pipeline;

use support::azurite::Azurite;
use support::sink::{leaked_client, pipeline, SharedBuf};
use support::writer::{count_events, BlobWriter, Hour, Kind, Rng};

fn tmpdir(name: &str) -> PathBuf {
    support::sink::tmpdir("azure", name)
}

/// The reader under test, in process, writing NDJSON into a buffer.
struct Reader {
    source: BlobSource<'static>,
    pipeline: Pipeline<Box<dyn Write + Send>>,
    out: SharedBuf,
    dead_out: SharedBuf,
    messages: Vec<String>,
}

impl Reader {
    fn new(c: &'static BlobClient, checkpoints: PathBuf, lookback: u32) -> Reader {
        let cfg = AzureBlobConfig {
            checkpoint_dir: checkpoints,
            lookback_hours: lookback,
            concurrency: 3,
            ..Default::default()
        };
        Reader::with(c, cfg)
    }

    fn with(c: &'static BlobClient, cfg: AzureBlobConfig) -> Reader {
        let out = SharedBuf::default();
        let dead_out = SharedBuf::default();
        Reader {
            source: BlobSource::new(c, cfg).unwrap(),
            pipeline: pipeline(Box::new(out.clone()), &dead_out),
            out,
            dead_out,
            messages: Vec::new(),
        }
    }

    fn poll(&mut self) -> PollReport {
        let r = self.source.poll(&mut self.pipeline).unwrap();
        self.messages
            .extend(r.messages.iter().map(|m| m.to_string()));
        r
    }
}

/// Writes an hour of blobs for `macs` (NSG) and one VNet blob, one commit per simulated
/// minute, polling after random minutes; returns the writers.
fn write_hour(
    c: &BlobClient,
    hour: Hour,
    minutes: std::ops::Range<u64>,
    rng: &mut Rng,
    reader: &mut Reader,
    poll_every_minute: bool,
    writers: &mut Vec<BlobWriter>,
) {
    if writers.is_empty() {
        for (i, mac) in ["00224884D0E2", "0022489A4C17", "6045BDA1C3F2"]
            .iter()
            .enumerate()
        {
            let kind = if i == 2 { Kind::Vnet } else { Kind::Nsg };
            writers.push(BlobWriter::new(
                kind,
                hour,
                mac,
                10_000 * (i as u32 + 1) + (hour.h as u32 % 2) * 30_000 / 3,
            ));
        }
    }
    for minute in minutes {
        for w in writers.iter_mut() {
            let tuples = 3 + rng.below(12) as u32;
            w.minute(c, minute, tuples);
        }
        if poll_every_minute || rng.below(3) == 0 {
            reader.poll();
        }
    }
}

#[test]
fn each_record_is_read_exactly_once_across_polls_and_an_hour_rollover() {
    let Some(az) = Azurite::start("exactly_once") else {
        return;
    };
    let c = leaked_client(&az);
    let mut rng = Rng::from_env_or_time();
    let mut reader = Reader::new(c, tmpdir("once"), 3);

    // An old blob, outside the recent hours: it must never be listed or read.
    let mut old = BlobWriter::new(Kind::Nsg, Hour::of(1_772_445_600), "00224884D0E2", 60_000);
    old.minute(c, 0, 5);

    let prev = Hour::now_minus(1);
    let mut first_hour = Vec::new();
    write_hour(
        c,
        prev,
        0..60,
        &mut rng,
        &mut reader,
        false,
        &mut first_hour,
    );
    // Rollover: the next hour's blobs start while the last minutes of the previous one are
    // read.
    let now = Hour::now_minus(0);
    let mut second_hour = Vec::new();
    write_hour(c, now, 0..7, &mut rng, &mut reader, false, &mut second_hour);
    reader.poll();
    // Nothing new: nothing emitted again, and no block list fetched (the listing's etags
    // match the checkpoints).
    let changed = reader.source.stats.blobs_changed;
    let requests = c
        .counters
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    reader.poll();
    assert_eq!(reader.source.stats.blobs_changed, changed);
    let idle_requests = c
        .counters
        .requests
        .load(std::sync::atomic::Ordering::Relaxed)
        - requests;
    // One listing per resource folder (NSG, VNet) and recent hour (3).
    assert_eq!(idle_requests, 2 * 3, "an idle poll should only list");

    let (seen, cut) = count_events(&reader.out.text());
    assert_eq!(cut, 0);
    let mut expected = 0;
    for w in first_hour.iter().chain(&second_hour) {
        for key in w.events.keys() {
            expected += 1;
            assert_eq!(seen.get(key), Some(&1), "event {key:?} of {}", w.blob);
        }
    }
    assert_eq!(seen.len(), expected, "events that were never written");
    assert_eq!(seen.values().sum::<u32>() as usize, expected);
    for key in old.events.keys() {
        assert!(!seen.contains_key(key), "an old hour was read");
    }
    assert_eq!(reader.dead_out.text(), "", "no dead letters");
    assert!(reader.messages.is_empty(), "{:?}", reader.messages);
    assert_eq!(reader.source.stats.rewrites, 0);

    // A new reader on the same checkpoints reads nothing again.
    let dir = reader.source.config().checkpoint_dir.clone();
    let mut again = Reader::new(c, dir, 3);
    again.poll();
    assert_eq!(again.out.text(), "");
}

#[test]
fn a_simulated_hour_downloads_at_most_1_05_times_the_blob_bytes() {
    let Some(az) = Azurite::start("efficiency") else {
        return;
    };
    let c = leaked_client(&az);
    let mut rng = Rng::from_env_or_time();
    let mut reader = Reader::new(c, tmpdir("efficiency"), 3);
    let hour = Hour::now_minus(1);
    let mut writers = Vec::new();
    // The worst case for overhead: a poll after every commit.
    write_hour(c, hour, 0..60, &mut rng, &mut reader, true, &mut writers);
    let blob_bytes: u64 = writers.iter().map(|w| w.committed_bytes).sum();
    let counters = &c.counters;
    let downloaded = counters
        .range_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    let metadata = counters
        .metadata_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    let ratio = downloaded as f64 / blob_bytes as f64;
    let whole_blob_each_minute: u64 = writers
        .iter()
        .map(|w| (1..=60u64).map(|m| w.committed_bytes * m / 60).sum::<u64>())
        .sum();
    eprintln!(
        "EFFICIENCY: {} blobs, 60 commits each, a poll after each: blob bytes {blob_bytes}, downloaded {downloaded} (ratio {ratio:.4}); block lists and listings {metadata} bytes; a reader that downloads the whole blob on each change would download about {whole_blob_each_minute} ({:.1}x)",
        writers.len(),
        whole_blob_each_minute as f64 / blob_bytes as f64
    );
    assert!(ratio <= 1.05, "ratio {ratio}");
    assert!(ratio >= 1.0, "read less than the blobs hold: {ratio}");
    let (seen, _) = count_events(&reader.out.text());
    assert_eq!(
        seen.len(),
        writers.iter().map(|w| w.events.len()).sum::<usize>()
    );
}

#[test]
fn a_rewritten_blob_is_read_again_without_loss_and_duplicates_are_bounded_and_reported() {
    let Some(az) = Azurite::start("rewrite") else {
        return;
    };
    let c = leaked_client(&az);
    let mut reader = Reader::new(c, tmpdir("rewrite"), 3);
    let hour = Hour::now_minus(0);
    let mut w = BlobWriter::new(Kind::Nsg, hour, "00224884D0E2", 10_000);
    for minute in 0..10 {
        w.minute(c, minute, 4);
    }
    reader.poll();
    let before = count_events(&reader.out.text()).0;
    assert_eq!(before.len(), 40);

    // The rewrite: record 3 is dropped, record 5 is replaced by a changed version (one more
    // tuple), records 0-2 and 6-9 are uploaded again under new block IDs with the same
    // bytes, and two new records follow. The etag changes and the list does not extend the
    // one read.
    let old = w.records.clone();
    let mut new_ids = Vec::new();
    for (k, (_, text)) in old.iter().enumerate() {
        match k {
            3 => continue,
            5 => {
                let changed = format!(",{}", w.record(5, 5));
                new_ids.push(w.stage(c, changed.clone()));
            }
            _ => new_ids.push(w.stage(c, text.clone())),
        }
    }
    for minute in 10..12 {
        let rec = format!(",{}", w.record(minute, 4));
        new_ids.push(w.stage(c, rec));
    }
    let texts: Vec<(String, String)> = new_ids.iter().map(|i| (i.clone(), String::new())).collect();
    w.records = texts;
    w.commit(c);
    reader.poll();

    let (seen, cut) = count_events(&reader.out.text());
    assert_eq!(cut, 0);
    // No loss: every event ever written is out, the ones read before the rewrite included.
    for key in w.events.keys() {
        assert!(seen.contains_key(key), "lost {key:?}");
    }
    let duplicated: u32 = seen.values().map(|n| n - 1).sum();
    let stats = &reader.source.stats;
    assert_eq!(stats.rewrites, 1);
    assert_eq!(
        stats.rewrite_blocks_skipped,
        1 + 8,
        "head and 8 unchanged records skipped"
    );
    // Record 5's four old tuples come again in its changed version: 4 duplicate events
    // from 1 record; the bound reported is min(changed or new blocks 3, gone blocks 2).
    assert_eq!(duplicated, 4);
    assert_eq!(stats.possible_duplicates, 2);
    assert!(
        reader
            .messages
            .iter()
            .any(|m| m.contains("was rewritten") && m.contains(&w.blob)),
        "{:?}",
        reader.messages
    );
    assert!(reader
        .messages
        .iter()
        .any(|m| m.contains("at most 2 records may repeat")));
    // And it goes on appending after the rewrite.
    w.records = new_ids.iter().map(|i| (i.clone(), String::new())).collect();
    w.minute(c, 12, 3);
    reader.poll();
    let (seen, _) = count_events(&reader.out.text());
    assert_eq!(seen.values().map(|n| n - 1).sum::<u32>(), 4);
    assert_eq!(seen.len(), w.events.len());
}

/// Output that takes `left` bytes and then fails, like a pipe whose reader went away.
struct FailAfter {
    left: usize,
    taken: SharedBuf,
}

impl Write for FailAfter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if b.len() > self.left {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "reader gone",
            ));
        }
        self.left -= b.len();
        self.taken.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_read_stopped_midway_is_finished_later_although_the_blob_did_not_change() {
    let Some(az) = Azurite::start("midway") else {
        return;
    };
    let c = leaked_client(&az);
    let dir = tmpdir("midway");
    let mut w = BlobWriter::new(Kind::Nsg, Hour::now_minus(0), "00224884D0E2", 10_000);
    for minute in 0..8 {
        w.minute(c, minute, 3);
    }
    let cfg = AzureBlobConfig {
        checkpoint_dir: dir.clone(),
        batch_bytes: 1, // a checkpoint per block
        ..Default::default()
    };
    // The first reader's output breaks after about two records' events.
    let mut first = Reader::with(c, cfg.clone());
    let taken = SharedBuf::default();
    first.pipeline = pipeline(
        Box::new(FailAfter {
            left: 2 * 3 * 700,
            taken: taken.clone(),
        }),
        &first.dead_out,
    );
    let err = first.source.poll(&mut first.pipeline).unwrap_err();
    assert_eq!(err, nsgflow::blob::poll::PollError::OutputClosed);
    let (before, _) = count_events(&taken.text());
    assert!(!before.is_empty() && before.len() < 24, "{}", before.len());
    // The blob does not change; a second reader must still read the rest, and repeat
    // nothing that had a checkpoint.
    let mut second = Reader::with(c, cfg);
    second.poll();
    let (after, _) = count_events(&second.out.text());
    for key in w.events.keys() {
        assert!(
            before.contains_key(key) || after.contains_key(key),
            "lost {key:?}"
        );
    }
    let repeated = after.keys().filter(|k| before.contains_key(*k)).count();
    assert!(
        repeated <= 3,
        "more than the one unflushed record repeated: {repeated} events"
    );
}

#[test]
fn bad_blocks_go_to_the_dead_letter_output_and_the_good_ones_around_them_are_read() {
    let Some(az) = Azurite::start("bad_blocks") else {
        return;
    };
    let c = leaked_client(&az);
    let mut reader = Reader::new(c, tmpdir("bad_blocks"), 3);
    let mut w = BlobWriter::new(Kind::Nsg, Hour::now_minus(0), "00224884D0E2", 10_000);
    w.minute(c, 0, 3);
    // A record cut in the middle, a block that is not UTF-8, then a good record.
    let cut = format!(",{}", w.record(1, 3));
    let cut = cut[..cut.len() / 2].to_string();
    let cut_id = w.stage(c, cut);
    let bin_id = w.stage(c, String::new());
    c.put_block(&w.container, &w.blob, &bin_id, b",{\"time\":\"\xff\xfe\"}")
        .unwrap();
    w.records.push((cut_id, String::new()));
    w.records.push((bin_id, String::new()));
    let good = format!(",{}", w.record(2, 3));
    let good_id = w.stage(c, good);
    w.records.push((good_id, String::new()));
    w.commit(c);
    reader.poll();
    let (seen, _) = count_events(&reader.out.text());
    // Records 0 and 2: 6 events; record 1's 3 tuples are in the cut block.
    assert_eq!(seen.len(), 6);
    let dead = reader.dead_out.text();
    let lines: Vec<&str> = dead.lines().collect();
    assert_eq!(lines.len(), 2, "{dead}");
    assert!(lines.iter().all(|l| l.contains(&w.blob)), "{dead}");
    assert!(lines[0].contains("\"reason\":\"incomplete\""), "{dead}");
    assert!(
        lines[1].contains("not UTF-8") && lines[1].contains("block 3"),
        "{dead}"
    );
    assert!(
        reader
            .messages
            .iter()
            .any(|m| m.contains("incomplete record")),
        "{:?}",
        reader.messages
    );
    // They are not read again and again: the checkpoint moved past them.
    reader.poll();
    assert_eq!(reader.dead_out.text().lines().count(), 2);
    assert_eq!(count_events(&reader.out.text()).0.len(), 6);
}
