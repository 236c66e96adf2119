//! The run's one credential scrubber: built once per run from the request's `credentials`, it
//! replaces every credential value in page-derived text with `[credential:name]`, in every
//! encoding a page or a URL carries text in, and in every prefix long enough to identify it.
//!
//! It is applied where page-derived text enters Pilothouse (the Browser actor's replies, see
//! `browser/seam.rs`, and the Chromium driver before it cuts anything), so no output path has to
//! remember a scrub of its own.
//!
//! What it finds, per credential character, at any mix within one value (`encodings.rs`):
//! the raw character; percent-encoding of its UTF-8 bytes in either hex case, and `+` for a
//! space (URLs, `application/x-www-form-urlencoded`); HTML named (`&amp;` `&lt;` `&gt;` `&quot;`
//! `&apos;`) and numeric (`&#38;`, `&#x26;`, with or without `;`) character references; JSON and
//! JavaScript string escapes (`\"`, `\\`, `\/`, `\n`..., `\u0026`, `\x26`). Base64 (standard and
//! URL-safe alphabets, with or without padding) is found at each of the three byte alignments a
//! value can have inside encoded data.
//!
//! Prefixes: a match of at least [`MIN_PREFIX_CHARS`] leading characters of a credential counts
//! (a `maxlength` field, a clipped URL, a truncated result keep only a prefix); shorter
//! credentials must match whole. Base64 prefixes count from [`MIN_BASE64_CHARS`] encoded
//! characters. A shorter prefix is left alone: it no longer identifies the value, and matching
//! fewer characters would start erasing ordinary page text.
//!
//! Values that turn up during a run — a saved session's cookies and storage restored into it,
//! values a playbook's `capture` block reads — are added with [`Scrubber::add`] before anything
//! can read them back; every holder of the run's scrubber sees them from then on.
//!
//! Not covered (a page that knows the value can always transform it): case changes (CSS
//! `text-transform`), suffixes, double encodings (`%2526`), hashes, and encodings not listed.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use base64::Engine as _;
use serde_json::Value;

use crate::request::Secret;

mod encodings;

/// Leading characters of a credential that identify it: a match this long (or the whole value,
/// when it is shorter) is scrubbed.
pub const MIN_PREFIX_CHARS: usize = 6;
/// Base64 characters of a credential's encoding that identify it.
const MIN_BASE64_CHARS: usize = 8;

/// Replaces credential values in page-derived text. Shared behind an `Arc`; `Debug` shows no
/// value.
#[derive(Default)]
pub struct Scrubber {
    /// Longest value first, so a credential that contains another is replaced whole. Only
    /// [`Scrubber::add`] writes, and never while a scrub holds the lock across an `.await`
    /// (there is none).
    secrets: RwLock<Vec<Pattern>>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("credentials", &self.patterns().len())
            .finish()
    }
}

impl Scrubber {
    /// The scrubber for a run's `credentials` (empty values are ignored).
    pub fn new(credentials: &BTreeMap<String, Secret>) -> Self {
        let mut secrets: Vec<Pattern> = credentials
            .iter()
            .filter(|(_, s)| !s.expose().is_empty())
            .map(|(name, secret)| Pattern::new(name, secret.expose()))
            .collect();
        secrets.sort_by_key(|p| std::cmp::Reverse(p.chars.len()));
        Self {
            secrets: RwLock::new(secrets),
        }
    }

    /// Adds a secret found during the run (a restored session's value, a captured one) under
    /// `name`; empty values and values already known are ignored.
    pub(crate) fn add(&self, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(PoisonError::into_inner);
        if secrets
            .iter()
            .any(|p| p.chars.iter().copied().eq(value.chars()))
        {
            return;
        }
        secrets.push(Pattern::new(name, value));
        secrets.sort_by_key(|p| std::cmp::Reverse(p.chars.len()));
    }

