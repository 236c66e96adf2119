//! A request never spends the host's model key on an endpoint the host does not trust. Against a
//! scripted model server on 127.0.0.1 that records every `Authorization` header it receives: a
//! request naming that server without its own key is refused at submit (and the server hears
//! nothing); with its own key, every call carries that key and never the host's; once the host
//! lists the server in `[agent] allowed_base_urls`, its key is used.
//!
//! The host key: the tests cannot set a variable (`std::env::set_var` is `unsafe` and the
//! workspace forbids unsafe code), so `[agent] api_key_env` names `CARGO_MANIFEST_DIR`, which
//! cargo and nextest set for every test process to a value no other part of the run contains.

mod common;

use std::time::Duration;

use common::model::{Model, Planned, serve_model};
use common::{Page, Site, TestEnv, request};
use pilothouse::{Config, Orchestrator, RunState, SubmitError};
use serde_json::json;

const HOST_KEY_ENV: &str = "CARGO_MANIFEST_DIR";
const REQUEST_KEY: &str = "request-own-key";

fn host_key() -> String {
    std::env::var(HOST_KEY_ENV).expect("cargo sets CARGO_MANIFEST_DIR for tests")
}

/// A model server that answers `done` `replies` times and checks no key itself.
async fn model_server(replies: usize) -> (Model, String) {
    let plan = (0..replies)
        .map(|_| Planned::Calls(vec![("done", json!({"answer": "read"}).to_string())]))
        .collect();
    let mut model = Model::new(plan, "no-secret-in-this-test", Vec::new());
    model.api_key = None;
    let url = serve_model(model.clone()).await;
    (model, url)
}

fn agent_request(site: &Site, base_url: &str, api_key: Option<&str>) -> pilothouse::RunRequest {
    let mut driver = json!({"type": "agent", "directive": "Read the heading.",
                            "model": "scripted-model", "base_url": base_url, "max_steps": 3});
    if let Some(key) = api_key {
        driver["api_key"] = json!(key);
    }
    let json = json!({
        "start_url": site.url("/"),
        "driver": driver,
        "recording": {"screenshots": false, "final_dom": false, "report": false, "upload": false},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    request(&json.to_string(), site)
}

fn host_config(env: &TestEnv) -> Config {
    let mut config = env.config();
    config.agent.api_key_env = HOST_KEY_ENV.into();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_key_goes_only_to_endpoints_the_host_trusts() {
    assert!(!host_key().is_empty());
    let site = Site::serve(vec![(
        "/",
        Page::Html("<!doctype html><title>Home</title><h1>Home</h1>".into()),
    )])
    .await;
    let (model, base_url) = model_server(2).await;
    let env = TestEnv::new();

    // Not trusted, no key of its own: refused at submit, naming the field and the fix.
    let orchestrator = env.start_with(host_config(&env)).await;
    let handle = orchestrator.handle();
    let refused = handle.submit(agent_request(&site, &base_url, None)).await;
    let Err(SubmitError::Invalid(invalid)) = refused else {
        panic!("expected the request to be refused, got {refused:?}");
    };
    let error = invalid
        .errors
        .iter()
        .find(|e| e.field == "driver.base_url")
        .unwrap_or_else(|| panic!("no driver.base_url error: {invalid}"));
    assert!(
        error.message.contains(
            "bring your own `api_key` for this endpoint, or add it to [agent] allowed_base_urls"
        ),
        "{error}"
    );
    assert!(
        model.seen.lock().unwrap().is_empty(),
        "a refused request reached the model server"
    );

    // Its own key: the calls carry it, never the host's.
    let run_id = handle
        .submit(agent_request(&site, &base_url, Some(REQUEST_KEY)))
        .await
        .unwrap();
    let status = handle.wait(run_id).await.unwrap();
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let seen = model.authorizations.lock().unwrap().clone();
    assert_eq!(seen, vec![Some(format!("Bearer {REQUEST_KEY}"))]);
    orchestrator.shutdown(Duration::from_secs(5)).await;

    // Trusted by the host (written with a trailing slash and an upper-case scheme): its key.
    let mut config = host_config(&env);
    config.agent.allowed_base_urls = vec![format!("{}/", base_url.replace("http:", "HTTP:"))];
    let orchestrator = Orchestrator::start(config).await.unwrap();
    let handle = orchestrator.handle();
    let run_id = handle
        .submit(agent_request(&site, &base_url, None))
        .await
        .unwrap();
    let status = handle.wait(run_id).await.unwrap();
    orchestrator.shutdown(Duration::from_secs(5)).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let seen = model.authorizations.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            Some(format!("Bearer {REQUEST_KEY}")),
            Some(format!("Bearer {}", host_key())),
        ]
    );
    let problems = model.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "model server saw: {problems:#?}");
    env.assert_no_browsers().await;
}
