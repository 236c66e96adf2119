//! The per-run event log: every event is appended to `events.jsonl` before it is broadcast,
//! with a gap-free `seq` starting at 1.
//!
//! `EventLog` keeps the published events in memory as well, so a subscriber can take "everything
//! after seq N" and a live receiver under one lock: no gap and no duplicate at the seam.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use tokio::sync::broadcast;

use crate::event::{EventKind, RunEvent};
use crate::run::RunId;
use crate::store::{Durable, LogWriter};

/// Capacity of each run's live broadcast channel. A receiver that falls further behind
/// resynchronizes from the log instead of losing events.
const LIVE_CHANNEL_CAPACITY: usize = 256;

/// The append-then-broadcast log of one run.
pub(crate) struct EventLog {
    run_id: RunId,
    state: Mutex<LogState>,
    /// The last seq written, readable without the lock: a status query must never wait behind
    /// an append (whose file write can stall while the disk commits other runs' fsyncs).
    last_seq: AtomicU64,
    live: broadcast::Sender<RunEvent>,
    firehose: broadcast::Sender<RunEvent>,
    /// A shared store's committed-events mark, and the last seq stored before this log opened.
    durable: Option<(tokio::sync::watch::Receiver<Durable>, u64)>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("run_id", &self.run_id)
            .finish()
    }
}

