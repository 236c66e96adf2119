//! Destructive controls: buttons and links whose label commits something that cannot be taken
//! back — closing an account, placing an order, sending a message. Which of them a run may see
//! in `observe` and click depends on its task kind, in the reference system's tiers:
//!
//! | tier | phrases | hidden and refused in |
//! | --- | --- | --- |
//! | account | delete / close (my) account | every kind |
//! | account, other | deactivate / remove / cancel (my) account, terminate | read, navigate, interact |
//! | commit | place / submit order, complete purchase, pay / buy / purchase now, send email / message, publish post, delete my … | read, navigate |
//!
//! Labels are matched after folding (look-alike letters, full-width forms and invisible
//! characters undone, as for the blinders), lower-cased, with camelCase and punctuation split
//! into words: `#delete-account`, `deleteAccount` and "Delete account" all read "delete account".
//! A click is checked before any model is asked and before the browser clicks: the selector
//! itself, then the element's text, `aria-label`, `value`, `title`, `alt`, `id` and `name`.

use std::sync::LazyLock;

use regex::Regex;

use crate::request::TaskKind;

/// One tier of destructive phrases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    Account,
    AccountOther,
    Commit,
}

/// The tiers, each as one pattern over a normalized label (see [`words`]).
static TIERS: LazyLock<[(Tier, Regex); 3]> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("destructive patterns are valid regular expressions");
    [
        (
            Tier::Account,
            re(r"\b(?:delete|close)\s+(?:(?:my|your|this|the|user)\s+)?account\b"),
        ),
        (
            Tier::AccountOther,
            re(
                r"\b(?:deactivate|remove|cancel|terminate|disable|erase)\s+(?:(?:my|your|this|the|user)\s+)?account\b|\bterminate\b",
            ),
        ),
        (
            Tier::Commit,
            re(
                r"\b(?:place|submit)\s+(?:(?:my|your|the|this)\s+)?order\b|\bcomplete\s+(?:(?:my|your|the|this)\s+)?purchase\b|\b(?:pay|buy|purchase)\s+now\b|\bsend\s+(?:(?:an?|the|this)\s+)?(?:email|e\s?mail|message)\b|\bpublish\s+(?:(?:the|this|my)\s+)?post\b|\bdelete\s+my\b",
            ),
        ),
    ]
});

/// A destructive label the task kind does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Destructive {
    /// The words that matched, e.g. `delete account`.
    pub(crate) phrase: String,
    /// The least kind that allows it, if any does.
    pub(crate) allowed_in: Option<TaskKind>,
}

impl Destructive {
    /// Why, and what would allow it.
    pub(crate) fn reason(&self, kind: TaskKind, what: &str) -> String {
        let fix = match self.allowed_in {
            Some(k) => format!("set guardrails.task_kind to {} to allow it", k.as_str()),
            None => "no task kind allows it".to_owned(),
        };
        format!(
            "{what} reads \"{}\", a destructive control that {} tasks may not click; {fix}",
            self.phrase,
            kind.as_str()
        )
    }
}

fn forbidden(kind: TaskKind, tier: Tier) -> bool {
    match kind {
        TaskKind::Read | TaskKind::Navigate => true,
        TaskKind::Interact => tier != Tier::Commit,
        TaskKind::FillForm => tier == Tier::Account,
    }
}

/// The destructive phrase in `label` that `kind` may not click, if any.
pub(crate) fn find_destructive(kind: TaskKind, label: &str) -> Option<Destructive> {
    let words = words(label);
    TIERS
        .iter()
        .filter(|(tier, _)| forbidden(kind, *tier))
        .find_map(|(tier, re)| {
            re.find(&words).map(|m| Destructive {
                phrase: m.as_str().to_owned(),
                allowed_in: match tier {
                    Tier::Account => None,
                    Tier::AccountOther => Some(TaskKind::FillForm),
                    Tier::Commit => Some(TaskKind::Interact),
                },
            })
        })
}

