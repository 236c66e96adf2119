//! Files a page downloads never land on the host: a `Content-Disposition: attachment` response
//! (followed from a link and opened with `goto`) and a blob `<a download>`, driven through the
//! built `pilothouse run` with `HOME` pointed at a temp dir. A run that does not allow downloads
//! leaves no file anywhere (the temp `HOME`, the runs, recordings and profile dirs) and its
//! `goto` to a download fails at once saying so; a run that allows them keeps each file in its
//! recording with its hash in the manifest, uploaded with it, and cancels the one past its cap.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use common::TestEnv;
use serde_json::Value;
use tokio::process::Command;

/// Bound on one CLI run: a launch and a few local actions.
const CLI_TIMEOUT: Duration = Duration::from_secs(90);
/// In every byte of the small attachment: how a stray copy is found.
const FILE_MARKER: &str = "pilothouse-attachment-marker";
/// In every byte of the blob download (the page builds it, so its source does not hold it).
const BLOB_MARKER: &str = "pilothouse-blob-marker";
/// Size of the attachment.
const FILE_BYTES: usize = 5_000;
/// Size of the big download: past the 1 MB cap of the allowing run.
const BIG_BYTES: usize = 4 * 1024 * 1024;
/// Each chunk of the big download (sent without a length, so only received bytes tell).
const BIG_CHUNK: usize = 64 * 1024;
/// The allowing run's cap.
const MAX_BYTES: u64 = 1_000_000;

const PAGE: &str = r#"<!doctype html><title>files</title>
<a id="blob" download="blob.txt">blob</a>
<a id="attach" href="/file.bin">attachment</a>
<script>
document.getElementById('blob').href =
  URL.createObjectURL(new Blob([['pilothouse', 'blob', 'marker'].join('-').repeat(10)],
                                {type: 'text/plain'}));
</script>"#;

fn file_body() -> Vec<u8> {
    FILE_MARKER.bytes().cycle().take(FILE_BYTES).collect()
}

fn attachment(name: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Serves the page, the attachment and the big stream on 127.0.0.1.
async fn serve() -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/file.bin",
            get(|| async { attachment("report.bin", Body::from(file_body())) }),
        )
        .route(
            "/big.bin",
            get(|| async {
                let chunks = (0..BIG_BYTES / BIG_CHUNK)
                    .map(|_| Ok::<_, std::io::Error>(vec![b'b'; BIG_CHUNK]));
                attachment("big.bin", Body::from_stream(futures::stream::iter(chunks)))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, task)
}

struct Cli {
    env: TestEnv,
    home: PathBuf,
    config: PathBuf,
}

impl Cli {
    fn new() -> Self {
        let env = TestEnv::new();
        let home = env.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let config = env.dir.path().join("pilothouse.toml");
        std::fs::write(&config, env.config_toml("")).unwrap();
        Self { env, home, config }
    }

    /// `pilothouse run` on a script of `steps` (JSON), with `downloads` when given.
    async fn run(&self, name: &str, base: &str, steps: &str, downloads: &str) -> (Output, Value) {
        let request = format!(
            r#"{{"driver": {{"type": "script", "steps": {steps}}},
                 "guardrails": {{"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}
                 {downloads}}}"#
        )
        .replace("{base}", base);
        let path = self.env.dir.path().join(name);
        std::fs::write(&path, request).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_pilothouse"))
            .args(["run", "--json", "--config"])
            .arg(&self.config)
            .arg(&path)
            .env("HOME", &self.home)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(CLI_TIMEOUT, child)
            .await
            .expect("pilothouse run did not finish in time")
            .unwrap();
        let status = self.status(&output);
        (output, status)
    }

    /// The run's final status, found by its id in the runs dir.
    fn status(&self, output: &Output) -> Value {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let run_id = std::fs::read_dir(self.env.runs_dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|id| stdout.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no run of this output:\n{stdout}\n{stderr}"));
        self.env.status_json(run_id.parse().unwrap())
    }

    fn events(&self, status: &Value) -> Vec<Value> {
        self.env
            .events_jsonl(status["run_id"].as_str().unwrap().parse().unwrap())
    }

    /// Every file under the temp `HOME`, the runs, recordings and profile dirs holding `marker`.
    fn files_with(&self, marker: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for root in [
            self.home.clone(),
            self.env.runs_dir(),
            self.env.recordings_dir(),
            self.env.profile_root(),
        ] {
            scan(&root, marker.as_bytes(), &mut found);
        }
        found
    }
}

fn scan(dir: &Path, marker: &[u8], found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            scan(&path, marker, found);
        } else if std::fs::read(&path)
            .is_ok_and(|bytes| bytes.windows(marker.len()).any(|w| w == marker))
        {
            found.push(path);
        }
    }
}

