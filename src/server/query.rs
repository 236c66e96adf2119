//! Query-string parsing shared by the handlers: repeated keys are kept (`?label=a:b&label=c:d`),
//! and every problem names its parameter.

use std::str::FromStr;

use super::errors::ApiError;

/// The decoded `key=value` pairs of a raw query string, in order.
pub(crate) fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Fails naming the first parameter not in `known`.
pub(crate) fn only_known(pairs: &[(String, String)], known: &[&str]) -> Result<(), ApiError> {
    match pairs.iter().find(|(key, _)| !known.contains(&key.as_str())) {
        Some((key, _)) => Err(ApiError::invalid_field(
            key,
            format!("unknown query parameter; known: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// The value of `key` parsed as `T`, or `None` when absent.
pub(crate) fn parsed<T: FromStr>(
    pairs: &[(String, String)],
    key: &str,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    match pairs.iter().rev().find(|(k, _)| k == key) {
        None => Ok(None),
        Some((_, value)) => value
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid_field(key, format!("`{value}` is not {expected}"))),
    }
}
