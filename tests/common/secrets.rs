//! A scanner for a secret in every encoding a page, a URL or a serializer can carry it in:
//! raw, percent-encoded (every byte, WHATWG form set, `encodeURIComponent` set; `%20` and `+`;
//! upper and lower hex), HTML-escaped (named, decimal and hex references), JSON-escaped
//! (serde's and `\u` for everything), base64 (standard and URL-safe, the characters fixed by
//! the value at each of the 3 byte alignments) — for the whole value and for its first
//! [`PREFIX_CHARS`] characters. Written independently of the engine's scrubber on purpose.

use std::path::Path;

use base64::Engine as _;

/// The prefix length the scan also looks for.
pub const PREFIX_CHARS: usize = 9;

/// Every needle to look for: `(what, bytes)`.
pub struct SecretScan {
    needles: Vec<(String, Vec<u8>)>,
}

/// One place a needle was found.
#[derive(Debug)]
pub struct Finding {
    pub place: String,
    pub encoding: String,
    pub context: String,
}

impl SecretScan {
    pub fn new(secret: &str) -> Self {
        let prefix: String = secret.chars().take(PREFIX_CHARS).collect();
        let mut needles = Vec::new();
        for (label, value) in [("whole", secret), ("prefix", prefix.as_str())] {
            for (encoding, text) in encodings(value) {
                let needle = (format!("{label} {encoding}"), text.into_bytes());
                if !needles.iter().any(|(_, n)| *n == needle.1) {
                    needles.push(needle);
                }
            }
        }
        Self { needles }
    }

    /// How many distinct needles are looked for.
    pub fn needle_count(&self) -> usize {
        self.needles.len()
    }

    /// Every needle found in `bytes`, named by `place`.
    pub fn scan_bytes(&self, place: &str, bytes: &[u8]) -> Vec<Finding> {
        let mut found = Vec::new();
        for (encoding, needle) in &self.needles {
            if let Some(at) = bytes
                .windows(needle.len())
                .position(|w| w == needle.as_slice())
            {
                let from = at.saturating_sub(60);
                let to = (at + needle.len() + 60).min(bytes.len());
                found.push(Finding {
                    place: place.to_owned(),
                    encoding: encoding.clone(),
                    context: String::from_utf8_lossy(&bytes[from..to]).into_owned(),
                });
            }
        }
        found
    }

    pub fn scan_text(&self, place: &str, text: &str) -> Vec<Finding> {
        self.scan_bytes(place, text.as_bytes())
    }

    /// Every file under `dir`, recursively, as bytes.
    pub fn scan_dir(&self, dir: &Path) -> Vec<Finding> {
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return found;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(self.scan_dir(&path));
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.extend(self.scan_bytes(&path.display().to_string(), &bytes));
            }
        }
        found
    }
}

/// Percent-encodes every byte except those `keep` says to leave.
fn percent(value: &str, keep: impl Fn(u8) -> bool, plus: bool, lower: bool) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else if b == b' ' && plus {
            out.push('+');
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every encoding of `value` the scan looks for.
pub fn encodings(value: &str) -> Vec<(String, String)> {
    let mut out = vec![("raw".to_owned(), value.to_owned())];
    out.extend(percent_encodings(value));
    out.extend(html_and_json_encodings(value));
    out.extend(base64_encodings(value));
    out.retain(|(_, text)| !text.is_empty());
    out
}

/// Percent-encodings: every byte, form (`application/x-www-form-urlencoded`) and
/// `encodeURIComponent` sets, upper and lower case hex, spaces as `%20` and as `+`.
fn percent_encodings(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let every = |b: u8| b.is_ascii_alphanumeric();
    let form = |b: u8| b.is_ascii_alphanumeric() || b"*-._".contains(&b);
    let component = |b: u8| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b);
    for lower in [false, true] {
        for plus in [false, true] {
            let case = if lower { "lower" } else { "upper" };
            let space = if plus { "+" } else { "%20" };
            out.push((
                format!("percent {case} {space}"),
                percent(value, every, plus, lower),
            ));
            out.push((
                format!("form {case} {space}"),
                percent(value, form, plus, lower),
            ));
            out.push((
                format!("uri component {case} {space}"),
                percent(value, component, plus, lower),
            ));
        }
    }
    out
}

/// HTML named, decimal and hex entities; a JSON string's body, plain and all `\u` escapes.
fn html_and_json_encodings(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let named = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    out.push(("html named".into(), named));
    let numeric = |hex: bool| -> String {
        value
            .chars()
            .map(|c| match (c.is_ascii_alphanumeric(), hex) {
                (true, _) => c.to_string(),
                (false, true) => format!("&#x{:x};", u32::from(c)),
                (false, false) => format!("&#{};", u32::from(c)),
            })
            .collect()
    };
    out.push(("html decimal".into(), numeric(false)));
    out.push(("html hex".into(), numeric(true)));
    let json = serde_json::to_string(value).unwrap();
    out.push(("json".into(), json[1..json.len() - 1].to_owned()));
    let unicode: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\u{:04x}", u32::from(c))
            }
        })
        .collect();
    out.push(("json \\u".into(), unicode));
    out
}

/// Base64 and base64url at each of the three alignments the value can have inside longer data.
fn base64_encodings(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, engine) in [
        ("base64", base64::engine::general_purpose::STANDARD_NO_PAD),
        (
            "base64url",
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ] {
        for lead in 0..3usize {
            let mut data = vec![b'.'; lead];
            data.extend_from_slice(value.as_bytes());
            let encoded = engine.encode(&data);
            // Only the characters every encoding of data holding the value shares.
            let from = (lead * 8).div_ceil(6);
            let to = (lead + value.len()) * 8 / 6;
            out.push((format!("{name} @{lead}"), encoded[from..to].to_owned()));
        }
    }
    out
}
