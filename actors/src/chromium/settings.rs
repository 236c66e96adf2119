//! What every action on a run's page needs from its launch spec: observation caps, settling,
//! the credential scrubber, the result cap and the run's downloads. Its own module so that
//! actions, observation and screenshots share it without importing one another.

use std::sync::Arc;

use super::downloads::Downloads;
use crate::config::{ObserveCaps, SettleConfig};
use crate::page_driver::LaunchSpec;
use crate::scrub::Scrubber;

impl Settings {
    /// The settings a run's actions need, from its launch spec.
    pub(super) fn from_spec(spec: &LaunchSpec, downloads: Downloads) -> Self {
        Self {
            hide_forms: spec.hide_forms,
            screenshot_quality: spec.screenshot_quality,
            observe: spec.observe.clone(),
            settle: spec.settle.clone(),
            scrubber: spec.scrubber.clone(),
            max_result_bytes: spec.max_result_bytes,
            downloads,
        }
    }
}

/// Per-browser settings the actions need.
#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) hide_forms: bool,
    pub(super) screenshot_quality: u8,
    pub(super) observe: ObserveCaps,
    pub(super) settle: SettleConfig,
    /// The run's credential scrubber: applied before any cut, and used to find fields to mask.
    pub(super) scrubber: Arc<Scrubber>,
    /// `[limits] max_result_bytes`.
    pub(super) max_result_bytes: usize,
    pub(super) downloads: Downloads,
}
