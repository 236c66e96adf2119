//! A scripted OpenAI-compatible Chat Completions server on 127.0.0.1 for agent tests: it
//! checks every request it receives and answers with pre-planned replies.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The browser actions an agent is offered in an `interact` run (every action but `sequence`).
pub const INTERACT_ACTIONS: &[&str] = &[
    "goto",
    "click",
    "type",
    "press_key",
    "scroll",
    "select",
    "hover",
    "wait_for",
    "extract",
    "evaluate",
    "observe",
    "screenshot",
];

/// What a `read` run offers, in the tool's order.
pub const READ_ACTIONS: &[&str] = &[
    "goto",
    "click",
    "scroll",
    "hover",
    "wait_for",
    "extract",
    "observe",
    "screenshot",
];

/// One planned reply: an HTTP error, or tool calls `(name, arguments)`.
pub enum Planned {
    Status(u16),
    Calls(Vec<(&'static str, String)>),
}

#[derive(Clone)]
pub struct Model {
    pub plan: Arc<Mutex<Vec<Planned>>>,
    /// What went wrong on the server's side; the test asserts it stays empty.
    pub problems: Arc<Mutex<Vec<String>>>,
    /// Every request body, in order.
    pub seen: Arc<Mutex<Vec<Value>>>,
    /// The `Authorization` header of every request (`None`: none sent), in order.
    pub authorizations: Arc<Mutex<Vec<Option<String>>>>,
    /// The API key every request must carry as a Bearer token; `None`: not checked here (the
    /// test reads `authorizations` itself).
    pub api_key: Option<String>,
    pub expected_actions: Vec<&'static str>,
    /// A value that must appear in no request.
    pub secret: &'static str,
    /// Credential names the system prompt must offer.
    pub credential_names: Vec<&'static str>,
}

impl Model {
    /// A server for an `interact` run that replies with `plan`, checking that `secret` appears
    /// in no request and that each of `credential_names` is offered.
    pub fn new(
        plan: Vec<Planned>,
        secret: &'static str,
        credential_names: Vec<&'static str>,
    ) -> Self {
        Self {
            plan: Arc::new(Mutex::new(plan)),
            problems: Arc::default(),
            seen: Arc::default(),
            authorizations: Arc::default(),
            api_key: Some("test-key".into()),
            secret,
            credential_names,
            expected_actions: INTERACT_ACTIONS.to_vec(),
        }
    }
}

fn check(problems: &Mutex<Vec<String>>, ok: bool, what: String) {
    if !ok {
        problems.lock().unwrap().push(what);
    }
}

/// The Chat Completions route: records the request, checks it (see `check_headers` and
/// `check_request`), and answers with the next planned reply.
async fn completions(State(model): State<Model>, headers: HeaderMap, body: String) -> Response {
    let n = model.seen.lock().unwrap().len();
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    model.seen.lock().unwrap().push(request.clone());
    check(
        &model.problems,
        !body.contains(model.secret),
        format!("request {n} carries the credential value"),
    );
    check_headers(&model, n, &headers);
    check_request(&model, n, &request);
    next_reply(&model, n)
}

/// Records request `n`'s `Authorization` header and checks it carries the bearer key (when the
/// model checks one).
fn check_headers(model: &Model, n: usize, headers: &HeaderMap) {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    model
        .authorizations
        .lock()
        .unwrap()
        .push(authorization.clone());
    if let Some(key) = &model.api_key {
        check(
            &model.problems,
            authorization == Some(format!("Bearer {key}")),
            format!("request {n}: not the bearer key {key}: {authorization:?}"),
        );
    }
}

/// Request `n` offers the `browser` and `done` tools with the expected actions, names the
/// model, carries an observation, and its system prompt offers every credential name.
fn check_request(model: &Model, n: usize, request: &Value) {
    let p = &model.problems;
    let tools = &request["tools"];
    let names: Vec<&str> = tools
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["function"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    check(
        p,
        names == ["browser", "done"],
        format!("request {n}: tools {names:?}"),
    );
    let actions = &tools[0]["function"]["parameters"]["properties"]["action"]["enum"];
    check(
        p,
        actions == &json!(model.expected_actions),
        format!("request {n}: browser actions {actions}"),
    );
    check(
        p,
        request["model"] == "scripted-model",
        format!("request {n}: model {}", request["model"]),
    );
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    check(
        p,
        messages.iter().any(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("[web-content-start]"))
        }),
        format!("request {n}: no observation in the messages"),
    );
    let system = messages
        .first()
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    for name in &model.credential_names {
        check(
            p,
            system.contains(name),
            format!("request {n}: the credential name `{name}` is not offered"),
        );
    }
}

/// The next planned reply to request `n` (an unplanned request is a problem and a 400).
fn next_reply(model: &Model, n: usize) -> Response {
    let planned = {
        let mut plan = model.plan.lock().unwrap();
        if plan.is_empty() {
            None
        } else {
            Some(plan.remove(0))
        }
    };
    match planned {
        None => {
            check(
                &model.problems,
                false,
                format!("request {n}: nothing planned"),
            );
            (StatusCode::BAD_REQUEST, "unplanned").into_response()
        }
        Some(Planned::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap();
            (status, [("retry-after", "0")], "try again").into_response()
        }
        Some(Planned::Calls(calls)) => {
            let calls: Vec<Value> = calls
                .into_iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    json!({"id": format!("call_{n}_{i}"), "type": "function",
                           "function": {"name": name, "arguments": args}})
                })
                .collect();
            Json(json!({
                "id": format!("chatcmpl-{n}"), "object": "chat.completion",
                "choices": [{"index": 0, "finish_reason": "tool_calls",
                             "message": {"role": "assistant", "content": null, "tool_calls": calls}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
            }))
            .into_response()
        }
    }
}

pub async fn serve_model(model: Model) -> String {
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .with_state(model);
    serve_api(app).await
}

/// Serves `app` (a `/v1/chat/completions` route) on a free loopback port; its API base.
pub async fn serve_api(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

pub fn browser(args: Value) -> (&'static str, String) {
    ("browser", args.to_string())
}
