//! The session store: round trips in the clear and sealed, expired cookies dropped, and every
//! bad file an error naming the session.

use std::os::unix::fs::PermissionsExt as _;

use super::*;
use crate::page_driver::{OriginStorage, StorageItem, StoredCookie};

fn state(expires: Option<f64>) -> StorageState {
    StorageState {
        cookies: vec![StoredCookie {
            name: "sid".into(),
            value: "cookie-value-123".into(),
            domain: "127.0.0.1".into(),
            path: "/".into(),
            expires,
            http_only: true,
            secure: false,
            same_site: Some("Lax".into()),
        }],
        origins: vec![OriginStorage {
            origin: "http://127.0.0.1:1".into(),
            local_storage: vec![StorageItem {
                name: "token".into(),
                value: "storage-value-456".into(),
            }],
        }],
    }
}

fn store(dir: &Path, key_env: Option<&str>) -> SessionStore {
    SessionStore::new(&SessionsConfig {
        dir: dir.join("sessions"),
        key_env: key_env.map(str::to_owned),
    })
}

#[test]
fn sessions_round_trip_privately_in_the_clear_and_sealed() {
    let tmp = tempfile::tempdir().unwrap();
    for key_env in [None, Some("CARGO_MANIFEST_DIR")] {
        let store = store(tmp.path(), key_env);
        store.save_blocking("acme", &state(None)).unwrap();
        assert!(store.load_blocking("acme").unwrap() == state(None));
        let mode = std::fs::metadata(store.path("acme"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(store.path("acme")).unwrap();
        assert_eq!(text.contains("cookie-value-123"), key_env.is_none());
    }
    let dir_mode = std::fs::metadata(tmp.path().join("sessions"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[test]
fn expired_cookies_are_dropped_on_load() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path(), None);
    store.save_blocking("old", &state(Some(1_000.0))).unwrap();
    assert!(store.load_blocking("old").unwrap().cookies.is_empty());
}

#[test]
fn bad_sessions_are_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = store(tmp.path(), None);
    let sealed = store(tmp.path(), Some("CARGO_MANIFEST_DIR"));
    let unset = store(tmp.path(), Some("PILOTHOUSE_TEST_NO_SUCH_VARIABLE"));
    assert!(matches!(
        plain.load_blocking("none"),
        Err(SessionError::Missing { .. })
    ));
    plain.save_blocking("clear", &state(None)).unwrap();
    sealed.save_blocking("locked", &state(None)).unwrap();
    assert!(matches!(
        sealed.load_blocking("clear"),
        Err(SessionError::Unsealed { .. })
    ));
    assert!(matches!(
        plain.load_blocking("locked"),
        Err(SessionError::Sealed { .. })
    ));
    assert!(matches!(
        unset.save_blocking("x", &state(None)),
        Err(SessionError::KeyUnset { .. })
    ));
    std::fs::write(plain.path("junk"), "{not json").unwrap();
    let junk = plain.load_blocking("junk").unwrap_err();
    assert!(matches!(junk, SessionError::Corrupt { .. }));
    assert!(junk.to_string().contains("session `junk`"), "{junk}");
    for id in ["", "../x", "a b", &"x".repeat(65)] {
        assert!(check_id(id).is_err(), "{id}");
    }
    assert!(check_id(&"x".repeat(64)).is_ok());
}
