//! Table-driven tests of the scrubber: every encoding, at every position, whole and cut.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::json;

use super::*;

const SECRET: &str = "Tr0ub4dor&3 \"x\"<y>@! +z";

fn scrubber(pairs: &[(&str, &str)]) -> Scrubber {
    let credentials: BTreeMap<String, Secret> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
        .collect();
    Scrubber::new(&credentials)
}

fn percent(s: &str, lower: bool, plus: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() {
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

fn html_named(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html_numeric(s: &str, hex: bool) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else if hex {
                format!("&#x{:X};", u32::from(c))
            } else {
                format!("&#{};", u32::from(c))
            }
        })
        .collect()
}

fn json_unicode(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\u{:04x}", u32::from(c))
            }
        })
        .collect()
}

/// Every encoding of `s` the scrubber promises to find.
fn encodings(s: &str) -> Vec<(&'static str, String)> {
    let form: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
    let json = serde_json::to_string(s).unwrap();
    let mut out = vec![
        ("raw", s.to_owned()),
        ("percent upper", percent(s, false, false)),
        ("percent lower", percent(s, true, false)),
        ("percent plus", percent(s, false, true)),
        ("form", form),
        ("html named", html_named(s)),
        ("html decimal", html_numeric(s, false)),
        ("html hex", html_numeric(s, true)),
        ("json", json[1..json.len() - 1].to_owned()),
        ("json unicode", json_unicode(s)),
    ];
    for (name, engine) in [
        ("base64", base64::engine::general_purpose::STANDARD),
        ("base64url", base64::engine::general_purpose::URL_SAFE),
    ] {
        for lead in ["", "a", "ab"] {
            let encoded = engine.encode(format!("{lead}{s}"));
            out.push((name, encoded));
        }
    }
    out
}

#[test]
fn every_encoding_of_the_whole_value_is_scrubbed() {
    let s = scrubber(&[("pw", SECRET)]);
    for (name, encoded) in encodings(SECRET) {
        let text = format!("before {encoded} after");
        let clean = s.scrub(&text);
        assert!(!s.finds(&clean), "{name}: still found in {clean}");
        assert!(clean.contains("[credential:pw]"), "{name}: {clean}");
        assert!(clean.starts_with("before "), "{name}: {clean}");
        assert!(s.finds(&text), "{name}: not found in {text}");
    }
}

#[test]
fn every_identifying_prefix_is_scrubbed_in_every_encoding() {
    let s = scrubber(&[("pw", SECRET)]);
    let chars: Vec<char> = SECRET.chars().collect();
    for n in [MIN_PREFIX_CHARS, 9, 10, chars.len() - 1] {
        let prefix: String = chars[..n].iter().collect();
        for (name, encoded) in encodings(&prefix) {
            // Base64 finds prefixes from MIN_BASE64_CHARS encoded characters on.
            if name.starts_with("base64") && n < 9 {
                continue;
            }
            let text = format!("url?password={encoded}&next=1");
            let clean = s.scrub(&text);
            assert!(
                clean.contains("[credential:pw]"),
                "{n} chars, {name}: {text} -> {clean}"
            );
            let raw_prefix: String = chars[..MIN_PREFIX_CHARS].iter().collect();
            assert!(!clean.contains(&raw_prefix), "{n}, {name}: {clean}");
        }
    }
}

#[test]
fn a_clipped_value_at_the_end_of_a_text_is_scrubbed() {
    let s = scrubber(&[("pw", SECRET)]);
    let url = format!("http://x/?password={}", percent(SECRET, false, true));
    for cut in 25..url.len() {
        let clipped = format!("{}…", &url[..cut]);
        let clean = s.scrub(&clipped);
        // At most MIN_PREFIX_CHARS - 1 characters of the value may remain.
        let tail = clean.trim_end_matches('…');
        let kept = tail.strip_prefix("http://x/?password=").unwrap_or("");
        assert!(
            kept.starts_with("[credential:pw]") || kept.len() < 3 * MIN_PREFIX_CHARS,
            "{clipped} -> {clean}"
        );
    }
}

