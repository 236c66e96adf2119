//! The client commands — `status`, `events`, `runs`, `cancel` — against a running
//! `pilothouse serve` (`--server URL`, the key from `PILOTHOUSE_API_KEY`). They print what
//! `pilothouse run` prints; failures say what went wrong and how to fix it.
//!
//! Exit codes: 0 success (`events --follow` follows the run's outcome like `run`), 1 the server
//! is unreachable or answered an error (401, 404, 5xx), 2 invalid arguments.

use std::time::Duration;

use pilothouse::{API_KEY_ENV, EventKind, RunEvent, RunStatus};
use reqwest::StatusCode;
use serde_json::Value;

use super::output;
use crate::host::{EXIT_COMPLETED, EXIT_FAILED, EXIT_INVALID, exit_code_for};

/// Where the commands look for a server unless `--server` says otherwise.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8787";
/// Bound on one request/response that is not a stream.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The server to talk to.
#[derive(Debug, clap::Args)]
pub(crate) struct ServerArg {
    /// The server's base URL (the key comes from PILOTHOUSE_API_KEY).
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER)]
    server: String,
}

/// Arguments of `pilothouse status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The run id.
    run_id: String,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArg,
}

/// Arguments of `pilothouse events`.
#[derive(Debug, clap::Args)]
pub(crate) struct EventsArgs {
    /// The run id.
    run_id: String,
    /// Keep following until the run ends (exit code as `pilothouse run`).
    #[arg(long)]
    follow: bool,
    /// Only events after this seq.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    after: u64,
    /// Print each event as one JSON line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArg,
}

/// Arguments of `pilothouse runs`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunsArgs {
    /// Only runs in this state (queued, running, completed, failed, ...).
    #[arg(long, value_name = "STATE")]
    state: Option<String>,
    /// The most runs to show.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[command(flatten)]
    server: ServerArg,
}

/// Arguments of `pilothouse cancel`.
#[derive(Debug, clap::Args)]
pub(crate) struct CancelArgs {
    /// The run id.
    run_id: String,
    #[command(flatten)]
    server: ServerArg,
}

/// A command's failure: what to print and the exit code.
struct Failure {
    message: String,
    exit: u8,
}

type Outcome<T> = Result<T, Failure>;

