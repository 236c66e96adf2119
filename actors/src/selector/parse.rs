//! The selector parser: splits at `>>` (outside quotes), tells each part's engine from its
//! prefix the way Playwright does (`name=` for an engine, a leading quote for exact text,
//! anything else CSS), and parses `text=`, `role=` and `nth=` bodies. CSS parts are `css.rs`.

use serde_json::Value;

use super::{Part, Problem, RoleAttr, Selector, css, quoted};

/// ARIA 1.2 roles (and the abstract-free ones browsers expose): a typo is refused at admission.
const ROLES: &[&str] = &[
    "alert",
    "alertdialog",
    "application",
    "article",
    "banner",
    "blockquote",
    "button",
    "caption",
    "cell",
    "checkbox",
    "code",
    "columnheader",
    "combobox",
    "complementary",
    "contentinfo",
    "definition",
    "deletion",
    "dialog",
    "directory",
    "document",
    "emphasis",
    "feed",
    "figure",
    "form",
    "generic",
    "grid",
    "gridcell",
    "group",
    "heading",
    "img",
    "insertion",
    "link",
    "list",
    "listbox",
    "listitem",
    "log",
    "main",
    "marquee",
    "math",
    "menu",
    "menubar",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "meter",
    "navigation",
    "none",
    "note",
    "option",
    "paragraph",
    "presentation",
    "progressbar",
    "radio",
    "radiogroup",
    "region",
    "row",
    "rowgroup",
    "rowheader",
    "scrollbar",
    "search",
    "searchbox",
    "separator",
    "slider",
    "spinbutton",
    "status",
    "strong",
    "subscript",
    "superscript",
    "switch",
    "tab",
    "table",
    "tablist",
    "tabpanel",
    "term",
    "textbox",
    "time",
    "timer",
    "toolbar",
    "tooltip",
    "tree",
    "treegrid",
    "treeitem",
];

/// The whole selector.
pub(super) fn selector(text: &str) -> Result<Selector, Problem> {
    if text.trim().is_empty() {
        return Err(Problem::Form("it is empty".into()));
    }
    let mut parts = Vec::new();
    for (i, raw) in split_chain(text).into_iter().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Problem::Form(
                "a `>>` has nothing on one side; write `a >> b`".into(),
            ));
        }
        let part = self::part(raw)?;
        if i == 0 && matches!(part, Part::Nth { .. }) {
            return Err(Problem::Form(
                "`nth=` picks among the matches of what comes before it: write `li >> nth=0`"
                    .into(),
            ));
        }
        parts.push(part);
    }
    Ok(Selector { parts })
}

/// The parts between `>>`s; a `>>` inside quotes is text.
fn split_chain(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let (mut parts, mut start, mut quote, mut i) = (Vec::new(), 0, None, 0);
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            _ if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' && bytes.get(i + 1) == Some(&b'>') => {
                parts.push(&text[start..i]);
                i += 1;
                start = i + 1;
            }
            None => {}
        }
        i += 1;
    }
    parts.push(&text[start.min(text.len())..]);
    parts
}

/// One part, by its engine.
fn part(raw: &str) -> Result<Part, Problem> {
    if let Some((name, body)) = engine_prefix(raw) {
        return match name {
            "css" => css::part(body.trim()),
            "text" => text(body.trim()),
            "role" => role(body.trim()),
            "nth" => nth(body.trim()),
            other => Err(Problem::Form(format!(
                "`{other}=` is not a selector engine here (only css=, text=, role= and nth=)"
            ))),
        };
    }
    if raw.starts_with(['"', '\'']) {
        return text(raw);
    }
    if raw.starts_with("//") || raw.starts_with("..") || raw.starts_with("(//") {
        return Err(Problem::Form(
            "XPath is not supported; use CSS, text= or role=".into(),
        ));
    }
    css::part(raw)
}

/// `name=body` when `raw` starts with an engine name (letters, digits, `_`, `-`, `:`, `+`, `*`
/// before the first `=`), as Playwright tells engines from CSS.
fn engine_prefix(raw: &str) -> Option<(&str, &str)> {
    let (name, body) = raw.split_once('=')?;
    let name = name.trim();
    let is_engine = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '+' | '*'));
    is_engine.then_some((name, body))
}

/// `text=` bodies: quoted is exact, bare is a case-insensitive substring.
fn text(body: &str) -> Result<Part, Problem> {
    if body.is_empty() {
        return Err(Problem::Form(
            "`text=` needs the text: text=Cancel, or text=\"Cancel\" for an exact match".into(),
        ));
    }
    if body.starts_with('/') && body[1..].contains('/') {
        return Err(Problem::Form(
            "regular expressions in text= are not supported; use text=Cancel (substring) or \
             text=\"Cancel\" (exact)"
                .into(),
        ));
    }
    if body.starts_with(['"', '\'']) {
        let (text, used) = quoted(body)?;
        if !body[used..].trim().is_empty() {
            return Err(Problem::Form(format!(
                "`{}` follows the closing quote of text=; an exact text ends at its quote",
                body[used..].trim()
            )));
        }
        return Ok(Part::Text { text, exact: true });
    }
    Ok(Part::Text {
        text: body.to_owned(),
        exact: false,
    })
}

/// `nth=` bodies: a whole number, negative from the end.
fn nth(body: &str) -> Result<Part, Problem> {
    body.parse::<i64>()
        .map(|index| Part::Nth { index })
        .map_err(|_| {
            Problem::Form(format!(
                "`nth={body}`: nth= takes a whole number, 0-based, negative from the end \
                 (nth=0, nth=-1)"
            ))
        })
}

