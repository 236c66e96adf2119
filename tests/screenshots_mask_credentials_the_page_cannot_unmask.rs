//! Screenshots never show a typed credential. A hostile page that blinds DOM prototypes in its
//! own world (querySelectorAll, querySelector, getElementById, getBoundingClientRect,
//! getClientRects, style.setProperty), renames the field and turns `type=password` into
//! `type=text` as the value arrives still gets the field painted over in every step's JPEG,
//! the `screenshot` action's JPEG, the final one and those embedded in report.html. A page that
//! echoes the value into its text gets those screenshots withheld, each with an event, and
//! the run goes on.

mod common;

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use common::secrets::SecretScan;
use common::{Page, Site, TestEnv, request};
use futures::StreamExt;
use pilothouse::{EventKind, RunEvent, RunState};
use serde_json::json;

const SECRET: &str = "Sw0rdfish! & <more>";

/// The field: 300×40 CSS pixels at (100, 100), red text on yellow.
const HOSTILE: &str = r#"<!doctype html><html><head><title>Hostile</title><style>
body { margin: 0; background: #fff; }
input.f { position: absolute; left: 100px; top: 100px; width: 300px; height: 40px; border: 0;
      font: bold 30px monospace; color: #f00; background: #ff0; padding: 0; }
</style></head><body>
<input id="pw" class="f" type="password">
<script>
const field = document.getElementById('pw');
field.addEventListener('input', () => { field.type = 'text'; field.id = 'renamed'; });
new MutationObserver(() => field.removeAttribute('style'))
  .observe(field, {attributes: true, attributeFilter: ['style']});
Document.prototype.querySelectorAll = function () { return []; };
Element.prototype.querySelectorAll = function () { return []; };
Document.prototype.querySelector = function () { return null; };
Document.prototype.getElementById = function () { return null; };
const zero = {x: 0, y: 0, left: 0, top: 0, right: 0, bottom: 0, width: 0, height: 0};
Element.prototype.getBoundingClientRect = function () { return zero; };
Element.prototype.getClientRects = function () { return []; };
CSSStyleDeclaration.prototype.setProperty = function () {};
</script></body></html>"#;

const ECHO: &str = r#"<!doctype html><title>Echo</title>
<input id="pw" type="password"><p id="echo">nothing typed</p>
<script>
const field = document.getElementById('pw');
field.addEventListener('input', () => {
  document.getElementById('echo').textContent = 'You typed ' + field.value;
});
</script>"#;

#[derive(Debug, PartialEq)]
enum FieldBox {
    /// Painted over.
    Masked,
    /// The empty yellow field.
    Empty,
    /// Red text pixels: the credential shows.
    Shows,
    Other,
}

/// What the field's box shows in a JPEG (viewport 1280 CSS pixels wide).
fn field_box(jpeg: &[u8]) -> FieldBox {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    let scale = f64::from(img.width()) / 1280.0;
    let (mut dark, mut red, mut yellow, mut total) = (0, 0, 0, 0);
    for y in 104..136 {
        for x in 104..396 {
            let px = img.get_pixel((f64::from(x) * scale) as u32, (f64::from(y) * scale) as u32);
            let [r, g, b] = px.0;
            total += 1;
            if r < 50 && g < 50 && b < 50 {
                dark += 1;
            } else if r > 180 && g < 100 && b < 100 {
                red += 1;
            } else if r > 200 && g > 200 && b < 80 {
                yellow += 1;
            }
        }
    }
    if red > 20 {
        FieldBox::Shows
    } else if dark * 100 >= total * 98 {
        FieldBox::Masked
    } else if yellow * 100 >= total * 95 {
        FieldBox::Empty
    } else {
        FieldBox::Other
    }
}

fn report_images(run_dir: &Path) -> Vec<Vec<u8>> {
    let html = std::fs::read_to_string(run_dir.join("recording/report.html")).unwrap();
    html.split("data:image/jpeg;base64,")
        .skip(1)
        .map(|rest| {
            let data = &rest[..rest.find('"').unwrap()];
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap()
        })
        .collect()
}

async fn run(env: &TestEnv, site: &Site, path: &str) -> (pilothouse::RunStatus, Vec<RunEvent>) {
    let body = json!({
        "driver": {"type": "script", "steps": [
            {"action": "goto", "url": format!("{{base}}{path}")},
            {"action": "type", "selector": "#pw", "credential_ref": "pw"},
            {"action": "screenshot"},
            {"action": "evaluate", "store_as": "typed",
             "script": "field.type + ':' + field.id + ':' + field.value.length"}
        ]},
        "credentials": {"pw": SECRET},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    let orchestrator = env.start().await;
    let handle = orchestrator.handle();
    let run_id = handle
        .submit(request(&body.to_string(), site))
        .await
        .unwrap();
    let events: Vec<RunEvent> = handle.events(run_id, 0).await.unwrap().collect().await;
    let status = handle.status(run_id).await.unwrap().unwrap();
    orchestrator.shutdown(Duration::from_secs(5)).await;
    (status, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_blinds_its_dom_still_gets_the_field_masked() {
    let site = Site::serve(vec![("/hostile", Page::Html(HOSTILE.into()))]).await;
    let env = TestEnv::new();
    let (status, _) = run(&env, &site, "/hostile").await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let run_dir = env.runs_dir().join(status.run_id.to_string());
    let shots = run_dir.join("recording/screenshots");
    let read = |name: &str| std::fs::read(shots.join(name)).unwrap();
    // Before typing the field is empty and unmasked: the check sees the page as it is.
    assert_eq!(field_box(&read("0001_goto.jpg")), FieldBox::Empty);
    for name in [
        "0002_type.jpg",
        "0003_screenshot.jpg",
        "0004_evaluate.jpg",
        "final.jpg",
    ] {
        assert_eq!(field_box(&read(name)), FieldBox::Masked, "{name}");
    }
    let images = report_images(&run_dir);
    assert_eq!(images.len(), 5, "four steps and the final page");
    let seen: Vec<FieldBox> = images.iter().map(|jpeg| field_box(jpeg)).collect();
    assert_eq!(seen[0], FieldBox::Empty);
    assert!(seen[1..].iter().all(|b| *b == FieldBox::Masked), "{seen:?}");
    // The value really arrived, and the page unmasked and renamed the field.
    assert_eq!(
        status.data["typed"],
        format!("text:renamed:{}", SECRET.len())
    );
    assert!(SecretScan::new(SECRET).scan_dir(&run_dir).is_empty());
    env.assert_no_browsers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_echoes_the_value_gets_its_screenshots_withheld() {
    let site = Site::serve(vec![("/echo", Page::Html(ECHO.into()))]).await;
    let env = TestEnv::new();
    let (status, events) = run(&env, &site, "/echo").await;
    // Withholding fails nothing: the screenshot action says why it has no image.
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let shot_result = events.iter().find_map(|e| match &e.kind {
        EventKind::Action {
            step: 3, result, ..
        } => result.clone(),
        _ => None,
    });
    let shot_result = shot_result.expect("the screenshot step's event");
    assert!(
        shot_result.starts_with("Screenshot withheld: a credential's text is visible"),
        "{shot_result}"
    );
    let withheld: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Log { message, .. } if message.contains("withheld") => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(
        withheld
            .iter()
            .any(|m| m.starts_with("step 2 screenshot withheld: a credential's text is visible")),
        "{withheld:?}"
    );
    assert!(
        withheld
            .iter()
            .any(|m| m.starts_with("step 4 screenshot withheld")),
        "{withheld:?}"
    );
    assert!(
        withheld
            .iter()
            .any(|m| m.starts_with("final screenshot withheld")),
        "{withheld:?}"
    );
    let run_dir = env.runs_dir().join(status.run_id.to_string());
    let shots = run_dir.join("recording/screenshots");
    assert!(shots.join("0001_goto.jpg").exists());
    for name in [
        "0002_type.jpg",
        "0003_screenshot.jpg",
        "0004_evaluate.jpg",
        "final.jpg",
    ] {
        assert!(!shots.join(name).exists(), "{name} was written");
    }
    assert_eq!(report_images(&run_dir).len(), 1);
    assert!(SecretScan::new(SECRET).scan_dir(&run_dir).is_empty());
    env.assert_no_browsers().await;
}
