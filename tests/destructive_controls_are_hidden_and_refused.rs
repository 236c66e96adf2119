//! Destructive controls ("Delete account", "Close account", "Place order") are hidden from
//! `observe`'s list of controls (their words may still show as page text) and a click on one is
//! refused by pattern before the browser clicks, according to the run's task kind: `interact` may place an order but never delete or close an account;
//! `read` may do neither. The page's own log proves the refused clicks never happened.

mod common;

use common::{Harness, Page, Site, request};
use futures::StreamExt;
use pilothouse::{EventKind, RunEvent, RunState, RunStatus};

/// Every control navigates to a page of its own, so the site's log records each real click.
const SETTINGS: &str = r#"<!doctype html><html><head><title>Settings</title></head><body>
<h1>Account settings</h1>
<a id="profile" href="/profile">Profile</a>
<button id="save" onclick="location.href='/saved'">Save changes</button>
<button id="order" onclick="location.href='/ordered'">Place order</button>
<button id="del" onclick="location.href='/deleted'">Delete account</button>
<a id="close" href="/closed">Close account</a>
<button id="icon" aria-label="Dеlete my account" onclick="location.href='/deleted-icon'">✕</button>
</body></html>"#;

fn pages() -> Vec<(&'static str, Page)> {
    let page = |title: &str| Page::Html(format!("<title>{title}</title>"));
    vec![
        ("/settings", Page::Html(SETTINGS.into())),
        ("/profile", page("profile")),
        ("/saved", page("saved")),
        ("/ordered", page("ordered")),
        ("/deleted", page("deleted")),
        ("/closed", page("closed")),
        ("/deleted-icon", page("deleted")),
    ]
}

fn script(kind: &str, steps: &str) -> String {
    format!(
        r#"{{"driver": {{"type": "script", "steps": [{steps}]}},
            "guardrails": {{"allowed_domains": ["127.0.0.1"], "allow_private_networks": true,
                            "task_kind": "{kind}"}},
            "limits": {{"action_timeout_ms": 5000}}}}"#
    )
}

async fn run(
    handle: &pilothouse::OrchestratorHandle,
    json: &str,
    site: &Site,
) -> (RunStatus, Vec<RunEvent>) {
    let run_id = handle.submit(request(json, site)).await.unwrap();
    let events: Vec<RunEvent> = handle.events(run_id, 0).await.unwrap().collect().await;
    let status = handle.status(run_id).await.unwrap().unwrap();
    (status, events)
}

/// The snapshot's list of controls.
fn controls(snapshot: &str) -> &str {
    let (_, controls) = snapshot
        .split_once("--- Interactive ---")
        .unwrap_or_else(|| panic!("no controls listed:\n{snapshot}"));
    controls
}

fn destructive_refusals(events: &[RunEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::GuardrailBlocked {
                check,
                reason,
                target,
            } if check == "destructive" => Some((target.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interact_runs_may_order_but_never_delete_or_close_an_account() {
    let h = Harness::new(pages()).start().await;
    let (site, handle) = (&h.site, &h.handle);
    let settings = r#"{"action": "goto", "url": "{base}/settings"}"#;
    let steps = [
        settings,
        r#"{"action": "observe", "store_as": "snapshot"}"#,
        r##"{"action": "click", "selector": "#save"}"##,
        settings,
        r##"{"action": "click", "selector": "#order"}"##,
        settings,
        r##"{"action": "click", "selector": "#del"}"##,
    ]
    .join(",");
    let (status, events) = run(handle, &script("interact", &steps), site).await;

    // The snapshot lists the ordinary controls and not the account-ending ones.
    let snapshot = status.data["snapshot"].as_str().unwrap();
    for shown in ["Save changes", "Place order", "Profile"] {
        assert!(
            controls(snapshot).contains(shown),
            "`{shown}` missing:\n{snapshot}"
        );
    }
    for hidden in [
        "Delete account",
        "Close account",
        "id=\"icon\"",
        "id=\"del\"",
    ] {
        assert!(
            !controls(snapshot).contains(hidden),
            "`{hidden}` shown:\n{snapshot}"
        );
    }
    // Allowed clicks happened; the refused one did not, and said why.
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    let error = status.error.as_ref().unwrap();
    assert_eq!(error.code, pilothouse::ErrorCode::GuardrailBlocked);
    assert!(
        error.message.contains("\"delete account\"") && error.message.contains("no task kind"),
        "{error:?}"
    );
    let refused = destructive_refusals(&events);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "#del");
    let log = site.requests();
    assert!(log.contains(&"/saved".to_owned()), "{log:?}");
    assert!(log.contains(&"/ordered".to_owned()), "{log:?}");
    assert!(!log.contains(&"/deleted".to_owned()), "{log:?}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_runs_refuse_orders_and_look_alike_labels_too() {
    let h = Harness::new(pages()).start().await;
    let (site, handle) = (&h.site, &h.handle);
    let settings = r#"{"action": "goto", "url": "{base}/settings"}"#;
    // read: an order is refused (interact would allow it); the snapshot keeps only safe links.
    let steps = [
        settings,
        r#"{"action": "observe", "store_as": "snapshot"}"#,
        r##"{"action": "click", "selector": "#order"}"##,
    ]
    .join(",");
    let (status, events) = run(handle, &script("read", &steps), site).await;
    let snapshot = status.data["snapshot"].as_str().unwrap();
    assert!(controls(snapshot).contains("Profile"), "{snapshot}");
    assert!(!controls(snapshot).contains("Close account"), "{snapshot}");
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    let message = &status.error.as_ref().unwrap().message;
    assert!(
        message.contains("\"place order\"")
            && message.contains("set guardrails.task_kind to interact to allow it"),
        "{message}"
    );
    assert_eq!(destructive_refusals(&events)[0].0, "#order");

    // fill_form: an icon button whose aria-label reads "Delete my account" (with a Cyrillic
    // `е`) is refused as well, and an account-closing link by its text.
    for selector in ["#icon", "#close"] {
        let steps = format!(r##"{settings}, {{"action": "click", "selector": "{selector}"}}"##);
        let (status, events) = run(handle, &script("fill_form", &steps), site).await;
        assert_eq!(status.state, RunState::Failed, "{selector}: {status:#?}");
        let refused = destructive_refusals(&events);
        assert_eq!(refused.len(), 1, "{selector}: {refused:?}");
        assert_eq!(refused[0].0, selector);
    }
    let log = site.requests();
    for never in ["/ordered", "/deleted-icon", "/closed"] {
        assert!(
            !log.contains(&never.to_owned()),
            "{never} was reached: {log:?}"
        );
    }
    h.finish().await;
}