#[test]
fn mixed_spellings_inside_one_value_are_found() {
    let s = scrubber(&[("pw", "a&b c<d")]);
    for text in [
        "a%26b+c&lt;d",
        "a&amp;b%20c\\u003cd",
        "a&#38b c&#x3c;d",
        "a\\x26b c<d",
    ] {
        assert_eq!(s.scrub(text), "[credential:pw]", "{text}");
    }
}

#[test]
fn ordinary_text_is_left_alone() {
    let s = scrubber(&[("pw", SECRET), ("user", "alice@example.com")]);
    for text in [
        "Tr0ub",
        "Tr0ub4 is a prefix: gone",
        "Tr0u%62",
        "alice@example",
        "hello & goodbye %20 \\u0041 &#65;",
        "",
    ] {
        let clean = s.scrub(text);
        let expected_change = text.contains("Tr0ub4") || text.contains("alice@");
        assert_eq!(clean != text, expected_change, "{text} -> {clean}");
    }
    assert_eq!(
        s.scrub("mail alice@example.com now"),
        "mail [credential:user] now"
    );
}

#[test]
fn short_values_must_match_whole() {
    let s = scrubber(&[("pin", "4921")]);
    assert_eq!(s.scrub("pin 4921 and 492"), "pin [credential:pin] and 492");
    assert_eq!(s.scrub("%34%39%32%31"), "[credential:pin]");
}

#[test]
fn a_value_containing_another_is_replaced_whole() {
    let s = scrubber(&[("user", "bobby"), ("pw", "bobby-tables-42")]);
    assert_eq!(
        s.scrub("x bobby-tables-42 y bobby"),
        "x [credential:pw] y [credential:user]"
    );
}

#[test]
fn json_values_are_scrubbed_keys_included() {
    let s = scrubber(&[("pw", SECRET)]);
    let value = json!({ SECRET: [format!("a {SECRET}"), 3, {"k": percent(SECRET, true, true)}] });
    let clean = s.scrub_value(value);
    let text = clean.to_string();
    assert!(!s.finds(&text), "{text}");
    assert_eq!(text.matches("[credential:pw]").count(), 3, "{text}");
}

#[test]
fn non_ascii_values_are_found_percent_and_json_encoded() {
    let s = scrubber(&[("pw", "pässwörd→✓")]);
    for (name, encoded) in encodings("pässwörd→✓") {
        assert!(
            s.scrub(&encoded).contains("[credential:pw]"),
            "{name}: {encoded}"
        );
    }
}

#[test]
fn debug_shows_no_value_and_empty_scrubbers_do_nothing() {
    let s = scrubber(&[("pw", SECRET)]);
    assert!(!format!("{s:?}").contains("Tr0ub"));
    let empty = scrubber(&[("blank", "")]);
    assert!(empty.is_empty());
    assert_eq!(empty.scrub("anything"), "anything");
}

#[test]
fn a_large_text_is_scrubbed_in_one_pass() {
    let s = scrubber(&[("pw", SECRET)]);
    let mut text = "&%\\+ lorem ipsum ".repeat(200_000);
    text.push_str(&percent(SECRET, false, true));
    let started = std::time::Instant::now();
    let clean = s.scrub(&text);
    assert!(clean.ends_with("[credential:pw]"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn values_added_during_a_run_are_scrubbed_from_then_on() {
    let scrubber = Scrubber::new(&BTreeMap::new());
    assert!(scrubber.is_empty());
    scrubber.add("session cookie sid", "sid-value-0042");
    scrubber.add("again", "sid-value-0042");
    scrubber.add("empty", "");
    let scrubbed = scrubber.scrub("c=sid-value-0042; x=c2lkLXZhbHVlLTAwNDI=");
    assert!(
        scrubbed
            .starts_with("c=[credential:session cookie sid]; x=[credential:session cookie sid]"),
        "{scrubbed}"
    );
    assert!(format!("{scrubber:?}").contains("credentials: 1"));
}
