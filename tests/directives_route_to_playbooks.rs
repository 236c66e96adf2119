//! `auto` runs: a directive in words finds its playbook in `tests/playbooks` by tag (the
//! longest tags win), the playbook's parameters are read out of the directive (a `pattern`'s
//! group 1, the `int` fallback, `name: value`), and the status records the route. A directive
//! no playbook matches goes to the agent (a scripted model server); under `hybrid_auto` a
//! playbook that fails hands the directive to the agent; `playbook_only` with no match is
//! refused, naming the directive.

mod common;

use common::model::{Model, Planned, serve_model};
use common::{Harness, Page};
use pilothouse::{RunState, RunStatus, SubmitError};
use serde_json::{Value, json};

async fn harness() -> Harness {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/playbooks");
    let orders = include_str!("pages/orders.html");
    Harness::new(vec![("/orders", Page::Html(orders.into()))])
        .config(move |c| {
            c.playbooks.dir = dir;
            c.playbooks.retry_pause_ms = 200;
        })
        .start()
        .await
}

/// An `auto` request for `directive`, with `extra` fields in the driver.
fn auto(directive: &str, extra: Value) -> String {
    let mut driver = json!({"type": "auto", "directive": directive});
    driver
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({
        "driver": driver,
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
        "limits": {"action_timeout_ms": 3000}
    })
    .to_string()
}

/// The route's `(path, playbook, extracted parameter names)`.
fn route(status: &RunStatus) -> (String, Option<String>, Vec<String>) {
    let route = status.route.clone().expect("an auto run records its route");
    (route.path, route.playbook, route.extracted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_directives_run_the_right_playbook_with_what_they_say() {
    let h = harness().await;
    let base = h.url("");
    let base = base.trim_end_matches('/');

    let cancel = format!("Please cancel order #123 in the shop at base_url: {base}.");
    let (_, status) = h.run_json(&auto(&cancel, json!({}))).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.driver, "auto");
    let names = vec!["base_url".to_owned(), "order_id".to_owned()];
    assert_eq!(
        route(&status),
        (
            "playbook".into(),
            Some("cancel_order".into()),
            names.clone()
        )
    );
    assert_eq!(status.route.as_ref().unwrap().mode, "hybrid_auto");
    assert_eq!(status.data["status"], "cancelled");

    let track = format!("Track order 456 for me (base_url: {base})");
    let (_, status) = h.run_json(&auto(&track, json!({}))).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(
        route(&status),
        ("playbook".into(), Some("order_status".into()), names)
    );
    assert_eq!(status.data["status"], "processing");

    let note = format!("Save a note saying \"ring twice\" on the orders page, base_url={base}");
    let (_, status) = h.run_json(&auto(&note, json!({}))).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let names = vec!["base_url".to_owned(), "note".to_owned()];
    assert_eq!(
        route(&status),
        ("playbook".into(), Some("save_note".into()), names)
    );
    let log = h.site.requests();
    assert!(log.iter().any(|p| p == "/note/ring%20twice"), "{log:?}");
    h.finish().await;
}

/// A model that answers at once with `answer`.
fn answering(answer: &str) -> Model {
    let done = json!({ "answer": answer }).to_string();
    Model::new(
        vec![Planned::Calls(vec![("done", done)])],
        "no-secret-here",
        vec![],
    )
}

fn model_fields(base_url: &str) -> Value {
    json!({"model": "scripted-model", "base_url": base_url, "api_key": "test-key"})
}

/// Every message the model server received, as one text.
fn seen_text(model: &Model) -> String {
    serde_json::to_string(&*model.seen.lock().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_match_goes_to_the_agent_and_a_failed_playbook_hands_it_the_directive() {
    let h = harness().await;
    let model = answering("there is no flight booking here");
    let base_url = serve_model(model.clone()).await;
    let directive = "Book a flight to Oslo for Friday";
    let (_, status) = h.run_json(&auto(directive, model_fields(&base_url))).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(route(&status), ("agent".into(), None, vec![]));
    let reason = &status.route.as_ref().unwrap().reason;
    assert!(
        reason.contains("no playbook") && reason.contains("order status"),
        "{reason}"
    );
    assert!(seen_text(&model).contains(directive));

    // Order 999 does not exist: the playbook aborts at its first step; the agent takes over.
    let model = answering("order 999 does not exist");
    let base_url = serve_model(model.clone()).await;
    let base = h.url("");
    let track = format!("Track order 999, base_url: {}", base.trim_end_matches('/'));
    let (_, status) = h.run_json(&auto(&track, model_fields(&base_url))).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["answer"], "order 999 does not exist");
    let route = status.route.clone().unwrap();
    assert_eq!(
        (route.path.as_str(), route.playbook.as_deref()),
        ("playbook", Some("order_status"))
    );
    let handed = route.handed_off.expect("the hand-off is recorded");
    assert!(handed.contains("Order 999"), "{handed}");
    let seen = seen_text(&model);
    assert!(
        seen.contains("Track order 999") && seen.contains("failed"),
        "{seen}"
    );
    assert!(model.problems.lock().unwrap().is_empty());
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playbook_only_without_a_match_is_refused_and_agent_only_skips_the_playbooks() {
    let h = harness().await;
    let only = json!({"execution_mode": "playbook_only"});
    let refused = h
        .handle
        .submit(h.request(&auto("Book a flight", only)))
        .await;
    let Err(SubmitError::Invalid(invalid)) = refused else {
        panic!("refused as invalid, got {refused:?}");
    };
    let error = &invalid.errors[0];
    assert_eq!(error.field, "driver.directive");
    assert!(error.message.contains("playbook_only"), "{error}");
    assert!(error.message.contains("cancel_order: `cancel`"), "{error}");

    // A match whose parameter the directive does not give is refused too, naming it.
    let only = json!({"execution_mode": "playbook_only"});
    let refused = h
        .handle
        .submit(h.request(&auto("track order 456", only)))
        .await;
    let Err(SubmitError::Invalid(invalid)) = refused else {
        panic!("refused as invalid, got {refused:?}");
    };
    assert!(invalid.errors[0].message.contains("base_url"), "{invalid}");

    // `agent_only` goes to the agent though the tags match.
    let model = answering("done by the agent");
    let base_url = serve_model(model.clone()).await;
    let mut fields = model_fields(&base_url);
    fields["execution_mode"] = json!("agent_only");
    let (_, status) = h.run_json(&auto("Track order 456", fields)).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(route(&status), ("agent".into(), None, vec![]));
    assert_eq!(status.route.unwrap().mode, "agent_only");

    // Without a model anywhere, a directive that would go to the agent is refused up front.
    let refused = h
        .handle
        .submit(h.request(&auto("Book a flight", json!({}))))
        .await;
    let Err(SubmitError::Invalid(invalid)) = refused else {
        panic!("refused as invalid, got {refused:?}");
    };
    assert!(
        invalid.errors.iter().any(|e| e.field == "driver.model"),
        "{invalid}"
    );
    h.finish().await;
}
