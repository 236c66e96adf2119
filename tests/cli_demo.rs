//! `pilothouse demo` end to end: it serves its site on a free port, runs every example request
//! of `config/examples/` through one orchestrator, ends each as its example expects, prints a
//! summary row per example and exits 0. `demo --serve-only` serves the same site, against which
//! `pilothouse run config/examples/<one>.json` works (with the port rewritten) and exits as the
//! example expects.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::TestEnv;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

/// Bound on the whole demo: four concurrent Chromium runs on a small machine.
const DEMO_TIMEOUT: Duration = Duration::from_secs(120);

/// The example requests: (name, JSON text). Examples labelled `needs` depend on something the
/// demo does not bring (a model endpoint) and are left out.
fn examples() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples");
    let mut found: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .filter(|(_, json)| {
            let request: serde_json::Value = serde_json::from_str(json).unwrap();
            request["labels"].get("needs").is_none()
        })
        .collect();
    found.sort();
    assert!(found.len() >= 3, "too few examples in {}", dir.display());
    found
}

/// A config file keeping runs and browser profiles inside the test's temp dir.
fn write_config(env: &TestEnv) -> PathBuf {
    let path = env.dir.path().join("pilothouse.toml");
    std::fs::write(&path, env.config_toml("")).unwrap();
    path
}

fn pilothouse(args: &[&str], config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pilothouse"));
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_every_example_as_expected() {
    let env = TestEnv::new();
    let config = write_config(&env);
    let output = tokio::time::timeout(
        DEMO_TIMEOUT,
        pilothouse(&["demo", "--port", "0"], &config).output(),
    )
    .await
    .expect("the demo did not finish in time")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!(
        "--- stdout\n{stdout}--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0));

    let summary = stdout
        .split_once("\nRUN ")
        .map(|(_, table)| table)
        .expect("no summary table");
    let examples = examples();
    for (name, json) in &examples {
        let row = summary
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("the summary has no row for {name}"));
        let request: serde_json::Value = serde_json::from_str(json).unwrap();
        let expect = request["labels"]["expect"].as_str().unwrap_or("completed");
        let columns: Vec<&str> = row.split_whitespace().collect();
        assert!(columns.contains(&expect), "{name}: {row}");
        assert!(
            row.contains("  yes  "),
            "{name} did not end as expected: {row}"
        );
        if let Some(code) = request["labels"]["expect_error"].as_str() {
            assert!(row.contains(code), "{name}: {row}");
        }
    }
    // At least one example shows the guardrail holding, next to runs that completed.
    assert!(summary.contains("GUARDRAIL_BLOCKED"), "{summary}");
    assert!(summary.lines().any(|l| l.contains(" completed ")));
    // The sign-in playbook signed in once and saved the session; the API playbook, run after
    // it, restored that session (no second sign-in) and read the invoices with its cookie.
    assert!(
        summary.contains(r#"signed_in_as="Signed in as Captain Nemo""#),
        "{summary}"
    );
    assert!(summary.contains(r#"first_invoice="INV-1042""#), "{summary}");
    assert!(
        stdout.contains("the demo site saw 1 sign-in(s)"),
        "{stdout}"
    );
    let stored = std::fs::read_dir(env.runs_dir()).unwrap().count();
    assert_eq!(stored, examples.len(), "one run directory per example");
    assert!(env.browsers().is_empty(), "a browser outlived the demo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_only_site_answers_the_run_command_for_each_example() {
    let env = TestEnv::new();
    let config = write_config(&env);
    let mut server = pilothouse(&["demo", "--serve-only", "--port", "0"], &config)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + DEMO_TIMEOUT;
    let port = the_port_served_on(&mut lines, deadline).await;

    for (name, json) in examples() {
        let request: serde_json::Value = serde_json::from_str(&json).unwrap();
        let expected_code = match request["labels"]["expect"].as_str().unwrap_or("completed") {
            "completed" => 0,
            "cancelled" => 130,
            _ => 1,
        };
        let path = env.dir.path().join(format!("{name}.json"));
        std::fs::write(&path, json.replace(":8080", &format!(":{port}"))).unwrap();
        let output = tokio::time::timeout_at(
            deadline.into(),
            pilothouse(&["run", path.to_str().unwrap()], &config).output(),
        )
        .await
        .expect("pilothouse run did not finish in time")
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(expected_code),
            "{name}:\n{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("  1 goto "),
            "{name}: no action lines\n{stdout}"
        );
    }

    let kill = std::process::Command::new("kill")
        .args(["-INT", &server.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let exit = tokio::time::timeout_at(deadline.into(), server.wait())
        .await
        .expect("demo --serve-only did not stop on SIGINT")
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    assert!(env.browsers().is_empty(), "a browser outlived the runs");
}

/// Reads the demo's stdout until it names its port (by `deadline`); the port.
async fn the_port_served_on(lines: &mut Lines<BufReader<ChildStdout>>, deadline: Instant) -> u16 {
    loop {
        let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
            .await
            .expect("the demo site did not start in time")
            .unwrap()
            .expect("demo --serve-only exited early");
        // "serving the demo site on http://127.0.0.1:PORT/ (Ctrl-C stops it)"
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            return rest.split('/').next().unwrap().parse::<u16>().unwrap();
        }
    }
}
