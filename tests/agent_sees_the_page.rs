//! A model that sees the page, against a scripted model server on 127.0.0.1: with
//! `vision`, each screenshot the agent takes reaches the model as an image part and only the
//! latest two stay images; after a navigation the result carries a compact page map; the
//! request's `reasoning_effort` goes with every call; a named profile adds its prompt extension
//! and narrows the guardrails (a `read` profile takes `type` off the offered actions).

mod common;

use base64::Engine as _;
use common::harness::SHUTDOWN_GRACE;
use common::model::{Model, Planned, READ_ACTIONS, browser, serve_model};
use common::{Harness, Page};
use futures::StreamExt;
use pilothouse::{RunEvent, RunState, SubmitError};
use serde_json::{Value, json};

const HOME: &str = r#"<!doctype html><title>Shop</title><h1>Shop</h1>
<a href="/products">All products</a>"#;
const PRODUCTS: &str = r#"<!doctype html><title>Products</title><h1>Products</h1>
<ul><li><a href="/p/1">Kettle</a></li><li><a href="/p/2">Teapot</a></li>
<li><a href="/p/3">Mug</a></li><li><a href="/p/4">Cup</a></li><li><a href="/p/5">Tray</a></li>
<li><a href="/p/6">Spoon</a></li><li><a href="/p/7">Fork</a></li><li><a href="/p/8">Knife</a></li>
</ul>"#;
const PROFILE: &str = "name: careful\ndescription: Reads only.\nprompt_extension: |\n  \
                       PROFILE-MARKER: name the page each fact came from.\n\
                       guardrail_overrides:\n  task_kind: read\n  max_urls_visited: 500\n";

/// The image parts of a request's messages, and how many screenshots were pruned to a marker.
fn images(request: &Value) -> (Vec<String>, usize) {
    let mut urls = Vec::new();
    let mut omitted = 0;
    for m in request["messages"].as_array().unwrap() {
        if let Some(parts) = m["content"].as_array() {
            urls.extend(
                parts
                    .iter()
                    .filter(|p| p["type"] == "image_url")
                    .map(|p| p["image_url"]["url"].as_str().unwrap().to_owned()),
            );
        } else if m["content"]
            .as_str()
            .is_some_and(|c| c.ends_with("[older screenshot omitted]"))
        {
            omitted += 1;
        }
    }
    (urls, omitted)
}

fn last_tool_result(request: &Value) -> String {
    let messages = request["messages"].as_array().unwrap();
    let tool = messages.iter().rev().find(|m| m["role"] == "tool").unwrap();
    tool["content"].as_str().unwrap().to_owned()
}

fn plan() -> Vec<Planned> {
    let shot = || Planned::Calls(vec![browser(json!({"action": "screenshot"}))]);
    vec![
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "text=All products"}),
        )]),
        shot(),
        shot(),
        shot(),
        Planned::Calls(vec![("done", json!({"answer": "seen"}).to_string())]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_reach_the_model_as_images_and_only_two_are_kept() {
    let mut model = Model::new(plan(), "no-secret-here", vec![]);
    model.expected_actions = READ_ACTIONS.to_vec();
    let base_url = serve_model(model.clone()).await;
    let profiles = tempfile::tempdir().unwrap();
    std::fs::write(profiles.path().join("careful.yaml"), PROFILE).unwrap();
    let profiles_dir = profiles.path().to_owned();
    let h = Harness::new(vec![
        ("/", Page::Html(HOME.into())),
        ("/products", Page::Html(PRODUCTS.into())),
    ])
    .config(move |c| c.agent.profiles_dir = profiles_dir)
    .start()
    .await;
    let request = |profile: &str| {
        json!({
            "start_url": h.url("/"),
            "driver": {"type": "agent", "directive": "Look at the products.",
                       "model": "scripted-model", "base_url": base_url, "api_key": "test-key",
                       "vision": true, "reasoning_effort": "high", "profile": profile},
            "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
        })
        .to_string()
    };
    for bad in ["missing", "../careful"] {
        assert_refused(&h, &request(bad)).await;
    }
    let run_id = h.submit_json(&request("careful")).await;
    let _: Vec<RunEvent> = h.handle.events(run_id, 0).await.unwrap().collect().await;
    let status = h.handle.status(run_id).await.unwrap().unwrap();
    h.orchestrator.shutdown(SHUTDOWN_GRACE).await;

    let problems = model.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "model server saw: {problems:#?}");
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let seen = model.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "every planned reply was asked for");
    for (n, request) in seen.iter().enumerate() {
        assert_eq!(request["reasoning_effort"], "high", "request {n}");
        let system = request["messages"][0]["content"].as_str().unwrap();
        assert!(system.contains("PROFILE-MARKER"), "request {n}: {system}");
    }
    assert_page_map(&last_tool_result(&seen[1]));
    assert_eq!(images(&seen[0]).0.len(), 0);
    assert_eq!(images(&seen[2]).0.len(), 1);
    assert_eq!(images(&seen[3]).0.len(), 2);
    assert_eq!(images(&seen[3]).1, 0);
    let (kept, omitted) = images(&seen[4]);
    assert_eq!((kept.len(), omitted), (2, 1), "pruning kept the latest two");
    for url in kept {
        let b64 = url
            .strip_prefix("data:image/jpeg;base64,")
            .expect(&url[..40]);
        let jpeg = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(&jpeg[..2], &[0xff, 0xd8], "a JPEG");
    }
    h.env.assert_no_browsers().await;
}

/// A profile that is not a file in the profiles dir is refused at submit, naming the field.
async fn assert_refused(h: &Harness, json: &str) {
    match h.handle.submit(h.request(json)).await {
        Err(SubmitError::Invalid(e)) => assert!(
            e.errors.iter().any(|e| e.field == "driver.profile"),
            "{json}: {e}"
        ),
        other => panic!("{json}: expected Invalid, got {other:?}"),
    }
}

/// The click that navigated brought back a compact map of the products page: its title, and
/// its links cut to the first few with a count of the rest.
fn assert_page_map(result: &str) {
    let map = result
        .split_once("Page map:\n")
        .unwrap_or_else(|| panic!("no page map: {result}"))
        .1;
    assert!(map.starts_with("[web-content-start]"), "{map}");
    assert!(map.contains("[Products]"), "{map}");
    assert!(map.contains("Kettle"), "{map}");
    assert!(!map.contains("Knife"), "cut to the first links: {map}");
    assert!(map.contains("more)"), "{map}");
}
