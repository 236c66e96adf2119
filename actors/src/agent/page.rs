//! What a model sees of the page besides an action's text result: a compact page map after an
//! action that navigated.
//!
//! The page map is an `observe` made compact: the router runs it as a read-only inspection
//! (not a step, no event), blinded as any observation is (destructive controls hidden,
//! injections redacted, content delimited), and here each section keeps its first lines.

use crate::driver::DriverContext;
use crate::request::Action;

/// Lines kept per section of a page map.
const MAP_SECTION_LINES: usize = 6;
/// The last line of a delimited observation (`blinders::wrap_page_content`).
const CONTENT_END: &str = "[web-content-end]";

/// A compact map of the page the run is on; `None` when it cannot be read (the run stopped,
/// or the page failed to answer: the action's own result still stands).
pub(super) async fn map(ctx: &DriverContext) -> Option<String> {
    let observed = ctx
        .router
        .inspect(Action::Observe { store_as: None })
        .await?
        .ok()?;
    Some(compact(&observed.text, MAP_SECTION_LINES))
}

/// `snapshot` with at most `per_section` lines under each `--- heading ---`, and a count of
/// those left out; the lines before the first heading (delimiter, title and URL) and the
/// closing delimiter are kept.
pub(super) fn compact(snapshot: &str, per_section: usize) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut in_section = false;
    let (mut kept, mut left_out) = (0, 0);
    let close = |out: &mut Vec<String>, left_out: usize| {
        if left_out > 0 {
            out.push(format!("(+{left_out} more)"));
        }
    };
    for line in snapshot.lines() {
        if line.starts_with("--- ") && line.ends_with(" ---") || line == CONTENT_END {
            close(&mut out, left_out);
            (in_section, kept, left_out) = (line != CONTENT_END, 0, 0);
            out.push(line.to_owned());
        } else if !in_section || kept < per_section {
            kept += usize::from(in_section);
            out.push(line.to_owned());
        } else {
            left_out += 1;
        }
    }
    close(&mut out, left_out);
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_section_keeps_its_first_lines_and_counts_the_rest() {
        let snapshot = "[web-content-start]\n[Shop] https://a.test/\n--- Fields ---\nf1\nf2\nf3\n\
                        --- Interactive ---\ni1\n[web-content-end]";
        assert_eq!(
            compact(snapshot, 2),
            "[web-content-start]\n[Shop] https://a.test/\n--- Fields ---\nf1\nf2\n(+1 more)\n\
             --- Interactive ---\ni1\n[web-content-end]"
        );
    }
}
