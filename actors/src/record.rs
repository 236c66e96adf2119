//! The shared record of one run: its request, live status, event log and stop control.
//!
//! The supervisor's registry maps run ids to these records; the session, router and finalizer of
//! the run hold the same `Arc`, so status queries never wait on a busy actor.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::event::{EventKind, RunEvent};
use crate::event_log::EventLog;
use crate::guard::Block;
use crate::request::{AdmittedRun, EffectiveLimits, RunRequest};
use crate::run::{RunId, RunOutcome, RunState, RunStatus};
use crate::scrub::Scrubber;
use crate::store::RunStore;

/// The registry: every run the orchestrator has in memory.
pub(crate) type Registry = Arc<dashmap::DashMap<RunId, Arc<RunRecord>>>;

/// Why a run was stopped from outside its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The host called `cancel`.
    Cancelled,
    /// The run passed its deadline.
    TimedOut,
    /// The orchestrator is shutting down and its grace period ended.
    Shutdown,
    /// An actor of the run failed; the message says which and why.
    Internal(String),
    /// Stuck detection or the consecutive-error limit stopped the run.
    Stuck(String),
    /// The driver reached its own outcome (success or failure); the stop only ends the run's
    /// deadline timer and whatever still waits on the token.
    DriverDone,
    /// This node no longer owns the run in the shared store (another node took it over, or
    /// this node lost its lease): it stops, and its store writes are refused.
    Fenced,
}

/// A run's cancellation token plus the first reason it was stopped for.
#[derive(Debug, Default)]
pub(crate) struct RunControl {
    token: CancellationToken,
    reason: OnceLock<StopReason>,
    /// When the run's deadline passes, once it has started counting.
    deadline: OnceLock<tokio::time::Instant>,
}

impl RunControl {
    /// Stops the run; the first reason given wins.
    pub(crate) fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    pub(crate) fn reason(&self) -> Option<&StopReason> {
        self.reason.get()
    }

    /// True once this node was fenced out of the run (another node owns it in the shared store).
    pub(crate) fn is_fenced(&self) -> bool {
        matches!(self.reason(), Some(StopReason::Fenced))
    }

    /// Starts the run's deadline clock: it passes `limit` from now.
    pub(crate) fn start_deadline(&self, limit: std::time::Duration) -> tokio::time::Instant {
        *self
            .deadline
            .get_or_init(|| tokio::time::Instant::now() + limit)
    }

    /// Time left until the deadline (zero once it passed); `None` before it started counting.
    pub(crate) fn time_left(&self) -> Option<std::time::Duration> {
        self.deadline
            .get()
            .map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
    }
}

