//! SIGINT/SIGTERM, caught so that buffered events and open aggregates are written out
//! before the process ends. A thread waits for them; the run loop checks between inputs,
//! and the stdin reader gets them as messages.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

/// SIGINT or SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Signal::Int => 2,
            Signal::Term => 15,
        }
    }
}

/// The signals received, and who wants to hear of them.
pub struct Signals {
    got: Arc<AtomicU8>,
    subscribers: Arc<Mutex<Vec<Sender<Signal>>>>,
}

impl Signals {
    #[cfg(unix)]
    pub fn install() -> Result<Signals, String> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let got = Arc::new(AtomicU8::new(0));
        let subscribers: Arc<Mutex<Vec<Sender<Signal>>>> = Default::default();
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let (g, subs) = (got.clone(), subscribers.clone());
        std::thread::Builder::new()
            .name("nsgflow-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    let s = if sig == SIGINT {
                        Signal::Int
                    } else {
                        Signal::Term
                    };
                    g.store(s.number(), Ordering::SeqCst);
                    if let Ok(subs) = subs.lock() {
                        for tx in subs.iter() {
                            let _ = tx.send(s);
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the signal thread: {e}"))?;
        Ok(Signals { got, subscribers })
    }

    #[cfg(not(unix))]
    pub fn install() -> Result<Signals, String> {
        Ok(Signals {
            got: Default::default(),
            subscribers: Default::default(),
        })
    }

    /// The signal received so far, if any.
    pub fn received(&self) -> Option<Signal> {
        match self.got.load(Ordering::SeqCst) {
            2 => Some(Signal::Int),
            15 => Some(Signal::Term),
            _ => None,
        }
    }

    /// Sends each later signal to `tx` as well.
    pub fn subscribe(&self, tx: Sender<Signal>) {
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx);
        }
    }
}
