//! `"session": {"save": ID}` keeps a run's cookies and localStorage; `"session": {"load": ID}`
//! starts any run with them. A script run that loads the session is signed in (the site gets
//! the HttpOnly cookie, the page finds its localStorage token), in a pooled context and in a
//! Chromium of its own alike; a run in the same warm Chromium without `load` is not. A session
//! file renamed to another id, tampered with, sealed with another key, missing, or named by an
//! id that is not a file name is refused at submit with a field error naming the session.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::Harness;
use common::login_site::{EMAIL, LoginSite, PASSWORD};
use pilothouse::{RunState, RunStatus, SubmitError};
use serde_json::{Value, json};

const GUARDRAILS: &str = r#"{"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}"#;

/// A script run that signs in by hand and saves the session as `id`.
fn sign_in_and_save(app: &LoginSite, id: &str) -> String {
    json!({
        "start_url": format!("{}/login", app.base),
        "driver": {"type": "script", "steps": [
            {"action": "type", "selector": "input[name=email]", "credential_ref": "email"},
            {"action": "type", "selector": "input[name=password]", "credential_ref": "password"},
            {"action": "click", "selector": "button[type=submit]"},
            {"action": "wait_for", "selector": "#signed-in"},
        ]},
        "credentials": {"email": EMAIL, "password": PASSWORD},
        "session": {"save": id},
        "guardrails": serde_json::from_str::<Value>(GUARDRAILS).unwrap(),
    })
    .to_string()
}

/// A script run that opens the account page and reads what it says about localStorage.
fn open_account(app: &LoginSite, session: Value, isolation: &str) -> String {
    json!({
        "start_url": format!("{}/account", app.base),
        "driver": {"type": "script", "steps": [
            {"action": "wait_for", "selector": "#signed-in, input[type=password]"},
            {"action": "evaluate", "script": "document.getElementById('stored')?.textContent ?? 'signed out'", "store_as": "stored"},
        ]},
        "session": session,
        "isolation": isolation,
        "guardrails": serde_json::from_str::<Value>(GUARDRAILS).unwrap(),
    })
    .to_string()
}

fn stored(status: &RunStatus) -> &str {
    assert_eq!(status.state, RunState::Completed, "{:?}", status.error);
    status.data["stored"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn loaded_sessions_sign_in_and_other_runs_in_the_pool_stay_signed_out() {
    let app = LoginSite::serve().await;
    let h = Harness::new(vec![])
        .config(|c| {
            c.sessions.dir = c.runs_dir.parent().unwrap().join("sessions");
            c.browser.pool_processes = 1;
        })
        .start()
        .await;
    let (_, saved) = h.run_json(&sign_in_and_save(&app, "acme")).await;
    assert_eq!(saved.state, RunState::Completed, "{:?}", saved.error);
    let file = h.config.sessions.dir.join("acme.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let load = json!({"load": "acme"});
    let (_, pooled) = h
        .run_json(&open_account(&app, load.clone(), "context"))
        .await;
    assert_eq!(stored(&pooled), "token restored");
    let (_, plain) = h.run_json(&open_account(&app, json!({}), "context")).await;
    assert_eq!(
        stored(&plain),
        "signed out",
        "a run without load saw the session"
    );
    let (_, own) = h.run_json(&open_account(&app, load, "process")).await;
    assert_eq!(stored(&own), "token restored");

    let accounts: Vec<String> = app
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /account"))
        .collect();
    let expected = [
        "GET /account (signed in)",
        "GET /account (signed in)",
        "GET /account (anonymous)",
        "GET /account (signed in)",
    ];
    assert_eq!(accounts, expected);
    assert_eq!(app.logins(), 1);
    h.finish().await;
}

/// Submits a run loading `id`; the refusal's `session.load` message.
async fn refusal(h: &Harness, app: &LoginSite, id: &str) -> String {
    let request = h.request(&open_account(app, json!({"load": id}), "context"));
    match h.handle.submit(request).await {
        Err(SubmitError::Invalid(e)) => {
            assert_eq!(e.errors[0].field, "session.load", "{e}");
            e.errors[0].message.clone()
        }
        other => panic!("loading session `{id}` was not refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn renamed_tampered_rekeyed_and_missing_sessions_are_refused_by_name() {
    let app = LoginSite::serve().await;
    let h = Harness::new(vec![])
        .config(|c| {
            c.sessions.dir = c.runs_dir.parent().unwrap().join("sessions");
            c.sessions.key_env = Some("CARGO_MANIFEST_DIR".into());
        })
        .start()
        .await;
    let (_, saved) = h.run_json(&sign_in_and_save(&app, "acme")).await;
    assert_eq!(saved.state, RunState::Completed, "{:?}", saved.error);
    let dir = h.config.sessions.dir.clone();
    let pristine = std::fs::read(dir.join("acme.json")).unwrap();
    std::fs::write(dir.join("other.json"), &pristine).unwrap();
    let renamed = refusal(&h, &app, "other").await;
    assert!(
        renamed.contains("session `other` cannot be opened"),
        "{renamed}"
    );
    let missing = refusal(&h, &app, "ghost").await;
    assert!(
        missing.contains("session `ghost` does not exist"),
        "{missing}"
    );
    assert!(
        refusal(&h, &app, "../acme")
            .await
            .contains("not a session id")
    );

    let mut file: Value = serde_json::from_slice(&pristine).unwrap();
    let ciphertext = file["sealed"]["ciphertext"].as_str().unwrap().to_owned();
    let flipped = if ciphertext.starts_with('A') {
        "B"
    } else {
        "A"
    };
    file["sealed"]["ciphertext"] = Value::String(format!("{flipped}{}", &ciphertext[1..]));
    std::fs::write(dir.join("acme.json"), file.to_string()).unwrap();
    let tampered = refusal(&h, &app, "acme").await;
    assert!(
        tampered.contains("session `acme` cannot be opened"),
        "{tampered}"
    );

    std::fs::write(dir.join("acme.json"), &pristine).unwrap();
    let h = h
        .restart_with(|c| c.sessions.key_env = Some("HOME".into()))
        .await;
    let rekeyed = refusal(&h, &app, "acme").await;
    assert!(
        rekeyed.contains("session `acme` cannot be opened"),
        "{rekeyed}"
    );
    h.finish().await;
}
