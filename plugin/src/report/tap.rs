//! The report model as a pipeline stage: a [`Tap`] that hands every enriched event and
//! every alert of the detection stage to a [`ReportModel`]. The front end keeps the other
//! handle and reads the model once the input is read.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::model::{ReportConfig, ReportModel};
use crate::detect::Alert;
use crate::engine::EventHandler;
use crate::event::FlowEvent;
use crate::pipeline::{Pipeline, Tap};

/// A shared handle on the model a [`ReportTap`] fills.
#[derive(Clone)]
pub struct ModelHandle(Arc<Mutex<ReportModel>>);

impl ModelHandle {
    /// The model (a panic in another holder does not hide it).
    pub fn lock(&self) -> MutexGuard<'_, ReportModel> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The tap: events and alerts into the model.
pub struct ReportTap(ModelHandle);

impl ReportTap {
    /// Adds a report model to `pipeline`, told which detectors run when the pipeline has a
    /// detection stage, and returns the handle to read it.
    ///
    /// ```
    /// use nsgflow::config::Config;
    /// use nsgflow::output::DeadLetterWriter;
    /// use nsgflow::report::{ReportConfig, ReportTap};
    /// let config = Config::from_yaml("detect: {enabled: true}").unwrap();
    /// let mut p = config.pipeline(std::io::sink(), DeadLetterWriter::new(None)).unwrap();
    /// p.discard_events();
    /// let model = ReportTap::attach(&mut p, ReportConfig::default());
    /// p.finish(nsgflow::aggregate::FlushReason::EndOfInput);
    /// // Every detector but malicious_flow (it needs feeds).
    /// assert_eq!(model.lock().alerts.as_ref().unwrap().detectors.len(), 7);
    /// ```
    pub fn attach<W: Write>(pipeline: &mut Pipeline<W>, config: ReportConfig) -> ModelHandle {
        let mut model = ReportModel::new(config);
        if let Some(d) = pipeline.detection() {
            model.detect_with(d.detectors());
        }
        let handle = ModelHandle(Arc::new(Mutex::new(model)));
        pipeline.add_tap(Box::new(ReportTap(handle.clone())));
        handle
    }
}

impl Tap for ReportTap {
    fn event(&mut self, event: &FlowEvent<'_>) {
        self.0.lock().event(event);
    }

    fn alert(&mut self, alert: &Alert) {
        self.0.lock().alert(alert);
    }
}
