//! What an action hands back, made safe to keep: credentials resolved on the way in, page text
//! (already scrubbed at the browser seam) screened by the blinders, results stored within the
//! run's `max_data_bytes`, screenshots written.

use serde_json::json;

use super::RouterState;
use crate::blinders;
use crate::event::{ActionFailure, EventKind};
use crate::page_driver::ActionOutput;
use crate::request::{Action, map_strings};
use crate::run::ErrorCode;

/// The action the browser executes: a `type` with `credential_ref` carries the secret's value.
/// This copy is never logged or evented; events describe the original action.
pub(super) fn materialize(state: &RouterState, action: &Action) -> Result<Action, ActionFailure> {
    match action {
        Action::Type {
            selector,
            credential_ref: Some(name),
            ..
        } => {
            let secret =
                state
                    .record
                    .request
                    .credentials
                    .get(name)
                    .ok_or_else(|| ActionFailure {
                        code: ErrorCode::ActionFailed,
                        message: format!("no credential named `{name}`"),
                    })?;
            Ok(Action::Type {
                selector: selector.clone(),
                text: Some(secret.expose().to_owned()),
                credential_ref: None,
            })
        }
        other => Ok(other.clone()),
    }
}

/// Screens page text for injections, and wraps observations in content delimiters.
pub(super) fn screen(state: &RouterState, action: &Action, mut out: ActionOutput) -> ActionOutput {
    let mut redacted = 0;
    out.text = screen_text(action, &out.text, &mut redacted);
    if let Some(value) = out.value.take() {
        let mut clean = |text: &str| screen_text(action, text, &mut redacted);
        out.value = Some(map_strings(value, &mut clean));
    }
    if redacted > 0 {
        state.record.emit(EventKind::Log {
            level: "warn".into(),
            message: format!(
                "{}: redacted {redacted} line(s) matching prompt-injection patterns",
                action.name()
            ),
        });
    }
    out
}

fn screen_text(action: &Action, text: &str, redacted: &mut usize) -> String {
    let mut text = text.to_owned();
    if matches!(action, Action::Extract { .. } | Action::Observe { .. }) {
        let (screened, n) = blinders::redact_injections(&text);
        *redacted += n;
        text = screened;
    }
    if matches!(action, Action::Observe { .. }) {
        text = blinders::wrap_page_content(&text);
    }
    text
}

/// Stores `store_as` values and screenshot files; a failed screenshot write fails the action.
/// A screenshot's bytes stay in the output for the driver (an agent with vision shows them to
/// its model) beside the file's path.
pub(super) async fn keep_results(
    state: &RouterState,
    file_stem: &str,
    action: &Action,
    mut out: ActionOutput,
) -> Result<ActionOutput, ActionFailure> {
    if let (Some(name), Some(value)) = (action.store_as(), &out.value) {
        state.record.keep_data(name, value.clone());
    }
    if let Some(bytes) = &out.screenshot {
        let rel = format!("recording/screenshots/{file_stem}_{}.jpg", action.name());
        let path = state.record.dir.join(&rel);
        let written = async {
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::write(&path, bytes).await
        }
        .await;
        if let Err(e) = written {
            return Err(ActionFailure {
                code: ErrorCode::ActionFailed,
                message: format!("cannot write screenshot {}: {e}", path.display()),
            });
        }
        out.value = Some(json!({ "screenshot": rel, "bytes": bytes.len() }));
    }
    Ok(out)
}
