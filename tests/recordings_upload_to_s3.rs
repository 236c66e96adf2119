//! Recordings upload to a real S3-compatible server (moto, started here on 127.0.0.1): every
//! artifact and the manifest arrive, and their bytes match the manifest's hashes. With the
//! server gone, the run still finalizes, the recording stays on local disk, and
//! `finalize_errors` says where the upload was going and why it failed.
//!
//! Needs moto's server: `python3 -m moto.server`, or `$PILOTHOUSE_PYTHON -m moto.server`
//! (`scripts/ensure-moto.sh` installs it; `scripts/test.sh` runs that first).

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Harness, Page, TestEnv, eventually};
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use pilothouse::{Config, Manifest, RunId, RunState, RunStatus};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BUCKET: &str = "recordings";

struct Moto {
    child: tokio::process::Child,
    port: u16,
}

impl Moto {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let python = std::env::var("PILOTHOUSE_PYTHON").unwrap_or_else(|_| "python3".into());
        let child = tokio::process::Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with moto[server] is needed (pip install 'moto[server]')");
        let moto = Self { child, port };
        eventually(
            Duration::from_secs(60),
            &format!("moto starts on port {port} and creates the bucket"),
            async || {
                let code = moto.http("PUT", &format!("/{BUCKET}")).await;
                if code == Some(200) { Ok(()) } else { Err(code) }
            },
        )
        .await;
        moto
    }

    /// One unsigned request; moto accepts them. Returns the status code.
    async fn http(&self, method: &str, path: &str) -> Option<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.ok()?;
        let text = String::from_utf8_lossy(&reply);
        text.split_whitespace().nth(1)?.parse().ok()
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn stop(mut self) {
        self.child.kill().await.unwrap(); // by the pid we started
    }
}

/// Uploads to moto's bucket, two attempts 100 ms apart.
fn use_s3(config: &mut Config, endpoint: &str) {
    config.recording.upload_url = Some(format!("s3://{BUCKET}/pilothouse"));
    config.recording.upload_attempts = 2;
    config.recording.upload_backoff_ms = 100;
    for (k, v) in [
        ("aws_endpoint", endpoint),
        ("aws_allow_http", "true"),
        ("aws_region", "us-east-1"),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
    ] {
        config
            .recording
            .upload_options
            .insert(k.to_owned(), v.to_owned());
    }
}

const SCRIPT: &str = r##"{"driver": {"type": "script", "steps": [
       {"action": "goto", "url": "{base}/"},
       {"action": "extract", "selector": "h1", "store_as": "h"},
       {"action": "screenshot"},
       {"action": "evaluate", "script": "document.title"}]},
     "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_reach_s3_intact_and_stay_local_when_s3_is_down() {
    let moto = Moto::start().await;
    let endpoint = moto.endpoint();
    let h = Harness::new(vec![(
        "/",
        Page::Html("<title>S3</title><h1>up</h1>".into()),
    )])
    .config(|c| use_s3(c, &endpoint))
    .start()
    .await;

    let (run_id, status) = h.run_json(SCRIPT).await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert!(
        status.finalize_errors.is_empty(),
        "{:?}",
        status.finalize_errors
    );
    let recording = status.recording.clone().expect("a recording");
    assert!(recording.uploaded);
    assert_eq!(
        recording.location,
        format!("s3://{BUCKET}/pilothouse/{run_id}/")
    );
    assert_uploaded_intact(&h.env, &moto, run_id, recording.artifacts).await;

    // The server goes away: the next run keeps its recording locally and says why.
    moto.stop().await;
    let started = Instant::now();
    let (run_id, status) = h.run_json(SCRIPT).await;
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_kept_locally(&h.env, run_id, &status);
    h.finish().await;
}

/// The bucket holds the run's manifest and every artifact it lists, byte for byte the local copy.
async fn assert_uploaded_intact(env: &TestEnv, moto: &Moto, run_id: RunId, artifacts: usize) {
    let s3 = Arc::new(
        AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_endpoint(moto.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap(),
    );
    let get = |key: String| {
        let s3 = s3.clone();
        async move {
            let object = s3.get(&ObjectPath::from(key.clone())).await;
            let object = object.unwrap_or_else(|e| panic!("{key}: {e}"));
            object.bytes().await.unwrap().to_vec()
        }
    };
    let prefix = format!("pilothouse/{run_id}");
    let manifest: Manifest =
        serde_json::from_slice(&get(format!("{prefix}/manifest.json")).await).unwrap();
    assert_eq!(manifest.run_id, run_id);
    assert_eq!(manifest.artifacts.len(), artifacts);
    let kinds: Vec<&str> = manifest.artifacts.iter().map(|a| a.kind.as_str()).collect();
    for kind in ["actions", "dom", "report", "screenshot"] {
        assert!(kinds.contains(&kind), "no {kind} artifact in {kinds:?}");
    }
    // A screenshot per step (the screenshot action's own image counts) plus the final page.
    let shots = kinds.iter().filter(|k| **k == "screenshot").count();
    assert_eq!(shots, 4 + 1, "{:?}", manifest.artifacts);
    let local = env.runs_dir().join(run_id.to_string()).join("recording");
    for artifact in &manifest.artifacts {
        let bytes = get(format!("{prefix}/{}", artifact.path)).await;
        assert_eq!(bytes.len() as u64, artifact.bytes, "{}", artifact.path);
        assert_eq!(sha256_hex(&bytes), artifact.sha256, "{}", artifact.path);
        assert_eq!(std::fs::read(local.join(&artifact.path)).unwrap(), bytes);
    }
}

/// With S3 down the run completes, keeps its recording locally, intact, and says why.
fn assert_kept_locally(env: &TestEnv, run_id: RunId, status: &RunStatus) {
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    let recording = status.recording.clone().expect("a recording");
    assert!(!recording.uploaded);
    let local = env.runs_dir().join(run_id.to_string()).join("recording");
    assert_eq!(recording.local_dir, local);
    assert_eq!(recording.location, local.display().to_string());
    let upload_error = status
        .finalize_errors
        .iter()
        .find(|e| e.step == "upload")
        .unwrap_or_else(|| panic!("{:?}", status.finalize_errors));
    assert!(
        upload_error
            .message
            .contains(&format!("s3://{BUCKET}/pilothouse/{run_id}/")),
        "{upload_error:?}"
    );
    assert!(
        upload_error.message.contains("2 attempt(s)"),
        "{upload_error:?}"
    );
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(local.join("manifest.json")).unwrap()).unwrap();
    for artifact in &manifest.artifacts {
        let bytes = std::fs::read(local.join(&artifact.path)).unwrap();
        assert_eq!(sha256_hex(&bytes), artifact.sha256, "{}", artifact.path);
    }
    // The status on disk names the local copy too.
    assert_eq!(env.status_json(run_id)["recording"]["uploaded"], false);
}
