//! The reference system's playbook spelling: its own example files parse and validate
//! unchanged, each reference step becomes the action the reference runs, the format is told
//! apart from Pilothouse's, and malformed reference files get field errors with positions.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::*;
use crate::request::{Action, ExtractMode, OnFailure, WaitState};

/// The reference repository's `playbooks/definitions/example_cancel_order.yaml`, verbatim
/// (Playwright selectors included: they only need to be well formed here).
const REFERENCE_CANCEL_ORDER: &str = r##"id: cancel_order
name: Cancel Order
description: Navigate to orders page, find order by ID, and cancel it
tags: ["cancel", "order", "cancel order"]
auth_required: true
start_url: ""
parameters:
  - name: order_id
    type: string
    description: The order ID to cancel
    inject_into: steps.2.params.text
    pattern: "#?(\\d{3,})"

steps:
  - action: goto
    params:
      url: "https://dashboard.example.com/orders"
    verify:
      expect_url_contains: "/orders"
      expect_element_visible: "table"
    description: Navigate to orders page

  - action: click
    selector:
      primary: "input[placeholder*='Search']"
      fallbacks:
        - "role=searchbox"
        - "input[type='search']"
    description: Click search box

  - action: key_press
    params:
      text: "{order_id}"
    description: Type order ID

  - action: key_press
    params:
      key: Enter
    verify:
      expect_element_visible: "table tbody tr"
    description: Submit search

  - action: click
    selector:
      primary: "text=Cancel"
      fallbacks:
        - "button.cancel-btn"
        - "role=button[name*='Cancel']"
    verify:
      expect_element_visible: "text=Are you sure"
    description: Click cancel button

  - action: click
    selector:
      primary: "text=Confirm"
      fallbacks:
        - "button.confirm-btn"
        - ".modal button.primary"
    verify:
      expect_text_on_page: "cancelled"
    description: Confirm cancellation
"##;

#[test]
fn the_references_own_file_parses_validates_and_binds() {
    let (pb, format) = parse_yaml_with_format(REFERENCE_CANCEL_ORDER).unwrap();
    assert_eq!(format, PlaybookFormat::Reference);
    assert!(pb.problems().is_empty(), "{:?}", pb.problems());
    assert!(pb.auth_required);
    assert_eq!(pb.start_url, None, "start_url \"\" means none");
    assert_eq!(
        pb.steps[0].params["url"],
        "https://dashboard.example.com/orders"
    );
    let verify = pb.steps[0].verify.as_ref().unwrap();
    assert_eq!(verify.url_contains.as_deref(), Some("/orders"));
    assert_eq!(verify.element_visible.as_deref(), Some("table"));
    assert_eq!(verify.timeout_ms, 5_000);
    assert!(pb.steps.iter().all(|s| s.on_failure == OnFailure::Agent));
    let given = BTreeMap::from([("order_id".to_owned(), json!("#4711"))]);
    let params = pb.resolve_params(&given).unwrap();
    let step = inject::inject(pb.steps[2].clone(), 2, &pb.parameters, &params).unwrap();
    assert_eq!(step.action_with(None).unwrap(), typed(None, "#4711"));
}

fn typed(selector: Option<&str>, text: &str) -> Action {
    Action::Type {
        selector: selector.map(str::to_owned),
        text: Some(text.to_owned()),
        credential_ref: None,
    }
}

fn step(yaml: &str) -> Step {
    crate::yaml::from_str(yaml).unwrap_or_else(|e| panic!("{}: {}", e.path, e.message))
}

/// `(step, chosen selector, the action it becomes)`.
fn reference_steps() -> Vec<(&'static str, Option<&'static str>, Action)> {
    let press = |key: &str| Action::PressKey { key: key.into() };
    let cases = [
        (
            "{action: key_press, params: {text: hi}}",
            None,
            typed(None, "hi"),
        ),
        (
            "{action: key_press, params: {text: hi}}",
            Some("#q"),
            typed(Some("#q"), "hi"),
        ),
        (
            "{action: key_press, params: {key: Enter}}",
            None,
            press("Enter"),
        ),
        (
            "{action: key_press, params: {text: hi, key: Enter}}",
            Some("#q"),
            Action::Sequence {
                steps: vec![typed(Some("#q"), "hi"), press("Enter")],
            },
        ),
        (
            "{action: key_press, params: {key: Tab}}",
            Some("#q"),
            Action::Sequence {
                steps: vec![
                    Action::WaitFor {
                        selector: "#q".into(),
                        state: WaitState::Visible,
                        timeout_ms: None,
                    },
                    press("Tab"),
                ],
            },
        ),
    ];
    let mut cases = cases.to_vec();
    cases.extend(other_reference_steps());
    cases
}

