//! A playbook's `auth` block signs in once and saves the session; the next run restores it and
//! the site sees no second login. Its `capture` block turns the HttpOnly session cookie and a
//! localStorage token into parameters a later step uses (the site checks them), and those
//! values — like every value of the saved session — appear nowhere in the runs dir, the
//! recordings or the process's logs, in any encoding. With `[sessions] key_env` set the session
//! file is sealed: mode 0600 in a 0700 dir, and no value in it in any encoding.
//!
//! The key: tests cannot set a variable (`set_var` is `unsafe`), so `key_env` names
//! `CARGO_MANIFEST_DIR`, which cargo and nextest set for every test process.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use common::Harness;
use common::login_site::{EMAIL, LoginSite, PASSWORD, SESSION_COOKIE, STORAGE_TOKEN};
use common::secrets::SecretScan;
use pilothouse::{RunState, RunStatus};
use serde_json::json;

const KEY_ENV: &str = "CARGO_MANIFEST_DIR";

/// The reference's format: `auth` with `form_login`, `capture` of a cookie and a storage key.
const PLAYBOOK: &str = r##"
id: acme_account
name: Acme account
description: Sign in to Acme and check the account's session values
auth_required: true
parameters:
  - name: base_url
auth:
  mode: form_login
  login_url: "{base_url}/login"
  success:
    element_visible: "#signed-in"
capture:
  cookies:
    - name: sid
      store_as: session_cookie
      domain: 127.0.0.1
  storage:
    - key: api_token
      store_as: api_token
      scope: local
steps:
  - action: goto
    params:
      url: "{base_url}/check?sid={session_cookie}&token={api_token}"
    verify:
      expect_text_on_page: "sid matches token matches"
    description: Show the site the captured values
    on_failure: abort
"##;

fn request(app: &LoginSite) -> String {
    json!({
        "driver": {"type": "playbook", "playbook": PLAYBOOK, "params": {"base_url": app.base}},
        "credentials": {"email": EMAIL, "password": PASSWORD},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
    })
    .to_string()
}

fn completed(status: &RunStatus) {
    assert_eq!(status.state, RunState::Completed, "{:?}", status.error);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_run_signs_in_and_the_next_reuses_the_sealed_session() {
    let logs = common::logs::capture();
    let app = LoginSite::serve().await;
    let h = Harness::new(vec![])
        .config(|c| {
            c.sessions.dir = c.runs_dir.parent().unwrap().join("sessions");
            c.sessions.key_env = Some(KEY_ENV.into());
        })
        .start()
        .await;
    let (_, first) = h.run_json(&request(&app)).await;
    completed(&first);
    assert_eq!(app.logins(), 1, "{:?}", app.requests());
    let file = h.config.sessions.dir.join("acme_account.json");
    check_sealed_file(&file);

    let (_, second) = h.run_json(&request(&app)).await;
    completed(&second);
    assert_eq!(
        app.logins(),
        1,
        "the second run signed in again: {:?}",
        app.requests()
    );
    assert!(
        app.requests()
            .contains(&"GET /account (signed in)".to_owned()),
        "the restored cookie was not sent: {:?}",
        app.requests()
    );
    let env = h.finish().await;
    for secret in [SESSION_COOKIE, STORAGE_TOKEN] {
        let scan = SecretScan::new(secret);
        let mut found = scan.scan_dir(&env.runs_dir());
        found.extend(scan.scan_dir(&env.recordings_dir()));
        found.extend(scan.scan_text("logs", &logs.text()));
        assert!(found.is_empty(), "{secret} leaked: {found:#?}");
    }
}

/// 0600 in a 0700 dir, and no session value in it in any encoding.
fn check_sealed_file(file: &Path) {
    let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", file.display());
    let dir_mode = std::fs::metadata(file.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let bytes = std::fs::read(file).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("A256GCM"));
    for secret in [SESSION_COOKIE, STORAGE_TOKEN] {
        let found = SecretScan::new(secret).scan_bytes("session file", &bytes);
        assert!(found.is_empty(), "{found:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_mode_without_a_session_fails_naming_it() {
    let app = LoginSite::serve().await;
    let h = Harness::new(vec![])
        .config(|c| c.sessions.dir = c.runs_dir.parent().unwrap().join("sessions"))
        .start()
        .await;
    let manual = PLAYBOOK
        .replace("mode: form_login", "mode: manual")
        .replace("id: acme_account", "id: acme_manual");
    let req = json!({
        "driver": {"type": "playbook", "playbook": manual, "params": {"base_url": app.base}},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
    });
    let (_, status) = h.run_json(&req.to_string()).await;
    assert_eq!(status.state, RunState::Failed);
    let message = status.error.unwrap().message;
    assert!(message.contains("session `acme_manual`"), "{message}");
    assert_eq!(app.logins(), 0);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_capture_fails_the_run_naming_the_cookie() {
    let app = LoginSite::serve().await;
    let h = Harness::new(vec![])
        .config(|c| c.sessions.dir = c.runs_dir.parent().unwrap().join("sessions"))
        .start()
        .await;
    let playbook = PLAYBOOK
        .replace("mode: form_login", "mode: none")
        .replace("- name: sid", "- name: not_set");
    let req = json!({
        "start_url": format!("{}/login", app.base),
        "driver": {"type": "playbook", "playbook": playbook, "params": {"base_url": app.base}},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
    });
    let (_, status) = h.run_json(&req.to_string()).await;
    assert_eq!(status.state, RunState::Failed);
    let message = status.error.unwrap().message;
    assert!(
        message.contains("required cookie `not_set` not found"),
        "{message}"
    );
    h.finish().await;
}
