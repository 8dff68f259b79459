//! The harden stage as a pipeline [`Tap`]: it sees every enriched event, as detection and
//! the report do, in any front end that builds a [`crate::pipeline::Pipeline`].
//!
//! ```
//! use nsgflow::config::Config;
//! use nsgflow::harden::{tap::HardenTap, Observations};
//! use nsgflow::output::DeadLetterWriter;
//! let (tap, observed) = HardenTap::new(Observations::new(false, None, None));
//! let mut p = Config::default().pipeline(std::io::sink(), DeadLetterWriter::new(None)).unwrap();
//! p.add_tap(Box::new(tap));
//! p.process("blob", r#"{"records":[{"time":"2026-03-02T10:00:44Z","category":"NetworkSecurityGroupFlowEvent",
//!   "resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WEB-NSG",
//!   "properties":{"Version":2,"flows":[{"rule":"UserRule_allow-https","flows":[{"mac":"000D3AF87856",
//!   "flowTuples":["1772445600,198.51.100.7,10.0.1.4,50000,443,T,I,A,B,,,,"]}]}]}}]}"#);
//! assert_eq!(observed.lock().unwrap().needs.len(), 1);
//! ```

use std::sync::{Arc, Mutex};

use crate::engine::EventHandler;
use crate::event::FlowEvent;
use crate::harden::needs::Observations;
use crate::pipeline::Tap;

/// Feeds every event to shared [`Observations`]; the caller keeps the other handle and
/// proposes from it once the input is read.
pub struct HardenTap(Arc<Mutex<Observations>>);

impl HardenTap {
    pub fn new(obs: Observations) -> (HardenTap, Arc<Mutex<Observations>>) {
        let shared = Arc::new(Mutex::new(obs));
        (HardenTap(shared.clone()), shared)
    }
}

impl Tap for HardenTap {
    fn event(&mut self, event: &FlowEvent<'_>) {
        // Only this tap locks while the pipeline runs: never contended.
        if let Ok(mut obs) = self.0.lock() {
            obs.event(event);
        }
    }
}