/// `observe` output without the interactive elements `kind` may not click (lines of its
/// `--- Interactive ---` section); returns the snapshot and how many were hidden.
pub(crate) fn hide_controls(kind: TaskKind, snapshot: &str) -> (String, usize) {
    let mut interactive = false;
    let mut hidden = 0;
    let kept: Vec<&str> = snapshot
        .split('\n')
        .filter(|line| {
            if line.starts_with("--- ") && line.ends_with(" ---") {
                interactive = *line == "--- Interactive ---";
                return true;
            }
            let hide = interactive && find_destructive(kind, line).is_some();
            hidden += usize::from(hide);
            !hide
        })
        .collect();
    if hidden == 0 {
        return (snapshot.to_owned(), 0);
    }
    (kept.join("\n"), hidden)
}

/// What an element's outer HTML says about it: its text (scripts and styles left out) and the
/// attributes that name it.
pub(crate) fn label_from_html(html: &str) -> String {
    static HIDDEN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?is)<script\b.*?</script\s*>|<style\b.*?</style\s*>").expect("valid")
    });
    static NAMING: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r#"(?i)\s(?:aria-label|value|title|alt|id|name)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))"#,
        )
        .expect("valid")
    });
    static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]*>").expect("valid"));
    let html = HIDDEN.replace_all(html, " ");
    let mut label = String::new();
    for tag in TAG.find_iter(&html) {
        for c in NAMING.captures_iter(tag.as_str()) {
            if let Some(v) = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3)) {
                label.push_str(v.as_str());
                label.push_str(" | ");
            }
        }
    }
    label.push_str(&TAG.replace_all(&html, " "));
    decode_entities(&label)
}

/// The few character references that matter for matching words.
fn decode_entities(text: &str) -> String {
    static ENTITY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);").expect("valid")
    });
    ENTITY
        .replace_all(text, |c: &regex::Captures<'_>| {
            let name = &c[1];
            let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse().ok()
            } else {
                match name {
                    "amp" => Some('&' as u32),
                    "lt" => Some('<' as u32),
                    "gt" => Some('>' as u32),
                    "quot" => Some('"' as u32),
                    "apos" => Some('\'' as u32),
                    "nbsp" => Some(' ' as u32),
                    _ => None,
                }
            };
            code.and_then(char::from_u32)
                .map_or_else(|| c[0].to_owned(), String::from)
        })
        .into_owned()
}

/// Lower-case words of a label: folded, camelCase split, anything but letters and digits a
/// single space.
fn words(label: &str) -> String {
    let folded = crate::blinders::fold(label);
    let mut out = String::with_capacity(folded.len() + 2);
    let mut prev_lower = false;
    for c in folded.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && prev_lower {
                out.push(' ');
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            out.extend(c.to_lowercase());
        } else {
            prev_lower = false;
            if !out.ends_with(' ') {
                out.push(' ');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_words() {
        assert_eq!(words("#delete-account"), " delete account");
        assert_eq!(words("deleteAccount"), "delete account");
        assert_eq!(words("Dеlete\u{200B} ACCOUNT"), "delete account");
        assert_eq!(words("ＰＡＹ　ＮＯＷ"), "pay now");
    }

    #[test]
    fn html_labels_include_naming_attributes_and_entities() {
        let html = r#"<button id="b1" aria-label="Close&#32;account" class="danger-delete-account">
            <svg><title>x</title></svg><script>var t = "place order";</script></button>"#;
        let label = label_from_html(html);
        assert!(label.contains("Close account"), "{label}");
        assert!(!label.contains("place order"), "{label}");
        // A class name is not a label.
        assert!(!label.contains("danger"), "{label}");
        assert_eq!(
            label_from_html("<input type=submit value='Pay now'>").trim(),
            "Pay now |"
        );
    }

    #[test]
    fn hiding_touches_only_interactive_lines() {
        let snapshot = "[Settings] http://x/\n--- Content ---\nTo delete account data, write to us\n\
                        --- Interactive ---\n<a href=\"/profile\">Profile</a>\n\
                        <button id=\"del\">Delete account</button>\n<a href=\"/close\">Close account</a>";
        let (kept, hidden) = hide_controls(TaskKind::Interact, snapshot);
        assert_eq!(hidden, 2);
        assert_eq!(
            kept,
            "[Settings] http://x/\n--- Content ---\nTo delete account data, write to us\n\
             --- Interactive ---\n<a href=\"/profile\">Profile</a>"
        );
        let clean = "--- Interactive ---\n<button>Save</button>";
        assert_eq!(hide_controls(TaskKind::Read, clean), (clean.to_owned(), 0));
    }
}
