//! In-process readers for the blob-source tests: a shared output buffer, a flat-events
//! pipeline writing into it, a client that lives as long as the test.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use nsgflow::blob::client::BlobClient;
use nsgflow::encode::{encoder, EncodeOptions, Format};
use nsgflow::engine::Engine;
use nsgflow::output::{DeadLetterWriter, EventWriter};
use nsgflow::pipeline::{Output, Pipeline};

use super::azurite::Azurite;

/// Bytes written by a pipeline, readable by the test.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Flat events to `out`, dead letters to `dead`.
pub fn pipeline(out: Box<dyn Write + Send>, dead: &SharedBuf) -> Pipeline<Box<dyn Write + Send>> {
    Pipeline::new(
        Engine::default(),
        Output::Events,
        encoder(Format::Flat, &EncodeOptions::default()),
        EventWriter::new(out),
        DeadLetterWriter::new(Some(Box::new(dead.clone()))),
    )
}

/// A client of the emulator (the flow-log containers created) for the whole test; each
/// has its own request counters, as each process has.
pub fn leaked_client(az: &Azurite) -> &'static BlobClient {
    Box::leak(Box::new(az.client()))
}

/// A fresh temporary directory `nsgflow-<prefix>-<name>-<pid>`.
pub fn tmpdir(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nsgflow-{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
