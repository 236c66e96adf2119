//! `pilothouse run REQUEST.json` end to end, driving the built binary against pages this test
//! serves on 127.0.0.1: exit 2 naming the field for an invalid request, 0 for a completed run
//! (with a line per action), 1 for a failed run, and 130 when SIGINT cancels a running run — the
//! status says `cancelled` and no browser of the run is left. With 100 requests and a queue of 8,
//! every request still runs (the binary submits the rest as slots free), and a bad
//! `PILOTHOUSE_*` override exits 2 naming the variable and the key.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{FORM_PAGE, Page, Site, TestEnv};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

/// Bound on one CLI invocation: Chromium launch plus a few local actions.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

const GUARDRAILS: &str =
    r#""guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}"#;

/// A temp dir with a config file whose runs dir and profile root live inside it.
struct CliEnv {
    env: TestEnv,
    config: PathBuf,
}

impl CliEnv {
    fn new() -> Self {
        let env = TestEnv::new();
        let config = env.dir.path().join("pilothouse.toml");
        std::fs::write(&config, env.config_toml("")).unwrap();
        Self { env, config }
    }

    /// Writes a request file, with `{base}` replaced by the site's base URL.
    fn request(&self, name: &str, json: &str, site: Option<&Site>) -> PathBuf {
        let text = match site {
            Some(site) => json.replace("{base}", &format!("http://{}", site.addr)),
            None => json.to_owned(),
        };
        let path = self.env.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pilothouse"));
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        let output = tokio::time::timeout(CLI_TIMEOUT, self.command(args).output())
            .await
            .expect("pilothouse run did not finish in time")
            .unwrap();
        eprintln!(
            "--- stdout\n{}--- stderr\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The run id from the first line, `run <id>  (events: ...)`.
fn run_id_of(first_line: &str) -> pilothouse::RunId {
    first_line
        .strip_prefix("run ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("first line does not name the run: {first_line:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_request_exits_2_naming_the_field() {
    let cli = CliEnv::new();
    let bad_selector = cli.request(
        "bad_selector.json",
        r#"{"driver": {"type": "script", "steps": [
              {"action": "goto", "url": "http://127.0.0.1:9/"},
              {"action": "click", "selector": "  "}]}}"#,
        None,
    );
    let unknown_action = cli.request(
        "unknown_action.json",
        r#"{"driver": {"type": "script", "steps": [{"action": "fly"}]}}"#,
        None,
    );
    let unknown_field = cli.request(
        "unknown_field.json",
        r#"{"driver": {"type": "script", "steps": []}, "colour": "red"}"#,
        None,
    );
    for (path, field) in [
        (&bad_selector, "driver.steps[1].selector"),
        (&unknown_action, "driver.steps[0].action"),
        (&unknown_field, "colour"),
    ] {
        let output = cli.run(&["run", arg(path)]).await;
        assert_eq!(output.status.code(), Some(2), "{}", path.display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(field),
            "stderr does not name {field}: {stderr}"
        );
    }
    // Nothing started: the orchestrator never created its runs dir.
    assert!(!cli.env.runs_dir().exists(), "a run was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_run_exits_0_with_a_line_per_action() {
    let site = Site::serve(vec![("/form", Page::Html(FORM_PAGE.into()))]).await;
    let cli = CliEnv::new();
    let request = cli.request(
        "form.json",
        &format!(
            r##"{{"driver": {{"type": "script", "steps": [
                   {{"action": "goto", "url": "{{base}}/form"}},
                   {{"action": "type", "selector": "#name", "text": "Ada"}},
                   {{"action": "click", "selector": "#submit"}},
                   {{"action": "wait_for", "selector": "#out", "timeout_ms": 5000}},
                   {{"action": "extract", "selector": "#out", "store_as": "greeting"}}]}},
                 {GUARDRAILS}}}"##
        ),
        Some(&site),
    );
    // --runs-dir overrides the config file's runs_dir.
    let runs_dir = cli.env.dir.path().join("other-runs");
    let output = cli
        .run(&["run", arg(&request), "--runs-dir", arg(&runs_dir)])
        .await;
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let run_id = run_id_of(lines[0]);
    for (step, action) in ["goto", "type", "click", "wait_for", "extract"]
        .iter()
        .enumerate()
    {
        let prefix = format!("{:>3} {action} ", step + 1);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&prefix) && l.contains("  ok  ")),
            "no ok line for step {} ({action})",
            step + 1
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("      navigated http://"))
    );
    assert!(lines.contains(&"state     completed"), "{stdout}");
    assert!(
        stdout.contains(r#"greeting = "Hello, Ada! 50""#),
        "{stdout}"
    );

    let status_path = runs_dir.join(run_id.to_string()).join("status.json");
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&status_path).unwrap()).unwrap();
    assert_eq!(status["state"], "completed");
    assert_eq!(status["data"]["greeting"], "Hello, Ada! 50");
    assert!(!cli.env.runs_dir().exists(), "--runs-dir was not used");
    assert!(cli.env.browsers().is_empty(), "a browser outlived the CLI");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_run_exits_1_and_json_mode_prints_every_event() {
    let site = Site::serve(vec![(
        "/",
        Page::Html("<title>x</title><p>no button</p>".into()),
    )])
    .await;
    let cli = CliEnv::new();
    let request = cli.request(
        "missing.json",
        &format!(
            r##"{{"driver": {{"type": "script", "steps": [
                   {{"action": "goto", "url": "{{base}}/"}},
                   {{"action": "wait_for", "selector": "#never", "timeout_ms": 300}}]}},
                 {GUARDRAILS}}}"##
        ),
        Some(&site),
    );
    let output = cli.run(&["run", arg(&request), "--json"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    let (status, events) = lines.split_last().expect("no output");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    assert_eq!(events.last().unwrap()["type"], "finished");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "action" && e["action"] == "wait_for" && e["success"] == false)
    );
    assert_eq!(status["state"], "failed");
    assert_eq!(status["error"]["code"], "ACTION_FAILED");
    assert_eq!(status["last_seq"], events.len() as u64);
    let run_id: pilothouse::RunId = status["run_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(cli.env.status_json(run_id)["state"], "failed");
    assert!(cli.env.browsers().is_empty(), "a browser outlived the CLI");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_cancels_the_run_and_exits_130() {
    let site = Site::serve(vec![(
        "/",
        Page::Html("<title>x</title><p>waiting</p>".into()),
    )])
    .await;
    let cli = CliEnv::new();
    let request = long_wait_request(&cli, &site);
    let mut child = cli
        .command(&["run", arg(&request)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + CLI_TIMEOUT;
    let mut seen = read_through_the_goto(&mut stdout, deadline).await;
    let run_id = run_id_of(&seen[0]);
    assert!(
        !cli.env.browsers().is_empty(),
        "the run's browser is not running"
    );

    let interrupted = Instant::now();
    sigint(pid);
    seen.extend(read_to_the_end(&mut stdout, deadline).await);
    let exit = tokio::time::timeout_at(deadline.into(), child.wait())
        .await
        .expect("pilothouse did not exit in time")
        .unwrap();
    let took = interrupted.elapsed();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    eprintln!("--- stdout\n{}\n--- stderr\n{stderr}", seen.join("\n"));

    assert_eq!(exit.code(), Some(130), "exit status {exit:?}");
    assert!(
        took < Duration::from_secs(10),
        "SIGINT to exit took {took:?}"
    );
    assert!(seen.iter().any(|l| l == "state     cancelled"), "{seen:?}");
    let status = cli.env.status_json(run_id);
    assert_eq!(status["state"], "cancelled");
    assert_eq!(status["error"]["code"], "CANCELLED");
    // The binary shuts its orchestrator down before exiting: the browser is already gone.
    let left = cli.env.browsers();
    assert!(
        left.is_empty(),
        "Chromium processes outlived the CLI: {left:?}"
    );
}

/// A request file whose run opens the page, then waits 60 s for an element that never comes.
fn long_wait_request(cli: &CliEnv, site: &Site) -> PathBuf {
    cli.request(
        "long_wait.json",
        &format!(
            r##"{{"driver": {{"type": "script", "steps": [
                   {{"action": "goto", "url": "{{base}}/"}},
                   {{"action": "wait_for", "selector": "#never", "timeout_ms": 60000}}]}},
                 {GUARDRAILS}}}"##
        ),
        Some(site),
    )
}