/// `role=` bodies: a role, then `[attr]`s.
fn role(body: &str) -> Result<Part, Problem> {
    let end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(body.len());
    let name = body[..end].to_ascii_lowercase();
    if name.is_empty() {
        return Err(Problem::Form(
            "`role=` needs a role: role=button, role=link, role=textbox[name=\"Email\"]".into(),
        ));
    }
    if !ROLES.contains(&name.as_str()) {
        return Err(Problem::Form(format!(
            "unknown role `{name}`; use an ARIA role such as button, link, textbox, searchbox, \
             checkbox, radio, combobox, heading, listitem or img"
        )));
    }
    let (mut attrs, mut include_hidden) = (Vec::new(), false);
    let mut rest = body[end..].trim_start();
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return Err(Problem::Form(format!(
                "`{rest}` after role={name}: attributes go in brackets, role={name}[name=\"…\"]"
            )));
        };
        let (attr, used) = role_attr(inner)?;
        rest = inner[used..].trim_start();
        match attr {
            attr if attr.attr == "include-hidden" => {
                include_hidden = attr.value == Value::Bool(true)
            }
            attr => attrs.push(attr),
        }
    }
    Ok(Part::Role {
        role: name,
        attrs,
        include_hidden,
    })
}

/// One attribute after its `[`: itself and the bytes used, through the `]`.
fn role_attr(s: &str) -> Result<(RoleAttr, usize), Problem> {
    let start = skip_spaces(s, 0);
    let name_end = s[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .map_or(s.len(), |n| start + n);
    let attr = s[start..name_end].to_owned();
    if attr.is_empty() {
        return Err(Problem::Form(
            "a `[` needs an attribute: role=button[name=\"Save\"]".into(),
        ));
    }
    let mut at = skip_spaces(s, name_end);
    let truthy = |used| {
        let attr = RoleAttr {
            attr: attr.clone(),
            op: "=".into(),
            value: Value::Bool(true),
            ignore_case: false,
        };
        (attr, used)
    };
    if s[at..].starts_with(']') {
        return check_attr(truthy(at + 1));
    }
    let op = ["*=", "^=", "$=", "~=", "|=", "="]
        .into_iter()
        .find(|op| s[at..].starts_with(op))
        .ok_or_else(|| bracket_problem(&attr, s))?;
    at = skip_spaces(s, at + op.len());
    let (value, used) = attr_value(&s[at..])?;
    at = skip_spaces(s, at + used);
    let mut ignore_case = false;
    if let Some(flag @ ('i' | 'I' | 's' | 'S')) = s[at..].chars().next()
        && value.is_string()
    {
        ignore_case = flag.eq_ignore_ascii_case(&'i');
        at = skip_spaces(s, at + 1);
    }
    if !s[at..].starts_with(']') {
        return Err(bracket_problem(&attr, s));
    }
    let attr = RoleAttr {
        attr,
        op: op.to_owned(),
        value,
        ignore_case,
    };
    check_attr((attr, at + 1))
}

/// A quoted string, a number, or `true`/`false`.
fn attr_value(s: &str) -> Result<(Value, usize), Problem> {
    if s.starts_with(['"', '\'']) {
        let (text, used) = quoted(s)?;
        return Ok((Value::String(text), used));
    }
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .unwrap_or(s.len());
    let token = &s[..end];
    let value = match token {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => match token.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => {
                return Err(Problem::Form(format!(
                    "`{token}` in role attributes must be quoted: [name=\"{token}\"]"
                )));
            }
        },
    };
    Ok((value, end))
}

/// The attribute is one the role engine knows, with a value of its kind.
fn check_attr((attr, used): (RoleAttr, usize)) -> Result<(RoleAttr, usize), Problem> {
    let is_eq = attr.op == "=";
    let ok = match attr.attr.as_str() {
        "name" => attr.value.is_string(),
        "level" => is_eq && attr.value.as_u64().is_some_and(|n| n >= 1),
        "checked" | "pressed" => is_eq && (attr.value.is_boolean() || attr.value == "mixed"),
        "disabled" | "expanded" | "selected" | "include-hidden" => is_eq && attr.value.is_boolean(),
        other => {
            return Err(Problem::Form(format!(
                "unknown role attribute `{other}`; use name, level, checked, disabled, \
                 expanded, pressed, selected or include-hidden"
            )));
        }
    };
    if ok {
        Ok((attr, used))
    } else {
        Err(Problem::Form(format!(
            "`[{}{}…]` takes {}",
            attr.attr,
            attr.op,
            match attr.attr.as_str() {
                "name" => "a quoted string: [name=\"Save\"], [name*=\"Save\"], [name=\"save\" i]",
                "level" => "a number from 1: [level=2]",
                "checked" | "pressed" => "true, false or \"mixed\" after `=`",
                _ => "true or false after `=`",
            }
        )))
    }
}

fn bracket_problem(attr: &str, s: &str) -> Problem {
    Problem::Form(format!(
        "`[{attr}` is not closed as `[{attr}=\"…\"]` (at `{}`)",
        s.chars().take(40).collect::<String>()
    ))
}

fn skip_spaces(s: &str, at: usize) -> usize {
    at + s[at..].len() - s[at..].trim_start().len()
}
