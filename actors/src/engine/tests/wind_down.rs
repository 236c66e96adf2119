//! The end of a run stays in its own subtree: the session captures the final page before it
//! closes the browser, closes it the way the outcome asks (graceful, or kill for stopped and
//! crashed runs), and a browser whose close hangs past its bound is killed while the run still
//! commits and frees its slot. A fake page keeps a journal of what was asked of it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;

use super::{OK, run, test_config};
use crate::engine::Engine;
use crate::event::ActionFailure;
use crate::page_driver::{
    ActionBounds, ActionOutput, BrowserError, BrowserLauncher, Capture, CloseMode, CloseReport,
    LaunchSpec, PageDriver,
};
use crate::request::Action;
use crate::run::{ErrorCode, RunState};
use crate::store::DirStore;

/// A viewport this wide gets a page whose close never returns.
const HANGING_CLOSE_WIDTH: u32 = 444;
const FAKE_JPEG: &[u8] = b"\xff\xd8 final page \xff\xd9";
const FAKE_DOM: &str = "<html><body>the final page</body></html>";

type Journal = Arc<Mutex<Vec<&'static str>>>;

/// Launches journaling fake pages.
struct JournalLauncher {
    journal: Journal,
}

struct JournalPage {
    journal: Journal,
    hang_close: bool,
}

impl JournalPage {
    fn note(&self, entry: &'static str) {
        self.journal.lock().unwrap().push(entry);
    }
}

impl BrowserLauncher for JournalLauncher {
    fn launch(
        &self,
        spec: LaunchSpec,
    ) -> BoxFuture<'static, Result<Box<dyn PageDriver>, BrowserError>> {
        let page = JournalPage {
            journal: self.journal.clone(),
            hang_close: spec.viewport.width == HANGING_CLOSE_WIDTH,
        };
        Box::pin(async move { Ok(Box::new(page) as Box<dyn PageDriver>) })
    }
}

impl PageDriver for JournalPage {
    fn execute<'a>(
        &'a mut self,
        action: &'a Action,
        _bounds: ActionBounds,
    ) -> BoxFuture<'a, Result<ActionOutput, ActionFailure>> {
        Box::pin(async move {
            match action {
                Action::Evaluate { script, .. } if script == "crash" => Err(ActionFailure {
                    code: ErrorCode::BrowserCrashed,
                    message: "the fake browser died".into(),
                }),
                Action::WaitFor { .. } => futures::future::pending().await,
                _ => Ok(ActionOutput::default()),
            }
        })
    }

    fn capture<'a>(
        &'a mut self,
        screenshot: bool,
        dom: bool,
        _masks: &'a [String],
    ) -> BoxFuture<'a, Result<Capture, BrowserError>> {
        // Step screenshots ask for no DOM; the final capture asks for it.
        self.note(if dom { "final capture" } else { "step capture" });
        Box::pin(async move {
            Ok(Capture {
                jpeg: screenshot.then(|| FAKE_JPEG.to_vec()),
                withheld: None,
                dom: dom.then(|| FAKE_DOM.to_owned()),
            })
        })
    }

    fn blank(&mut self) -> BoxFuture<'_, Result<(), BrowserError>> {
        Box::pin(async { Ok(()) })
    }

    fn close(self: Box<Self>, mode: CloseMode) -> BoxFuture<'static, CloseReport> {
        self.note(match mode {
            CloseMode::Kill => "close: kill",
            CloseMode::Graceful(_) => "close: graceful",
        });
        Box::pin(async move {
            if self.hang_close {
                futures::future::pending::<()>().await;
            }
            self.note("closed");
            CloseReport {
                graceful: true,
                problem: None,
            }
        })
    }

    fn pid(&self) -> Option<u32> {
        None
    }
}

impl Drop for JournalPage {
    /// Stands for the real driver's drop guard, which kills Chromium's process group.
    fn drop(&mut self) {
        self.note("dropped");
    }
}

async fn start(dir: &tempfile::TempDir, journal: &Journal) -> Engine {
    let mut config = test_config(dir);
    config.max_concurrent_runs = 1;
    config.timeouts.close_ms = 100;
    config.timeouts.actor_call_ms = 200;
    let store = Arc::new(DirStore::new(config.runs_dir.clone()));
    let launcher = JournalLauncher {
        journal: journal.clone(),
    };
    Engine::start_with(config, store, Arc::new(launcher))
        .await
        .unwrap()
}

fn entries(journal: &Journal) -> Vec<&'static str> {
    journal.lock().unwrap().clone()
}