/// Sends SIGINT to the CLI child (by its own pid).
fn sigint(pid: u32) {
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
}

/// Reads stdout until the goto's action line (the 60 s wait_for is dispatched right after it);
/// the lines read.
async fn read_through_the_goto(
    stdout: &mut Lines<BufReader<ChildStdout>>,
    deadline: Instant,
) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = tokio::time::timeout_at(deadline.into(), stdout.next_line())
            .await
            .expect("no action line in time")
            .unwrap()
            .unwrap_or_else(|| panic!("stdout ended before the first action: {seen:?}"));
        seen.push(line.clone());
        if line.starts_with("  1 goto ") {
            assert!(line.contains("  ok  "), "{line}");
            return seen;
        }
    }
}

/// The rest of stdout, read until it ends (by `deadline`).
async fn read_to_the_end(
    stdout: &mut Lines<BufReader<ChildStdout>>,
    deadline: Instant,
) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(line) = tokio::time::timeout_at(deadline.into(), stdout.next_line())
        .await
        .expect("stdout did not end in time")
        .unwrap()
    {
        seen.push(line);
    }
    seen
}

/// Bound on `pilothouse run` with 100 requests: each launches its own Chromium, four at a time
/// (about 80 s on a busy 2-core machine; nextest ends a test at 180 s).
const MANY_TIMEOUT: Duration = Duration::from_secs(170);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_requests_than_the_queue_holds_all_run_as_slots_free() {
    const REQUESTS: usize = 100;
    let site = Site::serve(vec![(
        "/",
        Page::Html("<!doctype html><title>One</title><h1 id=\"h\">one</h1>".into()),
    )])
    .await;
    let env = TestEnv::new();
    let (config, args) = write_config_and_requests(&env, &site, REQUESTS);
    let output = tokio::time::timeout(
        MANY_TIMEOUT,
        Command::new(env!("CARGO_BIN_EXE_pilothouse"))
            .args(&args)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("pilothouse run did not finish in time")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    // The final statuses: one JSON line per run, after the event lines (which carry a `seq`).
    let finals: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v.get("seq").is_none() && v.get("state").is_some())
        .collect();
    assert_eq!(finals.len(), REQUESTS, "stderr: {stderr}");
    let mut labels: Vec<u64> = finals
        .iter()
        .map(|status| {
            assert_eq!(status["state"], "completed", "{status}");
            assert_eq!(status["data"]["h"], "one", "{status}");
            status["labels"]["n"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    labels.sort_unstable();
    assert_eq!(labels, (0..REQUESTS as u64).collect::<Vec<_>>());
    assert!(!stderr.contains("queue full"), "{stderr}");
    env.assert_no_browsers().await;
}

/// A config with a queue of 8 (4 running + 8 queued: the 13th submission meets QueueFull) and
/// no recording, and `n` requests that each extract `#h`, labelled `n`; the config's path and
/// the `run --json REQUEST…` arguments.
fn write_config_and_requests(env: &TestEnv, site: &Site, n: usize) -> (PathBuf, Vec<String>) {
    let config = env.dir.path().join("pilothouse.toml");
    let text = env.config_toml("queue_capacity = 8\n")
        + "screenshots = false\nactions = false\nfinal_dom = false\nreport = false\nupload = false\n";
    std::fs::write(&config, text).unwrap();
    let mut args = vec!["run".to_owned(), "--json".to_owned()];
    for i in 0..n {
        let path = env.dir.path().join(format!("request_{i:03}.json"));
        let json = format!(
            r##"{{"start_url": "http://{}/", "driver": {{"type": "script", "steps": [
                   {{"action": "extract", "selector": "#h", "store_as": "h"}}]}},
                 "labels": {{"n": "{i}"}}, {GUARDRAILS}}}"##,
            site.addr
        );
        std::fs::write(&path, json).unwrap();
        args.push(path.to_str().unwrap().to_owned());
    }
    (config, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_environment_override_exits_2_naming_the_variable_and_key() {
    let cli = CliEnv::new();
    let request = cli.request(
        "ok.json",
        r#"{"driver": {"type": "script", "steps": [{"action": "goto", "url": "http://127.0.0.1:9/"}]}}"#,
        None,
    );
    let output = tokio::time::timeout(
        CLI_TIMEOUT,
        cli.command(&["run", arg(&request)])
            .env("PILOTHOUSE_AGENT__MAX_STEPS", "lots")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            r#"PILOTHOUSE_AGENT__MAX_STEPS: invalid value "lots" for agent.max_steps: expected an integer"#
        ),
        "{stderr}"
    );
    assert!(!cli.env.runs_dir().exists(), "a run was stored");
}

