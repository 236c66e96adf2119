//! The shared record of one run: its request, live status, event log and stop control.
//!
//! The supervisor's registry maps run ids to these records; the session, router and finalizer of
//! the run hold the same `Arc`, so status queries never wait on a busy actor.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::event::{EventKind, EventLog, RunEvent};
use crate::guard::Block;
use crate::request::{EffectiveLimits, RunRequest};
use crate::run::{RunId, RunOutcome, RunState, RunStatus};

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
}

/// A run's cancellation token plus the first reason it was stopped for.
#[derive(Debug, Default)]
pub(crate) struct RunControl {
    token: CancellationToken,
    reason: OnceLock<StopReason>,
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
    status: Mutex<RunStatus>,
    /// Requests the filtering proxy refused so far, and the last one.
    request_blocks: Mutex<(u64, Option<(Block, String)>)>,
    /// Set by whoever hands the run to the finalizer first, so a run is finalized once.
    finalizing: AtomicBool,
}

impl RunRecord {
    pub(crate) fn new(
        request: RunRequest,
        limits: EffectiveLimits,
        dir: PathBuf,
        log: EventLog,
        status: RunStatus,
    ) -> Arc<Self> {
        Arc::new(Self {
            id: status.run_id,
            request,
            limits,
            dir,
            log,
            control: RunControl::default(),
            status: Mutex::new(status),
            request_blocks: Mutex::default(),
            finalizing: AtomicBool::new(false),
        })
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

    /// Moves a live run to `state` and announces it.
    pub(crate) fn set_state(&self, state: RunState) {
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
    }

    /// Appends and broadcasts an event (dropped once the run's terminal event is written).
    pub(crate) fn emit(&self, kind: EventKind) -> Option<RunEvent> {
        self.log.append(kind)
    }

    /// Replaces every credential value in `text` with `[credential:name]`. Anything the run
    /// writes that may quote a page or a URL passes through here.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (name, secret) in &self.request.credentials {
            let value = secret.expose();
            if !value.is_empty() && text.contains(value) {
                text = text.replace(value, &format!("[credential:{name}]"));
            }
        }
        text
    }

    /// Records a request the proxy refused: an event, a metric, and a note for the router.
    pub(crate) fn note_request_block(&self, block: &Block, target: &str) {
        metrics::counter!("pilothouse_guardrail_blocks_total", "check" => block.check).increment(1);
        self.emit(EventKind::GuardrailBlocked {
            check: block.check.to_owned(),
            reason: self.scrub(&format!("request refused: {}", block.reason)),
            target: self.scrub(target),
        });
        let mut blocks = self
            .request_blocks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        blocks.0 += 1;
        blocks.1 = Some((block.clone(), target.to_owned()));
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
        }
    }
}
