//! `pilothouse export-playbook`: an agent run driven by a scripted model on a form — one click
//! on a selector that does not exist, then typing a name the directive gave, greeting, waiting
//! and reading the greeting — becomes a playbook whose steps are the actions that worked (the
//! failed selector as a fallback, the name a parameter with the directive's value as default,
//! the URL checked after the opening `goto`). It validates, and it replays — once as exported,
//! once with another name — without a single model call.

mod common;

use std::process::Stdio;

use common::model::{Model, Planned, browser, serve_model};
use common::{FORM_PAGE, Harness, Page};
use pilothouse::RunState;
use serde_json::{Value, json};

fn greeter() -> Model {
    let plan = vec![
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "#greet-button"}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "type", "selector": "#name", "text": "Ada Lovelace"}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "#submit"}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "wait_for", "selector": "#out", "state": "visible"}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "extract", "selector": "#out"}),
        )]),
        Planned::Calls(vec![("done", json!({"answer": "greeted Ada"}).to_string())]),
    ];
    Model::new(plan, "no-secret-here", vec![])
}

/// Runs `pilothouse export-playbook` on the run; the YAML it wrote.
async fn export(h: &Harness, run_id: &str) -> String {
    let out = h.env.dir.path().join("exported.yaml");
    let output = Command::new(env!("CARGO_BIN_EXE_pilothouse"))
        .args(["export-playbook", run_id, "--id", "greet_again", "-o"])
        .arg(&out)
        .arg("--runs-dir")
        .arg(h.env.runs_dir())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("valid"), "{stderr}");
    std::fs::read_to_string(out).unwrap()
}

use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_run_becomes_a_playbook_that_replays_without_the_model() {
    let model = greeter();
    let base_url = serve_model(model.clone()).await;
    let h = Harness::new(vec![("/", Page::Html(FORM_PAGE.into()))])
        .start()
        .await;
    let request = json!({
        "start_url": "{base}/",
        "driver": {"type": "agent", "directive": "Greet Ada Lovelace on the form",
                   "model": "scripted-model", "base_url": base_url, "api_key": "test-key"},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
        "limits": {"action_timeout_ms": 1000}
    });
    let (run_id, status) = h.run_json(&request.to_string()).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let calls = model.seen.lock().unwrap().len();
    assert_eq!(calls, 6);

    let yaml = export(&h, &run_id.to_string()).await;
    eprintln!("--- exported\n{yaml}");
    let doc: Value = pilothouse::parse_yaml_value(&yaml).unwrap();
    assert_eq!(doc["parameters"][0]["name"], "name", "{yaml}");
    assert_eq!(doc["parameters"][0]["default"], "Ada Lovelace", "{yaml}");
    let steps = doc["steps"].as_array().unwrap();
    let actions: Vec<&str> = steps
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["goto", "key_press", "click", "wait_for", "extract"],
        "{yaml}"
    );
    assert_eq!(steps[0]["verify"]["expect_url_contains"], "/", "{yaml}");
    assert_eq!(steps[1]["params"]["text"], "{name}", "{yaml}");
    assert_eq!(
        steps[2]["selector"],
        json!({"primary": "#submit", "fallbacks": ["#greet-button"]}),
        "{yaml}"
    );
    assert_eq!(steps[4]["store_as"], "out", "{yaml}");

    replay(&h, &yaml).await;
    assert_eq!(
        model.seen.lock().unwrap().len(),
        calls,
        "the replays called no model"
    );
    h.finish().await;
}

/// Replays the playbook as exported, then with another name: no model anywhere in the request
/// or the config.
async fn replay(h: &Harness, yaml: &str) {
    for (params, greeting) in [
        (json!({}), "Hello, Ada Lovelace!"),
        (json!({"name": "Grace"}), "Hello, Grace!"),
    ] {
        let replay = json!({
            "driver": {"type": "playbook", "playbook": yaml, "params": params},
            "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
            "limits": {"action_timeout_ms": 3000}
        });
        let (_, status) = h.run_json(&replay.to_string()).await;
        assert_eq!(status.state, RunState::Completed, "{status:#?}");
        let read = status.data["out"].as_str().unwrap();
        assert!(read.starts_with(greeting), "{read}");
        assert!(status.recovery.is_none());
    }
}
