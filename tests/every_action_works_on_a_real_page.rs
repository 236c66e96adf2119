//! Every action of the request contract on a real page: scroll, select by value and by label,
//! hover, typing a credential, extract modes, a key press that submits a form, a full-page
//! screenshot, and sequences — one that completes and one that stops at its failing step.

mod common;

use std::collections::BTreeMap;

use common::harness::SHUTDOWN_GRACE;
use common::{Harness, Page, TestEnv};
use pilothouse::{ErrorCode, RunState};

const PAGE: &str = r#"<!doctype html><html><head><title>Actions</title>
<style>#tall { height: 3000px; } #box { width: 200px; height: 100px; overflow: auto; }
#box div { height: 1000px; }</style></head><body>
<select id="colour"><option value="r">Red</option><option value="g">Green</option><option value="b">Blue</option></select>
<p id="chosen">none</p>
<div id="hoverme" style="width:100px;height:40px;background:#eee">hover me</div><p id="hovered">no</p>
<form id="login" action="/welcome" method="get">
  <input id="user" name="user"><input id="pw" name="pw" type="password"><button type="submit">Sign in</button>
</form>
<p id="echo"></p>
<div id="box"><div>inner</div></div>
<div id="tall">tall</div>
<script>
document.getElementById('colour').addEventListener('change', e => {
  document.getElementById('chosen').textContent = e.target.value + '/' + e.target.selectedOptions[0].text;
});
document.getElementById('hoverme').addEventListener('mouseover', () => {
  document.getElementById('hovered').textContent = 'yes';
});
document.getElementById('pw').addEventListener('input', e => {
  document.getElementById('echo').textContent = 'you typed ' + e.target.value;
});
</script></body></html>"#;

const SECRET: &str = "s3cr3t-Horse-Battery";

/// Everything logged while the test runs, at every level, from every crate.
#[derive(Clone, Default)]
struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_on_a_real_page() {
    let logs = capture_logs();
    let h = Harness::new(vec![
        ("/", Page::Html(PAGE.into())),
        (
            "/welcome",
            Page::Html("<title>Welcome</title><h1 id='hi'>Welcome back</h1>".into()),
        ),
    ])
    .start()
    .await;
    let run_id = h.submit_json(&every_action_request()).await;
    let status = h.wait(run_id).await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert_every_action_took_effect(&status.data);
    let screenshot = h
        .env
        .runs_dir()
        .join(run_id.to_string())
        .join("recording/screenshots/0018_screenshot.jpg");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 1000);

    let Harness {
        env, orchestrator, ..
    } = h;
    orchestrator.shutdown(SHUTDOWN_GRACE).await;
    assert_secret_never_written(&env);
    let logged = logs.0.lock().unwrap().clone();
    assert!(logged.len() > 1000, "the run logged nothing");
    let text = String::from_utf8_lossy(&logged);
    let leaks: Vec<&str> = text.lines().filter(|l| l.contains(SECRET)).collect();
    assert!(
        leaks.is_empty(),
        "the credential appears in the logs: {:#?}",
        &leaks[..leaks.len().min(5)]
    );
    env.assert_no_browsers().await;
}

/// Installs a global subscriber that writes into the returned capture.
fn capture_logs() -> LogCapture {
    let logs = LogCapture::default();
    let writer = logs.clone();
    // Global, so the runtime's worker threads log into it too. Our crates at TRACE, every
    // other crate at INFO: chromiumoxide and tungstenite log raw CDP frames at DEBUG and TRACE,
    // which necessarily carry what is typed into the page (see README, "Secrets and logs").
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,pilothouse=trace,pilothouse_actors=trace",
        ))
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");
    logs
}

