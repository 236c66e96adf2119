//! `pilothouse serve` against bad and hostile input, as a client sees it: a real server process
//! on a free loopback port, a real HTTP client. Every mistake gets a JSON error naming the field,
//! oversized bodies a 413, unknown runs a 404; random bytes, deep nesting, huge numbers and
//! undecodable paths all get JSON 4xx and the server stays up; a dry run reports and starts
//! nothing. (The routes themselves are in `server_api.rs`.)

mod common;

use std::collections::BTreeSet;

use common::TestEnv;
use common::server::{Server, error_code, json_with_status};
use pilothouse::RunId;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_json_errors_that_name_the_field() {
    let env = TestEnv::new();
    let server = Server::start(&env, "", "max_body_bytes = 4096").await;
    let unknown = RunId::new();
    bad_bodies_get_422_naming_the_field(&server).await;
    bodies_past_the_limit_get_413(&server).await;
    unknown_runs_are_not_found(&server, unknown).await;
    bad_query_parameters_are_named(&server, unknown).await;
    hostile_input_gets_json_4xx(&server, unknown).await;
    assert_eq!(server.get_json("/health", 200).await["status"], "ok");
    dry_run_reports_and_starts_nothing(&server, &env).await;
}

/// Malformed JSON, a wrong type, a missing field, an invalid value: 422 naming the field; a body
/// that is not UTF-8 at all: 422.
async fn bad_bodies_get_422_naming_the_field(server: &Server) {
    for (body, field) in [
        ("{\"driver\": ", "driver"),
        ("[1, 2", "request"),
        (r#"{"driver": 3}"#, "driver"),
        (r#"{"start_url": "https://a.test/"}"#, "request"),
        (
            r#"{"driver": {"type": "script", "steps": [{"action": "click", "selector": " "}]}}"#,
            "driver.steps[0].selector",
        ),
        (
            r#"{"driver": {"type": "script", "steps": []}, "limits": {"max_steps": "ten"}}"#,
            "limits.max_steps",
        ),
        ("\u{0}\u{1}not json at all", "request"),
    ] {
        let body = json_with_status(server.post("/runs", body).await, 422).await;
        assert_eq!(error_code(&body), "INVALID_REQUEST", "{body}");
        let fields: Vec<&str> = body["error"]["details"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with(field)),
            "{field} not named: {body}"
        );
    }
    let body = json_with_status(server.post("/runs", vec![0xff, 0xfe, 0x00]).await, 422).await;
    assert_eq!(error_code(&body), "INVALID_REQUEST");
}

/// A body past max_body_bytes: 413 with the JSON error body, for both POST routes.
async fn bodies_past_the_limit_get_413(server: &Server) {
    let big = format!(r#"{{"labels": {{"x": "{}"}}}}"#, "a".repeat(8192));
    for path in ["/runs", "/runs/dry-run"] {
        let body = json_with_status(server.post(path, big.clone()).await, 413).await;
        assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
        assert_eq!(body["error"]["details"]["max_body_bytes"], 4096);
    }
}

/// Unknown runs and things that are not run ids: 404 NOT_FOUND on every run route.
async fn unknown_runs_are_not_found(server: &Server, unknown: RunId) {
    for path in [
        format!("/runs/{unknown}"),
        format!("/runs/{unknown}/events"),
        format!("/runs/{unknown}/recording/manifest.json"),
        "/runs/not-a-uuid".to_owned(),
    ] {
        let body = json_with_status(server.get(&path).await, 404).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{path}: {body}");
    }
    for path in [
        format!("/runs/{unknown}/cancel"),
        format!("/runs/{unknown}/stop"),
    ] {
        let body = json_with_status(server.post(&path, "").await, 404).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{path}: {body}");
    }
    let body = json_with_status(server.get("/nowhere").await, 404).await;
    assert_eq!(error_code(&body), "NOT_FOUND");
}

/// Query parameters are checked too: 422 naming the parameter.
async fn bad_query_parameters_are_named(server: &Server, unknown: RunId) {
    for (query, field) in [
        ("state=done", "state"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("label=nocolon", "label"),
        ("cursor=zzz", "cursor"),
    ] {
        let body = json_with_status(server.get(&format!("/runs?{query}")).await, 422).await;
        assert_eq!(
            body["error"]["details"]["errors"][0]["field"], field,
            "{query}: {body}"
        );
    }

    let body = json_with_status(
        server
            .get(&format!("/runs/{unknown}/events?after=abc"))
            .await,
        422,
    )
    .await;
    assert_eq!(body["error"]["details"]["errors"][0]["field"], "after");
}

/// Hostile input never crashes the server: every answer is a 4xx with a JSON error body (a dry
/// run may report instead, never a 5xx).
async fn hostile_input_gets_json_4xx(server: &Server, unknown: RunId) {
    for body in hostile_bodies() {
        for path in ["/runs", "/runs/dry-run"] {
            let response = server.post(path, body.clone()).await;
            let code = response.status().as_u16();
            let text = response.text().await.unwrap();
            let ok = if path == "/runs" {
                (400..500).contains(&code)
            } else {
                code < 500
            };
            assert!(
                ok,
                "{path} answered {code} to {:?}: {text}",
                String::from_utf8_lossy(&body)
            );
            let json: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
            assert!(json.is_object(), "{text}");
        }
    }
    for path in [
        "/runs/%ff%fe",
        "/runs/%00",
        &format!("/runs/{}", "a".repeat(5000)),
        &format!("/runs/{unknown}/recording/%ff"),
        &format!("/runs/{unknown}/recording/a%00b"),
    ] {
        let (code, body) = server.raw_get(path).await;
        assert!((400..500).contains(&code), "{path}: {code} {body}");
        assert!(body.contains("\"error\""), "{path}: {body}");
    }
}

/// A hundred pseudo-random byte strings (fixed seed) of growing length, then deep nesting, a
/// number past f64, an unparsable URL and nested arrays where steps belong.
fn hostile_bodies() -> Vec<Vec<u8>> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bodies: Vec<Vec<u8>> = (0..100)
        .map(|i| {
            (0..(i * 37) % 3000)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    (seed >> 56) as u8
                })
                .collect()
        })
        .collect();
    bodies.push(format!(r#"{{"driver": {}"#, "[".repeat(3000)).into_bytes());
    bodies.push(
        br#"{"driver": {"type": "script", "steps": []}, "limits": {"max_steps": 1e999}}"#.to_vec(),
    );
    bodies.push(
        br#"{"driver": {"type": "script", "steps": [{"action": "goto", "url": "http:// /"}]}}"#
            .to_vec(),
    );
    bodies.push(br#"{"driver": {"type": "playbook", "playbook": {"steps": [[[[]]]]}}}"#.to_vec());
    bodies
}

/// Dry-run reports instead of failing, and starts nothing.
async fn dry_run_reports_and_starts_nothing(server: &Server, env: &TestEnv) {
    let report = json_with_status(
        server
            .post(
                "/runs/dry-run",
                r#"{"start_url": "ftp://x", "driver": {"type": "script", "steps": []},
                    "limits": {"max_steps": 150, "timeout_seconds": 3600},
                    "credentials": {"pw": ""}}"#,
            )
            .await,
        200,
    )
    .await;
    assert_eq!(report["valid"], false, "{report}");
    let failed: BTreeSet<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        BTreeSet::from(["start_url", "credentials"]),
        "{report}"
    );
    assert_eq!(report["warnings"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(report["config_summary"]["limits"]["max_steps"], 150);
    let ok = json_with_status(
        server
            .post(
                "/runs/dry-run",
                r#"{"start_url": "https://example.com/", "driver": {"type": "script", "steps": []}}"#,
            )
            .await,
        200,
    )
    .await;
    assert_eq!(ok["valid"], true, "{ok}");
    let page = server.get_json("/runs", 200).await;
    assert_eq!(page["runs"], json!([]), "a dry run started a run");
    assert!(!env.runs_dir().join("x").exists());
}
