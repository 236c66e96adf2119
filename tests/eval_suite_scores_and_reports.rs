//! `pilothouse eval` runs a suite in the reference's format against a site on 127.0.0.1 — a
//! playbook case of two trials, an `auto` case routed by tag, an agent case answered by a
//! scripted model server (with token prices), and a case that must fail — scores every trial,
//! exits 1 because a case failed, and writes `report.json` and a `report.html` that renders
//! its charts in headless Chromium from disk, loading nothing.

mod common;

use std::time::Duration;

use common::eval::run_eval;
use common::model::{Model, Planned, serve_model};
use common::{Page, Site, TestEnv};
use serde_json::{Value, json};

fn suite(base: &str) -> String {
    format!(
        r#"name: orders-suite
cases:
  - id: status-by-playbook
    directive: Read the status of order 456
    playbook: order_status
    execution_mode: playbook_only
    trials: 2
    allow_private_networks: true
    playbook_params: {{base_url: "{base}", order_id: 456}}
    benchmark_tags: [deterministic]
    expect:
      data_values_contain: {{status: processing}}
      handoff: forbid
      max_actions: 3
  - id: status-by-tag
    directive: "Track order 123 please, base_url: {base}"
    allow_private_networks: true
    expect:
      required_data_keys: [status]
      data_values_contain: {{status: shipped}}
  - id: agent-reads-title
    directive: Tell me the page's heading
    start_url: "{base}/orders"
    execution_mode: agent_only
    allow_private_networks: true
    input_token_cost_per_million_usd: 3.0
    output_token_cost_per_million_usd: 15.0
    output_schema:
      type: object
      properties: {{summary: {{type: string}}, details: {{type: object}}}}
      required: [summary, details]
    expect:
      summary_contains: [orders page]
      required_data_keys: [details.title]
      data_values_contain: {{details.title: Orders}}
      max_estimated_cost_usd: 0.01
  - id: missing-order
    directive: Read the status of order 999
    playbook: order_status
    execution_mode: playbook_only
    allow_private_networks: true
    playbook_params: {{base_url: "{base}", order_id: 999}}
"#
    )
}

fn model() -> Model {
    let answer = json!({"answer": {"summary": "The orders page is open",
                                   "details": {"title": "Orders"}}});
    Model::new(
        vec![Planned::Calls(vec![("done", answer.to_string())])],
        "no-secret-here",
        vec![],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suite_runs_scores_and_reports_without_loading_anything() {
    let site = Site::serve(vec![(
        "/orders",
        Page::Html(include_str!("pages/orders.html").into()),
    )])
    .await;
    let base = format!("http://{}", site.addr);
    let model_url = serve_model(model()).await;
    let env = TestEnv::new();
    let playbooks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/playbooks");
    let config = env.dir.path().join("eval.toml");
    let toml = env.config_toml("").replace(
        "[recording]",
        &format!(
            "[playbooks]\ndir = {playbooks:?}\n[agent]\nbase_url = {model_url:?}\nmodel = \"scripted-model\"\napi_key_env = \"EVAL_TEST_KEY\"\n[recording]"
        ),
    );
    std::fs::write(&config, toml).unwrap();
    let suite_file = env.dir.path().join("suite.yaml");
    std::fs::write(&suite_file, suite(&base)).unwrap();
    let out = env.dir.path().join("report");
    let (code, stdout) = run_eval(
        &suite_file,
        &[],
        &out,
        &config,
        ("EVAL_TEST_KEY", "test-key"),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(code, Some(1), "a failed case exits 1");
    assert!(stdout.contains("FAIL  missing-order"), "{stdout}");
    assert!(
        stdout.contains("orders-suite: 3/4 cases passed"),
        "{stdout}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    check_report(&report);
    check_html(&env, &out.join("report.html")).await;
    env.assert_no_browsers().await;
}

fn check_report(report: &Value) {
    let cases = report["cases"].as_array().unwrap();
    let case = |id: &str| cases.iter().find(|c| c["id"] == id).unwrap().clone();
    let playbook = case("status-by-playbook");
    assert_eq!(playbook["passed"], true, "{playbook:#}");
    assert_eq!(
        (playbook["trials_run"].clone(), playbook["mode"].clone()),
        (json!(2), json!("playbook"))
    );
    assert_eq!(playbook["playbook_hit"], true);
    let routed = case("status-by-tag");
    assert_eq!(routed["passed"], true, "{routed:#}");
    assert_eq!(routed["requested_mode"], "hybrid_auto");
    let agent = case("agent-reads-title");
    assert_eq!(agent["passed"], true, "{agent:#}");
    assert_eq!(agent["mode"], "agent");
    // One model call: 100 prompt and 10 completion tokens at $3 and $15 per million.
    let cost = agent["estimated_cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (100.0 * 3.0 + 10.0 * 15.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    let missing = case("missing-order");
    assert_eq!(missing["passed"], false);
    assert_eq!(missing["failed_checks"], json!(["must_succeed"]));
    assert!(
        missing["error"].as_str().unwrap().contains("Order 999"),
        "{missing:#}"
    );
    assert_eq!(
        (report["passed"].clone(), report["total"].clone()),
        (json!(3), json!(4))
    );
    // Five trials, three of them finished by a playbook alone.
    assert!((report["deterministic_hit_rate"].as_f64().unwrap() - 0.6).abs() < 1e-12);
}

const FACTS: &str = r#"(() => ({
    charts: [...document.querySelectorAll('figure svg')].length,
    bars: document.querySelectorAll('#pass-rate rect.bar').length,
    dots: document.querySelectorAll('#durations circle.trial').length,
    ticks: document.querySelectorAll('#durations line.p95').length,
    cost_bars: document.querySelectorAll('#cost rect.bar').length,
    links: [...document.querySelectorAll('a')].map(a => a.href),
    resources: performance.getEntriesByType('resource').map(r => r.name),
    scripts: document.scripts.length,
    widths: [...document.querySelectorAll('#pass-rate rect.bar')].map(r => r.getBBox().width),
}))()"#;

async fn check_html(env: &TestEnv, report: &std::path::Path) {
    let viewer = env.dir.path().join("eval-viewer");
    let (facts, failed) = common::viewer::open_file(report, &viewer, FACTS).await;
    assert_eq!(failed, None, "a resource failed to load");
    assert_eq!(facts["resources"], json!([]), "the report loads nothing");
    assert_eq!(facts["scripts"], 0);
    assert_eq!(facts["charts"], 3, "{facts}");
    assert_eq!(
        (facts["bars"].clone(), facts["cost_bars"].clone()),
        (json!(4), json!(4))
    );
    assert_eq!(
        (facts["dots"].clone(), facts["ticks"].clone()),
        (json!(5), json!(4))
    );
    // Pass rates 100%, 100%, 100%, 0%: three full bars and a sliver.
    let widths: Vec<f64> = serde_json::from_value(facts["widths"].clone()).unwrap();
    assert_eq!(
        widths.iter().filter(|w| **w > 400.0).count(),
        3,
        "{widths:?}"
    );
    let links = facts["links"].as_array().unwrap();
    assert_eq!(links.len(), 5, "a link per trial's run report");
    assert!(
        links
            .iter()
            .all(|l| l.as_str().unwrap().ends_with("/recording/report.html"))
    );
}
