//! Page observation for models: a compact, capped snapshot of the page, and readability-style
//! markdown extraction.
//!
//! Each runs as one JavaScript call in the page that stops scanning once its caps are reached,
//! so a page of tens of thousands of elements costs about as much as a small one. The script
//! returns structured parts; the exact size caps are applied here, in characters, where they can
//! be unit-tested. Blinders (injection redaction, content delimiters) are the router's job.

mod scripts;

use scripts::{MARKDOWN_JS, OBSERVE_JS};

use chromiumoxide::Page;
use serde::Deserialize;
use serde_json::{Value, json};

use super::cdp::{call, failed};
use super::query::{self, parsed};
use super::settings::Settings;
use crate::event::ActionFailure;
use crate::scrub::Scrubber;

/// Ends a section (or a result) that was cut to fit its cap.
const TRUNCATED: &str = "… (truncated)";
/// Tables listed in a snapshot; later tables are left to the content and interactive sections.
const MAX_TABLES: usize = 5;
/// Columns shown per table row.
const MAX_TABLE_COLUMNS: usize = 12;
/// The URL on the snapshot's first line, in characters.
const URL_CHARS: usize = 300;

/// A snapshot's parts as the page script reports them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct Parts {
    title: String,
    url: String,
    fields: Vec<String>,
    fields_more: bool,
    tables: Vec<TablePart>,
    content: Vec<String>,
    content_more: bool,
    interactive: Vec<String>,
    interactive_more: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct TablePart {
    name: String,
    caption: String,
    header: String,
    rows: Vec<String>,
    total_rows: usize,
}

/// A compact snapshot of the page within `caps`; with `hide_forms`, without form fields and
/// without controls other than links.
pub(super) async fn observe(page: &Page, settings: &Settings) -> Result<String, ActionFailure> {
    let (caps, hide_forms) = (&settings.observe, settings.hide_forms);
    let arg = json!({
        "fieldChars": caps.field_chars.max(4),
        "contentChars": caps.content_chars,
        "maxInteractive": caps.max_interactive,
        "maxFields": caps.max_interactive,
        "tableRows": caps.table_rows,
        "maxTables": MAX_TABLES,
        "maxCols": MAX_TABLE_COLUMNS,
    });
    let reply = call(page, OBSERVE_JS, arg).await?;
    // Scrubbed before the caps below cut anything (a clipped URL keeps no part of a secret).
    let reply = settings.scrubber.scrub_value(reply);
    let mut parts: Parts =
        serde_json::from_value(reply).map_err(|e| failed(format!("observe: odd reply: {e}")))?;
    if hide_forms {
        parts.fields.clear();
        parts.fields_more = false;
        parts
            .interactive
            .retain(|element| element.starts_with("<a "));
    }
    Ok(render_snapshot(parts, caps.snapshot_chars))
}

/// The main content of the page (or of `selector`) as markdown, at most `max_chars` long.
pub(super) async fn markdown(
    page: &Page,
    selector: Option<&str>,
    max_chars: usize,
    scrubber: &Scrubber,
) -> Result<String, ActionFailure> {
    let query = selector.map(parsed).transpose()?;
    let arg = json!({ "selector": selector, "query": query, "maxChars": max_chars });
    let reply = query::call(page, MARKDOWN_JS, arg).await?;
    if let Some(error) = reply.get("error").and_then(Value::as_str) {
        return Err(failed(format!("extract: {error}")));
    }
    let text = reply
        .get("markdown")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let more = reply.get("more").and_then(Value::as_bool).unwrap_or(false);
    Ok(cap_markdown(&scrubber.scrub(text), max_chars, more))
}

/// What ends a section: nothing, the truncation marker, or a table's "(N more rows)".
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tail {
    Nothing,
    Truncated,
    MoreRows(usize),
}

/// One snapshot section: heading lines that are always kept, body lines cut to fit, a tail.
#[derive(Debug)]
struct Section {
    head: Vec<String>,
    body: Vec<String>,
    tail: Tail,
}

impl Section {
    /// The closing line when `omitted` body lines were left out and `cut` says the body was cut
    /// at all (a line dropped or clipped).
    fn tail_line(&self, omitted: usize, cut: bool) -> Option<String> {
        match self.tail {
            Tail::MoreRows(n) if n + omitted > 0 => Some(format!("({} more rows)", n + omitted)),
            Tail::MoreRows(_) => None,
            Tail::Truncated => Some(TRUNCATED.to_owned()),
            Tail::Nothing => cut.then(|| TRUNCATED.to_owned()),
        }
    }

    /// Characters of the whole section, one newline per line included.
    fn full_len(&self) -> usize {
        lines_len(&self.head)
            + lines_len(&self.body)
            + self.tail_line(0, false).map_or(0, |t| len(&t) + 1)
    }