/// The other actions, arguments under `params`.
fn other_reference_steps() -> Vec<(&'static str, Option<&'static str>, Action)> {
    let cases = [
        (
            "{action: extract, params: {mode: value}, store_as: shop_id}",
            Some("#id_shop"),
            Action::Extract {
                selector: Some("#id_shop".into()),
                mode: ExtractMode::Value,
                store_as: Some("shop_id".into()),
            },
        ),
        (
            "{action: wait_for, params: {selector: '#t', state: hidden, timeout_ms: 900}}",
            None,
            Action::WaitFor {
                selector: "#t".into(),
                state: WaitState::Hidden,
                timeout_ms: Some(900),
            },
        ),
        (
            "{action: select, params: {value: b}}",
            Some("#s"),
            Action::Select {
                selector: "#s".into(),
                value: Some("b".into()),
                label: None,
            },
        ),
        (
            "{action: evaluate, params: {script: document.title}, store_as: ''}",
            None,
            Action::Evaluate {
                script: "document.title".into(),
                store_as: None,
            },
        ),
    ];
    cases.to_vec()
}

#[test]
fn each_reference_step_becomes_the_action_the_reference_runs() {
    for (yaml, selector, want) in reference_steps() {
        let s = step(yaml);
        let selector = selector.or(s.selector.as_ref().map(|c| c.candidates()[0]));
        assert_eq!(s.action_with(selector).unwrap(), want, "{yaml}");
    }
    let err = step("{action: key_press, params: {}}")
        .action_with(None)
        .unwrap_err();
    assert_eq!(err.field, "params");
    let err = step("{action: key_press, params: {txt: a}}")
        .action_with(None)
        .unwrap_err();
    assert!(err.message.contains("unknown field `txt`"), "{err}");
}

#[test]
fn the_format_read_is_told_apart() {
    let detect = |yaml: &str| {
        let doc: Value = crate::yaml::from_str(yaml).unwrap();
        PlaybookFormat::detect(&doc)
    };
    let pilothouse = "id: a\nsteps:\n  - action: goto\n    url: https://a.test/\n";
    assert_eq!(detect(pilothouse), PlaybookFormat::Pilothouse);
    let reference = "id: a\nsteps:\n  - action: goto\n    params: {url: https://a.test/}\n";
    assert_eq!(detect(reference), PlaybookFormat::Reference);
    let mixed = "id: a\nsteps:\n  - action: goto\n    params: {url: https://a.test/}\n    \
                 verify: {url_contains: a}\n";
    assert_eq!(detect(mixed), PlaybookFormat::Mixed);
    assert_eq!(
        detect("id: a\nsteps:\n  - action: click\n    selector: '#a'\n"),
        PlaybookFormat::Common
    );
    assert_eq!(yaml_format("[1, 2]"), None);
    assert_eq!(PlaybookFormat::Reference.to_string(), "reference format");
}

fn problems_of(yaml: &str) -> Vec<String> {
    match parse_yaml(yaml) {
        Ok(pb) => pb.problems().iter().map(ToString::to_string).collect(),
        Err(e) => vec![e.to_string()],
    }
}

/// `problems_of(yaml)` has one problem starting with `field` and containing every `needle`.
fn assert_problem(yaml: &str, field: &str, needles: &[&str]) {
    let p = problems_of(yaml);
    assert!(
        p.iter()
            .any(|m| m.starts_with(field) && needles.iter().all(|n| m.contains(n))),
        "no `{field}` problem with {needles:?} in {p:?}"
    );
}

#[test]
fn malformed_reference_files_name_the_field_and_where() {
    let head = "id: x\nsteps:\n  - action: goto\n    params: {url: 'https://a.test/'}\n";
    assert_problem(
        &format!("{head}guardrails:\n  max_steps: 3\n"),
        "guardrails",
        &[
            "unknown field `max_steps`",
            "enable_llm_action_check",
            "line 6",
        ],
    );
    assert_problem(
        "id: x\nsteps:\n  - action: goto\n    url: 'https://a.test/'\n    params: {url: 'https://b.test/'}\n",
        "steps[0]",
        &[
            "`url` is given both under `params` and beside `action`",
            "line",
        ],
    );
    assert_problem(
        "id: x\nsteps:\n  - action: goto\n    params: [1]\n",
        "steps[0]",
        &["`params` must be a mapping", "line"],
    );
    assert_problem(
        &format!("{head}    verify: {{expect_title: x}}\n"),
        "steps[0].verify",
        &[
            "unknown field `expect_title`",
            "expect_url_contains",
            "line 5",
        ],
    );
    assert_problem(
        &format!("{head}    on_failure: llm_retry\n"),
        "steps[0].on_failure",
        &["unknown variant `llm_retry`", "llm_recover", "line 5"],
    );
}

