//! Tag matching and parameter reading, against hand-worked directives.

use super::*;
use crate::playbook::parse_yaml;

fn playbook(id: &str, tags: &[&str]) -> Playbook {
    let tags = tags
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    parse_yaml(&format!(
        "id: {id}\nname: {id}\ntags: [{tags}]\nsteps:\n  - action: goto\n    params: {{url: \"https://example.com/\"}}\n"
    ))
    .unwrap()
}

fn matched(directive: &str, playbooks: Vec<Playbook>) -> Option<(String, Vec<String>)> {
    best_match(directive, playbooks).map(|m| (m.playbook.id, m.tags))
}

#[test]
fn the_longest_tags_win_case_insensitively() {
    let all = || {
        vec![
            playbook("cancel_order", &["cancel", "order", "cancel order"]),
            playbook("order_status", &["order status", "track"]),
            playbook("notes", &["add a note"]),
        ]
    };
    // "cancel" + "order" + "cancel order" = 6 + 5 + 12 beats "order" alone elsewhere.
    assert_eq!(
        matched("Please CANCEL ORDER #1234", all()),
        Some((
            "cancel_order".into(),
            vec!["cancel".into(), "order".into(), "cancel order".into()]
        ))
    );
    // "order status" (12) beats cancel_order's "order" (5).
    assert_eq!(
        matched("what is the order status of 1234", all())
            .unwrap()
            .0,
        "order_status"
    );
    assert_eq!(matched("Add a note to 77", all()).unwrap().0, "notes");
    assert_eq!(matched("book a flight to Oslo", all()), None);
}

#[test]
fn ties_go_to_the_first_playbook_and_empty_tags_match_nothing() {
    let first = playbook("a_first", &["refund"]);
    let second = playbook("b_second", &["refund"]);
    assert_eq!(
        matched("refund it", vec![first, second]).unwrap().0,
        "a_first"
    );
    assert_eq!(matched("anything", vec![playbook("blank", &[" "])]), None);
}

fn param(name: &str, kind: ParamType, pattern: Option<&str>) -> Parameter {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "type": match kind { ParamType::Int => "int", _ => "string" },
        "pattern": pattern,
    }))
    .unwrap()
}

fn extracted(directive: &str, params: &[Parameter]) -> Vec<(String, String)> {
    extract_params(directive, params)
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn a_pattern_gives_its_first_group_or_its_whole_match() {
    let grouped = param("order_id", ParamType::String, Some(r"#?(\d{3,})"));
    assert_eq!(
        extracted("cancel order #40512 now", &[grouped]),
        [("order_id".into(), "40512".into())]
    );
    let whole = param("sku", ParamType::String, Some(r"[A-Z]{3}-\d+"));
    assert_eq!(
        extracted("restock ABC-77 today", &[whole]),
        [("sku".into(), "ABC-77".into())]
    );
}

#[test]
fn ints_fall_back_to_a_number_of_three_digits_and_strings_to_name_value() {
    let id = param("order_id", ParamType::Int, None);
    let email = param("email", ParamType::String, None);
    let note = param("note", ParamType::String, None);
    let got = extracted(
        "order 12 is wrong; use order #5678, email: ana@example.com. note=\"call me\"",
        &[id, email, note],
    );
    assert_eq!(
        got,
        [
            ("email".into(), "ana@example.com".into()),
            ("note".into(), "call me".into()),
            ("order_id".into(), "5678".into()),
        ]
    );
}

#[test]
fn a_directive_that_says_nothing_gives_nothing() {
    let params = [
        param("order_id", ParamType::Int, None),
        param("email", ParamType::String, None),
        param("code", ParamType::String, Some(r"code (\w+)")),
    ];
    assert!(extracted("cancel my order 12", &params).is_empty());
    // A pattern that does not compile extracts nothing (validation names it).
    let broken = param("x", ParamType::String, Some("(unclosed"));
    assert!(extracted("x: 1", &[broken]).is_empty());
}