/// Everything the actors of one run share.
#[derive(Debug)]
pub(crate) struct RunRecord {
    pub(crate) id: RunId,
    pub(crate) request: RunRequest,
    pub(crate) limits: EffectiveLimits,
    /// `runs/<run_id>/`.
    pub(crate) dir: PathBuf,
    pub(crate) log: EventLog,
    pub(crate) control: RunControl,
    pub(crate) recorder: crate::recording::Recorder,
    /// The run's one credential scrubber, built from `request.credentials`; the browser seam
    /// applies it to everything a page hands back.
    pub(crate) scrubber: Arc<Scrubber>,
    /// `[limits] max_data_bytes`: what the run may still keep from pages.
    pub(crate) budget: crate::caps::DataBudget,
    status: Mutex<RunStatus>,
    /// Requests the filtering proxy refused so far, and the last one.
    request_blocks: Mutex<(u64, Option<(Block, String)>)>,
    /// Set by whoever hands the run to the finalizer first, so a run is finalized once.
    finalizing: AtomicBool,
    store: Arc<dyn RunStore>,
    /// Version of the latest status handed to the writer.
    status_version: AtomicU64,
    /// Version of the status on disk, plus the failed writes so far and the last error. Held
    /// while writing: this lock is the run's one serialized status writer.
    status_written: Mutex<StatusWrites>,
    /// True while the final status is being committed: readers wait it out ([`Self::settled`]).
    committing: tokio::sync::watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct StatusWrites {
    version: u64,
    failures: u32,
    last_error: Option<String>,
}

/// Longest a reader waits for a final status being committed (a database blip retries it).
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Longest refused request target (and reason) an event carries, in characters.
const REFUSED_TARGET_MAX_CHARS: usize = 2048;

/// The version the committing write uses: no state-change write can replace it.
const COMMIT_VERSION: u64 = u64::MAX;

impl RunRecord {
    /// The record of an admitted run, stored under `dir` with its log, queued `status` and store.
    pub(crate) fn new(
        admitted: AdmittedRun,
        dir: PathBuf,
        log: EventLog,
        status: RunStatus,
        store: Arc<dyn RunStore>,
        max_data_bytes: usize,
    ) -> Arc<Self> {
        let AdmittedRun {
            request,
            limits,
            recording,
        } = admitted;
        Arc::new(Self {
            recorder: crate::recording::Recorder::new(recording, dir.clone()),
            scrubber: Arc::new(Scrubber::new(&request.credentials)),
            budget: crate::caps::DataBudget::new(max_data_bytes),
            id: status.run_id,
            request,
            limits,
            dir,
            log,
            control: RunControl::default(),
            status: Mutex::new(status),
            request_blocks: Mutex::default(),
            finalizing: AtomicBool::new(false),
            store,
            status_version: AtomicU64::new(0),
            status_written: Mutex::default(),
            committing: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Writes the current status now (the caller may block: used at admission, so a run the
    /// host was told about is always in the store).
    pub(crate) fn persist_now(&self) -> std::io::Result<()> {
        let version = self.status_version.fetch_add(1, Ordering::SeqCst) + 1;
        self.write_status(version, &self.snapshot())
    }

    /// Writes the current status in the background (state changes). Writes land in order: an
    /// older status never replaces a newer one.
    pub(crate) fn persist(self: &Arc<Self>) {
        let version = self.status_version.fetch_add(1, Ordering::SeqCst) + 1;
        let status = self.snapshot();
        let record = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(error) = record.write_status(version, &status) {
                tracing::warn!(run_id = %record.id, %error, "status write failed");
            }
        });
    }

    /// The committing write of the final status: nothing written later can replace it.
    /// The live status becomes the committed one on the committing thread, and readers wait
    /// out the write ([`Self::settled`]): with a shared store another node may read the commit
    /// before this thread returns from it, and this node must never answer with the run still
    /// live after that.
    pub(crate) fn commit_status(&self, status: &RunStatus) -> std::io::Result<()> {
        self.committing.send_replace(true);
        let written = self.write_status(COMMIT_VERSION, status);
        if written.is_ok() {
            *self.status() = status.clone();
        }
        self.committing.send_replace(false);
        written
    }

    /// [`Self::snapshot`] once no commit of the final status is under way (waiting at most
    /// `SETTLE_WAIT`, past which the live status is answered).
    pub(crate) async fn settled(&self) -> RunStatus {
        let mut committing = self.committing.subscribe();
        let _ = tokio::time::timeout(SETTLE_WAIT, committing.wait_for(|c| !c)).await;
        self.snapshot()
    }

    /// True once the final status is durably in the store.
    pub(crate) fn is_committed(&self) -> bool {
        self.status_writes().version == COMMIT_VERSION
    }

    /// Failed state-change writes so far, with the last error.
    pub(crate) fn status_write_failures(&self) -> (u32, Option<String>) {
        let writes = self.status_writes();
        (writes.failures, writes.last_error.clone())
    }

    fn status_writes(&self) -> MutexGuard<'_, StatusWrites> {
        self.status_written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn write_status(&self, version: u64, status: &RunStatus) -> std::io::Result<()> {
        let mut writes = self.status_writes();
        if writes.version >= version {
            return Ok(());
        }
        match self.store.write_status(status) {
            Ok(()) => {
                writes.version = version;
                Ok(())
            }
            Err(error) => {
                if version != COMMIT_VERSION {
                    writes.failures += 1;
                    writes.last_error = Some(error.to_string());
                }
                Err(error)
            }
        }
    }

    /// The live status (locked briefly; never held across an await).
    pub(crate) fn status(&self) -> MutexGuard<'_, RunStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the live status with the log's last seq.
    pub(crate) fn snapshot(&self) -> RunStatus {
        let mut status = self.status().clone();
        if !status.state.is_terminal() {
            status.last_seq = self.log.last_seq();
        }
        status
    }

    /// Moves a live run to `state`, announces it and persists it.
    pub(crate) fn set_state(self: &Arc<Self>, state: RunState) {
        {
            let mut status = self.status();
            if status.state.is_terminal() {
                return;
            }
            status.state = state;
            if state == RunState::Starting {
                status.started_at = Some(chrono::Utc::now());
            }
        }
        self.emit(EventKind::State { state });
        self.persist();
    }

    /// Appends and broadcasts an event (dropped once the run's terminal event is written).
    pub(crate) fn emit(&self, kind: EventKind) -> Option<RunEvent> {
        self.log.append(kind)
    }

    /// Keeps `value` in the status's `data` under `name`, charged to the run's
    /// `max_data_bytes` (cut with a marker once it is spent).
    pub(crate) fn keep_data(&self, name: &str, value: serde_json::Value) {
        let value = self.budget.take_value(value);
        self.status().data.insert(name.to_owned(), value);
    }

    /// Adds a model call's token usage to the status.
    pub(crate) fn add_usage(&self, usage: &crate::run::TokenUsage) {
        *self.status().usage.get_or_insert_with(Default::default) += usage;
    }

    /// Emits a `log` event. Messages quote only text that passed the browser seam.
    pub(crate) fn log(&self, level: &str, message: &str) {
        self.emit(EventKind::Log {
            level: level.to_owned(),
            message: message.to_owned(),
        });
    }

    /// Records a request the proxy refused: an event, a metric, and a note for the router.
    /// The proxy is where a page's request URLs enter: they are scrubbed, cut to
    /// [`REFUSED_TARGET_MAX_CHARS`] and charged to the run's budget here. Once the budget is
    /// spent, refusals are counted but no longer evented (a page could send millions).
    pub(crate) fn note_request_block(&self, block: &Block, target: &str) {
        metrics::counter!("pilothouse_guardrail_blocks_total", "check" => block.check).increment(1);
        let target = self.scrubber.scrub(target);
        if !self.budget.is_spent() {
            let reason = self
                .scrubber
                .scrub(&format!("request refused: {}", block.reason));
            let cap = |text: String| crate::request::clip(&text, REFUSED_TARGET_MAX_CHARS);
            self.emit(EventKind::GuardrailBlocked {
                check: block.check.to_owned(),
                reason: self.budget.take_text(cap(reason)),
                target: self.budget.take_text(cap(target.clone())),
            });
        }
        let mut blocks = self
            .request_blocks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        blocks.0 += 1;
        blocks.1 = Some((block.clone(), target));
    }

    /// How many requests were refused so far, and the last refusal.
    pub(crate) fn request_blocks(&self) -> (u64, Option<(Block, String)>) {
        self.request_blocks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Claims the right to finalize; true exactly once.
    pub(crate) fn claim_finalization(&self) -> bool {
        !self.finalizing.swap(true, Ordering::SeqCst)
    }

    /// The outcome for a driver that stopped because the run was stopped from outside.
    pub(crate) fn interrupted_outcome(&self) -> RunOutcome {
        match self.control.reason() {
            Some(StopReason::TimedOut) => RunOutcome::timed_out(self.limits.timeout_seconds),
            Some(StopReason::Shutdown) => RunOutcome::cancelled("orchestrator shut down"),
            Some(StopReason::Internal(message)) => RunOutcome::failed(crate::run::RunError::new(
                crate::run::ErrorCode::InternalError,
                message.clone(),
            )),
            Some(StopReason::Stuck(message)) => RunOutcome::failed(crate::run::RunError::new(
                crate::run::ErrorCode::Stuck,
                message.clone(),
            )),
            Some(StopReason::Cancelled) | None => RunOutcome::cancelled("cancelled by the host"),
            Some(StopReason::Fenced) => RunOutcome {
                state: crate::run::RunState::Interrupted,
                error: Some(crate::run::RunError::new(
                    crate::run::ErrorCode::NodeLost,
                    "this node lost the run to another node; the shared store has its outcome",
                )),
            },
            // Set only once the driver's outcome is known, so no interrupted driver sees it.
            Some(StopReason::DriverDone) => RunOutcome::failed(crate::run::RunError::new(
                crate::run::ErrorCode::InternalError,
                "the run was ended before its driver reported an outcome",
            )),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
