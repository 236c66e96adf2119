//! `response.path` of an `api_request`: a small dotted path with indexes (`data.items[0].id`),
//! as the reference's playbooks write it (`data.items.0.id`, a number after a dot indexing an
//! array). A leading `$` or `$.` is allowed; `["a.b"]` names a key with a dot in it.

use serde_json::Value;

impl JsonPath {
    /// Parses `text`; the error says what is wrong and how to write it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let body = text.trim();
        let body = body
            .strip_prefix("$.")
            .or_else(|| body.strip_prefix('$'))
            .unwrap_or(body);
        if body.is_empty() {
            return Err("is empty; write a path such as `data.items[0].id`".into());
        }
        let mut segments = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            rest = match rest.strip_prefix('[') {
                Some(inner) => bracket(inner, &mut segments, text)?,
                None => dotted(rest, &mut segments, text)?,
            };
            if let Some(after) = rest.strip_prefix('.') {
                if after.is_empty() || after.starts_with(['.', '[']) {
                    return Err(format!("`{text}` has an empty part after a `.`"));
                }
                rest = after;
            }
        }
        Ok(Self { segments })
    }

    /// The value at this path in `root`; the error names the part that is missing.
    pub(crate) fn find<'v>(&self, root: &'v Value) -> Result<&'v Value, String> {
        let mut current = root;
        for (i, segment) in self.segments.iter().enumerate() {
            let at = self.prefix(i);
            current = match (segment, current) {
                (Segment::Key(key), Value::Object(map)) => map
                    .get(key)
                    .ok_or_else(|| format!("`{at}` has no key `{key}`"))?,
                (Segment::Key(key), Value::Array(items)) => match key.parse::<usize>() {
                    Ok(n) => index(items, n, &at)?,
                    Err(_) => return Err(format!("`{at}` is an array; index it with a number")),
                },
                (Segment::Index(n), Value::Array(items)) => index(items, *n, &at)?,
                (_, other) => {
                    return Err(format!("`{at}` is {}, not an object or array", kind(other)));
                }
            };
        }
        Ok(current)
    }

    /// The path up to (not including) segment `n`, for messages.
    fn prefix(&self, n: usize) -> String {
        let mut out = String::from("$");
        for segment in &self.segments[..n] {
            match segment {
                Segment::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Segment::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

fn index<'v>(items: &'v [Value], n: usize, at: &str) -> Result<&'v Value, String> {
    items
        .get(n)
        .ok_or_else(|| format!("`{at}` has {} item(s), no index {n}", items.len()))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `[0]` or `["key"]` / `['key']`, after the `[`; the text after the `]`.
fn bracket<'t>(inner: &'t str, out: &mut Vec<Segment>, whole: &str) -> Result<&'t str, String> {
    let close = inner
        .find(']')
        .ok_or_else(|| format!("`{whole}` has a `[` without its `]`"))?;
    let part = inner[..close].trim();
    let quoted = ['"', '\'']
        .iter()
        .find_map(|q| part.strip_prefix(*q).and_then(|p| p.strip_suffix(*q)));
    out.push(match (quoted, part.parse::<usize>()) {
        (Some(key), _) => Segment::Key(key.to_owned()),
        (None, Ok(n)) => Segment::Index(n),
        (None, Err(_)) => {
            return Err(format!(
                "`[{part}]` in `{whole}` is neither an index nor a quoted key; write [0] or [\"key\"]"
            ));
        }
    });
    Ok(&inner[close + 1..])
}

/// A key up to the next `.` or `[`; the text from there.
fn dotted<'t>(rest: &'t str, out: &mut Vec<Segment>, whole: &str) -> Result<&'t str, String> {
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    if end == 0 {
        return Err(format!("`{whole}` has an empty part"));
    }
    out.push(Segment::Key(rest[..end].to_owned()));
    Ok(&rest[end..])
}

/// A parsed `response.path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JsonPath {
    segments: Vec<Segment>,
}

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// An object's key (or, on an array, a number written after a dot).
    Key(String),
    /// An array's index.
    Index(usize),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(path: &str, root: &Value) -> Result<Value, String> {
        JsonPath::parse(path)?.find(root).cloned()
    }

    #[test]
    fn dotted_indexed_and_quoted_paths_find_their_value() {
        let doc = json!({"data": {"items": [{"id": 7}, {"id": 9, "a.b": true}]}, "n": 1});
        assert_eq!(at("data.items[0].id", &doc), Ok(json!(7)));
        assert_eq!(at("data.items.1.id", &doc), Ok(json!(9)));
        assert_eq!(at("$.data.items[1][\"a.b\"]", &doc), Ok(json!(true)));
        assert_eq!(at("$['n']", &doc), Ok(json!(1)));
        assert_eq!(at("[0]", &json!(["x"])), Ok(json!("x")));
        assert_eq!(at("data", &doc).unwrap()["items"][0]["id"], 7);
    }

    #[test]
    fn missing_parts_are_named() {
        let doc = json!({"data": {"items": [{"id": 7}]}});
        let err = at("data.items[3].id", &doc).unwrap_err();
        assert!(
            err.contains("`$.data.items` has 1 item(s), no index 3"),
            "{err}"
        );
        let err = at("data.nope", &doc).unwrap_err();
        assert!(err.contains("`$.data` has no key `nope`"), "{err}");
        let err = at("data.items[0].id.x", &doc).unwrap_err();
        assert!(err.contains("is a number"), "{err}");
        let err = at("data.items.first", &doc).unwrap_err();
        assert!(err.contains("index it with a number"), "{err}");
    }

    #[test]
    fn malformed_paths_are_refused() {
        for (path, needle) in [
            ("", "is empty"),
            ("a..b", "empty part"),
            ("a.", "empty part"),
            ("a[0", "without its `]`"),
            ("a[x]", "neither an index nor a quoted key"),
        ] {
            let err = JsonPath::parse(path).unwrap_err();
            assert!(err.contains(needle), "{path}: {err}");
        }
    }
}