/// Page text is hostile to terminals: escape sequences that set the window title (OSC 0), write
/// the clipboard (OSC 52) and move the cursor to forge a `state completed` line. The human output
/// carries none of them (what is left of a sequence without its ESC is inert text); `--json`
/// keeps the text exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_text_cannot_write_to_the_operators_terminal() {
    let hostile = r#"<title>t</title><p id="t"></p><script>
        document.getElementById('t').textContent = 'visible\u001b]0;pwned-title\u0007 ' +
          '\u001b]52;c;cHduZWQtY2xpcA==\u001b\\ \u001b[2K\u001b[1A\r\nstate     completed\u009b2J';
        document.title = 'x\u001b]0;pwned-title\u0007';
        </script>"#;
    let site = Site::serve(vec![("/", Page::Html(hostile.into()))]).await;
    let cli = CliEnv::new();
    let request = cli.request(
        "hostile.json",
        &format!(
            r##"{{"driver": {{"type": "script", "steps": [
                   {{"action": "goto", "url": "{{base}}/"}},
                   {{"action": "extract", "selector": "#t", "store_as": "text"}},
                   {{"action": "evaluate", "script": "document.title"}},
                   {{"action": "wait_for", "selector": "#t:not(:empty) + #never", "timeout_ms": 300}}]}},
                 {GUARDRAILS}}}"##
        ),
        Some(&site),
    );
    let output = cli.run(&["run", arg(&request)]).await;
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let controls: Vec<char> = stdout
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(
        controls.is_empty(),
        "control characters {controls:?} in {stdout}"
    );
    assert!(stdout.contains("visible"), "{stdout}");
    let states: Vec<&str> = stdout.lines().filter(|l| l.starts_with("state")).collect();
    assert_eq!(states, ["state     failed"], "{stdout}");

    let output = cli.run(&["run", arg(&request), "--json"]).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    let status: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("no output")).unwrap();
    let text = status["data"]["text"].as_str().unwrap();
    assert!(text.contains("\u{1b}]0;pwned-title\u{7}"), "{text:?}");
    assert!(cli.env.browsers().is_empty(), "a browser outlived the CLI");
}
