//! The selector parser on good and malformed forms.

use serde_json::{Value, json};

use super::Selector;

fn parsed(text: &str) -> Value {
    match Selector::parse(text) {
        Ok(selector) => selector.to_json(),
        Err(e) => panic!("{text}: {e}"),
    }
}

fn error(text: &str) -> String {
    match Selector::parse(text) {
        Ok(selector) => panic!("{text} parsed as {:?}", selector.to_json()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn css_stays_css() {
    for css in [
        "#submit",
        "input[placeholder*='Search']",
        "table tbody tr:first-child a",
        "input[type='search']",
        "a[href=\"x >> y\"]",
        "div > p + span ~ em",
        "li:nth-child(2)",
        "#open-{order}",
    ] {
        assert_eq!(parsed(css), json!([{"engine": "css", "css": css}]), "{css}");
    }
    assert_eq!(
        parsed("css=.a > .b"),
        json!([{"engine": "css", "css": ".a > .b"}])
    );
}

#[test]
fn text_forms_are_substring_or_exact() {
    assert_eq!(
        parsed("text=Cancel"),
        json!([{"engine": "text", "text": "Cancel", "exact": false}])
    );
    assert_eq!(
        parsed("text=Order {order_id}"),
        json!([{"engine": "text", "text": "Order {order_id}", "exact": false}])
    );
    for exact in [
        "text=\"Cancel\"",
        "text='Cancel'",
        "\"Cancel\"",
        "text = \"Cancel\" ",
    ] {
        assert_eq!(
            parsed(exact),
            json!([{"engine": "text", "text": "Cancel", "exact": true}]),
            "{exact}"
        );
    }
    assert_eq!(
        parsed(r#"text="say \"hi\" >> there""#),
        json!([{"engine": "text", "text": "say \"hi\" >> there", "exact": true}])
    );
}

#[test]
fn role_forms_carry_their_attributes() {
    assert_eq!(
        parsed("role=searchbox"),
        json!([{"engine": "role", "role": "searchbox", "attrs": [], "include_hidden": false}])
    );
    let name = |op: &str, ignore_case: bool| {
        json!([{"engine": "role", "role": "button", "include_hidden": false, "attrs": [
            {"attr": "name", "op": op, "value": "Cancel", "ignore_case": ignore_case}]}])
    };
    assert_eq!(parsed("role=button[name=\"Cancel\"]"), name("=", false));
    assert_eq!(parsed("role=button[name*='Cancel']"), name("*=", false));
    assert_eq!(parsed("role=button[name='Cancel' i]"), name("=", true));
    assert_eq!(
        parsed("role=button[ name = \"Cancel\" s ]"),
        name("=", false)
    );
    assert_eq!(
        parsed("role=heading[level=2][include-hidden]"),
        json!([{"engine": "role", "role": "heading", "include_hidden": true, "attrs": [
            {"attr": "level", "op": "=", "value": 2, "ignore_case": false}]}])
    );
    assert_eq!(
        parsed("role=checkbox[checked]")[0]["attrs"][0]["value"],
        json!(true)
    );
    assert_eq!(
        parsed("role=checkbox[checked=\"mixed\"]")[0]["attrs"][0]["value"],
        json!("mixed")
    );
}

#[test]
fn pseudo_classes_nth_and_chains() {
    assert_eq!(
        parsed("button:has-text(\"Cancel\")"),
        json!([{"engine": "css", "css": "button",
                "filters": [{"kind": "has_text", "text": "Cancel"}]}])
    );
    assert_eq!(
        parsed(":has-text('Order 7'):visible"),
        json!([{"engine": "css", "css": "*",
                "filters": [{"kind": "has_text", "text": "Order 7"}, {"kind": "visible"}]}])
    );
    assert_eq!(
        parsed("li :text-is(Done)")[0],
        json!({"engine": "css", "css": "li *",
               "filters": [{"kind": "text", "text": "Done", "exact": true}]})
    );
    assert_eq!(
        parsed("ul.outer >> li >> nth=-1 >> text=Buy"),
        json!([{"engine": "css", "css": "ul.outer"}, {"engine": "css", "css": "li"},
               {"engine": "nth", "index": -1},
               {"engine": "text", "text": "Buy", "exact": false}])
    );
}

#[test]
fn malformed_forms_name_the_selector_the_problem_and_the_forms() {
    for (bad, why) in [
        ("", "it is empty"),
        ("  ", "it is empty"),
        ("a[href", "not a valid CSS selector: an unclosed `[`"),
        (
            "div >",
            "not a valid CSS selector: it ends with a combinator",
        ),
        ("a) b", "unbalanced `)`"),
        ("text=", "`text=` needs the text"),
        ("text=\"Cancel", "quote is not closed"),
        ("text=\"Cancel\" i", "`i` follows the closing quote"),
        ("text=/can+cel/i", "regular expressions"),
        ("role=", "`role=` needs a role"),
        ("role=buton", "unknown role `buton`"),
        (
            "role=button[name=Cancel]",
            "must be quoted: [name=\"Cancel\"]",
        ),
        ("role=button[name=\"Cancel\"", "is not closed"),
        ("role=button[label=\"x\"]", "unknown role attribute `label`"),
        ("role=button name", "attributes go in brackets"),
        ("role=heading[level=\"2\"]", "a number from 1"),
        ("role=checkbox[checked=maybe]", "must be quoted"),
        ("nth=0", "`nth=` picks among the matches"),
        ("li >> nth=first", "whole number"),
        ("li >> ", "`>>` has nothing on one side"),
        (">> li", "`>>` has nothing on one side"),
        ("xpath=//a", "`xpath=` is not a selector engine here"),
        ("//div[@id='x']", "XPath is not supported"),
        ("li:has-text(\"x\") button", "chain what follows with >>"),
        ("li:has-text()", ":has-text needs its text"),
        ("li:has-text(\"x)", "unclosed quote"),
        ("div:not(:has-text(\"x\"))", "not inside `:is()`"),
        ("a, b:has-text(\"x\")", "a list (`,`)"),
        (
            "a:text-matches(\"x\")",
            "`:text-matches()` is not supported",
        ),
    ] {
        let e = error(bad);
        assert!(
            e.starts_with(&format!("`{bad}` is not a valid")),
            "{bad}: {e}"
        );
        assert!(e.contains(why), "{bad}: {e}");
        assert!(
            e.contains("text=\"Cancel\" (exact), role=button"),
            "{bad}: {e}"
        );
    }
}
