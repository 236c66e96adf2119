//! The agent's turns once its page is open: ask the model, run the tool calls it makes, hand
//! the results back, repeat — until the model calls `done`, the step budget runs out, the model
//! endpoint fails for good, or the run is stopped. Each outcome of a turn is one step below.

use std::ops::ControlFlow;

use serde_json::Value;

use super::context::Conversation;
use super::{AgentDriver, act, failed, page, tools};
use crate::driver::{DriverContext, DriverOutcome};
use crate::llm::{Endpoint, LlmError, ToolCall};
use crate::request::Action;
use crate::run::ErrorCode;

/// Replies in a row without a tool call before the run ends with LLM_ERROR.
const MAX_SILENT_TURNS: u32 = 3;

impl Turns<'_> {
    /// Asks the model, runs the tool calls it makes, hands the results back, and repeats until
    /// the run ends.
    pub(super) async fn run(mut self) -> DriverOutcome {
        let token = self.ctx.record.control.token().clone();
        loop {
            let messages = self.convo.messages();
            let call = self
                .ctx
                .llm
                .complete(&self.endpoint, &messages, &self.tool_defs);
            let reply = tokio::select! {
                r = call => r,
                _ = token.cancelled() => return DriverOutcome::Interrupted,
            };
            let reply = match reply {
                Ok(reply) => reply,
                Err(error) => match self.model_failed(error) {
                    ControlFlow::Break(outcome) => return outcome,
                    ControlFlow::Continue(()) => continue,
                },
            };
            self.failed_calls = 0;
            self.ctx.record.add_usage(&reply.usage);
            if reply.tool_calls.is_empty() {
                if let ControlFlow::Break(outcome) = self.silent_reply(reply.content) {
                    return outcome;
                }
                continue;
            }
            self.silent = 0;
            self.convo
                .assistant(reply.content, reply.tool_calls.clone());
            for call in &reply.tool_calls {
                match self.tool_call(call).await {
                    ControlFlow::Continue(result) => self.convo.tool(&call.id, result),
                    ControlFlow::Break(outcome) => return outcome,
                }
            }
            // After the turn's tool results: a tool message carries text only.
            for (caption, jpeg) in std::mem::take(&mut self.images) {
                self.convo.image(caption, &jpeg);
            }
        }
    }

    /// A model call that failed: the run ends when the breaker is open or too many failed in
    /// a row; else it is asked again.
    fn model_failed(&mut self, error: LlmError) -> ControlFlow<DriverOutcome> {
        let message = match error {
            LlmError::CircuitOpen(message) => {
                return ControlFlow::Break(failed(ErrorCode::LlmError, message));
            }
            LlmError::Failed(message) => message,
        };
        self.failed_calls += 1;
        self.ctx
            .record
            .log("warn", &format!("model call failed: {message}"));
        if self.failed_calls >= self.ctx.config.agent.breaker_threshold {
            return ControlFlow::Break(failed(
                ErrorCode::LlmError,
                format!(
                    "{} model calls in a row failed; last: {message}",
                    self.failed_calls
                ),
            ));
        }
        ControlFlow::Continue(())
    }

    /// A reply without a tool call: the model is reminded, and the run ends after
    /// `MAX_SILENT_TURNS` of them in a row.
    fn silent_reply(&mut self, content: Option<String>) -> ControlFlow<DriverOutcome> {
        self.silent += 1;
        self.convo.assistant(content, Vec::new());
        if self.silent >= MAX_SILENT_TURNS {
            return ControlFlow::Break(failed(
                ErrorCode::LlmError,
                format!(
                    "the model answered {} times in a row without a tool call",
                    self.silent
                ),
            ));
        }
        self.convo.user(
            "Call the browser tool for the next action, or done when the task is finished.".into(),
        );
        ControlFlow::Continue(())
    }

    /// One tool call: its result for the model, or how the run ends (`done`, the step budget
    /// spent, the run stopped).
    async fn tool_call(&mut self, call: &ToolCall) -> ControlFlow<DriverOutcome, String> {
        let result = match call.name.as_str() {
            "done" => match tools::parse_done_call(&call.arguments, self.schema.as_ref()) {
                Ok((answer, success)) => {
                    return ControlFlow::Break(self.driver.finish(self.ctx, answer, success));
                }
                Err(e) => format!("Error: {e}"),
            },
            "browser" if self.steps >= self.max_steps => {
                return ControlFlow::Break(failed(
                    ErrorCode::MaxSteps,
                    format!(
                        "the agent used all {} steps without calling done \
                         (raise driver.max_steps or [agent] max_steps)",
                        self.max_steps
                    ),
                ));
            }
            "browser" => {
                self.steps += 1;
                return self.browse(&call.arguments).await;
            }
            other => format!("Error: unknown tool `{other}`; use browser or done"),
        };
        ControlFlow::Continue(result)
    }

    /// A `browser` call: the action it names, run through the router; a malformed one is an
    /// error result the model reads.
    async fn browse(&mut self, arguments: &str) -> ControlFlow<DriverOutcome, String> {
        match tools::parse_browser_call(arguments, &self.offered) {
            Ok(action) => match self.act(action).await {
                Some(text) => ControlFlow::Continue(text),
                None => ControlFlow::Break(DriverOutcome::Interrupted),
            },
            Err(e) => {
                self.ctx
                    .record
                    .log("warn", &format!("malformed browser call: {e}"));
                self.convo.memory.action("(malformed call)", Err(&e));
                ControlFlow::Continue(format!("Error: {e}"))
            }
        }
    }
}

impl Turns<'_> {
    /// One browser action; its result for the model, with the new page's map after a
    /// navigation and, with vision, its screenshot queued as an image (`None`: the run
    /// stopped).
    async fn act(&mut self, action: Action) -> Option<String> {
        let observes = matches!(action, Action::Observe { .. });
        let acted = act(self.ctx, &mut self.convo, action).await?;
        let mut text = acted.text;
        if self.vision
            && let Some(jpeg) = acted.screenshot
        {
            text.push_str("; the image follows");
            let caption = format!("Screenshot from browser call {}:", self.steps);
            self.images.push((caption, jpeg));
        }
        if acted.navigated
            && !observes
            && self.ctx.config.agent.page_map
            && let Some(map) = page::map(self.ctx).await
        {
            text.push_str(&format!("\n\nPage map:\n{map}"));
        }
        Some(text)
    }
}

/// An agent run's conversation with its model once the page is open: what the run was set
/// up with, and what it has counted so far.
pub(super) struct Turns<'a> {
    pub(super) ctx: &'a DriverContext,
    pub(super) driver: &'a AgentDriver,
    pub(super) endpoint: Endpoint,
    /// Validates `done`'s answer against `driver.output_schema`.
    pub(super) schema: Option<jsonschema::Validator>,
    /// The actions the task kind allows, as the model is offered them.
    pub(super) offered: Vec<&'static str>,
    pub(super) tool_defs: Vec<Value>,
    pub(super) max_steps: u32,
    pub(super) convo: Conversation,
    /// `browser` calls so far.
    pub(super) steps: u32,
    /// Replies in a row without a tool call.
    pub(super) silent: u32,
    /// Model calls in a row that failed.
    pub(super) failed_calls: u32,
    /// Screenshots go to the model as images.
    pub(super) vision: bool,
    /// Screenshots of this turn, put in after its tool results: `(caption, JPEG)`.
    pub(super) images: Vec<(String, Vec<u8>)>,
}
