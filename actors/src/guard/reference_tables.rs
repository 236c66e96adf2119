//! The reference system's guardrail tables (AppliedLabsAI/cua `tests/test_guardrails.py`,
//! `test_scope.py`, `test_blinders.py`'s scope verifier, `test_blinders_effectiveness.py`'s
//! dangerous-control cases and `test_stuck.py`), ported as inputs and expected outcomes:
//! private networks, scope and blocked lists, task kinds, destructive controls and stuck
//! detection (those in `reference_tables/stuck.rs`). Cases Pilothouse decides differently on
//! purpose are listed with the reason in README.md, "Differences from the reference's
//! guardrails".

use super::*;
use crate::event::Severity;
use crate::request::{Action, RunRequest, StuckSpec, TaskKind};

mod stuck;

fn guard(allowed: &[&str], private: bool) -> Guard {
    Guard::new(&GuardrailSpec {
        allowed_domains: allowed.iter().map(|s| s.to_string()).collect(),
        allow_private_networks: private,
        ..GuardrailSpec::default()
    })
}

/// `None`: allowed; `Some(check)`: refused by that check.
async fn check(g: &Guard, url: &str) -> Option<&'static str> {
    g.check_url(url, Phase::Before).await.err().map(|b| b.check)
}

/// test_guardrails.py: TestSSRFProtection and TestDomainChecks; test_blinders.py:
/// TestScopeVerifier's domains; and the blocked-list misses of the issue.
#[tokio::test]
async fn the_reference_destination_table() {
    destinations_by_check().await;
    allow_lists().await;
}

/// The open guard's table: SSRF targets, the built-in blocked list and its look-alikes.
async fn destinations_by_check() {
    let open = guard(&[], false);
    let table: &[(&str, Option<&str>)] = &[
        // TestSSRFProtection
        ("http://localhost/", Some("private_network")),
        ("http://127.0.0.1/", Some("private_network")),
        ("http://10.0.0.1/", Some("private_network")),
        ("http://172.16.0.1/", Some("private_network")),
        ("http://192.168.1.1/", Some("private_network")),
        ("http://169.254.169.254/", Some("private_network")),
        ("http://[::1]/", Some("private_network")),
        ("http://93.184.216.34/", None),
        // TestDomainChecks
        ("https://mail.google.com/inbox", Some("blocked_domain")),
        ("https://example.com", None),
        ("https://foo.bank.example", Some("blocked_domain")),
        ("http://127.0.0.1:8080/admin", Some("private_network")),
        // The built-in list's misses: subdomains and the names it lacked.
        ("https://www.chase.com/", Some("blocked_domain")),
        ("https://chase.com/", Some("blocked_domain")),
        ("https://dashboard.stripe.com/", Some("blocked_domain")),
        ("https://www.usbank.com/", Some("blocked_domain")),
        ("https://usbank.com/", Some("blocked_domain")),
        ("https://www.capitalone.com/", Some("blocked_domain")),
        ("https://square.com/", Some("blocked_domain")),
        ("https://cash.app/", Some("blocked_domain")),
        ("https://online.citi.com/", Some("blocked_domain")),
        ("https://secure.wellsfargo.com/", Some("blocked_domain")),
        ("https://www.hsbc.com/", Some("blocked_domain")),
        ("https://www.paypal.com/", Some("blocked_domain")),
        ("https://venmo.com/", Some("blocked_domain")),
        ("https://www.bankofamerica.com/", Some("blocked_domain")),
        ("https://www.facebook.com/", Some("blocked_domain")),
        ("https://x.com/", Some("blocked_domain")),
        // Look-alikes of blocked names stay open.
        ("https://squarespace.com/", None),
        ("https://bankrate.com/", None),
        ("https://max.com/", None),
        ("https://yelp.com", None),
        ("https://google.com", None),
    ];
    for (url, want) in table {
        assert_eq!(check(&open, url).await, *want, "{url}");
    }
    // Private networks open only when the request allows them.
    assert_eq!(
        check(&guard(&[], true), "http://127.0.0.1:8080/admin").await,
        None
    );
}

