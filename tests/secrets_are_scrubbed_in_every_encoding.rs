//! A credential with `& " < > @ ! +` and spaces, typed into a GET login form (whole, and into
//! a `maxlength=10` field), echoed by the landing page into its title, text, attributes
//! (raw, JSON and base64), a visible field and the URL (long enough that `observe` clips it
//! inside the value), then failing a playbook verification that quotes the URL — once handed
//! to the agent (a scripted model reads observations, HTML extracts and evaluations), once
//! aborting the run. Afterwards no file under the runs and recordings dirs, no event, no model
//! request and no log line holds the value in any encoding, nor its first 9 characters.

mod common;

use common::model::{Model, Planned, browser, serve_model};
use common::secrets::SecretScan;
use common::{Harness, Page, TestEnv};
use futures::StreamExt;
use pilothouse::{RunEvent, RunState, RunStatus};
use serde_json::json;

const SECRET: &str = "Tr0ub4dor&3 \"x\"<y>@! +z";
const MARK: &str = "[credential:pw]";

/// The landing page echoes the submitted password everywhere a page can.
const WELCOME: &str = r#"<!doctype html><title>Welcome</title>
<p id="echo"></p><div id="attr">attributes</div>
<label>Again <input id="again"></label>
<button id="go" type="button">Log in</button>
<script id="data" type="application/json"></script>
<script>
const q = new URLSearchParams(location.search);
const pw = q.get('password') || '', pin = q.get('pin') || '';
document.title = 'Welcome ' + pw;
document.getElementById('echo').textContent = 'Your password is ' + pw + ' and your pin ' + pin;
const attr = document.getElementById('attr');
attr.setAttribute('data-pw', pw);
attr.setAttribute('data-b64', btoa(pw));
attr.setAttribute('data-pin', pin);
document.getElementById('again').value = pw;
document.getElementById('data').textContent = JSON.stringify({pw, pin});
</script>"#;

/// A GET form whose URL puts the password right where `observe` clips URLs (300 characters):
/// the padding leaves 11 characters of the encoded value before the cut.
const LOGIN: &str = r#"<!doctype html><title>Log in</title>
<form method="get" action="/welcome">
<input type="hidden" name="pad" value="">
<label>Password <input id="pw" name="password" type="password"></label>
<label>PIN <input id="pin" name="pin" maxlength="10"></label>
<button id="go" type="submit">Log in</button>
</form>
<script>
const fixed = (location.origin + '/welcome?pad=&password=').length;
document.querySelector('[name=pad]').value = 'a'.repeat(299 - 11 - fixed);
</script>"#;

fn playbook(on_failure: &str) -> String {
    format!(
        r##"
id: login
name: Log in
description: Log in and reach the dashboard.
start_url: "{{base}}/login"
steps:
  - action: type
    selector: "#pw"
    credential_ref: pw
  - action: type
    selector: "#pin"
    credential_ref: pw
  - action: click
    description: submit the login form
    selector: "#go"
    on_failure: {on_failure}
    verify: {{url_contains: "/dashboard", timeout_ms: 400}}
"##
    )
}

