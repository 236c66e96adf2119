//! Start-up recovery of the run store: a run found non-terminal was cut short by the death of a
//! previous process (a crash, SIGKILL, power loss). It becomes `interrupted`: a terminal event is
//! appended to its log and its status committed, both built from what was durable — the last
//! status written and every event in the log. A run whose terminal event is in the log but whose
//! status write never happened has its commit completed from that event instead.

use tokio::sync::broadcast;

use crate::event::{EventKind, RunEvent};
use crate::event_log::EventLog;
use crate::run::{ErrorCode, FinalizeError, RunError, RunId, RunOutcome, RunState, RunStatus};
use crate::store::RunStore;

/// What start-up recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Runs found unfinished and marked `interrupted`.
    pub interrupted: Vec<RunId>,
    /// Runs whose terminal event was logged but whose status was not written; now committed.
    pub completed_commits: Vec<RunId>,
    /// Runs that could not be recovered, with why (they are left as found).
    pub failed: Vec<(RunId, String)>,
    /// Orphaned browser processes of a previous process, killed by pid.
    pub orphans_killed: Vec<i32>,
    /// Stale browser profile directories removed.
    pub profiles_removed: usize,
}

/// Recovers every run in `store`. Blocking (file I/O).
pub(crate) fn recover(store: &dyn RunStore) -> RecoveryReport {
    let mut report = RecoveryReport::default();
    for run_id in store.run_ids() {
        let status = store.load_status(run_id);
        if status.as_ref().is_some_and(|s| s.state.is_terminal()) {
            continue;
        }
        let events = store.load_events(run_id);
        if status.is_none() && events.is_empty() {
            continue;
        }
        match recover_run(store, run_id, status, events) {
            Ok(Recovered::Interrupted) => report.interrupted.push(run_id),
            Ok(Recovered::Committed) => report.completed_commits.push(run_id),
            Err(e) => {
                tracing::error!(%run_id, error = %e, "run could not be recovered");
                report.failed.push((run_id, e.to_string()));
            }
        }
    }
    if !report.interrupted.is_empty() {
        tracing::warn!(
            runs = report.interrupted.len(),
            "runs left unfinished by a previous process are now interrupted"
        );
        metrics::counter!("pilothouse_runs_interrupted_total")
            .increment(report.interrupted.len() as u64);
    }
    report
}

enum Recovered {
    Interrupted,
    Committed,
}

fn recover_run(
    store: &dyn RunStore,
    run_id: RunId,
    status: Option<RunStatus>,
    events: Vec<RunEvent>,
) -> std::io::Result<Recovered> {
    if let Some(EventKind::Finished { status }) = events.last().map(|e| &e.kind) {
        store.write_status(status)?;
        return Ok(Recovered::Committed);
    }
    let mut status = interrupted_status(run_id, status, &events, |was| {
        RunError::new(
            ErrorCode::Interrupted,
            format!(
                "the orchestrator process stopped while this run was {was}; \
                 found unfinished at the next start"
            ),
        )
    });
    seal_partial_recording(store, &mut status)?;
    let (firehose, _) = broadcast::channel(1);
    let log = EventLog::new(run_id, store.open_log(run_id)?, events, firehose);
    let (terminal, sync_error) = log.append_terminal(|seq| {
        let mut status = status.clone();
        status.last_seq = seq;
        EventKind::Finished {
            status: Box::new(status),
        }
    });
    if log.write_errors() > 0 {
        return Err(std::io::Error::other("cannot append the terminal event"));
    }
    if let Some(e) = sync_error {
        return Err(std::io::Error::other(e));
    }
    let EventKind::Finished { status } = terminal.kind else {
        unreachable!("append_terminal was given a Finished event")
    };
    store.write_status(&status)?;
    Ok(Recovered::Interrupted)
}

