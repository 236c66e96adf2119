//! How the binary shows runs to people: one line per event as it happens, and a final status
//! block. JSON output (`--json`) bypasses this and prints the engine's own serialization.
//!
//! Page text, URLs and request fields reach these lines, and a hostile page must not be able to
//! write to the operator's terminal through them: every line passes [`terminal_safe`], which
//! drops escape sequences (titles, clipboard writes, cursor moves) and control characters, and
//! flattens newlines so no value can forge a line of its own.

use std::fmt::Write as _;
use std::path::Path;

use pilothouse::{ActionFailure, Download, ErrorCode, EventKind, RunEvent, RunStatus};
use serde_json::Value;

/// Longest result or data text shown on one line; the full value is in `status.json`.
const MAX_TEXT_CHARS: usize = 100;

/// The line an event prints as, or `None` for events people do not need to see (state changes
/// and the terminal event, which the final status block covers).
pub(crate) fn event_line(event: &RunEvent) -> Option<String> {
    raw_event_line(event).map(|line| terminal_safe(&line))
}

fn raw_event_line(event: &RunEvent) -> Option<String> {
    match &event.kind {
        EventKind::Queued { position } if *position > 0 => {
            Some(format!("    queued behind {position} other run(s)"))
        }
        EventKind::BrowserReady { launch_ms } => {
            Some(format!("    browser ready in {launch_ms} ms"))
        }
        EventKind::Action {
            step,
            action,
            input,
            duration_ms,
            success,
            result,
            error,
            screenshot,
            ..
        } => {
            let head = format!("{step:>3} {action} {}", one_line(input));
            Some(if *success {
                succeeded_line(head, *duration_ms, result.as_deref(), screenshot.as_deref())
            } else {
                failed_line(head, *duration_ms, error.as_ref())
            })
        }
        EventKind::Navigated { url } => Some(format!("      navigated {url}")),
        EventKind::GuardrailBlocked {
            check,
            reason,
            target,
        } => Some(format!(
            "      guardrail_blocked {check}: {} ({target})",
            one_line(reason)
        )),
        EventKind::Log { level, message } => Some(format!("      {level}: {}", one_line(message))),
        EventKind::Download(download) => Some(download_line(download)),
        _ => None,
    }
}

/// An action that succeeded: its time, result text and screenshot.
fn succeeded_line(
    mut line: String,
    duration_ms: u64,
    result: Option<&str>,
    screenshot: Option<&str>,
) -> String {
    let _ = write!(line, "  ok  {duration_ms} ms");
    if let Some(text) = result.filter(|t| !t.is_empty()) {
        let _ = write!(line, "  {}", one_line(text));
    }
    if let Some(path) = screenshot {
        let _ = write!(line, "  [{path}]");
    }
    line
}

/// An action that failed: its time and error.
fn failed_line(mut line: String, duration_ms: u64, error: Option<&ActionFailure>) -> String {
    let _ = write!(line, "  FAILED  {duration_ms} ms");
    if let Some(error) = error {
        let _ = write!(
            line,
            "  {}: {}",
            code_name(error.code),
            one_line(&error.message)
        );
    }
    line
}

/// A download's outcome, name, size and where it was kept.
fn download_line(download: &Download) -> String {
    format!(
        "      download {} {} ({} bytes){}",
        download.outcome.as_str(),
        one_line(&download.file_name),
        download.bytes,
        download
            .path
            .as_deref()
            .map(|p| format!(" -> {p}"))
            .unwrap_or_default()
    )
}

/// The final status as an aligned block: state, error, duration, actions, data, where it is.
pub(crate) fn status_block(status: &RunStatus, runs_dir: &Path) -> String {
    let mut out = status_summary(status);
    let dir = runs_dir.join(status.run_id.to_string());
    if let Some(recording) = &status.recording {
        let report = recording.local_dir.join("report.html");
        if report.is_file() {
            let _ = writeln!(out, "report    {}", report.display());
        }
        if recording.uploaded {
            let _ = writeln!(out, "uploaded  {}", recording.location);
        }
    }
    let _ = write!(out, "status    {}", dir.join("status.json").display());
    out
}

/// The status lines that hold on any machine (no local paths): state, error, duration,
/// actions, data and finalize problems, each line ending in a newline.
pub(crate) fn status_summary(status: &RunStatus) -> String {
    let mut lines = vec![format!("state     {}", status.state)];
    if let Some(error) = &status.error {
        lines.push(format!(
            "error     {}: {}",
            code_name(error.code),
            error.message
        ));
    }
    if let Some(ms) = status.duration_ms {
        lines.push(format!("duration  {ms} ms"));
    }
    lines.push(format!("actions   {}", status.action_count));
    let mut label = "data    ";
    for (key, value) in &status.data {
        lines.push(format!("{label}  {key} = {}", value_text(value)));
        label = "        ";
    }
    for problem in &status.finalize_errors {
        lines.push(format!("finalize  {}: {}", problem.step, problem.message));
    }
    let mut out = String::new();
    for line in lines {
        let _ = writeln!(out, "{}", terminal_safe(&line));
    }
    out
}

