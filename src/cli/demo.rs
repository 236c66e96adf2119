//! `pilothouse demo`: serves the bundled demo site on 127.0.0.1 and runs the example requests of
//! `config/examples/` concurrently through one orchestrator, with a progress line per action and
//! a closing summary table. Each example says in its `labels` which state it should end in
//! (`expect`, default `completed`) and, optionally, which error code (`expect_error`); the demo
//! exits 0 when every run ended as expected.

use std::path::PathBuf;

use anyhow::Context as _;
use futures::StreamExt as _;
use futures::stream::select_all;
use pilothouse::{
    Config, DriverSpec, EventKind, Orchestrator, OrchestratorHandle, RunEvent, RunId, RunRequest,
    RunState, RunStatus,
};

use super::demo_site::{DemoSite, EXAMPLES_PORT};
use super::output;
use crate::host::{
    EXIT_CANCELLED, EXIT_COMPLETED, EXIT_FAILED, EXIT_INVALID, Interrupts, SHUTDOWN_GRACE,
    interrupts, load_config,
};

/// The example requests, by name. They target `http://127.0.0.1:8080`; the demo rewrites that to
/// the address it actually serves on.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "form_greeting",
        include_str!("../../config/examples/form_greeting.json"),
    ),
    (
        "products_table",
        include_str!("../../config/examples/products_table.json"),
    ),
    (
        "slow_report_screenshot",
        include_str!("../../config/examples/slow_report_screenshot.json"),
    ),
    (
        "blocked_navigation",
        include_str!("../../config/examples/blocked_navigation.json"),
    ),
    (
        "playbook_greeting",
        include_str!("../../config/examples/playbook_greeting.json"),
    ),
    (
        "account_login",
        include_str!("../../config/examples/account_login.json"),
    ),
    // Second wave (listed last): reuses the session `account_login` saved.
    (
        "invoices_api",
        include_str!("../../config/examples/invoices_api.json"),
    ),
];

/// The playbooks the examples name, embedded so the demo runs from any directory (the examples
/// themselves load them from `[playbooks] dir`).
const PLAYBOOKS: &[(&str, &str)] = &[
    (
        "greet_visitor",
        include_str!("../../config/playbooks/greet_visitor.yaml"),
    ),
    (
        "demo_account",
        include_str!("../../config/playbooks/demo_account.yaml"),
    ),
    (
        "demo_invoices",
        include_str!("../../config/playbooks/demo_invoices.yaml"),
    ),
];

/// Gives a request that names a bundled playbook by id that playbook's YAML instead.
fn embed_playbook(request: &mut RunRequest, site: &DemoSite) {
    if let DriverSpec::Playbook(spec) = &mut request.driver
        && let Some((_, yaml)) = PLAYBOOKS.iter().find(|(id, _)| spec.playbook == *id)
    {
        spec.playbook = serde_json::Value::from(site.rewrite(yaml));
    }
}

/// Arguments of `pilothouse demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Port of the demo site on 127.0.0.1 (0: any free port). When it is taken, a free port is
    /// used instead and the examples are pointed at it.
    #[arg(long, default_value_t = EXAMPLES_PORT)]
    port: u16,
    /// Only serve the demo site until Ctrl-C, e.g. for `pilothouse run config/examples/...`.
    #[arg(long)]
    serve_only: bool,
    /// Where to keep runs/<run_id>/ (overrides the config's `runs_dir`).
    #[arg(long, value_name = "DIR")]
    runs_dir: Option<PathBuf>,
    /// A TOML config file (see config/default.toml); defaults apply without one.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// One example as the demo runs it.
struct DemoRun {
    name: &'static str,
    expect_state: String,
    expect_error: Option<String>,
    /// Labelled `"wave": "2"`: runs after the others (see `drive_waves`).
    second_wave: bool,
    run_id: Option<RunId>,
    /// Why it could not be submitted.
    refused: Option<String>,
    status: Option<RunStatus>,
}

impl DemoRun {
    /// An example about to be submitted; its labels say what it should end as.
    fn new(name: &'static str, request: &RunRequest) -> Self {
        Self {
            name,
            expect_state: request
                .labels
                .get("expect")
                .cloned()
                .unwrap_or_else(|| RunState::Completed.as_str().to_owned()),
            expect_error: request.labels.get("expect_error").cloned(),
            second_wave: request.labels.get("wave").is_some_and(|w| w == "2"),
            run_id: None,
            refused: None,
            status: None,
        }
    }

    fn as_expected(&self) -> bool {
        let Some(status) = &self.status else {
            return false;
        };
        let error_code = status.error.as_ref().map(|e| output::code_name(e.code));
        status.state.as_str() == self.expect_state
            && self
                .expect_error
                .as_ref()
                .is_none_or(|code| error_code.as_ref() == Some(code))
    }

    fn expectation(&self) -> String {
        match &self.expect_error {
            Some(code) => format!("{} {code}", self.expect_state),
            None => self.expect_state.clone(),
        }
    }
}