/// Seals what the run recorded before it was cut short (report and manifest over the files that
/// made it to disk) and says in the status that it stays local: uploads happen in the finalizer,
/// which never ran for this run.
fn seal_partial_recording(store: &dyn RunStore, status: &mut RunStatus) -> std::io::Result<()> {
    let run_dir = store.create_run(status.run_id)?;
    let Some(recorder) = crate::recording::Recorder::reopen(run_dir) else {
        return Ok(());
    };
    let manifest = match recorder.seal(status) {
        Ok(Some(manifest)) => manifest,
        Ok(None) => return Ok(()),
        Err(e) => {
            status.finalize_errors.push(FinalizeError::new(
                "recording",
                format!("the interrupted run's recording could not be sealed: {e}"),
            ));
            return Ok(());
        }
    };
    let local_dir = recorder.dir();
    status.recording = Some(manifest.local_info(local_dir.clone()));
    status.finalize_errors.push(FinalizeError::new(
        "upload",
        format!(
            "the run was interrupted: its partial recording was sealed at recovery and stays in {}, \
             not uploaded",
            local_dir.display()
        ),
    ));
    Ok(())
}

/// The last durable status, brought up to date with the log, then ended `interrupted` with
/// `error` (`make_error` receives the state the run was in).
pub(crate) fn interrupted_status(
    run_id: RunId,
    status: Option<RunStatus>,
    events: &[RunEvent],
    make_error: impl FnOnce(RunState) -> RunError,
) -> RunStatus {
    let mut status = status.unwrap_or_else(|| {
        let mut s = RunStatus::new_queued(run_id, "unknown", Default::default());
        if let Some(first) = events.first() {
            s.created_at = first.at;
        }
        s
    });
    for event in events {
        match &event.kind {
            EventKind::State { state } => {
                status.state = *state;
                if *state == RunState::Starting && status.started_at.is_none() {
                    status.started_at = Some(event.at);
                }
            }
            EventKind::Action { step, .. } => status.action_count = status.action_count.max(*step),
            EventKind::Navigated { url } => status.last_url = Some(url.clone()),
            _ => {}
        }
    }
    let was = status.state;
    status.finish(RunOutcome {
        state: RunState::Interrupted,
        error: Some(make_error(was)),
    });
    // The run's last sign of life, not the time of the restart.
    if let Some(last) = events.last() {
        let since = status.started_at.unwrap_or(status.created_at);
        status.duration_ms = Some((last.at - since).num_milliseconds().max(0) as u64);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DirStore;

    fn running_run(store: &DirStore) -> RunId {
        let id = RunId::new();
        store.create_run(id).unwrap();
        let mut status = RunStatus::new_queued(id, "script", Default::default());
        status.state = RunState::Running;
        store.write_status(&status).unwrap();
        let (firehose, _) = broadcast::channel(8);
        let log = EventLog::new(id, store.open_log(id).unwrap(), Vec::new(), firehose);
        log.append(EventKind::State {
            state: RunState::Running,
        });
        log.append(EventKind::Navigated {
            url: "https://example.com/".into(),
        });
        id
    }

    #[test]
    fn unfinished_runs_become_interrupted_with_a_terminal_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let id = running_run(&store);
        // A torn line from the crash.
        let path = dir.path().join(id.to_string()).join("events.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"run_id\":");
        std::fs::write(&path, text).unwrap();

        let report = recover(&store);
        assert_eq!(report.interrupted, vec![id]);
        let status = store.load_status(id).unwrap();
        assert_eq!(status.state, RunState::Interrupted);
        assert_eq!(status.error.unwrap().code, ErrorCode::Interrupted);
        assert_eq!(status.last_url.as_deref(), Some("https://example.com/"));
        let events = store.load_events(id);
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert_eq!(status.last_seq, 3);
        assert!(events[2].is_terminal());
        // A second recovery changes nothing.
        assert_eq!(recover(&store), RecoveryReport::default());
    }

    #[test]
    fn a_logged_terminal_event_completes_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let id = running_run(&store);
        let mut done = store.load_status(id).unwrap();
        done.finish(RunOutcome::completed());
        let (firehose, _) = broadcast::channel(8);
        let log = EventLog::new(
            id,
            store.open_log(id).unwrap(),
            store.load_events(id),
            firehose,
        );
        let (terminal, _) = log.append_terminal(|seq| {
            done.last_seq = seq;
            EventKind::Finished {
                status: Box::new(done.clone()),
            }
        });
        let report = recover(&store);
        assert_eq!(report.completed_commits, vec![id]);
        assert_eq!(store.load_status(id).unwrap().state, RunState::Completed);
        assert_eq!(store.load_events(id).last(), Some(&terminal));
    }
}
