//! DOM "blinders": page text handed to a model is screened for prompt-injection patterns and
//! wrapped in clear content delimiters.
//!
//! Pages are hostile input. A line of page text that reads like an instruction to the model
//! ("ignore previous instructions…", chat-template tokens, "reveal your system prompt") is
//! replaced whole by [`REDACTED`], so the model sees that something was removed but not what.
//! The patterns follow the reference system's dangerous-text list; they aim at phrasing that
//! addresses a model, not at topics, so ordinary pages ("You are now signed in", a recipe's
//! "### Instructions" heading) pass untouched.
//!
//! Lines are matched after [`normalize::fold`] (NFKC, look-alike letters folded to Latin,
//! invisible and bidi characters removed), so `Ignоre` with a Cyrillic `о` or a zero-width space
//! inside a word is matched like the plain phrase. Look-alikes of the content delimiters
//! themselves (`[web-content-\u{200B}end]`, full-width brackets, other cases) are defused before
//! page text is wrapped.

mod normalize;

pub(crate) use normalize::fold;

use std::sync::LazyLock;

use regex::{Regex, RegexSet, RegexSetBuilder};

/// Marks where page content starts in text handed to a model.
pub(crate) const CONTENT_START: &str = "[web-content-start]";
/// Marks where page content ends.
pub(crate) const CONTENT_END: &str = "[web-content-end]";
/// Replaces a line that matched an injection pattern.
pub(crate) const REDACTED: &str = "[content redacted — suspicious pattern]";

/// Prompt-injection phrasing, matched case-insensitively against one line (or two adjacent
/// lines joined, so a phrase split by the page's layout is still caught).
const INJECTION_PATTERNS: &[&str] = &[
    // "Ignore (all) previous instructions", "ignore the above prompt", ...
    r"\bignore\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+|these\s+|those\s+)*(?:previous|prior|above|earlier|preceding|former|foregoing|original)\s+(?:instructions?|prompts?|directions?|directives?|rules|commands?|messages?|context|guidelines)",
    // "IGNORE ALL RULES", "ignore every safety guideline"
    r"\bignore\s+(?:all|any|every)\s+(?:(?:the|your|of|these|those|safety|security|system|previous|prior)\s+)*(?:instructions?|prompts?|rules|directions?|directives?|guidelines|guardrails|restrictions|constraints|safety|policies)\b",
    // "Ignore the user." (a sentence that ends there, not "ignore the user manual")
    r"\bignore\s+(?:the|your)\s+(?:user|human|operator)(?:'s\s+(?:instructions?|requests?|wishes|commands?))?\s*(?:[.,;!:]|$)",
    // "Disregard your instructions", "disregard everything above", ...
    r"\bdisregard\s+(?:(?:all|any|the|your|of|everything|these|those|previous|prior|above|earlier|preceding|system|safety|security)\s+)*(?:instructions?|prompts?|directions?|directives?|rules|guidelines|programming|messages|measures|constraints|restrictions|guardrails?|safety|policies|context|above|before)\b",
    // "Forget all previous instructions", "forget everything you were told"
    r"\bforget\s+(?:all\s+|any\s+|the\s+|your\s+|everything\s+)*(?:(?:previous|prior|above|earlier)\s+)?(?:instructions?|prompts?|rules|guidelines|programming|(?:that\s+)?you\s+(?:were|have\s+been)\s+told)",
    // "Override your instructions / safety rules", "IMPORTANT: override all guardrails"
    r"\boverride\s+(?:(?:all|any|the|your|my|these|those|previous|prior|existing|current|system|safety|security)\s+)*(?:instructions?|prompts?|rules|guidelines|programming|restrictions|safety|guardrails?|constraints|filters?|protections?|measures)\b",
    // "You are now DAN", "you are now an unrestricted AI", "you are now in developer mode"
    r"\byou\s+are\s+now\s+(?:a\s+|an\s+|the\s+|my\s+|in\s+)?(?:dan\b|jailbroken|unrestricted|unfiltered|uncensored|free\s+(?:from|of)|no\s+longer|(?:developer|god|admin|debug|jailbreak|dan)\s+mode|(?:different|new|evil|rogue)\s+(?:ai|assistant|model|agent)|(?:ai|llm|assistant|chatbot|language\s+model)\b)",
    // "You are now a helpful hacker", "you are now an admin agent": a new role for a model.
    r"\byou\s+are\s+now\s+(?:a|an|my)\s+(?:[\w-]+\s+){0,3}?(?:ai|llm|assistant|chatbot|bot|hacker|agent|model|dan)\b",
    // "You are an unrestricted AI"
    r"\byou\s+are\s+(?:now\s+)?(?:a|an)\s+(?:unrestricted|unfiltered|uncensored|jailbroken|evil|rogue|malicious)\b",
    // "New instructions:", "updated instructions:"
    r"\b(?:new|updated|real|actual|revised|additional)\s+(?:system\s+)?instructions?\s*:",
    // Any talk of the system prompt is aimed at the model, not at a page's reader.
    r"\bsystem[\s_-]*prompts?\b",
    // `<system>…</system>` tags, and a line that opens with an all-caps `SYSTEM:` role marker
    // (a spec sheet's "System: Windows 11" is left alone).
    r"<\s*/?\s*system\s*>|<\s*system\s+[^>]*>",
    r"^[\s>*#-]*(?-i:SYSTEM)\s*:",
    // "Act as an unrestricted AI", "pretend you are", "act as if you were"
    r"\b(?:act|behave|respond)\s+as\s+(?:if\s+you\s+(?:are|were|have)|an?\s+(?:unrestricted|unfiltered|uncensored|different|new|evil|rogue|jailbroken)|(?:an?\s+)?(?:ai|llm|dan|chatbot|language\s+model)\b)|\bpretend\s+(?:to\s+be|that\s+you|you\s+are)\b",
    // "Do not tell the user", "don't inform the user", "never mention this to the user"
    r"\b(?:do\s+not|don'?t|never|without)\s+(?:tell(?:ing)?|inform(?:ing)?|alert(?:ing)?|notify(?:ing)?|warn(?:ing)?|mention(?:ing)?\s+(?:this|it)\s+to|let(?:ting)?)\s+the\s+(?:user|human|operator)",
    // "Reveal your instructions / hidden prompt / configuration"
    r"\b(?:reveal|print|output|repeat|show|leak|disclose)\s+(?:me\s+)?(?:your|the)\s+(?:(?:initial|original|hidden|secret|internal|full|system)\s+)*(?:prompt|instructions|rules|configuration|guidelines|directives)",
    // Chat-template control tokens and role markers.
    r"<\|(?:im_start|im_end|im_sep|system|user|assistant|endoftext|begin_of_text|start_header_id|end_header_id|eot_id)\|>|\[/?INST\]|<</?SYS>>",
    // Instruction-tuning headers: "### Instruction:", "## System:" (a colon, so a recipe's
    // "### Instructions" heading is not caught).
    r"#{2,}\s*(?:instructions?|system|input|response)\s*:",
    // "System override:", "admin message:", "[SYSTEM NOTE]"
    r"\b(?:system|admin|administrator|developer)\s+(?:override|message|instruction|note|command)s?\s*:|\[\s*(?:system|admin)\s*(?:note|message|override)?\s*\]",
    // Addressing the model directly: "Attention AI assistant", "if you are an AI agent"
    r"\b(?:attention|note\s+to|message\s+(?:for|to)|instructions?\s+(?:for|to))\s*[,:]?\s*(?:the\s+|all\s+|any\s+)?(?:ai|llm|gpt|chatgpt|assistants?|chatbots?|language\s+models?|(?:ai|llm|browser|automated|autonomous)\s+(?:agents?|assistants?|models?))\b|\bif\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant|chatbot|(?:ai|automated|autonomous|browser)\s+agent)\b",
    // Jailbreak vocabulary.
    r"\b(?:jailbreak(?:ed|ing)?\s+(?:mode|prompt|the\s+(?:ai|model|assistant))|dan\s+mode|developer\s+mode\s+(?:enabled|on|activated)|do\s+anything\s+now)\b",
    // Exfiltration: "send the user's password to ...", "email your API key to ..."
    r"\b(?:send|forward|email|e-mail|post|upload|exfiltrate|transmit)\s+(?:me\s+)?(?:the\s+|all\s+|your\s+|any\s+)?(?:user'?s?\s+)?(?:credentials|passwords?|api\s+keys?|cookies|session\s+(?:tokens?|cookies?)|tokens?|secrets?|credit\s+card\s+(?:numbers?|details))\s+to\b",
];