/// An HTTP client for one server.
struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Client {
    fn new(server: &ServerArg) -> Outcome<Self> {
        let base = server.server.trim_end_matches('/').to_owned();
        if reqwest::Url::parse(&base).is_err() {
            return Err(Failure {
                message: format!("--server: `{base}` is not a URL; e.g. {DEFAULT_SERVER}"),
                exit: EXIT_INVALID,
            });
        }
        let http = reqwest::Client::builder().build().map_err(|e| Failure {
            message: format!("cannot build an HTTP client: {e}"),
            exit: EXIT_FAILED,
        })?;
        let key = std::env::var(API_KEY_ENV).ok().filter(|k| !k.is_empty());
        Ok(Self { http, base, key })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// Sends and checks the status: a clear failure for unreachable, 401, 404 and the rest.
    async fn send(&self, builder: reqwest::RequestBuilder) -> Outcome<reqwest::Response> {
        let response = builder.send().await.map_err(|e| Failure {
            message: format!(
                "cannot reach the server at {}: {e}; is `pilothouse serve` running there? \
                 (--server URL)",
                self.base
            ),
            exit: EXIT_FAILED,
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let said = body["error"]["message"]
            .as_str()
            .unwrap_or("no details")
            .to_owned();
        let message = match status {
            StatusCode::UNAUTHORIZED => format!(
                "unauthorized: the server needs an API key; set {API_KEY_ENV} to its key ({said})"
            ),
            StatusCode::NOT_FOUND => format!("not found: {said}"),
            _ => format!("the server answered {status}: {said}"),
        };
        Err(Failure {
            message,
            exit: EXIT_FAILED,
        })
    }

    async fn get_json(&self, path: &str) -> Outcome<Value> {
        let response = self
            .send(
                self.request(reqwest::Method::GET, path)
                    .timeout(REQUEST_TIMEOUT),
            )
            .await?;
        response.json().await.map_err(|e| Failure {
            message: format!("the server's answer is not JSON: {e}"),
            exit: EXIT_FAILED,
        })
    }
}

/// Runs a client command: prints its failure and maps it to the exit code.
async fn finish(outcome: Outcome<u8>) -> anyhow::Result<u8> {
    Ok(outcome.unwrap_or_else(|failure| {
        say_err!("error: {}", failure.message);
        failure.exit
    }))
}

/// `pilothouse status ID`.
pub(crate) async fn status(args: StatusArgs) -> anyhow::Result<u8> {
    finish(
        async {
            let client = Client::new(&args.server)?;
            let value = client
                .get_json(&format!("/runs/{}", segment(&args.run_id)?))
                .await?;
            if args.json {
                say!("{value}");
            } else {
                let status = parse_status(value)?;
                say!("run       {}", status.run_id);
                say!("{}", output::status_summary(&status).trim_end());
            }
            Ok(EXIT_COMPLETED)
        }
        .await,
    )
    .await
}

/// `pilothouse events ID [--follow] [--after N]`: one line per event, as `pilothouse run`.
pub(crate) async fn events(args: EventsArgs) -> anyhow::Result<u8> {
    finish(follow_events(&args).await).await
}

async fn follow_events(args: &EventsArgs) -> Outcome<u8> {
    let client = Client::new(&args.server)?;
    // Without --follow the server ends the stream after the events logged so far.
    let path = format!(
        "/runs/{}/events?after={}&follow={}",
        segment(&args.run_id)?,
        args.after,
        args.follow
    );
    let mut response = client
        .send(client.request(reqwest::Method::GET, &path))
        .await?;
    let mut parser = SseParser::default();
    let mut final_state = None;
    loop {
        let chunk = response.chunk().await.map_err(|e| Failure {
            message: format!("the event stream broke: {e}; resume with --after <last seq>"),
            exit: EXIT_FAILED,
        })?;
        let Some(chunk) = chunk else { break };
        for data in parser.push(&chunk) {
            let event: RunEvent = serde_json::from_str(&data).map_err(|e| Failure {
                message: format!("an event is not a RunEvent: {e}"),
                exit: EXIT_FAILED,
            })?;
            if args.json {
                say!("{data}");
            } else if let Some(line) = output::event_line(&event) {
                say!("{line}");
            }
            if let EventKind::Finished { status } = event.kind {
                if !args.json {
                    say!("{}", output::status_summary(&status).trim_end());
                }
                final_state = Some(status.state);
            }
        }
    }
    Ok(match final_state {
        Some(state) if args.follow => exit_code_for(state),
        _ => EXIT_COMPLETED,
    })
}

/// `pilothouse runs [--state S]`: one line per run, newest first.
pub(crate) async fn runs(args: RunsArgs) -> anyhow::Result<u8> {
    finish(
        async {
            let client = Client::new(&args.server)?;
            let mut path = format!("/runs?limit={}", args.limit);
            if let Some(state) = &args.state {
                path.push_str(&format!("&state={}", urlencode(state)));
            }
            let page = client.get_json(&path).await?;
            for run in page["runs"].as_array().into_iter().flatten() {
                let status = parse_status(run.clone())?;
                let labels: Vec<String> = status
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                say!(
                    "{}  {:<11}  {}  {}",
                    status.run_id,
                    status.state.as_str(),
                    status.created_at.format("%Y-%m-%d %H:%M:%S"),
                    output::terminal_safe(&labels.join(","))
                );
            }
            Ok(EXIT_COMPLETED)
        }
        .await,
    )
    .await
}

/// `pilothouse cancel ID`.
pub(crate) async fn cancel(args: CancelArgs) -> anyhow::Result<u8> {
    finish(
        async {
            let client = Client::new(&args.server)?;
            let path = format!("/runs/{}/cancel", segment(&args.run_id)?);
            let response = client
                .send(
                    client
                        .request(reqwest::Method::POST, &path)
                        .timeout(REQUEST_TIMEOUT),
                )
                .await?;
            let ack: Value = response.json().await.unwrap_or(Value::Null);
            let line = format!(
                "run {}  {}  ({})",
                args.run_id,
                ack["cancel"].as_str().unwrap_or("cancelling"),
                ack["state"].as_str().unwrap_or("unknown state")
            );
            say!("{}", output::terminal_safe(&line));
            Ok(EXIT_COMPLETED)
        }
        .await,
    )
    .await
}

/// A run id fit for a URL path: ids are UUIDs, so anything else is refused before sending.
fn segment(run_id: &str) -> Outcome<&str> {
    if run_id.parse::<pilothouse::RunId>().is_ok() {
        Ok(run_id)
    } else {
        Err(Failure {
            message: format!("`{run_id}` is not a run id (a UUID, as `pilothouse runs` lists)"),
            exit: EXIT_INVALID,
        })
    }
}

fn parse_status(value: Value) -> Outcome<RunStatus> {
    serde_json::from_value(value).map_err(|e| Failure {
        message: format!("the server's status is not a RunStatus: {e}"),
        exit: EXIT_FAILED,
    })
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Server-sent events, split into the `data` of each event (comments and other fields are
/// dropped: the event's JSON carries its seq and type).
#[derive(Default)]
struct SseParser {
    pending: Vec<u8>,
    data: Vec<String>,
}

impl SseParser {
    /// Feeds bytes; returns the data of every event they complete.
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut complete = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    complete.push(std::mem::take(&mut self.data).join("\n"));
                }
            } else if let Some(value) = line.strip_prefix("data:") {
                self.data
                    .push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            }
        }
        complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks_come_out_whole() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"id: 1\nevent: queued\nda").is_empty());
        assert_eq!(
            parser.push(b"ta: {\"a\":1}\n\n: heartbeat\n\n"),
            vec!["{\"a\":1}"]
        );
        assert_eq!(parser.push(b"data: x\r\ndata: y\r\n\r\n"), vec!["x\ny"]);
    }
}
