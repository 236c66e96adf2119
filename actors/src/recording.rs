//! A run's recording: a JPEG per action, `actions.jsonl`, the final DOM and screenshot, a
//! self-contained `report.html` and `manifest.json`, under `runs/<run_id>/recording/`, then
//! uploaded through `object_store` (see [`upload`]).
//!
//! The router records each action as it finishes; the finalizer captures the final page before
//! the browser closes, then seals the recording (report, manifest) and uploads it before the
//! run's status is committed. Everything written here has passed the run's credential scrubber.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::ActionFailure;
use crate::request::RecordingPlan;
use crate::run::RunStatus;

pub(crate) mod report;
pub(crate) mod upload;

/// The recording's folder inside the run's directory.
pub(crate) const RECORDING_DIR: &str = "recording";
const ACTIONS_FILE: &str = "actions.jsonl";
const MANIFEST_FILE: &str = "manifest.json";
const REPORT_FILE: &str = "report.html";
const FINAL_DOM_FILE: &str = "final_dom.html";
/// The request the recorded actions answered.
pub(crate) const REQUEST_FILE: &str = "request.json";
/// Longest result text kept per action in `actions.jsonl` and the report.
const RESULT_MAX_CHARS: usize = 2_000;

/// One line of `actions.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ActionEntry {
    pub(crate) step: u32,
    pub(crate) action: String,
    /// The action's input summary (credential values never appear).
    pub(crate) input: String,
    /// The action itself as JSON, scrubbed like everything else (a `credential_ref` keeps its
    /// name; a value never appears): what `pilothouse export-playbook` turns into a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) params: Option<serde_json::Value>,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) duration_ms: u64,
    pub(crate) success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<ActionFailure>,
    /// The page's URL after the action, when it may have navigated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    /// The step's screenshot, relative to the run's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) screenshot: Option<String>,
}

impl ActionEntry {
    pub(crate) fn clip_result(text: &str) -> String {
        crate::request::clip(text, RESULT_MAX_CHARS)
    }
}

/// One file of a recording, as `manifest.json` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Path relative to the recording's folder (`screenshots/0001_goto.jpg`).
    pub path: String,
    /// `screenshot`, `actions`, `dom`, `report`, `download` or `other`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The run.
    pub run_id: crate::run::RunId,
    /// Every file of the recording but the manifest itself.
    pub artifacts: Vec<Artifact>,
}

impl Manifest {
    /// The status's account of this recording while it is only in `local_dir`.
    pub(crate) fn local_info(&self, local_dir: PathBuf) -> crate::run::RecordingInfo {
        crate::run::RecordingInfo {
            location: local_dir.display().to_string(),
            uploaded: false,
            local_dir,
            artifacts: self.artifacts.len(),
            bytes: self.artifacts.iter().map(|a| a.bytes).sum(),
        }
    }
}

#[derive(Debug, Default)]
struct RecorderState {
    entries: Vec<ActionEntry>,
    /// Selectors of fields a credential was typed into: masked in screenshots.
    masks: Vec<String>,
    actions_file: Option<std::fs::File>,
    problems: Vec<String>,
}

/// The recording of one run in progress.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) plan: RecordingPlan,
    run_dir: PathBuf,
    state: Mutex<RecorderState>,
}

impl Recorder {
    pub(crate) fn new(plan: RecordingPlan, run_dir: PathBuf) -> Self {
        Self {
            plan,
            run_dir,
            state: Mutex::default(),
        }
    }

