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

use common::harness::SHUTDOWN_GRACE;
use common::model::{Model, Planned, serve_model};
use common::{Harness, Page, Site, request};
use pilothouse::{RunState, SubmitError};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_key_goes_only_to_endpoints_the_host_trusts() {
    assert!(!host_key().is_empty());
    let (model, base_url) = model_server(2).await;
    let h = Harness::new(vec![(
        "/",
        Page::Html("<!doctype html><title>Home</title><h1>Home</h1>".into()),
    )])
    .config(|c| c.agent.api_key_env = HOST_KEY_ENV.into())
    .start()
    .await;
    assert_refused_without_its_own_key(&h, &model, &base_url).await;

    // Its own key: the calls carry it, never the host's.
    let request = agent_request(&h.site, &base_url, Some(REQUEST_KEY));
    let run_id = h.handle.submit(request).await.unwrap();
    let status = h.wait(run_id).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let seen = model.authorizations.lock().unwrap().clone();
    assert_eq!(seen, vec![Some(format!("Bearer {REQUEST_KEY}"))]);

    // Trusted by the host (written with a trailing slash and an upper-case scheme): its key.
    let trusted = format!("{}/", base_url.replace("http:", "HTTP:"));
    let h = h
        .restart_with(|c| c.agent.allowed_base_urls = vec![trusted])
        .await;
    let run_id = h
        .handle
        .submit(agent_request(&h.site, &base_url, None))
        .await
        .unwrap();
    let status = h.wait(run_id).await;
    let Harness {
        env, orchestrator, ..
    } = h;
    orchestrator.shutdown(SHUTDOWN_GRACE).await;
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

/// Not trusted, no key of its own: refused at submit, naming the field and the fix, and the
/// model server hears nothing.
async fn assert_refused_without_its_own_key(h: &Harness, model: &Model, base_url: &str) {
    let refused = h
        .handle
        .submit(agent_request(&h.site, base_url, None))
        .await;
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
}