fn downloads(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["type"] == "download").collect()
}

fn action(events: &[Value], step: u64) -> &Value {
    events
        .iter()
        .find(|e| e["type"] == "action" && e["step"] == step)
        .unwrap_or_else(|| panic!("no action event for step {step}: {events:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_does_not_allow_downloads_leaves_no_file_anywhere() {
    let (base, server) = serve().await;
    let cli = Cli::new();
    let steps = r##"[
        {"action": "goto", "url": "{base}/"},
        {"action": "click", "selector": "#blob"},
        {"action": "click", "selector": "#attach"},
        {"action": "evaluate", "script": "document.title"},
        {"action": "goto", "url": "{base}/file.bin"}]"##;
    let (output, status) = cli.run("deny.json", &base, steps, "").await;
    assert_eq!(output.status.code(), Some(1), "{status:#}");
    let error = &status["error"];
    assert_eq!(error["code"], "ACTION_FAILED", "{status:#}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("is a download") && message.contains("does not allow downloads"),
        "{message}"
    );
    let events = cli.events(&status);
    // The steps before still ran, and the goto ended at once instead of at its 12 s bound.
    assert_eq!(action(&events, 4)["success"], true, "{events:#?}");
    let goto_ms = action(&events, 5)["duration_ms"].as_u64().unwrap();
    assert!(goto_ms < 5_000, "the goto to a download took {goto_ms} ms");
    let refused: Vec<&str> = downloads(&events)
        .iter()
        .map(|e| {
            assert_eq!(e["outcome"], "refused", "{e:#}");
            e["file_name"].as_str().unwrap()
        })
        .collect();
    eprintln!("refused downloads: {refused:?}");
    assert!(refused.contains(&"blob.txt"), "{refused:?}");
    assert!(refused.contains(&"report.bin"), "{refused:?}");
    for marker in [FILE_MARKER, BLOB_MARKER] {
        let strays = cli.files_with(marker);
        assert!(strays.is_empty(), "{marker} was written to {strays:?}");
    }
    assert!(
        !cli.home.join("Downloads").exists(),
        "$HOME/Downloads was created"
    );
    server.abort();
    cli.env.assert_no_browsers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_allows_downloads_keeps_them_in_its_recording_capped() {
    let (base, server) = serve().await;
    let cli = Cli::new();
    // A download from the first page (about:blank), a page after it, a blob, then one past
    // the cap.
    let steps = r##"[
        {"action": "goto", "url": "{base}/file.bin"},
        {"action": "goto", "url": "{base}/"},
        {"action": "click", "selector": "#blob"},
        {"action": "goto", "url": "{base}/big.bin"}]"##;
    let downloads_spec = format!(r#", "downloads": {{"allow": true, "max_bytes": {MAX_BYTES}}}"#);
    let (output, status) = cli.run("allow.json", &base, steps, &downloads_spec).await;
    // The big download passed its cap: its goto fails, naming why.
    assert_eq!(output.status.code(), Some(1), "{status:#}");
    let message = status["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_bytes"), "{message}");
    let events = cli.events(&status);
    the_gotos_around_a_download_succeed(&events);
    each_saved_download_is_in_the_recording_and_uploaded(&cli, &status, &events);
    the_download_past_the_cap_is_cancelled_and_leaves_nothing(&cli, &events);
    server.abort();
    cli.env.assert_no_browsers().await;
}

/// The goto to a download succeeds naming the file, and the page navigates normally right
/// after it.
fn the_gotos_around_a_download_succeed(events: &[Value]) {
    let goto_file = action(events, 1);
    assert_eq!(goto_file["success"], true, "{goto_file:#}");
    assert!(
        goto_file["result"].as_str().unwrap().contains("report.bin"),
        "{goto_file:#}"
    );
    let goto_page = action(events, 2);
    assert_eq!(goto_page["success"], true, "{goto_page:#}");
    let goto_ms = goto_page["duration_ms"].as_u64().unwrap();
    assert!(
        goto_ms < 3_000,
        "the goto after a download took {goto_ms} ms"
    );
}

/// The attachment and the blob are saved under `recording/downloads/` whole, with their size
/// and hash in the event and the manifest, and uploaded byte for byte.
fn each_saved_download_is_in_the_recording_and_uploaded(
    cli: &Cli,
    status: &Value,
    events: &[Value],
) {
    let run_dir = cli.env.runs_dir().join(status["run_id"].as_str().unwrap());
    let saved: Vec<&Value> = downloads(events)
        .into_iter()
        .filter(|e| e["outcome"] == "saved")
        .collect();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("recording/manifest.json")).unwrap())
            .unwrap();
    let uploaded = cli
        .env
        .recordings_dir()
        .join(status["run_id"].as_str().unwrap());
    for (name, marker) in [("report.bin", FILE_MARKER), ("blob.txt", BLOB_MARKER)] {
        let event = saved
            .iter()
            .find(|e| e["file_name"] == name)
            .unwrap_or_else(|| panic!("no saved download event for {name}: {events:#?}"));
        let rel = event["path"].as_str().unwrap();
        assert!(rel.starts_with("recording/downloads/"), "{rel}");
        let bytes = std::fs::read(run_dir.join(rel)).unwrap();
        assert!(String::from_utf8_lossy(&bytes).starts_with(marker));
        let expected = if name == "report.bin" {
            FILE_BYTES
        } else {
            10 * BLOB_MARKER.len()
        };
        assert_eq!(bytes.len(), expected, "{name}");
        assert_eq!(event["bytes"], bytes.len() as u64);
        let in_recording = rel.trim_start_matches("recording/");
        let artifact = manifest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["path"] == in_recording)
            .unwrap_or_else(|| panic!("{in_recording} is not in the manifest: {manifest:#}"));
        assert_eq!(artifact["type"], "download");
        assert_eq!(artifact["sha256"], event["sha256"]);
        assert_eq!(artifact["bytes"], bytes.len() as u64);
        assert_eq!(std::fs::read(uploaded.join(in_recording)).unwrap(), bytes);
    }
}

/// The big download is cancelled at its cap with no path; nothing of it is left anywhere, nor
/// in $HOME.
fn the_download_past_the_cap_is_cancelled_and_leaves_nothing(cli: &Cli, events: &[Value]) {
    let big = downloads(events)
        .into_iter()
        .find(|e| e["file_name"] == "big.bin")
        .unwrap_or_else(|| panic!("no download event for big.bin: {events:#?}"));
    assert_eq!(big["outcome"], "cancelled", "{big:#}");
    assert!(big.get("path").is_none(), "{big:#}");
    let strays = cli.files_with(&"b".repeat(4096));
    assert!(strays.is_empty(), "big.bin left {strays:?}");
    assert!(
        !cli.home.join("Downloads").exists(),
        "$HOME/Downloads was created"
    );
}