impl EventLog {
    /// A log appending to `file`. `earlier` are the events already in it (a run recovered after
    /// a crash); the next event continues their seq. `firehose` receives every run's events too.
    pub(crate) fn new(
        run_id: RunId,
        file: Box<dyn LogWriter>,
        earlier: Vec<RunEvent>,
        firehose: broadcast::Sender<RunEvent>,
    ) -> Self {
        let (live, _) = broadcast::channel(LIVE_CHANNEL_CAPACITY);
        let stored = earlier.last().map_or(0, |e| e.seq);
        Self {
            durable: file.durable().map(|mark| (mark, stored)),
            last_seq: AtomicU64::new(stored),
            run_id,
            state: Mutex::new(LogState {
                next_seq: earlier.last().map_or(1, |e| e.seq + 1),
                file: Some(file),
                published: earlier,
                sealed: false,
                write_errors: 0,
            }),
            live,
            firehose,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        // A poisoned lock only means a panic elsewhere mid-append; the data is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an event to the file, then publishes it. Returns `None` once the log is sealed
    /// by the terminal event (a late event from a cancelled action, for instance).
    pub(crate) fn append(&self, kind: EventKind) -> Option<RunEvent> {
        let mut state = self.lock();
        if state.sealed {
            return None;
        }
        let event = self.write_next(&mut state, kind);
        self.publish_locked(&mut state, event.clone());
        Some(event)
    }

    /// Writes the terminal event to the file and syncs it, without publishing: the finalizer
    /// writes `status.json` next and only then calls [`EventLog::publish_terminal`].
    /// `make` receives the terminal event's seq, so the status it carries can name it.
    pub(crate) fn append_terminal(
        &self,
        make: impl FnOnce(u64) -> EventKind,
    ) -> (RunEvent, Option<String>) {
        let mut state = self.lock();
        let kind = make(state.next_seq);
        let event = self.write_next(&mut state, kind);
        state.sealed = true;
        let sync_error = state
            .file
            .as_mut()
            .and_then(|f| f.sync().err())
            .map(|e| format!("sync of events.jsonl failed: {e}"));
        (event, sync_error)
    }

    /// Publishes the terminal event written by [`EventLog::append_terminal`].
    pub(crate) fn publish_terminal(&self, event: RunEvent) {
        let mut state = self.lock();
        state.file = None;
        self.publish_locked(&mut state, event);
    }

    /// Seals the log after the code finalizing it panicked and returns the seq its terminal
    /// event takes, to be published with [`EventLog::publish_terminal`] once the status is
    /// committed. The file is not touched again (its writer may be what panicked). A log already
    /// sealed keeps its terminal seq (the event on disk); `None` when the terminal event was
    /// already published.
    pub(crate) fn seal_after_panic(&self) -> Option<u64> {
        let mut state = self.lock();
        if state.published.last().is_some_and(RunEvent::is_terminal) {
            return None;
        }
        state.file = None;
        if !state.sealed {
            state.sealed = true;
            state.next_seq += 1;
        }
        let seq = state.next_seq - 1;
        self.last_seq.store(seq, Ordering::Release);
        Some(seq)
    }

    /// The terminal event for [`EventLog::seal_after_panic`]'s seq.
    pub(crate) fn terminal_event(&self, seq: u64, kind: EventKind) -> RunEvent {
        RunEvent {
            run_id: self.run_id,
            seq,
            at: Utc::now(),
            kind,
        }
    }

    /// The seq the next event will get, minus one: the last seq written.
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    /// Waits until event `seq` is committed where every node reads it: true at once for a
    /// store that is not shared, or an event stored before this log opened; false when the
    /// shared store will take no more of this node's events for the run (fenced out).
    pub(crate) async fn committed(&self, seq: u64) -> bool {
        let Some((mark, stored)) = &self.durable else {
            return true;
        };
        if seq <= *stored {
            return true;
        }
        let mut mark = mark.clone();
        let reached = mark.wait_for(|d| d.seq >= seq || d.given_up).await;
        reached.is_ok_and(|d| d.seq >= seq)
    }

    /// Failed appends so far (the event was still published).
    pub(crate) fn write_errors(&self) -> u32 {
        self.lock().write_errors
    }

    /// Everything published after `after_seq`, plus a receiver for what comes next.
    pub(crate) fn subscribe(&self, after_seq: u64) -> Subscription {
        let state = self.lock();
        let backlog = state
            .published
            .iter()
            .filter(|e| e.seq > after_seq)
            .cloned()
            .collect();
        Subscription {
            backlog,
            live: self.live.subscribe(),
        }
    }

    fn write_next(&self, state: &mut LogState, kind: EventKind) -> RunEvent {
        let event = RunEvent {
            run_id: self.run_id,
            seq: state.next_seq,
            at: Utc::now(),
            kind,
        };
        state.next_seq += 1;
        self.last_seq.store(event.seq, Ordering::Release);
        let written = match state.file.as_mut() {
            Some(file) => serde_json::to_vec(&event)
                .map_err(std::io::Error::other)
                .and_then(|mut line| {
                    line.push(b'\n');
                    file.append_event(&event, &line)
                }),
            None => Err(std::io::Error::other("event log already closed")),
        };
        if let Err(error) = written {
            state.write_errors += 1;
            tracing::warn!(run_id = %self.run_id, %error, seq = event.seq, "event log append failed");
        }
        event
    }

    fn publish_locked(&self, state: &mut LogState, event: RunEvent) {
        state.published.push(event.clone());
        // No receivers is not an error: nobody is watching.
        let _ = self.live.send(event.clone());
        let _ = self.firehose.send(event);
    }
}

/// A consistent cut of a run's events: what was published after a seq, plus a receiver for
/// everything published later.
pub(crate) struct Subscription {
    pub(crate) backlog: Vec<RunEvent>,
    pub(crate) live: broadcast::Receiver<RunEvent>,
}

struct LogState {
    next_seq: u64,
    file: Option<Box<dyn LogWriter>>,
    published: Vec<RunEvent>,
    /// Set once the terminal event is written: nothing may follow it.
    sealed: bool,
    write_errors: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> (tempfile::TempDir, EventLog) {
        let dir = tempfile::tempdir().unwrap();
        let (firehose, _) = broadcast::channel(16);
        let store = crate::store::DirStore::new(dir.path());
        let run_id = RunId::new();
        let file = crate::store::RunStore::open_log(&store, run_id).unwrap();
        let log = EventLog::new(run_id, file, Vec::new(), firehose);
        (dir, log)
    }

    fn stored(dir: &tempfile::TempDir, log: &EventLog) -> Vec<RunEvent> {
        crate::store::RunStore::load_events(&crate::store::DirStore::new(dir.path()), log.run_id)
    }

    fn note(n: usize) -> EventKind {
        EventKind::Queued { position: n }
    }

    #[test]
    fn seqs_are_gap_free_and_written_before_publish() {
        let (dir, log) = log();
        for i in 0..5 {
            log.append(note(i));
        }
        let on_disk = stored(&dir, &log);
        let seqs: Vec<u64> = on_disk.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        assert_eq!(log.last_seq(), 5);
    }

    #[test]
    fn subscription_seam_has_no_gap_and_no_duplicate() {
        let (_dir, log) = log();
        log.append(note(0));
        log.append(note(1));
        let mut sub = log.subscribe(1);
        log.append(note(2));
        let backlog: Vec<u64> = sub.backlog.iter().map(|e| e.seq).collect();
        assert_eq!(backlog, vec![2]);
        assert_eq!(sub.live.try_recv().unwrap().seq, 3);
        assert!(sub.live.try_recv().is_err());
    }

    #[test]
    fn sealed_log_refuses_late_events() {
        let (_dir, log) = log();
        log.append(note(0));
        let (terminal, err) = log.append_terminal(|_| EventKind::Log {
            level: "info".into(),
            message: "end".into(),
        });
        assert!(err.is_none());
        assert_eq!(terminal.seq, 2);
        assert!(log.append(note(9)).is_none());
        // Not published until publish_terminal.
        assert_eq!(log.subscribe(0).backlog.len(), 1);
        log.publish_terminal(terminal);
        assert_eq!(log.subscribe(0).backlog.len(), 2);
    }

    /// A shared store's writer: appends go nowhere; the test moves its committed mark.
    #[derive(Debug)]
    struct SharedWriter(tokio::sync::watch::Receiver<Durable>);

    impl LogWriter for SharedWriter {
        fn append(&mut self, _line: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn durable(&self) -> Option<tokio::sync::watch::Receiver<Durable>> {
            Some(self.0.clone())
        }
    }

    #[tokio::test]
    async fn a_shared_store_shows_events_once_committed_and_never_after_it_gave_up() {
        let (mark, durable) = tokio::sync::watch::channel(Durable::default());
        let (firehose, _) = broadcast::channel(16);
        let run_id = RunId::new();
        let earlier = vec![RunEvent {
            run_id,
            seq: 1,
            at: Utc::now(),
            kind: note(0),
        }];
        let log = EventLog::new(run_id, Box::new(SharedWriter(durable)), earlier, firehose);
        assert!(log.committed(1).await, "stored before the log opened");
        log.append(note(1));
        log.append(note(2));
        let mut second = std::pin::pin!(log.committed(2));
        assert!(futures::poll!(second.as_mut()).is_pending());
        mark.send_modify(|d| d.seq = 2);
        assert!(second.await);
        let mut third = std::pin::pin!(log.committed(3));
        assert!(futures::poll!(third.as_mut()).is_pending());
        mark.send_modify(|d| d.given_up = true);
        assert!(!third.await, "fenced out: seq 3 will never be committed");
        assert!(log.committed(2).await, "what was committed stays committed");
        let (_dir, unshared) = self::log();
        assert!(
            unshared.committed(7).await,
            "a store that is not shared never waits"
        );
    }
}
