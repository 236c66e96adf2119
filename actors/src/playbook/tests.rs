//! Unit tests of playbook.rs and playbook/validate.rs; the reference's spelling in
//! `tests/reference.rs`.
use std::collections::BTreeMap;

use super::*;

mod reference;

const GOOD: &str = r##"
id: order_lookup
name: Look up an order
description: Open an order page and read its status.
parameters:
  - name: order
    type: int
    pattern: "^[0-9]{3,}$"
  - name: greeting
    required: false
    default: hello
start_url: "http://127.0.0.1:8080/orders/{order}"
steps:
  - action: click
    selector: {primary: "#open-{order}", fallbacks: ["a.open"], description: the open link}
    verify: {url_contains: "/order/{order}"}
    on_failure: retry
  - action: extract
    selector: "#status"
    store_as: status
  - action: type
    selector: "#note"
    text: "{greeting}: {status}"
    on_failure: abort
    failure_message: could not leave a note
"##;

#[test]
fn a_good_playbook_parses_validates_and_binds() {
    let pb = parse_yaml(GOOD).unwrap();
    assert!(pb.problems().is_empty(), "{:?}", pb.problems());
    let given = BTreeMap::from([("order".to_owned(), Value::from(1234))]);
    let params = pb.resolve_params(&given).unwrap();
    assert_eq!(params["order"], "1234");
    assert_eq!(params["greeting"], "hello");
    assert_eq!(
        bind_str("{greeting}, {order} {x} {", &params),
        "hello, 1234 {x} {"
    );
    let step = &pb.steps[0];
    let sel = bind(
        Value::String(step.selector.as_ref().unwrap().candidates()[0].into()),
        &params,
    );
    assert_eq!(sel, "#open-1234");
}

fn problems_of(yaml: &str) -> Vec<String> {
    match parse_yaml(yaml) {
        Ok(pb) => pb.problems().iter().map(ToString::to_string).collect(),
        Err(e) => vec![e.to_string()],
    }
}

#[test]
fn bad_playbooks_name_the_step_and_field() {
    let p = problems_of("id: x\nsteps:\n  - action: fly\n");
    assert!(
        p[0].starts_with("steps[0].action: unknown action `fly`"),
        "{p:?}"
    );
    let p = problems_of("id: x\nsteps:\n  - action: goto\n    url: \"{nope}\"\n");
    assert!(
        p[0].contains("steps[0]: unknown parameter `{nope}`"),
        "{p:?}"
    );
    let p = problems_of("id: x\nsteps:\n  - action: click\n    selector: {primary: \"a[href\"}\n");
    assert!(
        p[0].starts_with("steps[0].selector.primary: `a[href` is not a valid CSS selector"),
        "{p:?}"
    );
    let p = problems_of("id: x\nsteps:\n  - action: goto\n    link: http://a.test/\n");
    assert!(p[0].starts_with("steps[0]"), "{p:?}");
    assert!(p[0].contains("unknown field `link`"), "{p:?}");
    let p = problems_of("id: x\nsteps: [\n");
    assert!(!p.is_empty() && p[0].contains("line"), "{p:?}");
    let p = problems_of(
        "id: x\nsteps:\n  - action: click\n    selector: \"#a\"\n    verify: {url_contain: x}\n",
    );
    assert!(
        p[0].contains("steps[0].verify") && p[0].contains("url_contain"),
        "{p:?}"
    );
}

#[test]
fn params_are_checked_before_start() {
    let pb = parse_yaml(GOOD).unwrap();
    let errors = pb.resolve_params(&BTreeMap::new()).unwrap_err();
    assert_eq!(errors[0].field, "driver.params.order");
    let bad = BTreeMap::from([("order".to_owned(), Value::from("12"))]);
    let errors = pb.resolve_params(&bad).unwrap_err();
    assert!(errors[0].message.contains("does not match"), "{errors:?}");
    let extra = BTreeMap::from([
        ("order".to_owned(), Value::from(123)),
        ("color".to_owned(), Value::from("red")),
    ]);
    let errors = pb.resolve_params(&extra).unwrap_err();
    assert_eq!(errors[0].field, "driver.params.color");
}

#[test]
fn a_running_driver_takes_only_the_inlined_playbook() {
    let by_id = PlaybookSpec {
        playbook: Value::from("order_lookup"),
        params: BTreeMap::new(),
        agent: None,
    };
    let refused = by_id.inlined().unwrap_err();
    assert_eq!(refused.field, "driver.playbook");
    assert!(refused.message.contains("not inlined"), "{refused}");
    let yaml = PlaybookSpec {
        playbook: Value::from(GOOD),
        ..by_id.clone()
    };
    assert!(
        yaml.inlined().is_err(),
        "YAML text is parsed at admission only"
    );
    let inlined = PlaybookSpec {
        playbook: serde_json::to_value(parse_yaml(GOOD).unwrap()).unwrap(),
        ..by_id
    };
    assert_eq!(inlined.inlined().unwrap().id, "order_lookup");
}