    /// The recording a run left unsealed (its process died): the actions recorded so far are
    /// read back from `actions.jsonl` so a report can show them. `None` when there is none.
    pub(crate) fn reopen(run_dir: PathBuf) -> Option<Self> {
        let dir = run_dir.join(RECORDING_DIR);
        if !dir.is_dir() {
            return None;
        }
        let entries = std::fs::read_to_string(dir.join(ACTIONS_FILE))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        let plan = RecordingPlan {
            screenshots: false,
            actions: false,
            final_dom: false,
            report: true,
            upload: false,
        };
        Some(Self {
            plan,
            run_dir,
            state: Mutex::new(RecorderState {
                entries,
                ..RecorderState::default()
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `runs/<run_id>/recording`.
    pub(crate) fn dir(&self) -> PathBuf {
        self.run_dir.join(RECORDING_DIR)
    }

    /// Writes a screenshot; returns its path relative to the run's directory.
    pub(crate) async fn save_screenshot(&self, name: &str, jpeg: &[u8]) -> Option<String> {
        let rel = format!("{RECORDING_DIR}/screenshots/{name}.jpg");
        let path = self.run_dir.join(&rel);
        let written = async {
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::write(&path, jpeg).await
        }
        .await;
        match written {
            Ok(()) => Some(rel),
            Err(e) => {
                self.problem(format!("cannot write screenshot {rel}: {e}"));
                None
            }
        }
    }

    /// Appends an action to `actions.jsonl` (when recorded) and keeps it for the report.
    pub(crate) fn record_action(&self, entry: ActionEntry) {
        let mut state = self.lock();
        if self.plan.actions
            && let Err(e) = append_line(&mut state.actions_file, &self.dir(), &entry)
        {
            state
                .problems
                .push(format!("cannot append to {ACTIONS_FILE}: {e}"));
        }
        state.entries.push(entry);
    }

    /// Masks `selector` in every later screenshot (a credential was typed into it).
    pub(crate) fn mask(&self, selector: &str) {
        let mut state = self.lock();
        if !state.masks.iter().any(|m| m == selector) {
            state.masks.push(selector.to_owned());
        }
    }

    /// The selectors to mask.
    pub(crate) fn masks(&self) -> Vec<String> {
        self.lock().masks.clone()
    }

    /// Notes something the recording could not do; it ends up in `finalize_errors`.
    pub(crate) fn problem(&self, message: String) {
        tracing::warn!(%message, "recording problem");
        self.lock().problems.push(message);
    }

    /// Problems so far.
    pub(crate) fn problems(&self) -> Vec<String> {
        self.lock().problems.clone()
    }

    /// Writes `request.json` beside `actions.jsonl` (when actions are recorded): the admitted
    /// request the actions answered (secrets serialize as `******`; an `auto` run's route is
    /// in its status). Blocking.
    pub(crate) fn save_request(&self, request: &crate::request::RunRequest) {
        if !self.plan.actions || self.lock().entries.is_empty() {
            return;
        }
        let dir = self.dir();
        let written = serde_json::to_vec_pretty(request)
            .map_err(std::io::Error::other)
            .and_then(|json| {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join(REQUEST_FILE), json)
            });
        if let Err(e) = written {
            self.problem(format!("cannot write {REQUEST_FILE}: {e}"));
        }
    }

    /// Writes the final DOM (already scrubbed).
    pub(crate) fn save_final_dom(&self, html: &str) {
        let dir = self.dir();
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join(FINAL_DOM_FILE), html));
        if let Err(e) = written {
            self.problem(format!("cannot write {FINAL_DOM_FILE}: {e}"));
        }
    }

    /// Closes `actions.jsonl`, writes `report.html` (when planned) and `manifest.json`.
    /// Blocking. Returns the manifest, or `None` when nothing was recorded.
    pub(crate) fn seal(&self, status: &RunStatus) -> std::io::Result<Option<Manifest>> {
        let entries = {
            let mut state = self.lock();
            if let Some(file) = state.actions_file.take() {
                file.sync_all()?;
            }
            state.entries.clone()
        };
        let dir = self.dir();
        if self.plan.report && (!entries.is_empty() || dir.exists()) {
            std::fs::create_dir_all(&dir)?;
            let html = report::render(status, &entries, &self.run_dir);
            std::fs::write(dir.join(REPORT_FILE), html)?;
        }
        if !dir.exists() {
            return Ok(None);
        }
        let artifacts = list_artifacts(&dir)?;
        if artifacts.is_empty() {
            return Ok(None);
        }
        let manifest = Manifest {
            run_id: status.run_id,
            artifacts,
        };
        crate::store::write_atomic(
            &dir.join(MANIFEST_FILE),
            &serde_json::to_vec_pretty(&manifest)?,
        )?;
        Ok(Some(manifest))
    }
}

fn append_line(
    file: &mut Option<std::fs::File>,
    dir: &Path,
    entry: &ActionEntry,
) -> std::io::Result<()> {
    if file.is_none() {
        std::fs::create_dir_all(dir)?;
        *file = Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(ACTIONS_FILE))?,
        );
    }
    let mut line = serde_json::to_vec(entry)?;
    line.push(b'\n');
    file.as_mut().expect("opened above").write_all(&line)
}

