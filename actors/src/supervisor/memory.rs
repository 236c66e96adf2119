//! What the Supervisor keeps in memory and tells others about it: finished runs leave the
//! registry past their count or age bound (the store serves them from then on), and the run
//! counts go to the metrics and the hosts' handles.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::SupervisorState;

/// Moves finished runs past the count or age bound out of memory; the store serves them from
/// then on. A run whose final status never reached the store stays: it is the only copy.
pub(super) fn evict_finished(state: &mut SupervisorState) {
    let bound = &state.args.config.registry;
    let max_age = Duration::from_secs(bound.max_finished_age_seconds);
    while let Some(&(run_id, at)) = state.finished.front() {
        if state.finished.len() <= bound.max_finished_runs && at.elapsed() <= max_age {
            break;
        }
        state.finished.pop_front();
        let registry = &state.args.reader.registry;
        if registry.get(&run_id).is_some_and(|r| r.is_committed()) {
            registry.remove(&run_id);
        } else {
            tracing::warn!(%run_id, "finished run kept in memory: its status is not in the store");
        }
    }
}

/// Publishes the counts to the metrics and to the hosts' handles.
pub(super) fn update_gauges(state: &SupervisorState) {
    metrics::gauge!("pilothouse_runs_active").set(state.active.len() as f64);
    metrics::gauge!("pilothouse_runs_queued").set(state.queue.len() as f64);
    let counts = &state.args.reader.counts;
    counts.active.store(state.active.len(), Ordering::Relaxed);
    counts.queued.store(state.queue.len(), Ordering::Relaxed);
    counts
        .finished_in_memory
        .store(state.finished.len(), Ordering::Relaxed);
}