#[test]
fn login_urls_and_key_presses_are_checked() {
    let head = "id: x\nsteps:\n  - action: goto\n    params: {url: 'https://a.test/'}\n";
    assert_problem(
        &format!("auth:\n  mode: form_login\n  login_url: '{{site}}/login'\n{head}"),
        "auth.login_url",
        &["unknown parameter `{site}`"],
    );
    assert_problem(
        &format!("{head}  - action: key_press\n    params: {{}}\n"),
        "steps[1].params",
        &["key_press needs `text`"],
    );
}

#[test]
fn inject_paths_are_checked() {
    let with = |path: &str| {
        format!(
            "id: x\nparameters:\n  - name: q\n    inject_into: {path}\nsteps:\n  - action: key_press\n    \
             params: {{text: hi}}\n"
        )
    };
    assert!(problems_of(&with("steps.0.params.text")).is_empty());
    assert!(
        problems_of(&with("''")).is_empty(),
        "an empty path is no path"
    );
    assert_problem(
        &with("steps.3.params.text"),
        "parameters[0].inject_into",
        &["step 3", "has 1"],
    );
    assert_problem(
        &with("step.0.text"),
        "parameters[0].inject_into",
        &["does not start with `steps.`"],
    );
    assert_problem(
        &with("steps.0.params.txt"),
        "parameters[0].inject_into",
        &["not a place for a value", "unknown field `txt`"],
    );
}

#[test]
fn api_and_model_steps_validate_in_the_references_spelling() {
    let head = "id: x\nsteps:\n";
    let api = |response: &str| {
        format!(
            "{head}  - action: api_request\n    request:\n      url: 'https://a.test/api'\n      \
             cookies: {{sid: '{{token}}'}}\n      response: {response}\n    store_as: id\n"
        )
    };
    let with_token = |yaml: String| yaml.replace("steps:", "parameters: [{name: token}]\nsteps:");
    assert!(
        problems_of(&with_token(api(
            "{mode: json_path, json_path: data.items.0.id}"
        )))
        .is_empty()
    );
    assert!(problems_of(&with_token(api("{mode: json}"))).is_empty());
    assert_problem(
        &with_token(api("{mode: json_path}")),
        "steps[0].request.response.path",
        &["needs a path"],
    );
    assert_problem(
        &with_token(api("{mode: json_path, path: 'a[x]'}")),
        "steps[0].request.response.path",
        &["neither an index nor a quoted key"],
    );
    assert_problem(
        &format!(
            "{head}  - action: api_request\n    request: {{url: 'https://a.test/', verb: GET}}\n"
        ),
        "steps[0]",
        &["unknown field `verb`"],
    );
    let llm = |prompt: &str| {
        format!("{head}  - action: llm_extract\n    prompt: '{prompt}'\n    store_as: price\n")
    };
    assert!(problems_of(&llm("the price")).is_empty());
    assert_problem(&llm(" "), "steps[0].prompt", &["must not be empty"]);
    assert_problem(
        &format!("{head}  - action: llm_extract\n    prompt: p\n    schema: {{type: 7}}\n"),
        "steps[0].schema",
        &["not a valid JSON Schema"],
    );
}

/// The reference's `auth` and `capture` blocks (its `example_invoice_api_handoff.yaml`, less
/// the `api_request` step): they parse, and captured names are parameters of the steps.
#[test]
fn auth_and_capture_blocks_read_as_the_reference_writes_them() {
    let yaml = "id: invoices\nname: Invoices\nauth_required: true\nparameters:\n  - name: base_url\n\
                auth:\n  mode: form_login\n  login_url: \"{base_url}/login\"\n  success:\n    \
                cookie_present: \"user_session\"\ncapture:\n  cookies:\n    - name: \"user_session\"\n      \
                store_as: \"session_cookie\"\n  static_headers:\n    FFF-Auth: \"V1.1\"\nsteps:\n  \
                - action: goto\n    params: {url: \"{base_url}/invoices?s={session_cookie}\"}\n";
    assert_eq!(problems_of(yaml), Vec::<String>::new());
    let playbook = parse_yaml(yaml).unwrap();
    let auth = playbook.auth.unwrap();
    assert_eq!(auth.mode, crate::request::AuthMode::FormLogin);
    let success = auth.success.unwrap();
    assert_eq!(success.cookie_present.as_deref(), Some("user_session"));
    assert_eq!(success.timeout_ms, 15_000);
    let capture = playbook.capture.unwrap();
    assert_eq!(capture.cookies[0].store_as, "session_cookie");
    assert_eq!(capture.static_headers["FFF-Auth"], "V1.1");
    assert_problem(
        &yaml.replace("{session_cookie}", "{cookie}"),
        "steps[0]",
        &["unknown parameter `{cookie}`"],
    );
    assert_problem(
        &yaml.replace("mode: form_login", "mode: oauth"),
        "auth.mode",
        &["unknown variant `oauth`"],
    );
}