/// Every file under the recording's folder but the manifest, sorted, with sizes and hashes.
fn list_artifacts(dir: &Path) -> std::io::Result<Vec<Artifact>> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut artifacts = Vec::with_capacity(files.len());
    for rel in files {
        if rel == MANIFEST_FILE || rel.starts_with('.') {
            continue;
        }
        let bytes = std::fs::read(dir.join(&rel))?;
        artifacts.push(Artifact {
            kind: kind_of(&rel).to_owned(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            path: rel,
        });
    }
    Ok(artifacts)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

fn kind_of(rel: &str) -> &'static str {
    match rel {
        ACTIONS_FILE => "actions",
        FINAL_DOM_FILE => "dom",
        REPORT_FILE => "report",
        REQUEST_FILE => "request",
        _ if rel.starts_with(crate::download::DOWNLOADS_DIR) => "download",
        _ if rel.ends_with(".jpg") => "screenshot",
        _ => "other",
    }
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunId;

    fn plan() -> RecordingPlan {
        RecordingPlan {
            screenshots: true,
            actions: true,
            final_dom: true,
            report: true,
            upload: false,
        }
    }

    #[tokio::test]
    async fn sealing_lists_every_artifact_with_its_hash() {
        let run_dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(plan(), run_dir.path().to_owned());
        let shot = recorder
            .save_screenshot("0001_goto", b"jpeg!")
            .await
            .unwrap();
        recorder.record_action(ActionEntry {
            step: 1,
            action: "goto".into(),
            input: "https://example.com/".into(),
            params: None,
            started_at: Utc::now(),
            duration_ms: 12,
            success: true,
            result: Some("Navigated".into()),
            error: None,
            url: Some("https://example.com/".into()),
            screenshot: Some(shot),
        });
        recorder.save_final_dom("<html></html>");
        let status = RunStatus::new_queued(RunId::new(), "script", Default::default());
        let manifest = recorder.seal(&status).unwrap().unwrap();
        let paths: Vec<&str> = manifest.artifacts.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "actions.jsonl",
                "final_dom.html",
                "report.html",
                "screenshots/0001_goto.jpg"
            ]
        );
        let shot = &manifest.artifacts[3];
        assert_eq!((shot.bytes, shot.kind.as_str()), (5, "screenshot"));
        assert_eq!(shot.sha256, sha256_hex(b"jpeg!"));
        let on_disk: Manifest =
            serde_json::from_slice(&std::fs::read(recorder.dir().join(MANIFEST_FILE)).unwrap())
                .unwrap();
        assert_eq!(on_disk, manifest);
        assert!(recorder.problems().is_empty());
    }

    #[test]
    fn nothing_recorded_means_no_manifest() {
        let run_dir = tempfile::tempdir().unwrap();
        let mut quiet = plan();
        quiet.report = false;
        let recorder = Recorder::new(quiet, run_dir.path().to_owned());
        let status = RunStatus::new_queued(RunId::new(), "script", Default::default());
        assert_eq!(recorder.seal(&status).unwrap(), None);
    }
}