    fn patterns(&self) -> RwLockReadGuard<'_, Vec<Pattern>> {
        self.secrets.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// True when there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.patterns().is_empty()
    }

    /// True when `text` carries a credential (or an identifying prefix) in any encoding.
    pub fn finds(&self, text: &str) -> bool {
        self.patterns().iter().any(|p| !p.spans(text).is_empty())
    }

    /// `text` with every credential, in every encoding and identifying prefix, replaced by
    /// `[credential:name]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = std::borrow::Cow::Borrowed(text);
        for pattern in self.patterns().iter() {
            let spans = pattern.spans(&text);
            if spans.is_empty() {
                continue;
            }
            let mut out = String::with_capacity(text.len());
            let mut at = 0;
            for (start, end) in spans {
                out.push_str(&text[at..start]);
                out.push_str(&pattern.mark);
                at = end;
            }
            out.push_str(&text[at..]);
            text = std::borrow::Cow::Owned(out);
        }
        text.into_owned()
    }

    /// [`Scrubber::scrub`] applied to every string of a JSON value, object keys included.
    pub fn scrub_value(&self, value: Value) -> Value {
        if self.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.scrub(&s)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.scrub_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.scrub(&k), self.scrub_value(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

/// One credential, prepared for matching.
#[derive(Clone)]
struct Pattern {
    mark: String,
    chars: Vec<char>,
    /// Characters a match needs: the whole value, or [`MIN_PREFIX_CHARS`] of a longer one.
    min_chars: usize,
    /// Bytes a match may start with (the first character in any of its encodings).
    starts: [bool; 256],
    /// Base64 renderings at each alignment, with the encoded characters a match needs.
    base64: Vec<(String, usize)>,
}

impl Pattern {
    fn new(name: &str, value: &str) -> Self {
        let chars: Vec<char> = value.chars().collect();
        let min_chars = chars.len().min(MIN_PREFIX_CHARS);
        let mut starts = [false; 256];
        for b in encodings::first_bytes(chars[0]) {
            starts[usize::from(b)] = true;
        }
        let min_bytes: usize = chars[..min_chars].iter().map(|c| c.len_utf8()).sum();
        Self {
            mark: format!("[credential:{name}]"),
            base64: base64_cores(value.as_bytes(), min_bytes),
            chars,
            min_chars,
            starts,
        }
    }

    /// Byte ranges of `text` that carry this credential, sorted and disjoint.
    fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        let bytes = text.as_bytes();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if self.starts[usize::from(bytes[i])]
                && let Some(end) = self.match_at(bytes, i)
            {
                spans.push((i, end));
                i = end;
                continue;
            }
            i += 1;
        }
        for (core, min) in &self.base64 {
            let head = &core[..*min];
            let mut from = 0;
            while let Some(found) = text[from..].find(head) {
                let start = from + found;
                let matched = core
                    .bytes()
                    .zip(bytes[start..].iter())
                    .take_while(|(a, b)| a == *b)
                    .count();
                spans.push((start, start + matched));
                from = start + matched;
            }
        }
        merge(spans)
    }

    /// The end of the longest match starting at `start`, when it is long enough to count.
    /// Tracks every text position each credential character can end at, so an ambiguous
    /// spelling (`&amp;` read as `&` or as an entity) never hides a longer match.
    fn match_at(&self, bytes: &[u8], start: usize) -> Option<usize> {
        let mut frontier = vec![start];
        let mut best = None;
        for (i, &c) in self.chars.iter().enumerate() {
            let mut next = Vec::new();
            for &pos in &frontier {
                for len in encodings::spellings_at(c, bytes, pos) {
                    let end = pos + len;
                    if !next.contains(&end) {
                        next.push(end);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
            if i + 1 >= self.min_chars {
                best = frontier.iter().copied().max();
            }
        }
        best
    }
}

/// Sorts spans and joins overlapping ones.
fn merge(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// The base64 characters determined by `value` alone when it sits at byte offset 0, 1 or 2 of
/// a 3-byte group, in both alphabets; each with the characters a match needs (those fixed by
/// the first `min_bytes` bytes, at least [`MIN_BASE64_CHARS`]).
fn base64_cores(value: &[u8], min_bytes: usize) -> Vec<(String, usize)> {
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut cores = Vec::new();
    for engine in engines {
        for align in 0..3usize {
            let mut data = vec![0u8; align];
            data.extend_from_slice(value);
            let encoded = engine.encode(&data);
            // Characters that still carry bits of the padding bytes before the value.
            let skip = (align * 8).div_ceil(6);
            let whole = (align + value.len()) * 8 / 6;
            if whole <= skip {
                continue;
            }
            let core = encoded[skip..whole].to_owned();
            let min = ((align + min_bytes) * 8 / 6)
                .saturating_sub(skip)
                .max(MIN_BASE64_CHARS);
            if core.len() >= min && !cores.iter().any(|(c, _)| *c == core) {
                cores.push((core, min));
            }
        }
    }
    cores
}

#[cfg(test)]
mod tests;
