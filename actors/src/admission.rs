//! The admission writer: admits each submitted request (`admit.rs`) and makes its run durable — its
//! directory, its event log and its `queued` status, fsynced — on a thread of its own, so the
//! supervisor's handler never waits on the disk.
//!
//! Jobs run one at a time in submission order, which keeps admission FIFO. Each job's result
//! goes back to the supervisor (through `WriterArgs::done`, a message to its mailbox); the
//! supervisor then registers the run and replies to the host, so a host only ever learns the
//! id of a run that is in the store.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use tokio::sync::{broadcast, oneshot};

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
    /// Hands a job's result and the host's reply port back; false once nobody listens.
    pub(crate) done: Box<dyn Fn(Prepared, SubmitReply) -> bool + Send>,
}

/// A job's result: the stored run's record, or why it was refused.
pub(crate) type Prepared = Result<Arc<RunRecord>, SubmitError>;

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
fn prepare(args: &WriterArgs, request: RunRequest) -> Result<Arc<RunRecord>, SubmitError> {
    let admitted = request.admit(&args.config)?;
    let run_id = RunId::new();
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
    Ok(record)
}