/// Runs the command; returns the exit code.
pub(crate) async fn demo(args: DemoArgs) -> anyhow::Result<u8> {
    let config = match load_config(args.config.as_deref(), args.runs_dir.clone()) {
        Ok(config) => config,
        Err(message) => {
            say_err!("error: {message}");
            return Ok(EXIT_INVALID);
        }
    };
    let mut config = config;
    if config.sessions == pilothouse::SessionsConfig::default() {
        // The demo keeps the session its sign-in saves next to its runs, not in the cwd.
        let parent = config
            .runs_dir
            .parent()
            .unwrap_or(std::path::Path::new("."));
        config.sessions.dir = parent.join("sessions");
    }
    let mut sigint = interrupts()?;
    let site = serve_site(args.port).await?;
    if args.serve_only {
        return serve_only(&site, &mut sigint).await;
    }
    say!("demo site: {}/", site.base_url());
    let (mut runs, requests) = prepare(&site, &config)?;

    let orchestrator = Orchestrator::start(config.clone())
        .await
        .context("cannot start the orchestrator")?;
    let interrupted = drive_waves(&orchestrator, &mut runs, requests, &mut sigint).await;
    orchestrator.shutdown(SHUTDOWN_GRACE).await;
    let sign_ins = site.accounts.sign_ins();
    drop(site);
    let interrupted = interrupted?;

    print_summary(&runs, &config);
    say!("the demo site saw {sign_ins} sign-in(s)");
    Ok(if interrupted {
        EXIT_CANCELLED
    } else if runs.iter().all(DemoRun::as_expected) {
        EXIT_COMPLETED
    } else {
        EXIT_FAILED
    })
}

/// Serves the demo site on `port`, or on a free port when that one is taken (and says so).
async fn serve_site(port: u16) -> anyhow::Result<DemoSite> {
    let site = DemoSite::serve(port)
        .await
        .with_context(|| format!("cannot serve the demo site on 127.0.0.1:{port}"))?;
    if site.fell_back {
        say!(
            "port {} is taken; serving on {} instead",
            port,
            site.addr.port()
        );
    }
    Ok(site)
}

/// The bundled examples pointed at `site` and validated against `config`, each with what the
/// demo expects of it.
fn prepare(site: &DemoSite, config: &Config) -> anyhow::Result<(Vec<DemoRun>, Vec<RunRequest>)> {
    let mut runs = Vec::new();
    let mut requests = Vec::new();
    for (name, json) in EXAMPLES {
        let mut request = RunRequest::from_json(&site.rewrite(json))
            .with_context(|| format!("the bundled example {name}.json does not parse"))?;
        embed_playbook(&mut request, site);
        request
            .validate(config)
            .with_context(|| format!("the bundled example {name}.json is invalid"))?;
        runs.push(DemoRun::new(name, &request));
        requests.push(request);
    }
    Ok((runs, requests))
}

/// Serves until Ctrl-C.
async fn serve_only(site: &DemoSite, sigint: &mut Interrupts) -> anyhow::Result<u8> {
    say!(
        "serving the demo site on {}/ (Ctrl-C stops it)",
        site.base_url()
    );
    if site.addr.port() == EXAMPLES_PORT {
        say!("in another terminal: cargo run -- run config/examples/form_greeting.json");
    } else {
        say!(
            "note: the examples in config/examples/ name port {EXAMPLES_PORT}; \
             copy one and change its port to {} to run it against this site",
            site.addr.port()
        );
    }
    sigint.recv().await;
    say!("stopped");
    Ok(EXIT_COMPLETED)
}

/// Runs the examples labelled `"wave": "2"` (listed last) once every other has ended: they
/// reuse what the first ones saved (a signed-in session). Returns whether Ctrl-C cancelled.
async fn drive_waves(
    orchestrator: &Orchestrator,
    runs: &mut [DemoRun],
    mut requests: Vec<RunRequest>,
    sigint: &mut Interrupts,
) -> anyhow::Result<bool> {
    let split = runs
        .iter()
        .position(|r| r.second_wave)
        .unwrap_or(runs.len());
    let later = requests.split_off(split);
    let (first, second) = runs.split_at_mut(split);
    let interrupted = drive(orchestrator, first, requests, sigint).await?;
    if interrupted || second.is_empty() {
        return Ok(interrupted);
    }
    say!(
        "\nthen {} example(s) that reuse what those saved\n",
        second.len()
    );
    drive(orchestrator, second, later, sigint).await
}