fn run_request(on_failure: &str, agent: Option<&str>, h: &Harness) -> pilothouse::RunRequest {
    let mut driver = json!({"type": "playbook", "playbook": playbook(on_failure), "params": {}});
    if let Some(base_url) = agent {
        driver["agent"] = json!({"directive": "", "model": "scripted-model",
                                 "base_url": base_url, "api_key": "test-key"});
    }
    let body = json!({
        "driver": driver,
        "credentials": {"pw": SECRET},
        "limits": {"action_timeout_ms": 1500},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    h.request(&body.to_string())
}

fn agent_plan() -> Vec<Planned> {
    let evaluate = |script: &str| browser(json!({"action": "evaluate", "script": script}));
    vec![
        Planned::Calls(vec![browser(json!({"action": "extract", "mode": "html"}))]),
        Planned::Calls(vec![evaluate(
            "btoa(new URLSearchParams(location.search).get('password'))",
        )]),
        Planned::Calls(vec![evaluate(
            "JSON.stringify({href: location.href, title: document.title, \
             html: document.getElementById('attr').outerHTML})",
        )]),
        Planned::Calls(vec![evaluate(
            "encodeURIComponent(document.getElementById('again').value)",
        )]),
        Planned::Calls(vec![browser(json!({"action": "observe"}))]),
        Planned::Calls(vec![(
            "done",
            json!({"answer": "logged in, see the page"}).to_string(),
        )]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_leaves_no_trace_in_any_encoding_anywhere() {
    let logs = common::logs::capture();
    let model = Model::new(agent_plan(), SECRET, vec!["pw"]);
    let base_url = serve_model(model.clone()).await;
    let h = Harness::new(vec![
        ("/login", Page::Html(LOGIN.into())),
        ("/welcome", Page::Html(WELCOME.into())),
    ])
    .start()
    .await;

    let mut events: Vec<RunEvent> = Vec::new();
    let mut statuses = Vec::new();
    for (on_failure, agent) in [("agent", Some(base_url.as_str())), ("abort", None)] {
        let request = run_request(on_failure, agent, &h);
        let run_id = h.handle.submit(request).await.unwrap();
        let run_events: Vec<RunEvent> = h.handle.events(run_id, 0).await.unwrap().collect().await;
        events.extend(run_events);
        statuses.push(h.handle.status(run_id).await.unwrap().unwrap());
    }
    let env = h.finish().await;
    assert_went_where_it_could_leak(&statuses[0], &statuses[1]);
    let requests = assert_model_saw_scrubbed_values(&model);
    let final_dom = env
        .runs_dir()
        .join(statuses[0].run_id.to_string())
        .join("recording/final_dom.html");
    let dom = std::fs::read_to_string(&final_dom).unwrap();
    assert!(dom.contains("data-b64=") && dom.contains(MARK), "{dom}");
    assert_no_trace_anywhere(&env, &events, &requests, &logs.text());
}

/// The runs went where the secret could leak: the hand-off and the failed verification.
fn assert_went_where_it_could_leak(handed: &RunStatus, aborted: &RunStatus) {
    assert_eq!(handed.state, RunState::Completed, "{handed:#?}");
    let recovery = handed.recovery.as_ref().expect("handed to the agent");
    assert!(recovery.error.contains("url_contains"), "{recovery:?}");
    assert!(recovery.error.contains(MARK), "{recovery:?}");
    assert_eq!(aborted.state, RunState::Failed);
    let error = aborted.error.as_ref().unwrap();
    assert!(error.message.contains("(the URL is `"), "{error:?}");
    assert!(error.message.contains(MARK), "{error:?}");
}

/// Every planned model call was made, and the ones that show the page show scrubbed values;
/// the requests, as text.
fn assert_model_saw_scrubbed_values(model: &Model) -> Vec<String> {
    let problems = model.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "model server saw: {problems:#?}");
    let seen = model.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "every planned model call was made");
    let requests: Vec<String> = seen.iter().map(|r| r.to_string()).collect();
    for (n, needle) in [
        (0, "Current URL: "),
        (2, "Your password is"),
        (5, "Welcome "),
    ] {
        assert!(requests[n].contains(needle), "request {n}: no {needle}");
        assert!(
            requests[n].contains(MARK),
            "request {n} shows no scrubbed value"
        );
    }
    requests
}

/// Nothing anywhere holds the value, encoded or cut: the runs' files, the recordings, the
/// events, the model requests and the log lines.
fn assert_no_trace_anywhere(env: &TestEnv, events: &[RunEvent], requests: &[String], lines: &str) {
    let scan = SecretScan::new(SECRET);
    assert!(scan.needle_count() >= 20, "{}", scan.needle_count());
    let mut found = scan.scan_dir(&env.runs_dir());
    found.extend(scan.scan_dir(&env.recordings_dir()));
    for event in events {
        let text = serde_json::to_string(event).unwrap();
        found.extend(scan.scan_text(&format!("event {}#{}", event.run_id, event.seq), &text));
    }
    for (n, text) in requests.iter().enumerate() {
        found.extend(scan.scan_text(&format!("model request {n}"), text));
    }
    found.extend(scan.scan_text("log lines", lines));
    assert!(found.is_empty(), "the credential leaked:\n{found:#?}");
    // The scan itself finds what it should.
    let leak = format!("x={}", SECRET.replace(' ', "+").replace('&', "%26"));
    assert!(!scan.scan_text("control", &leak).is_empty());
}
