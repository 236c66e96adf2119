//! The run store: where `status.json` and `events.jsonl` live. The directory store is the
//! embedded default; the trait lets a host put runs elsewhere (or inject failures in tests).
//!
//! Status writes are atomic (temp file, fsync, rename, fsync of the directory). Event logs are
//! append-only; opening one for appending first cuts a torn last line left by a crash, so the
//! next event starts on a line of its own.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::event::RunEvent;
use crate::run::{RunId, RunStatus};

/// Durable storage of runs.
pub trait RunStore: Send + Sync + std::fmt::Debug + 'static {
    /// Creates the run's local directory and returns it (recordings are captured inside).
    fn create_run(&self, run_id: RunId) -> std::io::Result<PathBuf>;
    /// Writes the status atomically: a crash leaves the previous status or this one.
    fn write_status(&self, status: &RunStatus) -> std::io::Result<()>;
    /// The stored status, if the run is known and its file is valid.
    fn load_status(&self, run_id: RunId) -> Option<RunStatus>;
    /// Opens the run's event log for appending (creating it).
    fn open_log(&self, run_id: RunId) -> std::io::Result<Box<dyn LogWriter>>;
    /// The stored events of a run (empty when unknown); a torn last line is skipped.
    fn load_events(&self, run_id: RunId) -> Vec<RunEvent>;
    /// Every run id in the store, oldest first (ids are time-ordered).
    fn run_ids(&self) -> Vec<RunId>;
}

/// An open, append-only event log.
pub trait LogWriter: Send + std::fmt::Debug {
    /// Appends one JSON line (the newline included).
    fn append(&mut self, line: &[u8]) -> std::io::Result<()>;
    /// Appends `event`, whose JSON line is `line`: a store that keeps events as rows rather
    /// than lines overrides this.
    fn append_event(&mut self, event: &RunEvent, line: &[u8]) -> std::io::Result<()> {
        let _ = event;
        self.append(line)
    }
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> std::io::Result<()>;
    /// How far a store shared by several nodes has committed the appended events, for tails
    /// that must show only what every node will read; `None` (the default) when appended events
    /// are the run's own, with no other node to disagree.
    fn durable(&self) -> Option<tokio::sync::watch::Receiver<Durable>> {
        None
    }
}

/// How far a shared store has committed a run's events ([`LogWriter::durable`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    /// Every event up to this seq is committed.
    pub seq: u64,
    /// The store takes no more of this node's events for the run (another node owns it now,
    /// or this node lost its lease): events past `seq` will never be committed.
    pub given_up: bool,
}

/// Runs as directories: `<root>/<run_id>/{status.json, events.jsonl, recording/}`.
#[derive(Clone, Debug)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store rooted at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `<root>/<run_id>`.
    pub fn run_dir(&self, run_id: RunId) -> PathBuf {
        self.root.join(run_id.to_string())
    }

    fn events_path(&self, run_id: RunId) -> PathBuf {
        self.run_dir(run_id).join("events.jsonl")
    }
}

impl RunStore for DirStore {
    fn create_run(&self, run_id: RunId) -> std::io::Result<PathBuf> {
        let dir = self.run_dir(run_id);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn write_status(&self, status: &RunStatus) -> std::io::Result<()> {
        let dir = self.run_dir(status.run_id);
        fs::create_dir_all(&dir)?;
        write_atomic(
            &dir.join("status.json"),
            &serde_json::to_vec_pretty(status)?,
        )
    }

    fn load_status(&self, run_id: RunId) -> Option<RunStatus> {
        let bytes = fs::read(self.run_dir(run_id).join("status.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn open_log(&self, run_id: RunId) -> std::io::Result<Box<dyn LogWriter>> {
        fs::create_dir_all(self.run_dir(run_id))?;
        let path = self.events_path(run_id);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        cut_torn_tail(&mut file)?;
        Ok(Box::new(FileLog { file }))
    }

    fn load_events(&self, run_id: RunId) -> Vec<RunEvent> {
        read_log(&self.events_path(run_id)).unwrap_or_default()
    }

    fn run_ids(&self) -> Vec<RunId> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut ids: Vec<RunId> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        ids.sort();
        ids
    }
}

#[derive(Debug)]
struct FileLog {
    file: File,
}

impl LogWriter for FileLog {
    fn append(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.file.write_all(line)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_all()
    }
}

/// A crash mid-append leaves a last line without its newline: cut it, so the next append
/// starts a line of its own (the torn event was never published).
fn cut_torn_tail(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    let mut text = Vec::with_capacity(len as usize);
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut text)?;
    let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    tracing::warn!(
        cut = len - keep as u64,
        "event log ended in a torn line; cut it"
    );
    file.set_len(keep as u64)?;
    file.sync_all()
}

/// Reads a run's `events.jsonl`. A torn last line (a crash mid-write) is skipped.
fn read_log(path: &Path) -> std::io::Result<Vec<RunEvent>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<RunEvent>(line).ok())
        .collect())
}

/// Temp file in the same directory, fsync, rename over the target, fsync the directory: a crash
/// leaves either the old file or the new one, never a torn one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_ids_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let id = RunId::new();
        store.create_run(id).unwrap();
        let status = RunStatus::new_queued(id, "script", Default::default());
        store.write_status(&status).unwrap();
        assert_eq!(store.load_status(id), Some(status));
        assert_eq!(store.run_ids(), vec![id]);
        assert!(store.load_events(id).is_empty());
        assert!(
            !dir.path()
                .join(id.to_string())
                .join(".status.json.tmp")
                .exists()
        );
    }

    #[test]
    fn invalid_status_counts_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let id = RunId::new();
        let run_dir = store.create_run(id).unwrap();
        fs::write(run_dir.join("status.json"), b"{not json").unwrap();
        assert_eq!(store.load_status(id), None);
    }

    #[test]
    fn reopening_a_log_cuts_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let id = RunId::new();
        let path = store.create_run(id).unwrap().join("events.jsonl");
        fs::write(&path, b"{\"a\":1}\n{\"torn\":").unwrap();
        let mut log = store.open_log(id).unwrap();
        log.append(b"{\"b\":2}\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"b\":2}\n");
    }
}
