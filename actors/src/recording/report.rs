//! `report.html`: one self-contained page per run — a header with the outcome, then a timeline
//! of every step with its screenshot, timing, result and error. Screenshots are embedded as
//! `data:` URIs and the styles are inline, so the file opens anywhere with nothing to load.

use crate::html::escape_html as esc;
use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;

use super::ActionEntry;
use crate::run::RunStatus;

/// Renders the report. `run_dir` is where the entries' screenshot paths start.
pub(crate) fn render(status: &RunStatus, entries: &[ActionEntry], run_dir: &Path) -> String {
    let mut html = String::with_capacity(16 * 1024);
    let title = format!("Run {} — {}", status.run_id, status.state);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&title)
    );
    header(&mut html, status, entries.len());
    html.push_str("<ol class=\"timeline\">\n");
    for entry in entries {
        step(&mut html, entry, run_dir);
    }
    html.push_str("</ol>\n");
    final_page(&mut html, run_dir);
    html.push_str("</body></html>\n");
    html
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.3em}table.meta td{padding:2px 12px 2px 0;vertical-align:top}\
.timeline{list-style:none;padding:0}.step{border:1px solid #ddd;border-radius:6px;\
margin:0 0 1em;padding:.8em}.step.failed{border-color:#c33;background:#fff6f6}\
.step h2{font-size:1em;margin:0 0 .4em}.ok{color:#173}.err{color:#b22}\
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em;max-height:20em;overflow:auto}\
img.shot{max-width:min(100%,720px);border:1px solid #ccc;display:block;margin-top:.5em}\
.state-completed{color:#173}.state-failed,.state-timed_out,.state-interrupted{color:#b22}";

fn header(html: &mut String, status: &RunStatus, steps: usize) {
    let _ = write!(
        html,
        "<h1>Run <code>{}</code>: <span class=\"state state-{}\" id=\"state\">{}</span></h1>\n\
         <table class=\"meta\">",
        esc(&status.run_id.to_string()),
        status.state,
        status.state,
    );
    let mut row = |k: &str, v: String| {
        let _ = write!(html, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(&v));
    };
    row("driver", status.driver.clone());
    row("created", status.created_at.to_rfc3339());
    if let Some(at) = status.finished_at {
        row("finished", at.to_rfc3339());
    }
    if let Some(ms) = status.duration_ms {
        row("duration", format!("{ms} ms"));
    }
    row("steps", steps.to_string());
    if let Some(url) = &status.last_url {
        row("last URL", url.clone());
    }
    if let Some(error) = &status.error {
        row("error", format!("{}: {}", error.code, error.message));
    }
    for (k, v) in &status.labels {
        row(&format!("label {k}"), v.clone());
    }
    html.push_str("</table>\n");
    if !status.data.is_empty() {
        let data = serde_json::to_string_pretty(&status.data).unwrap_or_default();
        let _ = writeln!(html, "<h2>Data</h2><pre id=\"data\">{}</pre>", esc(&data));
    }
}

fn step(html: &mut String, entry: &ActionEntry, run_dir: &Path) {
    let class = if entry.success { "step" } else { "step failed" };
    let _ = write!(
        html,
        "<li class=\"{class}\" id=\"step-{n}\" data-step=\"{n}\"><h2>{n}. {action} \
         <span class=\"{verdict_class}\">{verdict}</span> <small>{ms} ms · {at}</small></h2>\
         <div class=\"input\"><code>{input}</code></div>",
        n = entry.step,
        action = esc(&entry.action),
        verdict_class = if entry.success { "ok" } else { "err" },
        verdict = if entry.success { "ok" } else { "failed" },
        ms = entry.duration_ms,
        at = entry.started_at.format("%H:%M:%S%.3f"),
        input = esc(&entry.input),
    );
    if let Some(url) = &entry.url {
        let _ = write!(html, "<div class=\"url\">at {}</div>", esc(url));
    }
    if let Some(result) = &entry.result {
        let _ = write!(html, "<pre class=\"result\">{}</pre>", esc(result));
    }
    if let Some(error) = &entry.error {
        let _ = write!(
            html,
            "<pre class=\"error err\">{}: {}</pre>",
            error.code,
            esc(&error.message)
        );
    }
    if let Some(rel) = &entry.screenshot {
        image(
            html,
            &run_dir.join(rel),
            &format!("step {} screenshot", entry.step),
        );
    }
    html.push_str("</li>\n");
}

fn final_page(html: &mut String, run_dir: &Path) {
    let shot = run_dir
        .join(super::RECORDING_DIR)
        .join("screenshots/final.jpg");
    let dom = run_dir
        .join(super::RECORDING_DIR)
        .join(super::FINAL_DOM_FILE);
    if !shot.exists() && !dom.exists() {
        return;
    }
    html.push_str("<h2 id=\"final\">Final page</h2>");
    if dom.exists() {
        let _ = write!(
            html,
            "<p>The final DOM is in <code>{}</code> next to this report.</p>",
            super::FINAL_DOM_FILE
        );
    }
    image(html, &shot, "final screenshot");
}

/// Embeds a JPEG as a `data:` URI; a missing file is said so instead of a broken image.
fn image(html: &mut String, path: &Path, alt: &str) {
    match std::fs::read(path) {
        Ok(bytes) => {
            let data = base64::engine::general_purpose::STANDARD.encode(bytes);
            let _ = write!(
                html,
                "<img class=\"shot\" alt=\"{}\" src=\"data:image/jpeg;base64,{data}\">",
                esc(alt)
            );
        }
        Err(_) if !path.exists() => {}
        Err(e) => {
            let _ = write!(
                html,
                "<p class=\"err\">screenshot unreadable: {}</p>",
                esc(&e.to_string())
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunId;

    #[test]
    fn page_text_is_escaped_and_images_are_inline() {
        let dir = tempfile::tempdir().unwrap();
        let shots = dir.path().join("recording/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        std::fs::write(shots.join("0001_extract.jpg"), b"\xff\xd8jpeg").unwrap();
        let entry = ActionEntry {
            step: 1,
            action: "extract".into(),
            input: "h1".into(),
            params: None,
            started_at: chrono::Utc::now(),
            duration_ms: 3,
            success: true,
            result: Some("<script>alert(1)</script>".into()),
            error: None,
            url: None,
            screenshot: Some("recording/screenshots/0001_extract.jpg".into()),
        };
        let status = RunStatus::new_queued(RunId::new(), "script", Default::default());
        let html = render(&status, &[entry], dir.path());
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("src=\"data:image/jpeg;base64,/9hqcGVn\""));
        assert!(html.contains("id=\"step-1\""));
    }
}