    /// The section's lines within `budget` characters (newlines included) where possible: whole
    /// body lines while they fit, a clipped one if there is room, then the tail.
    fn render(&self, budget: usize) -> Vec<String> {
        let mut lines = self.head.clone();
        if self.full_len() <= budget {
            lines.extend(self.body.iter().cloned());
            lines.extend(self.tail_line(0, false));
            return lines;
        }
        let worst_tail = self
            .tail_line(self.body.len(), true)
            .map_or(0, |t| len(&t) + 1);
        let mut used = lines_len(&lines) + worst_tail;
        let mut kept = 0;
        for line in &self.body {
            let need = len(line) + 1;
            if used + need <= budget {
                lines.push(line.clone());
                used += need;
                kept += 1;
                continue;
            }
            let room = budget.saturating_sub(used + 1);
            if room >= 24 {
                lines.push(clip(line, room));
                kept += 1;
            }
            break;
        }
        // Reaching here means the body did not fit whole: something was dropped or clipped.
        lines.extend(self.tail_line(self.body.len() - kept, true));
        lines
    }
}

fn len(s: &str) -> usize {
    s.chars().count()
}

fn lines_len(lines: &[String]) -> usize {
    lines.iter().map(|l| len(l) + 1).sum()
}

/// `s` cut to at most `max` characters, ending in `…` when cut.
fn clip(s: &str, max: usize) -> String {
    if len(s) <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Shares `budget` among sections of the given sizes: each gets what it needs if that is within
/// an equal share of what is left, and the rest split the remainder equally (water-filling).
fn allot(sizes: &[usize], budget: usize) -> Vec<usize> {
    let mut alloc = vec![0; sizes.len()];
    let mut open: Vec<usize> = (0..sizes.len()).collect();
    let mut left = budget;
    while !open.is_empty() {
        let share = left / open.len();
        let (fits, rest): (Vec<usize>, Vec<usize>) = open.iter().partition(|&&i| sizes[i] <= share);
        if fits.is_empty() {
            for i in rest {
                alloc[i] = share;
            }
            break;
        }
        for i in fits {
            alloc[i] = sizes[i];
            left -= sizes[i];
        }
        open = rest;
    }
    alloc
}

/// Lays the parts out as the snapshot text, at most `max_chars` characters long.
fn render_snapshot(parts: Parts, max_chars: usize) -> String {
    let first = format!("[{}] {}", parts.title, clip(&parts.url, URL_CHARS));
    let mut sections = Vec::new();
    let more = |flag: bool| if flag { Tail::Truncated } else { Tail::Nothing };
    if !parts.fields.is_empty() {
        sections.push(Section {
            head: vec!["--- Fields ---".into()],
            body: parts.fields,
            tail: more(parts.fields_more),
        });
    }
    for table in parts.tables {
        let mut head = vec![format!("--- {} ---", table.name)];
        if !table.caption.is_empty() {
            head.push(format!("caption: {}", table.caption));
        }
        if !table.header.is_empty() {
            head.push(table.header);
        }
        let hidden = table.total_rows.saturating_sub(table.rows.len());
        sections.push(Section {
            head,
            body: table.rows,
            tail: Tail::MoreRows(hidden),
        });
    }
    if !parts.content.is_empty() {
        sections.push(Section {
            head: vec!["--- Content ---".into()],
            body: parts.content,
            tail: more(parts.content_more),
        });
    }
    if !parts.interactive.is_empty() {
        sections.push(Section {
            head: vec!["--- Interactive ---".into()],
            body: parts.interactive,
            tail: more(parts.interactive_more),
        });
    }
    let sizes: Vec<usize> = sections.iter().map(Section::full_len).collect();
    let budget = max_chars.saturating_sub(len(&first) + 1);
    let mut lines = vec![first];
    for (section, share) in sections.iter().zip(allot(&sizes, budget)) {
        lines.extend(section.render(share));
    }
    let text = lines.join("\n");
    // Headings are kept whole above; on absurdly small caps, cut the text itself.
    if len(&text) <= max_chars {
        text
    } else if max_chars <= len(TRUNCATED) + 1 {
        text.chars().take(max_chars).collect()
    } else {
        let kept: String = text.chars().take(max_chars - len(TRUNCATED) - 1).collect();
        format!("{kept}\n{TRUNCATED}")
    }
}

/// Caps markdown at `max_chars`, cutting at a line break where one is near and closing an open
/// code fence; `more` says the page script stopped early, so a marker is due even if it fits.
fn cap_markdown(text: &str, max_chars: usize, more: bool) -> String {
    let text = text.trim_end();
    if !more && len(text) <= max_chars {
        return text.to_owned();
    }
    let marker = format!("\n\n{TRUNCATED}");
    let fence = "\n```";
    let room = max_chars.saturating_sub(len(&marker) + len(fence));
    if room == 0 {
        return text.chars().take(max_chars).collect();
    }
    let mut kept: String = text.chars().take(room).collect();
    if len(text) > room
        && let Some(cut) = kept
            .rfind('\n')
            .filter(|&i| len(&kept[..i]) * 10 >= room * 7)
    {
        kept.truncate(cut);
    }
    let mut kept = kept.trim_end().to_owned();
    if kept.lines().filter(|l| l.starts_with("```")).count() % 2 == 1 {
        kept.push_str(fence);
    }
    kept.push_str(&marker);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> Parts {
        Parts {
            title: "Shop".into(),
            url: "http://127.0.0.1/shop".into(),
            ..Parts::default()
        }
    }

    #[test]
    fn allot_gives_small_sections_what_they_need() {
        assert_eq!(allot(&[100, 200], 1000), vec![100, 200]);
        assert_eq!(allot(&[100, 2000, 3000], 1000), vec![100, 450, 450]);
        assert_eq!(allot(&[300, 1500, 3000], 3400), vec![300, 1500, 1600]);
        assert_eq!(allot(&[], 100), Vec::<usize>::new());
    }

    #[test]
    fn a_small_page_is_rendered_whole() {
        let mut p = parts();
        p.fields = vec![r#"label="Email" name="email" type="email" value="""#.into()];
        p.content = vec!["Welcome".into(), "Deals".into()];
        p.interactive = vec![r#"<a href="/x">X</a>"#.into()];
        let text = render_snapshot(p, 3500);
        assert_eq!(
            text,
            "[Shop] http://127.0.0.1/shop\n--- Fields ---\nlabel=\"Email\" name=\"email\" \
             type=\"email\" value=\"\"\n--- Content ---\nWelcome\nDeals\n--- Interactive ---\n\
             <a href=\"/x\">X</a>"
        );
    }

    #[test]
    fn tables_show_how_many_rows_are_left_out() {
        let mut p = parts();
        p.tables = vec![TablePart {
            name: "table#orders".into(),
            header: "id | item".into(),
            rows: (0..5).map(|i| format!("{i} | thing")).collect(),
            total_rows: 10_000,
            ..TablePart::default()
        }];
        let text = render_snapshot(p, 3500);
        assert!(
            text.contains("--- table#orders ---\nid | item\n0 | thing\n"),
            "{text}"
        );
        assert!(text.ends_with("4 | thing\n(9995 more rows)"), "{text}");
    }

    #[test]
    fn a_large_page_is_cut_to_the_cap_with_markers() {
        let mut p = parts();
        p.tables = vec![TablePart {
            name: "table[1]".into(),
            header: "a | b".into(),
            rows: (0..5)
                .map(|i| format!("{i} | {}", "x".repeat(40)))
                .collect(),
            total_rows: 9000,
            ..TablePart::default()
        }];
        p.content = (0..40)
            .map(|i| format!("paragraph {i} {}", "y".repeat(30)))
            .collect();
        p.content_more = true;
        p.interactive = (0..50)
            .map(|i| format!(r#"<button id="b{i}">{}</button>"#, "z".repeat(50)))
            .collect();
        p.interactive_more = true;
        for cap in [3500, 1200, 600] {
            let text = render_snapshot(p.clone(), cap);
            assert!(len(&text) <= cap, "{} > {cap}", len(&text));
            for heading in ["--- table[1] ---", "--- Content ---", "--- Interactive ---"] {
                assert!(text.contains(heading), "{heading} missing at {cap}");
            }
            assert!(text.contains("more rows)"), "{text}");
            assert!(text.ends_with(TRUNCATED), "{text}");
        }
    }

    #[test]
    fn a_long_line_is_clipped_rather_than_dropped() {
        let section = Section {
            head: vec!["--- Content ---".into()],
            body: vec!["w".repeat(500)],
            tail: Tail::Nothing,
        };
        let lines = section.render(200);
        assert_eq!(lines.len(), 3);
        assert!(lines[1].ends_with('…'));
        assert_eq!(lines[2], TRUNCATED);
        assert!(lines_len(&lines) <= 200);
    }

    #[test]
    fn tiny_caps_still_hold() {
        let mut p = parts();
        p.content = vec!["hello world".into()];
        assert!(len(&render_snapshot(p, 10)) <= 10);
        assert_eq!(render_snapshot(parts(), 0), "");
    }

    #[test]
    fn markdown_within_the_cap_is_unchanged() {
        assert_eq!(cap_markdown("# T\n\ntext\n", 100, false), "# T\n\ntext");
    }

    #[test]
    fn long_markdown_is_cut_at_a_line_with_a_marker() {
        let text: String = (0..100).map(|i| format!("line {i}\n\n")).collect();
        let capped = cap_markdown(&text, 300, true);
        assert!(len(&capped) <= 300);
        assert!(capped.ends_with(&format!("\n\n{TRUNCATED}")));
        let body = capped.trim_end_matches(TRUNCATED).trim_end();
        assert!(body.ends_with(|c: char| c.is_ascii_digit()), "{capped}");
    }

    #[test]
    fn a_cut_code_block_is_closed() {
        let text = format!("intro\n\n```\n{}\n```", "let x = 1;\n".repeat(100));
        let capped = cap_markdown(&text, 200, false);
        assert!(len(&capped) <= 200);
        assert_eq!(capped.matches("```").count(), 2, "{capped}");
    }

    #[test]
    fn early_stop_gets_a_marker_even_when_short() {
        assert_eq!(
            cap_markdown("abc", 100, true),
            format!("abc\n\n{TRUNCATED}")
        );
    }
}
