//! The two steps the orchestrator runs itself, beside the page: `api_request` (sent from here
//! with the run's browser cookies where asked, guarded hop by hop: `api_call.rs`) and
//! `llm_extract` (the page's markdown, read through the browser seam and blinded as `observe`
//! is, then the model: `llm_extract.rs`). Both are bounded in time and raced against the run's
//! stop like any browser call.

use std::time::Duration;

use super::{RouterState, pipeline};
use crate::api_call::{self, ApiContext, ApiError};
use crate::blinders;
use crate::browser::BrowserMsg;
use crate::event::{ActionFailure, EventKind};
use crate::llm_extract::{Extraction, extract};
use crate::page_driver::ActionOutput;
use crate::request::{Action, AgentSpec, ApiCall, DriverSpec, ExtractMode};
use crate::run::{ErrorCode, TokenUsage};

/// `api_request`: the browser's cookies (when asked), then the guarded call within its
/// `timeout_ms` (and the run's deadline).
pub(super) async fn api_request(
    state: &RouterState,
    call: &ApiCall,
) -> Result<ActionOutput, ActionFailure> {
    let cookies = if api_call::wants_browser_cookies(call) {
        browser_cookies(state, &call.url).await?
    } else {
        Vec::new()
    };
    let ctx = ApiContext {
        guard: &state.guard,
        credentials: &state.record.request.credentials,
        scrubber: &state.record.scrubber,
        max_body_bytes: state.max_result_bytes,
    };
    let limit = bound(state, call.timeout_ms);
    let sent = stoppable(
        state,
        tokio::time::timeout(limit, api_call::send(&ctx, call, cookies)),
    );
    match sent.await? {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(ApiError::Blocked { block, target })) => {
            Err(pipeline::blocked(state, block, &target))
        }
        Ok(Err(ApiError::Failed(message))) => Err(failed(format!("api_request: {message}"))),
        Err(_) => Err(failed(format!(
            "api_request: no response within {} ms (request.timeout_ms)",
            limit.as_millis()
        ))),
    }
}

/// The cookies the run's browser holds for `url`.
async fn browser_cookies(
    state: &RouterState,
    url: &str,
) -> Result<Vec<(String, String)>, ActionFailure> {
    let url = url.to_owned();
    let call = state.browser.call(
        |reply| BrowserMsg::Cookies { url, reply },
        Some(state.call_timeout),
    );
    match stoppable(state, call).await? {
        Ok(ractor::rpc::CallResult::Success(Ok(cookies))) => Ok(cookies),
        Ok(ractor::rpc::CallResult::Success(Err(e))) => Err(ActionFailure {
            code: e.code(),
            message: format!("api_request: reading the browser's cookies: {e}"),
        }),
        Ok(_) | Err(_) => Err(ActionFailure {
            code: ErrorCode::BrowserCrashed,
            message: "the browser actor is gone".into(),
        }),
    }
}

/// `llm_extract`: the page's markdown, blinded, then the model (one correction at most).
pub(super) async fn llm_extract(
    state: &RouterState,
    prompt: &str,
    schema: Option<&serde_json::Value>,
) -> Result<ActionOutput, ActionFailure> {
    let spec = model_spec(&state.record.request.driver);
    let warn = |warning: String| state.record.log("warn", &warning);
    let endpoint = crate::llm::endpoint_for(&spec, &state.agent, warn)
        .map_err(|e| failed(format!("llm_extract: {e}")))?;
    let markdown = Action::Extract {
        selector: None,
        mode: ExtractMode::Markdown,
        store_as: None,
    };
    // Scrubbed and cut at the browser seam; screened and delimited here as `observe` is.
    let page = pipeline::call_browser(state, markdown).await?;
    let (screened, redacted) = blinders::redact_injections(&page.text);
    if redacted > 0 {
        state.record.emit(EventKind::Log {
            level: "warn".into(),
            message: format!(
                "llm_extract: redacted {redacted} line(s) matching prompt-injection patterns"
            ),
        });
    }
    let page = blinders::wrap_page_content(&screened);
    let job = Extraction {
        llm: &state.llm,
        endpoint: &endpoint,
        prompt,
        schema,
        page: &page,
    };
    let mut usage = TokenUsage::default();
    let answer = stoppable(state, extract(&job, &mut usage)).await;
    if usage.calls > 0 {
        state.record.add_usage(&usage);
    }
    let value = answer?.map_err(|e| failed(format!("llm_extract: {e}")))?;
    let value = state.record.scrubber.scrub_value(value);
    let text = match &value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(ActionOutput {
        text,
        value: Some(value),
        ..ActionOutput::default()
    })
}

/// Whose model `llm_extract` calls: a playbook's hand-off agent, an agent run's own, else
/// `[agent]`'s.
fn model_spec(driver: &DriverSpec) -> AgentSpec {
    let given = match driver {
        DriverSpec::Playbook(spec) => spec.agent.clone(),
        DriverSpec::Agent(spec) => Some(spec.clone()),
        _ => None,
    };
    given.unwrap_or_default()
}

/// `own_ms`, capped by the time left until the run's deadline.
fn bound(state: &RouterState, own_ms: u64) -> Duration {
    let own = Duration::from_millis(own_ms);
    match state.record.control.time_left() {
        Some(left) => own.min(left),
        None => own,
    }
}

/// `fut`, or a cancellation failure when the run is stopped first.
async fn stoppable<T>(
    state: &RouterState,
    fut: impl Future<Output = T>,
) -> Result<T, ActionFailure> {
    let token = state.record.control.token().clone();
    tokio::select! {
        out = fut => Ok(out),
        _ = token.cancelled() => Err(ActionFailure {
            code: ErrorCode::Cancelled,
            message: "interrupted: the run was stopped".into(),
        }),
    }
}

fn failed(message: String) -> ActionFailure {
    ActionFailure {
        code: ErrorCode::ActionFailed,
        message,
    }
}