/// Submits every example, prints each run's events as they happen, and fills in the final
/// statuses. Returns whether Ctrl-C cancelled the runs.
async fn drive(
    orchestrator: &Orchestrator,
    runs: &mut [DemoRun],
    requests: Vec<RunRequest>,
    sigint: &mut Interrupts,
) -> anyhow::Result<bool> {
    let handle = orchestrator.handle();
    let streams = submit_all(&handle, runs, requests).await?;
    let submitted: Vec<RunId> = runs.iter().filter_map(|r| r.run_id).collect();
    say!(
        "running {} example requests concurrently\n",
        submitted.len()
    );

    // Labels are `[name]`, padded so that the event lines align.
    let width = runs.iter().map(|r| r.name.len() + 2).max().unwrap_or(0);
    let mut events = select_all(streams);
    let mut interrupted = false;
    loop {
        tokio::select! {
            next = events.next() => {
                let Some((index, event)) = next else { break };
                show_event(&mut runs[index], event, width);
            }
            _ = sigint.recv(), if !interrupted => {
                interrupted = true;
                say_err!("interrupted: cancelling every run");
                for run_id in &submitted {
                    // A run that already finished answers AlreadyFinished; nothing to do.
                    let _ = handle.cancel(*run_id).await;
                }
            }
        }
    }
    // A stream that ended without its terminal event: take what the orchestrator knows.
    for run in runs.iter_mut().filter(|r| r.status.is_none()) {
        if let Some(run_id) = run.run_id {
            run.status = handle.status(run_id).await.ok().flatten();
        }
    }
    Ok(interrupted)
}

/// One run's events, tagged with its index in `runs`.
type TaggedEvents = futures::stream::BoxStream<'static, (usize, RunEvent)>;

/// Submits each request and follows its run's events; a refused one keeps why.
async fn submit_all(
    handle: &OrchestratorHandle,
    runs: &mut [DemoRun],
    requests: Vec<RunRequest>,
) -> anyhow::Result<Vec<TaggedEvents>> {
    let mut streams = Vec::new();
    for (index, (run, request)) in runs.iter_mut().zip(requests).enumerate() {
        match handle.submit(request).await {
            Ok(run_id) => {
                run.run_id = Some(run_id);
                let events = handle
                    .events(run_id, 0)
                    .await
                    .with_context(|| format!("cannot follow run {run_id}"))?;
                streams.push(events.map(move |event| (index, event)).boxed());
            }
            Err(error) => run.refused = Some(error.to_string()),
        }
    }
    Ok(streams)
}

/// Prints an event of `run` under its padded `[name]`, and keeps its final status.
fn show_event(run: &mut DemoRun, event: RunEvent, width: usize) {
    let prefix = format!("{:<width$}", format!("[{}]", run.name));
    if let Some(line) = output::event_line(&event) {
        say!("{prefix} {line}");
    }
    if let EventKind::Finished { status } = event.kind {
        say!(
            "{prefix} {} in {} ms",
            status.state,
            status.duration_ms.unwrap_or_default()
        );
        run.status = Some(*status);
    }
}

fn print_summary(runs: &[DemoRun], config: &Config) {
    let width = runs.iter().map(|r| r.name.len()).max().unwrap_or(3).max(3);
    let expect_width = runs
        .iter()
        .map(|r| r.expectation().len())
        .max()
        .unwrap_or(6)
        .max(6);
    say!("");
    say!(
        "{:<width$}  {:<expect_width$}  {:<10}  {:>7}  {:>7}  {:<11}  RESULT",
        "RUN",
        "EXPECT",
        "STATE",
        "ACTIONS",
        "MS",
        "AS EXPECTED"
    );
    for run in runs {
        let (state, actions, ms, result) = match (&run.status, &run.refused) {
            (Some(status), _) => (
                status.state.as_str().to_owned(),
                status.action_count.to_string(),
                status
                    .duration_ms
                    .map_or_else(|| "-".to_owned(), |ms| ms.to_string()),
                result_text(status),
            ),
            (None, Some(why)) => ("refused".into(), "-".into(), "-".into(), why.clone()),
            (None, None) => ("unknown".into(), "-".into(), "-".into(), String::new()),
        };
        let verdict = if run.as_expected() { "yes" } else { "NO" };
        say!(
            "{:<width$}  {:<expect_width$}  {state:<10}  {actions:>7}  {ms:>7}  {verdict:<11}  {result}",
            run.name,
            run.expectation(),
        );
    }
    let expected = runs.iter().filter(|r| r.as_expected()).count();
    say!(
        "\n{expected} of {} runs ended as expected; statuses, events and screenshots are under {}/",
        runs.len(),
        config.runs_dir.display()
    );
}

/// The data a run kept (`key=value, ...`) or, when it did not complete, its error.
fn result_text(status: &RunStatus) -> String {
    if let Some(error) = &status.error {
        return format!(
            "{}: {}",
            output::code_name(error.code),
            output::one_line(&error.message)
        );
    }
    let data: Vec<String> = status
        .data
        .iter()
        .map(|(key, value)| {
            format!(
                "{}={}",
                output::terminal_safe(key),
                output::value_text(value)
            )
        })
        .collect();
    if data.is_empty() {
        "-".to_owned()
    } else {
        data.join(", ")
    }
}
