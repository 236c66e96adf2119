//! Unit tests of parsing and validating the config file.

use super::*;

#[test]
fn empty_toml_is_the_default() {
    assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
}

#[test]
fn unknown_keys_are_named() {
    let err = Config::from_toml_str("max_concurent_runs = 3").unwrap_err();
    assert!(err.to_string().contains("max_concurent_runs"), "{err}");
}

#[test]
fn a_missing_chromium_path_is_named() {
    let config = Config {
        chromium_path: Some("/nonexistent/chromium".into()),
        ..Config::default()
    };
    let err = config.resolve_chromium().unwrap_err().to_string();
    assert!(
        err.contains("chromium_path") && err.contains("/nonexistent/chromium"),
        "{err}"
    );
}

#[test]
fn zero_concurrency_is_rejected() {
    let err = Config::from_toml_str("max_concurrent_runs = 0").unwrap_err();
    assert!(err.to_string().contains("max_concurrent_runs"), "{err}");
}

#[test]
fn urls_are_checked_with_a_fix_in_the_message() {
    // An s3:// URL is good when the backend is compiled in, and names its feature when not.
    let s3 = check_upload_url("s3://bucket/prefix");
    if cfg!(feature = "s3") {
        assert!(s3.is_ok(), "{s3:?}");
    } else {
        assert!(s3.unwrap_err().contains("needs the `s3` feature"));
    }
    assert!(check_upload_url("file:///tmp/x").is_ok());
    let err = check_upload_url("ftp://x/y").unwrap_err();
    assert!(err.contains("unsupported scheme `ftp`"), "{err}");
    assert!(
        check_upload_url("not a url")
            .unwrap_err()
            .contains("s3://bucket/prefix")
    );
}
