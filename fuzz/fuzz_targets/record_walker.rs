//! The whole data path over arbitrary bytes: the engine (record walker, tuples, labels,
//! enrichment) into an encoder the input picks, and the incremental reader over the same
//! bytes cut at a point the input chooses. Nothing may panic; every event must be one
//! JSON object on its own line. Engine and encoders are reused across inputs, as in a
//! long run.
#![no_main]

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use nsgflow::checkpoint::{process_new, Start};
use nsgflow::encode::{encoder, Encode, EncodeOptions, Format};
use nsgflow::engine::{EncodeLines, Engine};
use nsgflow::output::{DeadLetterWriter, EventWriter};

/// Collects what the writer flushes.
#[derive(Clone, Default)]
struct Lines(Rc<RefCell<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct State {
    engine: Engine,
    encoders: Vec<Box<dyn Encode + Send>>,
    out: EventWriter<Lines>,
    lines: Lines,
    dead: DeadLetterWriter,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new({
        let lines = Lines::default();
        State {
            engine: Engine::default(),
            encoders: Format::ALL
                .iter()
                .map(|&f| encoder(f, &EncodeOptions::default()))
                .collect(),
            out: EventWriter::new(lines.clone()),
            lines,
            dead: DeadLetterWriter::new(Some(Box::new(std::io::sink()))),
        }
    });
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let pick = data.first().copied().unwrap_or(0) as usize % Format::ALL.len();
    STATE.with(|s| {
        let s = &mut *s.borrow_mut();
        s.engine.process(
            "fuzz",
            &text,
            &mut EncodeLines {
                encoder: s.encoders[pick].as_mut(),
                writer: &mut s.out,
            },
            &mut s.dead,
        );

        // The incremental reader, resuming at a cut the input picks.
        let cut = data.get(1).map(|&b| b as usize * text.len() / 256).unwrap_or(0);
        let cut = (0..=cut).rev().find(|&c| text.is_char_boundary(c)).unwrap_or(0);
        let start = Start {
            from: 0,
            head: 0,
            head_len: 0,
            blob: false,
            next_record: 0,
            restarted: false,
            size: cut as u64,
        };
        let p = process_new(
            &mut s.engine,
            "fuzz",
            &text[..cut],
            &start,
            &mut EncodeLines {
                encoder: s.encoders[0].as_mut(),
                writer: &mut s.out,
            },
            &mut s.dead,
        );
        assert!(p.mark.offset <= cut as u64);
        assert!(p.mark.offset + p.pending <= cut as u64);

        s.out.flush().unwrap();
        let mut lines = s.lines.0.borrow_mut();
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert!(
                line.starts_with(b"{") && line.ends_with(b"}"),
                "not one JSON object: {:?}",
                String::from_utf8_lossy(line)
            );
        }
        lines.clear();
    });
});
