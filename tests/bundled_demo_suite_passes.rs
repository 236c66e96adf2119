//! The bundled suite `config/suites/demo.yaml` over the bundled demo site
//! (`pilothouse eval --demo-site`): two playbook cases (one signing in), a directive routed to
//! the invoices playbook by its tag, and an agent case answered by a model server that reads
//! the page title from the observation it is sent. Every case passes, and `report.html`,
//! opened in headless Chromium, renders its three charts without requesting anything.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use common::TestEnv;
use common::eval::run_eval;
use common::model::serve_api;
use serde_json::{Value, json};

/// The title on an observation's first line, `[Title] url`, in the first user message.
fn observed_title(request: &Value) -> Option<String> {
    let messages = request["messages"].as_array()?;
    let user = messages.iter().find(|m| m["role"] == "user")?;
    let text = user["content"].as_str()?;
    let line = text
        .lines()
        .find(|l| l.starts_with('[') && !l.starts_with("[web-content"))?;
    Some(line[1..line.find(']')?].to_owned())
}

/// Answers `done` with the title it was shown.
async fn model(
    State(seen): State<Arc<Mutex<Vec<Value>>>>,
    Json(request): Json<Value>,
) -> Json<Value> {
    seen.lock().unwrap().push(request.clone());
    let title = observed_title(&request).unwrap_or_else(|| "no observation".into());
    let answer = json!({"answer": {"summary": format!("The page is titled {title}"),
                                   "details": {"title": title}}});
    Json(
        json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
        {"id": "d1", "type": "function",
         "function": {"name": "done", "arguments": answer.to_string()}}]}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_suite_passes_over_the_demo_site() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(model))
        .with_state(seen.clone());
    let model_url = serve_api(app).await;
    let env = TestEnv::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = env.dir.path().join("eval.toml");
    let toml = env.config_toml("").replace(
        "[recording]",
        &format!(
            "[playbooks]\ndir = {:?}\n[agent]\nbase_url = {model_url:?}\nmodel = \"scripted\"\n\
             api_key_env = \"DEMO_SUITE_TEST_KEY\"\n[recording]",
            root.join("config/playbooks")
        ),
    );
    std::fs::write(&config, toml).unwrap();
    let out = env.dir.path().join("report");
    let (code, stdout) = run_eval(
        &root.join("config/suites/demo.yaml"),
        &["--demo-site"],
        &out,
        &config,
        ("DEMO_SUITE_TEST_KEY", "test-key"),
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(code, Some(0), "every case passed");
    assert!(stdout.contains("demo-site: 4/4 cases passed"), "{stdout}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    check_report(&report);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one model call for the one agent trial");
    assert_eq!(observed_title(&seen[0]).as_deref(), Some("Products"));
    check_html(&env, &out.join("report.html")).await;
    env.assert_no_browsers().await;
}

fn check_report(report: &Value) {
    let cases = report["cases"].as_array().unwrap();
    let case = |id: &str| cases.iter().find(|c| c["id"] == id).unwrap().clone();
    for id in [
        "greet-visitor",
        "signed-in-account",
        "invoices-by-directive",
        "products-page-by-agent",
    ] {
        assert_eq!(case(id)["passed"], true, "{:#}", case(id));
    }
    assert_eq!(case("greet-visitor")["trials_run"], 2);
    assert_eq!(case("invoices-by-directive")["mode"], "playbook");
    let agent = case("products-page-by-agent");
    assert_eq!(agent["mode"], "agent");
    let cost = agent["estimated_cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (100.0 * 0.15 + 10.0 * 0.6) / 1e6).abs() < 1e-12,
        "{cost}"
    );
}

const FACTS: &str = r#"(() => ({
    charts: [...document.querySelectorAll('figure svg')].length,
    bars: document.querySelectorAll('#pass-rate rect.bar').length,
    dots: document.querySelectorAll('#durations circle.trial').length,
    resources: performance.getEntriesByType('resource').map(r => r.name),
    scripts: document.scripts.length,
}))()"#;

async fn check_html(env: &TestEnv, report: &std::path::Path) {
    let viewer = env.dir.path().join("suite-viewer");
    let (facts, failed) = common::viewer::open_file(report, &viewer, FACTS).await;
    assert_eq!(failed, None, "a resource failed to load");
    assert_eq!(facts["resources"], json!([]), "the report loads nothing");
    assert_eq!(facts["scripts"], 0);
    assert_eq!(facts["charts"], 3, "{facts}");
    assert_eq!(facts["bars"], 4, "a pass-rate bar per case");
    assert_eq!(facts["dots"], 5, "a duration dot per trial");
}
