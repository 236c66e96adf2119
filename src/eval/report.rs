//! The suite's report: `report.json` (the scored result) and `report.html`, one self-contained
//! page — pass rate, trial durations (with each case's p95) and cost per case as inline SVG
//! charts, then every trial with its checks and a link to its run's own report. No script,
//! style sheet or font from anywhere else.

use pilothouse::escape_html as esc;
use std::fmt::Write as _;
use std::path::Path;

use super::score::{CaseResult, SuiteResult};

/// Writes `report.json` and `report.html` into `out`; `runs_dir` is where each run's
/// recording lives (for the links).
pub(crate) fn write(result: &SuiteResult, out: &Path, runs_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let json = serde_json::to_string_pretty(result).map_err(std::io::Error::other)?;
    std::fs::write(out.join("report.json"), json)?;
    std::fs::write(out.join("report.html"), html(result, runs_dir))
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;\
text-align:left}.pass{color:#17803d}.fail{color:#b42318}svg{display:block;margin:1em 0}\
figure{margin:0}figcaption{font-weight:600}";

/// The whole page.
pub(crate) fn html(result: &SuiteResult, runs_dir: &Path) -> String {
    let mut page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{name} — evaluation</title>\
         <style>{STYLE}</style></head><body><h1>{name}</h1><p>{passed} of {total} cases passed \
         ({rate:.0}%) · trials p95 {p95} ms · average cost ${cost:.4} · playbook hits \
         {hits:.0}% · hand-offs {handoffs:.0}% (rescued {rescued:.0}%)</p>",
        name = esc(&result.name),
        passed = result.passed,
        total = result.total,
        rate = result.pass_rate * 100.0,
        p95 = result.p95_duration_ms,
        cost = result.avg_estimated_cost_usd,
        hits = result.deterministic_hit_rate * 100.0,
        handoffs = result.handoff_rate * 100.0,
        rescued = result.handoff_rescue_rate * 100.0,
    );
    page.push_str(&bars(
        "pass-rate",
        "Trial pass rate per case",
        &result.cases,
        |c| c.trial_pass_rate,
        |v| format!("{:.0}%", v * 100.0),
    ));
    page.push_str(&durations(&result.cases));
    page.push_str(&bars(
        "cost",
        "Average cost per trial (USD)",
        &result.cases,
        |c| c.avg_estimated_cost_usd,
        |v| format!("${v:.4}"),
    ));
    for case in &result.cases {
        page.push_str(&case_table(case, runs_dir));
    }
    page.push_str("</body></html>\n");
    page
}

const LABEL_W: f64 = 220.0;
const PLOT_W: f64 = 420.0;
const ROW_H: f64 = 24.0;

fn chart_open(id: &str, title: &str, rows: usize) -> String {
    let height = ROW_H * rows as f64 + 10.0;
    format!(
        "<figure id=\"{id}\"><figcaption>{title}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w}\" height=\"{height}\" role=\"img\" aria-label=\"{title}\">",
        w = LABEL_W + PLOT_W + 90.0
    )
}

/// One horizontal bar per case, scaled to the largest value (or to 1 for rates).
fn bars(
    id: &str,
    title: &str,
    cases: &[CaseResult],
    value: fn(&CaseResult) -> f64,
    label: fn(f64) -> String,
) -> String {
    let max = cases.iter().map(value).fold(0.0, f64::max).max(1e-9);
    let scale = if id == "pass-rate" { 1.0 } else { max };
    let mut svg = chart_open(id, title, cases.len());
    for (i, case) in cases.iter().enumerate() {
        let y = i as f64 * ROW_H + 5.0;
        let v = value(case);
        let width = (v / scale * PLOT_W).max(1.0);
        let colour = if case.passed { "#17803d" } else { "#b42318" };
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{ty}\">{name}</text><rect class=\"bar\" x=\"{LABEL_W}\" y=\"{y}\" \
             width=\"{width:.1}\" height=\"16\" fill=\"{colour}\"/><text x=\"{lx:.1}\" y=\"{ty}\">{text}</text>",
            ty = y + 13.0,
            name = esc(&case.id),
            lx = LABEL_W + width + 6.0,
            text = esc(&label(v)),
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// Each trial's duration as a dot on its case's row, the case's p95 as a tick.
fn durations(cases: &[CaseResult]) -> String {
    let max = cases
        .iter()
        .flat_map(|c| c.trials.iter().map(|t| t.observed.duration_ms))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |ms: u64| LABEL_W + ms as f64 / max * PLOT_W;
    let mut svg = chart_open(
        "durations",
        "Trial durations (dots) and p95 (tick), ms",
        cases.len(),
    );
    for (i, case) in cases.iter().enumerate() {
        let y = i as f64 * ROW_H + 5.0;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text>",
            y + 13.0,
            esc(&case.id)
        );
        for trial in &case.trials {
            let _ = write!(
                svg,
                "<circle class=\"trial\" cx=\"{:.1}\" cy=\"{}\" r=\"4\" fill=\"#2e5aac\"/>",
                x(trial.observed.duration_ms),
                y + 8.0
            );
        }
        let px = x(case.p95_duration_ms);
        let _ = write!(
            svg,
            "<line class=\"p95\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{y}\" y2=\"{}\" stroke=\"#222\" \
             stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{}\">{} ms</text>",
            y + 16.0,
            LABEL_W + PLOT_W + 8.0,
            y + 13.0,
            case.p95_duration_ms
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// A case's verdict and its trials.
fn case_table(case: &CaseResult, runs_dir: &Path) -> String {
    let verdict = if case.passed { "pass" } else { "fail" };
    let mut html = format!(
        "<h2 id=\"case-{id}\">{id} <span class=\"{verdict}\">{verdict}</span></h2><p>mode \
         {mode} · {n} trial(s), {rate:.0}% passed · avg {avg:.0} ms, p95 {p95} ms{checks}</p>\
         <table><tr><th>trial</th><th>result</th><th>path</th><th>ms</th><th>actions</th>\
         <th>tokens in/out</th><th>cost</th><th>failed checks</th><th>summary or error</th>\
         <th>run</th></tr>",
        id = esc(&case.id),
        mode = case.requested_mode,
        n = case.trials_run,
        rate = case.trial_pass_rate * 100.0,
        avg = case.avg_duration_ms,
        p95 = case.p95_duration_ms,
        checks = if case.failed_checks.is_empty() {
            String::new()
        } else {
            format!(" · failed: {}", case.failed_checks.join(", "))
        },
    );
    for t in &case.trials {
        let o = &t.observed;
        let link = t.run_id.as_deref().map_or(String::new(), |id| {
            let report = runs_dir.join(id).join("recording").join("report.html");
            format!(
                "<a href=\"file://{}\">{}</a>",
                esc(&report.display().to_string()),
                esc(id)
            )
        });
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"{v}\">{v}</td><td>{:?}</td><td>{}</td><td>{}</td>\
             <td>{}/{}</td><td>${:.4}</td><td>{}</td><td>{}</td><td>{link}</td></tr>",
            t.index,
            o.mode,
            o.duration_ms,
            o.actions,
            o.input_tokens,
            o.output_tokens,
            o.estimated_cost_usd,
            t.failed_checks.join(", "),
            esc(o.error.as_deref().unwrap_or(&o.summary)),
            v = if t.passed { "pass" } else { "fail" },
        );
    }
    html.push_str("</table>");
    html
}