/// `GUARDRAIL_BLOCKED`, as the code appears in JSON.
pub(crate) fn code_name(code: ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(Value::String(name)) => name,
        _ => format!("{code:?}"),
    }
}

/// A stored value on one line: strings as JSON strings, other values as compact JSON, clipped.
pub(crate) fn value_text(value: &Value) -> String {
    clip(&terminal_safe(&value.to_string()), MAX_TEXT_CHARS)
}

/// Text on one line (newlines and tabs become spaces), safe for a terminal, clipped.
pub(crate) fn one_line(text: &str) -> String {
    let safe = terminal_safe(text);
    let flat: String = safe.split_whitespace().collect::<Vec<_>>().join(" ");
    clip(&flat, MAX_TEXT_CHARS)
}

/// `text` without anything a terminal would act on: ESC/CSI/OSC/DCS sequences (7- and 8-bit)
/// are removed whole, other control characters and newlines become spaces, and bidirectional
/// overrides (which reorder what the eye reads) are dropped. Printable text is kept as is.
pub(crate) fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if is_bidi_control(c) => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Skips a CSI sequence's parameters up to and including its final byte (`@`..=`~`).
fn skip_csi(chars: &mut impl Iterator<Item = char>) {
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            break;
        }
    }
}

/// Skips an OSC/DCS/SOS/PM/APC string up to its terminator (BEL, ST or ESC `\\`).
fn skip_string(chars: &mut std::iter::Peekable<impl Iterator<Item = char>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_flattens_and_clips() {
        assert_eq!(one_line("a\n b\tc"), "a b c");
        let long = "x".repeat(MAX_TEXT_CHARS + 5);
        assert_eq!(one_line(&long).chars().count(), MAX_TEXT_CHARS + 1);
    }

    fn event(json: Value) -> RunEvent {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn action_lines_show_step_input_outcome_and_time() {
        let ok = event(serde_json::json!({
            "run_id": "0198c0de-0000-7000-8000-000000000000", "seq": 7,
            "at": "2025-01-01T00:00:00Z", "type": "action", "step": 3, "action": "click",
            "input": "#submit", "duration_ms": 42, "success": true, "result": "Clicked"}));
        assert_eq!(
            event_line(&ok).unwrap(),
            "  3 click #submit  ok  42 ms  Clicked"
        );
        let failed = event(serde_json::json!({
            "run_id": "0198c0de-0000-7000-8000-000000000000", "seq": 8,
            "at": "2025-01-01T00:00:00Z", "type": "action", "step": 4, "action": "wait_for",
            "input": "#never visible", "duration_ms": 500, "success": false,
            "error": {"code": "ACTION_FAILED", "message": "timed out\nafter 500 ms"}}));
        assert_eq!(
            event_line(&failed).unwrap(),
            "  4 wait_for #never visible  FAILED  500 ms  ACTION_FAILED: timed out after 500 ms"
        );
    }

    #[test]
    fn terminal_sequences_never_reach_the_terminal() {
        let hostile = "Title\u{1b}]0;pwned\u{7} \u{1b}]52;c;ZXZpbA==\u{1b}\\ok\u{1b}[2K\u{1b}[1A\r\
                       state     completed\u{9b}31m red\u{9d}8;;http://x\u{9c} \u{202e}txt.exe";
        let safe = terminal_safe(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert!(
            !safe.contains("pwned") && !safe.contains("ZXZpbA"),
            "{safe:?}"
        );
        assert!(!safe.contains('\u{202e}'));
        assert_eq!(
            terminal_safe("plain text, ünïcode ✓"),
            "plain text, ünïcode ✓"
        );
    }

    #[test]
    fn no_value_can_forge_a_status_line() {
        let status: RunStatus = serde_json::from_value(serde_json::json!({
            "run_id": "0198c0de-0000-7000-8000-000000000000", "state": "failed",
            "created_at": "2025-01-01T00:00:00Z", "action_count": 1, "driver": "script",
            "error": {"code": "ACTION_FAILED", "message": "x\nstate     completed\u{1b}[1A"},
            "data": {"k\u{1b}]0;t\u{7}": "v\u{85}"}}))
        .unwrap();
        let text = status_summary(&status);
        let states: Vec<&str> = text.lines().filter(|l| l.starts_with("state")).collect();
        assert_eq!(states, ["state     failed"], "{text}");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }

    #[test]
    fn codes_print_as_in_json() {
        assert_eq!(code_name(ErrorCode::GuardrailBlocked), "GUARDRAIL_BLOCKED");
    }
}
