//! The run store: where `status.json` and `events.jsonl` live. The directory store is the
//! embedded default; the trait lets a host put runs elsewhere.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::event::{RunEvent, read_log};
use crate::run::{RunId, RunStatus};

/// Durable storage of runs.
pub trait RunStore: Send + Sync + std::fmt::Debug + 'static {
    /// Creates the run's directory and returns it (events and recordings go inside).
    fn create_run(&self, run_id: RunId) -> std::io::Result<PathBuf>;
    /// Writes the status atomically: temp file, fsync, rename, fsync of the directory.
    fn write_status(&self, status: &RunStatus) -> std::io::Result<()>;
    /// The stored status, if the run is known and its file is valid.
    fn load_status(&self, run_id: RunId) -> Option<RunStatus>;
    /// The stored events of a run (empty when unknown).
    fn load_events(&self, run_id: RunId) -> Vec<RunEvent>;
    /// Every run id in the store.
    fn run_ids(&self) -> Vec<RunId>;
    /// Path of a run's event log.
    fn events_path(&self, run_id: RunId) -> PathBuf;
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

    fn run_dir(&self, run_id: RunId) -> PathBuf {
        self.root.join(run_id.to_string())
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

    fn events_path(&self, run_id: RunId) -> PathBuf {
        self.run_dir(run_id).join("events.jsonl")
    }
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
}