/// Every action once, with the password typed through a credential reference.
fn every_action_request() -> String {
    r##"{"driver": {"type": "script", "steps": [
           {"action": "goto", "url": "{base}/"},
           {"action": "select", "selector": "#colour", "value": "g"},
           {"action": "extract", "selector": "#chosen", "store_as": "by_value"},
           {"action": "select", "selector": "#colour", "label": "Blue"},
           {"action": "extract", "selector": "#chosen", "store_as": "by_label"},
           {"action": "hover", "selector": "#hoverme"},
           {"action": "extract", "selector": "#hovered", "store_as": "hovered"},
           {"action": "scroll", "direction": "down", "amount": 3},
           {"action": "evaluate", "script": "window.scrollY", "store_as": "scroll_y"},
           {"action": "scroll", "selector": "#box", "amount": 2},
           {"action": "evaluate", "script": "document.getElementById('box').scrollTop", "store_as": "box_y"},
           {"action": "type", "selector": "#user", "text": "ada"},
           {"action": "type", "selector": "#pw", "credential_ref": "password"},
           {"action": "extract", "selector": "#echo", "store_as": "echo"},
           {"action": "extract", "selector": "#pw", "mode": "value", "store_as": "pw_value"},
           {"action": "extract", "selector": "#chosen", "mode": "html", "store_as": "html"},
           {"action": "evaluate", "script": "document.getElementById('echo').textContent = ''"},
           {"action": "screenshot", "full_page": true},
           {"action": "sequence", "steps": [
               {"action": "extract", "selector": "#user", "mode": "value", "store_as": "user"},
               {"action": "press_key", "key": "Enter"}]},
           {"action": "wait_for", "selector": "#hi"},
           {"action": "evaluate", "script": "location.pathname + location.search", "store_as": "landed"}]},
         "credentials": {"password": "SECRET"},
         "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##
        .replace("SECRET", SECRET)
}

/// What each action of `every_action_request` left in the run's data.
fn assert_every_action_took_effect(data: &BTreeMap<String, serde_json::Value>) {
    assert_eq!(data["by_value"], "g/Green");
    assert_eq!(data["by_label"], "b/Blue");
    assert_eq!(data["hovered"], "yes");
    assert_eq!(data["scroll_y"], 600);
    assert_eq!(data["box_y"], 400);
    assert_eq!(data["echo"], "you typed [credential:password]");
    assert_eq!(data["pw_value"], "[credential:password]");
    assert_eq!(data["html"], r#"<p id="chosen">b/Blue</p>"#);
    assert_eq!(data["user"], "ada");
    // The form was submitted with the real secret: the page saw it, nothing we wrote did.
    let landed = data["landed"].as_str().unwrap();
    assert!(landed.starts_with("/welcome?user=ada&pw="), "{landed}");
}

/// Searches every byte under the runs dir for the secret.
fn assert_secret_never_written(env: &TestEnv) {
    let mut stack = vec![env.runs_dir()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files += 1;
                let bytes = std::fs::read(&path).unwrap();
                let leaked = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
                assert!(!leaked, "the credential leaked into {}", path.display());
            }
        }
    }
    assert!(
        files >= 3,
        "expected events, status and a screenshot; found {files} files"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_stops_at_its_failing_step_with_partial_results() {
    let h = Harness::new(vec![("/", Page::Html(PAGE.into()))])
        .start()
        .await;
    let json = r##"{"driver": {"type": "script", "steps": [
           {"action": "goto", "url": "{base}/"},
           {"action": "sequence", "steps": [
               {"action": "select", "selector": "#colour", "label": "Red"},
               {"action": "select", "selector": "#colour", "label": "Purple"},
               {"action": "extract", "selector": "#chosen", "store_as": "never"}]}]},
         "limits": {"action_timeout_ms": 1000},
         "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##;
    let run_id = h.submit_json(json).await;
    let status = h.wait(run_id).await;
    assert_eq!(status.state, RunState::Failed);
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::ActionFailed);
    assert!(
        error
            .message
            .starts_with("step 2 (sequence): step 2 (select):"),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .contains("no option Purple; options are: Red, Green, Blue"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("Step 1 (select)"),
        "partial results missing: {}",
        error.message
    );
    assert!(
        !status.data.contains_key("never"),
        "the step after the failure ran"
    );
    assert_eq!(status.action_count, 2);

    // A nested sequence is refused before anything starts.
    let nested = r##"{"driver": {"type": "script", "steps": [
           {"action": "sequence", "steps": [{"action": "sequence", "steps": [{"action": "screenshot"}]}]}]}}"##;
    let err = h.handle.submit(h.request(nested)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("driver.steps[0].steps[0]: a sequence cannot contain another sequence"),
        "{err}"
    );
    h.finish().await;
}
