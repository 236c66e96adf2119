//! The admission writer: admits each submitted request (`admit.rs`) and makes its run durable — its
//! directory, its event log and its `queued` status, fsynced — on a thread of its own, so the
//! supervisor's handler never waits on the disk. With a shared store (`cluster.rs`) the run is
//! committed to the shared queue instead, for any node to claim; a claimed run becomes a record
//! here too ([`prepare_claimed`]).
//!
//! Jobs run one at a time in submission order, which keeps admission FIFO. Each job's result
//! goes back to the supervisor (through `WriterArgs::done`, a message to its mailbox); the
//! supervisor then registers the run and replies to the host, so a host only ever learns the
//! id of a run that is in the store.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use tokio::sync::{broadcast, oneshot};

use crate::cluster::{ClaimedRun, EnqueueError, NewRun, SharedRuns};
use crate::command::SubmitError;
use crate::config::Config;
use crate::event::RunEvent;
use crate::event_log::EventLog;
use crate::record::RunRecord;
use crate::request::RunRequest;
use crate::run::{RunId, RunStatus};
use crate::store::RunStore;

/// The host's reply port for a submit.
pub(crate) type SubmitReply = oneshot::Sender<Result<RunId, SubmitError>>;

/// A submitted request on its way into the store.
struct Job {
    request: RunRequest,
    reply: SubmitReply,
}

/// What a job needs besides its request.
pub(crate) struct WriterArgs {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Arc<dyn RunStore>,
    pub(crate) firehose: broadcast::Sender<RunEvent>,
    /// The shared store, when several nodes share one.
    pub(crate) shared: Option<Arc<dyn SharedRuns>>,
    /// Hands a job's result and the host's reply port back; false once nobody listens.
    pub(crate) done: Box<dyn Fn(Prepared, SubmitReply) -> bool + Send>,
}

/// A job's result: the stored run, or why it was refused.
pub(crate) type Prepared = Result<Admitted, SubmitError>;

/// A run in the store.
pub(crate) enum Admitted {
    /// This node's to start: its record.
    Local(Arc<RunRecord>),
    /// In the shared queue, for whichever node claims it.
    Shared(RunId),
}

/// The sending end of the writer thread; the thread ends when this is dropped.
pub(crate) struct AdmissionWriter {
    jobs: std_mpsc::Sender<Job>,
}

impl AdmissionWriter {
    /// Starts the writer thread.
    pub(crate) fn start(args: WriterArgs) -> std::io::Result<Self> {
        let (jobs, queue) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("pilothouse-admission".into())
            .spawn(move || {
                for Job { request, reply } in queue {
                    let prepared =
                        std::panic::catch_unwind(AssertUnwindSafe(|| prepare(&args, request)))
                            .unwrap_or_else(|_| {
                                Err(SubmitError::Storage(
                                    "admitting the run failed unexpectedly".into(),
                                ))
                            });
                    if !(args.done)(prepared, reply) {
                        break;
                    }
                }
            })?;
        Ok(Self { jobs })
    }

    /// Queues a request; on failure (the thread is gone) hands the reply port back.
    pub(crate) fn submit(
        &self,
        request: RunRequest,
        reply: SubmitReply,
    ) -> Result<(), SubmitReply> {
        self.jobs
            .send(Job { request, reply })
            .map_err(|failed| failed.0.reply)
    }
}

/// Admits the request (validated, its playbook loaded once, its guardrails and limits resolved:
/// `admit.rs`) and writes the run's queued status. Blocking.
fn prepare(args: &WriterArgs, request: RunRequest) -> Prepared {
    let admitted = request.admit(&args.config)?;
    let run_id = RunId::new();
    if let Some(shared) = &args.shared {
        return enqueue(shared.as_ref(), &args.config, run_id, admitted.request);
    }
    let store = &args.store;
    let storage = |e: std::io::Error| SubmitError::Storage(e.to_string());
    let dir = store.create_run(run_id).map_err(storage)?;
    let file = store.open_log(run_id).map_err(storage)?;
    let log = EventLog::new(run_id, file, Vec::new(), args.firehose.clone());
    let request = &admitted.request;
    let status = RunStatus::new_queued(run_id, request.driver.type_name(), request.labels.clone());
    let max_data_bytes = args.config.limits.max_data_bytes;
    let record = RunRecord::new(admitted, dir, log, status, store.clone(), max_data_bytes);
    record.persist_now().map_err(storage)?;
    Ok(Admitted::Local(record))
}

/// Commits an admitted run to the shared queue (its credentials stay on this node).
fn enqueue(
    shared: &dyn SharedRuns,
    config: &Config,
    run_id: RunId,
    request: RunRequest,
) -> Prepared {
    let status = RunStatus::new_queued(run_id, request.driver.type_name(), request.labels.clone());
    let run = NewRun {
        run_id,
        request,
        status,
        capacity: config.queue_capacity,
    };
    match shared.enqueue(run) {
        Ok(_) => Ok(Admitted::Shared(run_id)),
        Err(EnqueueError::QueueFull { queued }) => Err(SubmitError::QueueFull {
            running: 0,
            queued,
            capacity: config.queue_capacity,
        }),
        Err(EnqueueError::Storage(e)) => Err(SubmitError::Storage(e)),
    }
}

/// Makes a run this node claimed from the shared queue a record: its request admitted again
/// under this node's config, its log continuing the stored events. Blocking (the run's
/// scratch directory). On failure, the claimed run comes back with why.
pub(crate) fn prepare_claimed(
    args: &ClaimArgs,
    claimed: ClaimedRun,
) -> Result<Arc<RunRecord>, Box<(ClaimedRun, String)>> {
    let admitted = match claimed.request.clone().admit(&args.config) {
        Ok(admitted) => admitted,
        Err(e) => {
            return Err(Box::new((
                claimed,
                format!("this node's config refuses the run: {e}"),
            )));
        }
    };
    let run_id = claimed.run_id;
    let opened = args
        .store
        .create_run(run_id)
        .and_then(|dir| Ok((dir, args.store.open_log(run_id)?)));
    let (dir, file) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            return Err(Box::new((
                claimed,
                format!("cannot prepare the claimed run: {e}"),
            )));
        }
    };
    let log = EventLog::new(run_id, file, claimed.events, args.firehose.clone());
    let max_data_bytes = args.config.limits.max_data_bytes;
    let store = args.store.clone();
    Ok(RunRecord::new(
        admitted,
        dir,
        log,
        claimed.status,
        store,
        max_data_bytes,
    ))
}

/// What [`prepare_claimed`] needs.
#[derive(Clone)]
pub(crate) struct ClaimArgs {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Arc<dyn RunStore>,
    pub(crate) firehose: broadcast::Sender<RunEvent>,
}
