//! A `pilothouse serve` child process for black-box API tests: started on a free loopback port
//! with a temp config, reached with a real HTTP client, stopped only by its own pid.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use pilothouse::RunId;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

use super::TestEnv;
use super::eventually::eventually;

/// Bound on the server's start (the listening line) and on its exit after SIGTERM.
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on a run reaching a state the test waits for.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Guardrails that let a run visit the test's own pages on 127.0.0.1.
pub const LOOPBACK: &str =
    r#""guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}"#;

/// A running `pilothouse serve`.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub base: String,
    /// The bearer token the helpers send, if any.
    pub key: Option<String>,
    pub http: reqwest::Client,
    pub stderr_path: PathBuf,
    pub config_path: PathBuf,
}

/// The config file text: the env's dirs, `top_level` keys, and `[server]` keys.
pub fn config_text(env: &TestEnv, top_level: &str, server: &str) -> String {
    format!("{}[server]\n{server}\n", env.config_toml(top_level))
}

impl Server {
    /// Starts `pilothouse serve --bind 127.0.0.1:0` with the env's dirs plus the given keys.
    pub async fn start(env: &TestEnv, top_level: &str, server: &str) -> Self {
        Self::start_with(env, top_level, server, &[], None).await
    }

    /// As `start`, with extra environment variables and the key the helpers should send.
    pub async fn start_with(
        env: &TestEnv,
        top_level: &str,
        server: &str,
        vars: &[(&str, &str)],
        key: Option<&str>,
    ) -> Self {
        let config_path = env.dir.path().join("server.toml");
        std::fs::write(&config_path, config_text(env, top_level, server)).unwrap();
        let stderr_path = env.dir.path().join("server.stderr");
        let mut command = serve_command(&config_path, "127.0.0.1:0", vars);
        command.stderr(std::fs::File::create(&stderr_path).unwrap());
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(SERVER_TIMEOUT, lines.next_line())
            .await
            .expect("the server did not print its address in time")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "the server exited before listening: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                )
            });
        let base = line
            .strip_prefix("pilothouse listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self {
            child,
            base,
            key: key.map(str::to_owned),
            http: reqwest::Client::new(),
            stderr_path,
            config_path,
        }
    }

    /// Fails unless every run's browser is gone and the server's pool has no context leased
    /// (its warm processes stay until the server stops).
    pub async fn assert_no_run_browsers(&self, env: &TestEnv) {
        eventually(
            Duration::from_secs(5),
            "no run browser left and no context leased",
            async || {
                let ready: Value = self.get("/ready").await.json().await.unwrap_or_default();
                let leased = ready["pool"]["leased"].as_u64();
                let left = env.run_browsers();
                if left.is_empty() && leased == Some(0) {
                    Ok(())
                } else {
                    Err(format!(
                        "run browsers left: {left:?}; pool: {}",
                        ready["pool"]
                    ))
                }
            },
        )
        .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    fn authed(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.authed(self.http.get(self.url(path)))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.authed(self.http.post(self.url(path)))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// GET, expecting `status`; the JSON body.
    pub async fn get_json(&self, path: &str, status: u16) -> Value {
        let response = self.get(path).await;
        json_with_status(response, status).await
    }

    /// Submits a run (201 expected); its id.
    pub async fn submit(&self, request: &str) -> RunId {
        let body = json_with_status(self.post("/runs", request.to_owned()).await, 201).await;
        body["run_id"].as_str().unwrap().parse().unwrap()
    }

    /// Polls the run's status until `done` holds; the status.
    pub async fn wait_for(&self, run_id: RunId, done: impl Fn(&Value) -> bool) -> Value {
        eventually(
            RUN_TIMEOUT,
            &format!("run {run_id} gets there"),
            async || {
                let status = self.get_json(&format!("/runs/{run_id}"), 200).await;
                if done(&status) {
                    Ok(status)
                } else {
                    Err(status.to_string())
                }
            },
        )
        .await
    }

    /// Waits until the run is terminal; its status.
    pub async fn wait_terminal(&self, run_id: RunId) -> Value {
        self.wait_for(run_id, |s| {
            !matches!(s["state"].as_str(), Some("queued" | "starting" | "running"))
        })
        .await
    }

    /// Sends a raw HTTP/1.1 GET with `path` exactly as given (no client-side normalization of
    /// `..`); the status code and body.
    pub async fn raw_get(&self, path: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.addr()).await.unwrap();
        let auth = self
            .key
            .as_ref()
            .map(|k| format!("Authorization: Bearer {k}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
            self.addr()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(SERVER_TIMEOUT, stream.read_to_string(&mut response))
            .await
            .expect("no raw response in time")
            .unwrap();
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (code, body)
    }

    /// Sends SIGTERM to this server (by its own pid).
    pub fn sigterm(&self) {
        let pid = self.child.id().expect("the server already exited");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Waits for the server to exit; its status.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        tokio::time::timeout(SERVER_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the server did not exit in time: {}", self.stderr()))
            .unwrap()
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Runs a client command of the binary against this server; (exit code, stdout, stderr).
    pub async fn client(&self, args: &[&str], key: Option<&str>) -> (i32, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pilothouse"));
        command
            .args(args)
            .args(["--server", &self.base])
            .env_remove(pilothouse::API_KEY_ENV)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(key) = key {
            command.env(pilothouse::API_KEY_ENV, key);
        }
        let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
            .await
            .expect("the client command did not finish in time")
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only our own child, by its handle (SIGKILL if the test ended without stopping it).
        let _ = self.child.start_kill();
    }
}

/// `pilothouse serve --config FILE --bind ADDR` with stdout piped and no inherited API key.
pub fn serve_command(config: &std::path::Path, bind: &str, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pilothouse"));
    command
        .args(["serve", "--bind", bind, "--config"])
        .arg(config)
        .env_remove(pilothouse::API_KEY_ENV)
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The JSON body, after checking the status code (the body is shown when it differs).
pub async fn json_with_status(response: reqwest::Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(code, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The `{"error": {...}}` body's code, checking the shape on the way.
pub fn error_code(body: &Value) -> &str {
    let error = &body["error"];
    assert!(error["message"].is_string(), "no error message: {body}");
    assert!(error["details"].is_object(), "no error details: {body}");
    error["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {body}"))
}

/// Parses an SSE body into (id, event, data) frames; comments are returned as ("", ":", text).
pub fn sse_frames(text: &str) -> Vec<(String, String, String)> {
    let mut frames = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let (mut id, mut event, mut data) = (String::new(), String::new(), Vec::new());
        for line in block.lines() {
            if let Some(comment) = line.strip_prefix(':') {
                frames.push((String::new(), ":".to_owned(), comment.trim().to_owned()));
            } else if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
            }
        }
        if !data.is_empty() || !id.is_empty() {
            frames.push((id, event, data.join("\n")));
        }
    }
    frames
}
