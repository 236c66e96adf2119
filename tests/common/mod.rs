//! Shared test harness: a page server on 127.0.0.1 with a request log, an orchestrator on temp
//! dirs, and a check that no Chromium launched by the test outlives it. `Harness` sets all three
//! up in one call; `eventually` is the one poll-until helper; `procs` is the one `/proc`
//! scanner (the benchmark includes it too); `postgres` gives a test its own database.
#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod api_site;
pub mod devtools;
pub mod env;
pub mod eval;
pub mod eventually;
pub mod harness;
pub mod login_site;
pub mod logs;
pub mod model;
pub mod postgres;
pub mod procs;
pub mod remote;
pub mod secrets;
pub mod server;
pub mod site;
pub mod viewer;

use pilothouse::{EventKind, RunEvent, RunId, RunRequest};

pub use env::TestEnv;
pub use eventually::eventually;
pub use harness::Harness;
pub use site::{Page, Site};

/// A log event (`event {seq}`) of `run_id` and its JSON line, as a run store appends it.
pub fn log_note(run_id: RunId, seq: u64) -> (RunEvent, Vec<u8>) {
    let event = RunEvent {
        run_id,
        seq,
        at: chrono::Utc::now(),
        kind: EventKind::Log {
            level: "info".into(),
            message: format!("event {seq}"),
        },
    };
    let mut line = serde_json::to_vec(&event).unwrap();
    line.push(b'\n');
    (event, line)
}

/// A request from JSON with `{base}` replaced by the site's base URL.
pub fn request(json: &str, site: &Site) -> RunRequest {
    let text = json.replace("{base}", &format!("http://{}", site.addr));
    RunRequest::from_json(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The demo form: typing a name and clicking submit shows a greeting computed in JavaScript
/// after a short delay.
pub const FORM_PAGE: &str = r#"<!doctype html><html><head><title>Form</title></head><body>
<form id="f" onsubmit="return false">
  <label>Name <input id="name" name="name"></label>
  <button id="submit" type="button">Greet</button>
</form>
<div id="out" style="display:none"></div>
<script>
document.getElementById('submit').addEventListener('click', () => {
  const name = document.getElementById('name').value;
  setTimeout(() => {
    const out = document.getElementById('out');
    out.textContent = 'Hello, ' + name + '! ' + [3, 4, 5].map(x => x * x).reduce((a, b) => a + b);
    out.style.display = 'block';
    document.title = 'Greeted ' + name;
  }, 150);
});
</script></body></html>"#;
