//! Unit tests of the actor logic with a fake browser: failures inside a run's actors become run
//! outcomes, and the orchestrator keeps serving.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::oneshot;

use super::Engine;
use crate::command::Command;
use crate::config::Config;
use crate::event::ActionFailure;
use crate::page_driver::{
    ActionBounds, ActionOutput, BrowserLauncher, CloseMode, CloseReport, LaunchSpec, PageDriver,
};
use crate::request::{Action, RunRequest};
use crate::run::{ErrorCode, RunId, RunState, RunStatus};
use crate::store::DirStore;

/// Launches fake pages: `evaluate` of `"panic"` panics; a 333 px wide viewport fails the launch.
struct FakeLauncher;

struct FakePage;

impl BrowserLauncher for FakeLauncher {
    fn launch(&self, spec: LaunchSpec) -> BoxFuture<'static, Result<Box<dyn PageDriver>, String>> {
        Box::pin(async move {
            if spec.viewport.width == 333 {
                return Err("no display for a 333 px viewport".into());
            }
            Ok(Box::new(FakePage) as Box<dyn PageDriver>)
        })
    }
}

impl PageDriver for FakePage {
    fn execute<'a>(
        &'a mut self,
        action: &'a Action,
        _bounds: ActionBounds,
    ) -> BoxFuture<'a, Result<ActionOutput, ActionFailure>> {
        Box::pin(async move {
            match action {
                Action::Evaluate { script, .. } if script == "panic" => panic!("fake driver bug"),
                Action::Evaluate { script, .. } => Ok(ActionOutput {
                    text: script.clone(),
                    value: Some(Value::String(script.clone())),
                    ..ActionOutput::default()
                }),
                _ => Ok(ActionOutput::default()),
            }
        })
    }

    fn blank(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn close(self: Box<Self>, _mode: CloseMode) -> BoxFuture<'static, CloseReport> {
        Box::pin(async {
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

async fn engine(dir: &tempfile::TempDir) -> Engine {
    let config = Config {
        runs_dir: dir.path().join("runs"),
        profile_root: dir.path().join("profiles"),
        chromium_path: Some("/bin/true".into()),
        ..Config::default()
    };
    let store = Arc::new(DirStore::new(config.runs_dir.clone()));
    Engine::start_with(config, store, Arc::new(FakeLauncher))
        .await
        .unwrap()
}

async fn run(engine: &Engine, json: &str) -> RunStatus {
    let request = RunRequest::from_json(json).unwrap();
    let (tx, rx) = oneshot::channel();
    engine
        .sender()
        .send(Command::Submit {
            request: Box::new(request),
            reply: tx,
        })
        .await
        .unwrap();
    let run_id: RunId = rx.await.unwrap().unwrap();
    let (tx, rx) = oneshot::channel();
    engine
        .sender()
        .send(Command::Subscribe {
            run_id,
            after_seq: 0,
            reply: tx,
        })
        .await
        .unwrap();
    let stream = rx.await.unwrap().unwrap().into_stream();
    let events: Vec<_> = futures::StreamExt::collect(stream).await;
    match &events.last().unwrap().kind {
        crate::event::EventKind::Finished { status } => (**status).clone(),
        other => panic!("last event is {other:?}"),
    }
}

const OK: &str = r#"{"driver":{"type":"script","steps":[{"action":"evaluate","script":"fine","store_as":"v"}]}}"#;

#[tokio::test]
async fn a_panicking_browser_actor_fails_its_run_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let status = run(
        &engine,
        r#"{"driver":{"type":"script","steps":[{"action":"evaluate","script":"panic"}]}}"#,
    )
    .await;
    assert_eq!(status.state, RunState::Failed);
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::InternalError, "{}", error.message);
    assert!(
        error.message.contains("browser actor failed"),
        "{}",
        error.message
    );
    assert!(engine.is_running());

    let status = run(&engine, OK).await;
    assert_eq!(status.state, RunState::Completed);
    assert_eq!(status.data["v"], "fine");
}

#[tokio::test]
async fn a_failed_launch_is_setup_failed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let status = run(
        &engine,
        r#"{"driver":{"type":"script","steps":[{"action":"screenshot"}]},"viewport":{"width":333,"height":400}}"#,
    )
    .await;
    assert_eq!(status.state, RunState::Failed);
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::SetupFailed);
    assert!(error.message.contains("333 px"), "{}", error.message);
    assert_eq!(status.action_count, 0);
}
