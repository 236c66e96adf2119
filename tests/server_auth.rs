//! Authentication of `pilothouse serve`: with a key (from `[server] api_key` or
//! `PILOTHOUSE_API_KEY`) every route but `/health`, `/ready` and `/openapi.json` needs the bearer
//! token and the key never appears in an answer or the log; without a key the server refuses a
//! non-loopback bind at start.

mod common;

use std::time::Duration;

use common::TestEnv;
use common::server::{Server, error_code, json_with_status, serve_command};
use pilothouse::RunId;
use tokio::io::AsyncBufReadExt as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_key_every_route_but_the_probes_needs_the_bearer_token() {
    const KEY: &str = "s3cret-key-for-tests";
    let env = TestEnv::new();
    let server = Server::start(&env, "", &format!("api_key = {KEY:?}")).await;
    let run = RunId::new();
    every_protected_route_refuses_a_wrong_or_missing_token(&server, KEY, run).await;
    the_right_token_passes(&server, KEY, run).await;
    // The probes and the document stay open, and never show the key.
    for path in ["/health", "/ready", "/openapi.json"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(!response.text().await.unwrap().contains(KEY), "{path}");
    }
    // The client commands use PILOTHOUSE_API_KEY.
    let (code, _, err) = server.client(&["runs"], None).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("unauthorized") && err.contains("PILOTHOUSE_API_KEY"),
        "{err}"
    );
    let (code, _, err) = server.client(&["runs"], Some(KEY)).await;
    assert_eq!(code, 0, "{err}");
    assert!(!server.stderr().contains(KEY), "the key was logged");
}

/// No token, a wrong one, another scheme or the bare key: 401 UNAUTHORIZED on every route but
/// the probes, and the answer never shows the key.
async fn every_protected_route_refuses_a_wrong_or_missing_token(
    server: &Server,
    key: &str,
    run: RunId,
) {
    let protected = [
        ("get", "/runs".to_owned()),
        ("post", "/runs".to_owned()),
        ("post", "/runs/dry-run".to_owned()),
        ("get", format!("/runs/{run}")),
        ("post", format!("/runs/{run}/cancel")),
        ("post", format!("/runs/{run}/stop")),
        ("get", format!("/runs/{run}/events")),
        ("get", format!("/runs/{run}/stream")),
        ("get", format!("/runs/{run}/recording/manifest.json")),
        ("get", "/events".to_owned()),
        ("get", "/metrics".to_owned()),
    ];
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic czNjcmV0"),
        Some(key),
    ] {
        for (method, path) in &protected {
            let mut request = match *method {
                "get" => server.http.get(server.url(path)),
                _ => server.http.post(server.url(path)).body("{}"),
            };
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let body = json_with_status(request.send().await.unwrap(), 401).await;
            assert_eq!(error_code(&body), "UNAUTHORIZED", "{method} {path}");
            assert!(!body.to_string().contains(key));
        }
    }
}

/// The right token passes (an unknown run is then a plain 404; a dry run reports without the
/// key).
async fn the_right_token_passes(server: &Server, key: &str, run: RunId) {
    let ok = server
        .http
        .get(server.url(&format!("/runs/{run}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 404);
    let dry = server
        .http
        .post(server.url("/runs/dry-run"))
        .bearer_auth(key)
        .body(r#"{"driver": {"type": "script", "steps": []}, "start_url": "https://example.com/"}"#)
        .send()
        .await
        .unwrap();
    let dry = json_with_status(dry, 200).await;
    assert!(!dry.to_string().contains(key), "{dry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_can_come_from_the_environment() {
    const KEY: &str = "env-key-123";
    let env = TestEnv::new();
    let mut server =
        Server::start_with(&env, "", "", &[(pilothouse::API_KEY_ENV, KEY)], None).await;
    assert_eq!(server.get("/runs").await.status(), 401);
    server.key = Some(KEY.into());
    assert_eq!(server.get("/runs").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_bind_without_a_key_is_refused() {
    let env = TestEnv::new();
    let config = env.dir.path().join("server.toml");
    std::fs::write(&config, common::server::config_text(&env, "", "")).unwrap();
    let output = serve_command(&config, "0.0.0.0:0", &[])
        .stderr(std::process::Stdio::piped())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("without an API key") && stderr.contains("PILOTHOUSE_API_KEY"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "it printed a listening line");
    assert!(!env.runs_dir().exists(), "the orchestrator started");

    // With a key the same bind starts.
    let mut child = serve_command(&config, "0.0.0.0:0", &[(pilothouse::API_KEY_ENV, "k")])
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        line.starts_with("pilothouse listening on http://0.0.0.0:"),
        "{line}"
    );
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}

/// A server whose callers must not reach its network (`[guardrails] allow_private_networks = false`,
/// here set through the environment) refuses runs and playbooks that open private networks,
/// naming the field; nothing is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closed_to_private_networks_refuses_runs_that_open_them() {
    let env = TestEnv::new();
    let vars = [("PILOTHOUSE_GUARDRAILS__ALLOW_PRIVATE_NETWORKS", "false")];
    let server = Server::start_with(&env, "", "", &vars, None).await;
    let script = r#"{"driver": {"type": "script", "steps": [
        {"action": "goto", "url": "http://127.0.0.1:9/"}]},
        "guardrails": {"allow_private_networks": true}}"#;
    let playbook = r#"{"driver": {"type": "playbook", "playbook": {"id": "p", "name": "p",
        "start_url": "http://127.0.0.1:9/", "guardrails": {"allow_private_networks": true},
        "steps": [{"action": "screenshot"}]}}}"#;
    for (body, field) in [
        (script, "guardrails.allow_private_networks"),
        (
            playbook,
            "driver.playbook.guardrails.allow_private_networks",
        ),
    ] {
        let answer = json_with_status(server.post("/runs", body).await, 422).await;
        assert_eq!(error_code(&answer), "INVALID_REQUEST", "{answer}");
        let errors = answer["error"]["details"]["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e["field"] == field
                && e["message"]
                    .as_str()
                    .unwrap()
                    .contains("allow_private_networks = false")),
            "{answer}"
        );
    }
    let page = server.get_json("/runs", 200).await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 0, "{page}");
}