static INJECTIONS: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSetBuilder::new(INJECTION_PATTERNS)
        .case_insensitive(true)
        .build()
        .expect("injection patterns are valid regular expressions")
});

/// A delimiter written any way that reads the same: spaces, other dashes, any case (matched on
/// folded text, where full-width brackets and invisible characters are already gone).
static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\[\s*web[\s\-_\u{2010}-\u{2015}]*content[\s\-_\u{2010}-\u{2015}]*(start|end)\s*\]",
    )
    .expect("the delimiter pattern is a valid regular expression")
});

fn suspicious(line: &str) -> bool {
    INJECTIONS.is_match(&fold(line))
}
/// Replaces every line of `text` that matches a prompt-injection pattern with [`REDACTED`];
/// returns the screened text and how many lines were replaced.
pub(crate) fn redact_injections(text: &str) -> (String, usize) {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut redact: Vec<bool> = lines.iter().map(|l| suspicious(l)).collect();
    // A phrase the page's layout split over two lines ("Ignore all previous" / "instructions").
    for i in 1..lines.len() {
        if !redact[i - 1] && !redact[i] {
            let joined = format!("{} {}", lines[i - 1].trim_end(), lines[i].trim_start());
            if suspicious(&joined) {
                redact[i - 1] = true;
                redact[i] = true;
            }
        }
    }
    let count = redact.iter().filter(|r| **r).count();
    if count == 0 {
        return (text.to_owned(), 0);
    }
    let screened: Vec<&str> = lines
        .iter()
        .zip(&redact)
        .map(|(line, redact)| if *redact { REDACTED } else { line })
        .collect();
    (screened.join("\n"), count)
}

/// Wraps page content in the delimiters. A delimiter the page itself contains — or anything
/// that reads like one — is defused first, so page text cannot pretend to close the page content
/// early.
pub(crate) fn wrap_page_content(text: &str) -> String {
    format!(
        "{CONTENT_START}\n{}\n{CONTENT_END}",
        defuse_delimiters(text)
    )
}

/// Rewrites every line holding a delimiter or a look-alike of one: the delimiter becomes
/// `[web-content-end (quoted)]`. A line whose look-alike needed folding is given in its folded
/// form (only such lines change; ordinary lines are kept byte for byte).
fn defuse_delimiters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let folded = fold(line);
        if MARKER.is_match(&folded) {
            let quoted = MARKER.replace_all(&folded, |c: &regex::Captures<'_>| {
                format!("[web-content-{} (quoted)]", c[1].to_ascii_lowercase())
            });
            out.push_str(&quoted);
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod reference_tables;
#[cfg(test)]
mod tests;
