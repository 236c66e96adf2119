//! CSS parts: a light syntax check (brackets, parentheses and quotes balanced, no trailing
//! combinator; the browser has the final word), and Playwright's pseudo-classes `:has-text()`,
//! `:text()`, `:text-is()` and `:visible`, which must end their part: what they filter is the
//! CSS before them, and what would follow them is chained with `>>` instead.

use super::{Filter, Part, Problem, quoted};

/// Playwright pseudo-classes this engine does not have, refused by name.
const UNSUPPORTED: &[&str] = &[
    "text-matches",
    "has-text-matches",
    "nth-match",
    "left-of",
    "right-of",
    "above",
    "below",
    "near",
];

/// One CSS part (`css=` already removed).
pub(super) fn part(s: &str) -> Result<Part, Problem> {
    if s.is_empty() {
        return Err(Problem::Form("`css=` needs a selector after it".into()));
    }
    let Some(at) = first_pseudo(s)? else {
        check(s)?;
        return Ok(Part::Css {
            css: s.to_owned(),
            filters: Vec::new(),
        });
    };
    let mut base = s[..at].to_owned();
    if base.is_empty() || base.ends_with([' ', '\t', '\n', '>', '+', '~']) {
        base.push('*');
    }
    check(&base)?;
    if top_level_comma(&base) {
        return Err(Problem::Css(
            "a list (`,`) cannot take :has-text() or :text(); give each alternative as its own \
             selector (a playbook fallback)"
                .into(),
        ));
    }
    Ok(Part::Css {
        css: base,
        filters: filters(&s[at..])?,
    })
}

/// Where the first Playwright pseudo-class starts, if any; one inside parentheses (`:is()`,
/// `:not()`) or an unsupported one is refused.
fn first_pseudo(s: &str) -> Result<Option<usize>, Problem> {
    let bytes = s.as_bytes();
    let (mut depth, mut quote, mut i) = (0usize, None, 0);
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            _ if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth = depth.saturating_sub(1),
                b':' if bytes.get(i + 1) != Some(&b':') && (i == 0 || bytes[i - 1] != b':') => {
                    let name = pseudo_name(&s[i + 1..]);
                    if UNSUPPORTED.contains(&name) {
                        return Err(Problem::Css(format!("`:{name}()` is not supported")));
                    }
                    if is_ours(&s[i + 1..]) {
                        if depth > 0 {
                            return Err(Problem::Css(format!(
                                "`:{name}` works at the end of a part only, not inside `:is()` \
                                 or `:not()`"
                            )));
                        }
                        return Ok(Some(i));
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    Ok(None)
}

/// The pseudo-classes after `at`: only ours, nothing else after them.
fn filters(mut rest: &str) -> Result<Vec<Filter>, Problem> {
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        let Some(after) = rest.strip_prefix(':').filter(|r| is_ours(r)) else {
            return Err(Problem::Css(format!(
                "`{}` follows a :has-text()/:text()/:visible, which must end their part; chain \
                 what follows with >> (li:has-text(\"Order 7\") >> button)",
                rest.chars().take(40).collect::<String>()
            )));
        };
        let name = pseudo_name(after);
        rest = &after[name.len()..];
        if name == "visible" {
            out.push(Filter::Visible);
            continue;
        }
        let (text, used) = argument(name, rest)?;
        rest = &rest[used..];
        out.push(match name {
            "has-text" => Filter::HasText { text },
            exact => Filter::Text {
                text,
                exact: exact == "text-is",
            },
        });
    }
}

/// `("…")`, `('…')` or `(bare text)` after a pseudo-class name: the text and the bytes used.
fn argument(name: &str, s: &str) -> Result<(String, usize), Problem> {
    let missing = || Problem::Css(format!(":{name} needs its text: :{name}(\"Cancel\")"));
    let inner = s.strip_prefix('(').ok_or_else(missing)?;
    let lead = inner.len() - inner.trim_start().len();
    let body = inner.trim_start();
    let (text, used) = if body.starts_with(['"', '\'']) {
        quoted(body).map_err(|_| Problem::Css(format!(":{name}(…) has an unclosed quote")))?
    } else {
        let end = body.find(')').ok_or_else(missing)?;
        (body[..end].trim().to_owned(), end)
    };
    let tail = &body[used..];
    let close = tail.len() - tail.trim_start().len();
    if !tail.trim_start().starts_with(')') || text.trim().is_empty() {
        return Err(missing());
    }
    Ok((text, 1 + lead + used + close + 1))
}

/// `has-text(`, `text(`, `text-is(` or `visible` (not followed by more of a name).
fn is_ours(after_colon: &str) -> bool {
    let name = pseudo_name(after_colon);
    let next = after_colon[name.len()..].chars().next();
    match name {
        "has-text" | "text" | "text-is" => next == Some('('),
        "visible" => next != Some('('),
        _ => false,
    }
}

fn pseudo_name(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(s.len());
    &s[..end]
}

fn top_level_comma(s: &str) -> bool {
    let (mut depth, mut quote) = (0usize, None);
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// Brackets, parentheses and quotes balanced; not ending in a combinator.
fn check(s: &str) -> Result<(), Problem> {
    let mut stack = Vec::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => stack.push(c),
            (None, ']') if stack.pop() != Some('[') => return Err(css("unbalanced `]`")),
            (None, ')') if stack.pop() != Some('(') => return Err(css("unbalanced `)`")),
            _ => {}
        }
    }
    if quote.is_some() {
        return Err(css("an unclosed quote"));
    }
    if let Some(open) = stack.pop() {
        return Err(css(&format!("an unclosed `{open}`")));
    }
    if s.trim_end().ends_with(['>', '+', '~', ',']) {
        return Err(css("it ends with a combinator"));
    }
    Ok(())
}

fn css(why: &str) -> Problem {
    Problem::Css(why.to_owned())
}
