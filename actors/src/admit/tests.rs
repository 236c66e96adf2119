//! Unit tests of admit.rs: requests parsed, then validated against the config.
use crate::config::Config;
use crate::request::{Action, DriverSpec, FieldError, Isolation, RunRequest};

const CONTRACT: &str = r##"{"start_url": "http://127.0.0.1:8080/",
     "driver": {"type": "script", "steps": [
       {"action": "goto", "url": "http://127.0.0.1:8080/form"},
       {"action": "type", "selector": "#name", "text": "Ada"},
       {"action": "click", "selector": "#submit"},
       {"action": "press_key", "key": "Enter"},
       {"action": "wait_for", "selector": "#out", "state": "visible", "timeout_ms": 5000},
       {"action": "extract", "selector": "#out", "store_as": "greeting"},
       {"action": "evaluate", "script": "document.title", "store_as": "title"},
       {"action": "screenshot"}]},
     "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
     "limits": {"timeout_seconds": 600, "max_steps": 50, "action_timeout_ms": 5000,
                "navigation_timeout_ms": 7000},
     "viewport": {"width": 1280, "height": 720},
     "labels": {"team": "demo"}}"##;

fn errors_of(json: &str) -> Vec<FieldError> {
    match RunRequest::from_json(json) {
        Ok(r) => r.validate(&Config::default()).err().unwrap().errors,
        Err(e) => e.errors,
    }
}

#[test]
fn the_contract_example_parses_and_validates() {
    let req = RunRequest::from_json(CONTRACT).unwrap();
    req.validate(&Config::default()).unwrap();
    let DriverSpec::Script { steps } = &req.driver else {
        panic!("a script driver")
    };
    assert_eq!(steps.len(), 8);
    assert_eq!(steps[4].name(), "wait_for");
    assert_eq!(req.labels["team"], "demo");
}

#[test]
fn unknown_action_names_its_step() {
    let errs = errors_of(
        r#"{"driver":{"type":"script","steps":[{"action":"goto","url":"https://a.test/"},{"action":"fly"}]}}"#,
    );
    assert_eq!(errs[0].field, "driver.steps[1].action");
    assert!(
        errs[0].message.contains("unknown variant `fly`"),
        "{errs:?}"
    );
}

#[test]
fn unknown_field_names_its_path() {
    let errs = errors_of(
        r##"{"driver":{"type":"script","steps":[{"action":"click","selector":"#a","force":true}]}}"##,
    );
    assert_eq!(errs[0].field, "driver.steps[0]");
    assert!(errs[0].message.contains("force"), "{errs:?}");
    let errs = errors_of(r#"{"driver":{"type":"script","steps":[]},"colour":"red"}"#);
    assert!(errs[0].message.contains("colour"), "{errs:?}");
}

#[test]
fn semantic_errors_name_field_and_fix() {
    let errs = errors_of(
        r#"{"driver":{"type":"script","steps":[
                {"action":"goto","url":"not a url"},
                {"action":"click","selector":"  "},
                {"action":"goto","url":"file:///etc/passwd"},
                {"action":"press_key","key":"Entre"}]},
               "limits":{"timeout_seconds":0}}"#,
    );
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "driver.steps[0].url",
            "driver.steps[1].selector",
            "driver.steps[2].url",
            "driver.steps[3].key",
            "limits.timeout_seconds"
        ]
    );
    assert!(errs[1].message.contains("must not be empty"));
    assert!(errs[2].message.contains("scheme `file`"));
}

#[test]
fn type_needs_exactly_one_source_and_a_known_credential() {
    let errs = errors_of(
        r##"{"driver":{"type":"script","steps":[
                {"action":"type","selector":"#a"},
                {"action":"type","selector":"#a","text":"x","credential_ref":"pw"},
                {"action":"type","selector":"#a","credential_ref":"missing"},
                {"action":"type","selector":"#a","credential_ref":"pw"},
                {"action":"select","selector":"#s"}]},
               "credentials":{"pw":"secret-value"}}"##,
    );
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "driver.steps[0]",
            "driver.steps[1]",
            "driver.steps[2].credential_ref",
            "driver.steps[4]"
        ]
    );
    let req = RunRequest::from_json(
            r#"{"driver":{"type":"script","steps":[]},"start_url":"https://a.test/","credentials":{"pw":"secret-value"}}"#,
        )
        .unwrap();
    let shown = format!("{req:?} {}", serde_json::to_string(&req).unwrap());
    assert!(!shown.contains("secret-value"), "{shown}");
}

#[test]
fn too_many_steps_for_max_steps_is_rejected() {
    let errs = errors_of(
        r#"{"driver":{"type":"script","steps":[{"action":"screenshot"},{"action":"screenshot"}]},
               "limits":{"max_steps":1}}"#,
    );
    assert_eq!(errs[0].field, "driver.steps");
}

#[test]
fn summaries_never_contain_typed_text() {
    let a = Action::Type {
        selector: Some("#pw".into()),
        text: Some("hunter2".into()),
        credential_ref: None,
    };
    assert!(!a.summary().contains("hunter2"));
}

#[test]
fn isolation_is_context_or_process_and_names_its_field() {
    let req =
        RunRequest::from_json(r#"{"driver":{"type":"script","steps":[]},"isolation":"process"}"#)
            .unwrap();
    assert_eq!(req.isolation, Some(Isolation::Process));
    let errs = errors_of(r#"{"driver":{"type":"script","steps":[]},"isolation":"vm"}"#);
    assert_eq!(errs[0].field, "isolation");
    assert!(errs[0].message.contains("context"), "{errs:?}");
}

#[test]
fn admission_loads_a_playbook_once_inlines_it_and_resolves_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(
        &file,
        "id: p\nstart_url: https://a.example/\nguardrails:\n  allowed_domains: [a.example]\n\
         steps:\n  - action: screenshot\n",
    )
    .unwrap();
    let mut config = Config::default();
    config.playbooks.dir = dir.path().to_owned();
    let json = r#"{"driver": {"type": "playbook", "playbook": "p"}, "limits": {"max_steps": 7}}"#;
    let admitted = RunRequest::from_json(json).unwrap().admit(&config).unwrap();
    // The run carries the playbook itself: it never reads the file again.
    std::fs::remove_file(&file).unwrap();
    let DriverSpec::Playbook(spec) = &admitted.request.driver else {
        panic!("a playbook driver")
    };
    assert!(spec.playbook.is_object(), "{:?}", spec.playbook);
    assert_eq!(spec.load(&config).unwrap().id, "p");
    // Its guardrails narrowed the request's; limits and recording are resolved.
    assert_eq!(admitted.request.guardrails.allowed_domains, ["a.example"]);
    assert_eq!(admitted.limits.max_steps, 7);
    assert_eq!(
        admitted.limits.timeout_seconds,
        config.defaults.run_timeout_seconds
    );
    assert_eq!(admitted.recording.screenshots, config.recording.screenshots);
    // A playbook that does not load is refused, naming the field (never admitted unloaded).
    let errors = RunRequest::from_json(json)
        .unwrap()
        .admit(&config)
        .unwrap_err()
        .errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "driver.playbook");
    assert!(errors[0].message.contains("no playbook `p`"), "{errors:?}");
}