/// Allow-lists: subdomains in scope, others out, and a private host still private.
async fn allow_lists() {
    // Allow-lists: TestDomainChecks.test_allowlist_overrides_blocklist, TestScopeVerifier.
    let example = guard(&["example.com"], false);
    assert_eq!(check(&example, "https://example.com").await, None);
    assert_eq!(check(&example, "https://other.com").await, Some("domain"));
    let apple = guard(&["apple.com"], false);
    assert_eq!(check(&apple, "https://apple.com").await, None);
    assert_eq!(check(&apple, "https://store.apple.com/iphone").await, None);
    assert_eq!(check(&apple, "https://evil.com").await, Some("domain"));
    let info = guard(&["example.com"], false);
    assert_eq!(
        check(&info, "http://169.254.169.254/metadata").await,
        Some("domain"),
        "out of scope before it is private"
    );
    // test_blinders_effectiveness.py A1: localhost named in the scope is still private.
    assert_eq!(
        check(
            &guard(&["localhost"], false),
            "http://localhost:8000/products"
        )
        .await,
        Some("private_network")
    );
    let shop = guard(&["shop.example.com"], false);
    assert_eq!(
        check(&shop, "https://shop.example.com/products").await,
        None
    );
}

/// test_guardrails.py TestGuardrailConfigFromDict: the defaults, and (a deliberate
/// difference) unknown keys are refused with their name, not ignored.
#[test]
fn guardrail_defaults_and_unknown_keys() {
    let empty =
        RunRequest::from_json(r#"{"driver": {"type": "script", "steps": []}, "guardrails": {}}"#)
            .unwrap();
    let g = &empty.guardrails;
    assert_eq!(
        g.max_urls_visited
            .unwrap_or(crate::request::DEFAULT_MAX_URLS_VISITED),
        50
    );
    assert_eq!(
        g.max_consecutive_errors
            .unwrap_or(crate::request::DEFAULT_MAX_CONSECUTIVE_ERRORS),
        5
    );
    assert!(!g.allow_private_networks);
    let err = RunRequest::from_json(
        r#"{"driver": {"type": "script", "steps": []},
            "guardrails": {"max_urls_visited": 10, "unknown_field": "ignored"}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("guardrails") && err.contains("unknown_field"),
        "{err}"
    );
}

/// test_scope.py and test_blinders_effectiveness.py: which actions each task kind allows
/// (the reference's `key_press` is Pilothouse's `type` and `press_key`).
#[test]
fn the_reference_task_kind_table() {
    use TaskKind::*;
    let type_text = Action::Type {
        selector: None,
        text: Some("hello".into()),
        credential_ref: None,
    };
    let key = Action::PressKey { key: "a".into() };
    let goto = Action::Goto {
        url: "https://apple.com".into(),
    };
    let extract = Action::Extract {
        selector: Some("body".into()),
        mode: crate::request::ExtractMode::Text,
        store_as: None,
    };
    let click = Action::Click {
        selector: "a.product".into(),
    };
    let seq = |steps: Vec<Action>| Action::Sequence { steps };
    // (kind, action, allowed)
    let table: Vec<(TaskKind, &Action, bool)> = vec![
        (Read, &type_text, false),
        (Read, &key, false),
        (Read, &goto, true),
        (Read, &extract, true),
        (Read, &click, true),
        (Navigate, &key, false),
        (Navigate, &goto, true),
        (Interact, &key, true),
        (Interact, &type_text, true),
        (FillForm, &key, true),
        (FillForm, &type_text, true),
    ];
    for (kind, action, want) in table {
        assert_eq!(kind.allows(action), want, "{kind:?} {}", action.name());
    }
    for name in [
        "goto",
        "click",
        "extract",
        "screenshot",
        "scroll",
        "observe",
        "wait_for",
    ] {
        assert!(Read.allowed_names().contains(&name), "read lacks {name}");
    }
    for kind in [Interact, FillForm] {
        assert_eq!(kind.allowed_names().len(), 15);
    }
    // A sequence is allowed exactly when each of its steps is (the reference refuses every
    // sequence in read tasks; see README).
    assert!(Interact.allows(&seq(vec![key.clone()])));
    assert!(!Read.allows(&seq(vec![click.clone(), key.clone()])));
    assert!(Read.allows(&seq(vec![click.clone()])));
}

/// test_blinders.py TestDangerousTextPatterns, test_blinders_effectiveness.py A3 and B4,
/// test_guardrails.py TestActionClassification: which controls each kind may click.
#[test]
fn the_reference_destructive_control_table() {
    use TaskKind::*;
    // (kind, label, refused)
    let table: &[(TaskKind, &str, bool)] = &[
        (Read, "delete account", true),
        (Read, "place order", true),
        (Read, "send email", true),
        (Read, "Delete shop", false),
        (Navigate, "Buy now", true),
        (Interact, "delete account", true),
        (Interact, "place order", false),
        (Interact, "Deactivate account", true),
        (Interact, "Terminate subscription", true),
        (FillForm, "delete account", true),
        (FillForm, "close account", true),
        (FillForm, "place order", false),
        (FillForm, "send email", false),
        (FillForm, "Deactivate account", false),
        // The verifier: selectors that name the control, in every kind.
        (FillForm, "text=delete account", true),
        (Interact, "text=Delete Account", true),
        (Interact, "#delete-account", true),
        (Interact, "button[data-action=closeAccount]", true),
        (Interact, "text=Process Batch #42", false),
        (Interact, "text=Finalize Changes", false),
        (Interact, "text=Proceed with action", false),
        // Look-alikes fold first.
        (Interact, "Dеlete ассount", true),
        (Interact, "Ｃｌｏｓｅ　Ａｃｃｏｕｎｔ", true),
        // Ordinary controls.
        (Read, "Account Settings", false),
        (Read, "Close", false),
        (Read, "Forgot Password?", false),
        (Read, "Shipping Policy", false),
        (Interact, "Submit Support Ticket", false),
        (Interact, "Log In", false),
    ];
    for (kind, label, refused) in table {
        assert_eq!(
            find_destructive(*kind, label).is_some(),
            *refused,
            "{kind:?} `{label}`"
        );
    }
    let found = find_destructive(Read, "Place order").unwrap();
    assert_eq!(found.allowed_in, Some(Interact));
    assert!(
        found
            .reason(Read, "the element `#buy`")
            .ends_with("set guardrails.task_kind to interact to allow it")
    );
    assert_eq!(
        find_destructive(FillForm, "Close account")
            .unwrap()
            .allowed_in,
        None
    );
}

/// test_blinders_effectiveness.py A3 (support form) and B4: what `observe` keeps.
#[test]
fn the_reference_support_form_keeps_its_form_and_loses_its_dangerous_controls() {
    let snapshot = "--- Fields ---\nOrder ID: (empty)\n--- Interactive ---\n\
        <input type=\"text\" name=\"order_id\" placeholder=\"Order ID\">\n\
        <button type=\"submit\">Submit Support Ticket</button>\n\
        <button role=\"button\">Delete Account</button>\n\
        <a href=\"/account/close\">Close Account</a>\n\
        <a href=\"/admin/danger-zone\">Danger Zone</a>";
    for kind in [TaskKind::FillForm, TaskKind::Interact, TaskKind::Read] {
        let (kept, hidden) = hide_controls(kind, snapshot);
        assert_eq!(hidden, 2, "{kind:?}");
        for gone in ["Delete Account", "Close Account"] {
            assert!(!kept.contains(gone), "{kind:?}: {kept}");
        }
        for stays in ["Submit Support Ticket", "Order ID", "Danger Zone"] {
            assert!(kept.contains(stays), "{kind:?}: {kept}");
        }
    }
}