/// Polls `journal` until it holds `entry`, for what happens after the run's terminal event.
async fn until_noted(journal: &Journal, entry: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !entries(journal).contains(&entry) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never noted {entry:?}: {:?}",
            entries(journal)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn until_idle(engine: &Engine) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stats = engine.handle().stats().await.unwrap();
        if (stats.active, stats.queued) == (0, 0) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_capture_is_taken_before_the_close_and_kept_in_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::default();
    let engine = start(&dir, &journal).await;
    let status = run(
        &engine,
        r#"{"driver":{"type":"script","steps":[{"action":"evaluate","script":"fine"}]},
            "recording":{"screenshots":true,"final_dom":true}}"#,
    )
    .await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert!(status.finalize_errors.is_empty(), "{status:?}");
    until_noted(&journal, "dropped").await;
    assert_eq!(
        entries(&journal),
        [
            "step capture",
            "final capture",
            "close: graceful",
            "closed",
            "dropped"
        ]
    );
    // What the session captured reached the recording through the finalizer.
    let recording = status.recording.expect("a recording").local_dir;
    assert_eq!(
        std::fs::read(recording.join("screenshots/final.jpg")).unwrap(),
        FAKE_JPEG
    );
    assert_eq!(
        std::fs::read_to_string(recording.join("final_dom.html")).unwrap(),
        FAKE_DOM
    );
    until_idle(&engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_whose_close_hangs_is_killed_and_its_run_commits_and_frees_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::default();
    let engine = start(&dir, &journal).await;
    let hanging = r#"{"driver":{"type":"script","steps":[{"action":"evaluate","script":"fine"}]},
        "recording":{"screenshots":false,"final_dom":true},
        "viewport":{"width":444,"height":400}}"#;
    let first = tokio::time::timeout(Duration::from_secs(20), run(&engine, hanging))
        .await
        .expect("the run whose browser close hangs never committed");
    assert_eq!(first.state, RunState::Completed, "{first:?}");
    let close = first
        .finalize_errors
        .iter()
        .find(|e| e.step == "close_browser")
        .unwrap_or_else(|| panic!("no close_browser problem: {first:?}"));
    assert!(
        close.message.contains("timed out after 300 ms"),
        "{}",
        close.message
    );
    // The hung close was aborted by killing the browser actor, which dropped the page.
    until_noted(&journal, "dropped").await;
    assert_eq!(
        entries(&journal),
        ["final capture", "close: graceful", "dropped"]
    );

    // One slot: the next run can only start once the first one's slot was freed.
    let second = tokio::time::timeout(Duration::from_secs(20), run(&engine, OK))
        .await
        .expect("the next run never ran: the slot was not freed");
    assert_eq!(second.state, RunState::Completed);
    until_idle(&engine).await;
    let report = tokio::time::timeout(
        Duration::from_secs(10),
        engine.handle().shutdown(Duration::from_secs(1)),
    )
    .await
    .expect("shutdown completed in time")
    .unwrap();
    assert_eq!(report.cancelled, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_and_timed_out_runs_kill_their_browser_and_a_crash_is_not_captured() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::default();
    let engine = start(&dir, &journal).await;
    let crashed = run(
        &engine,
        r#"{"driver":{"type":"script","steps":[{"action":"evaluate","script":"crash"}]},
            "recording":{"screenshots":true,"final_dom":true}}"#,
    )
    .await;
    assert_eq!(
        crashed.error.as_ref().map(|e| e.code),
        Some(ErrorCode::BrowserCrashed),
        "{crashed:?}"
    );
    until_noted(&journal, "dropped").await;
    let noted = entries(&journal);
    assert!(!noted.contains(&"final capture"), "{noted:?}");
    assert!(noted.contains(&"close: kill"), "{noted:?}");
    assert!(!noted.contains(&"close: graceful"), "{noted:?}");

    journal.lock().unwrap().clear();
    let timed_out = run(
        &engine,
        r##"{"driver":{"type":"script","steps":[{"action":"evaluate","script":"fine"},
                {"action":"wait_for","selector":"#never","timeout_ms":60000}]},
            "recording":{"screenshots":false,"final_dom":true},
            "limits":{"timeout_seconds":1}}"##,
    )
    .await;
    assert_eq!(timed_out.state, RunState::TimedOut, "{timed_out:?}");
    until_noted(&journal, "dropped").await;
    // A run that reached its page is captured, then its browser is killed, not asked to exit.
    assert_eq!(
        entries(&journal),
        ["final capture", "close: kill", "closed", "dropped"]
    );
    until_idle(&engine).await;
}
