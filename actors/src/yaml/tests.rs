//! Unit tests of yaml.rs: hostile YAML is refused with a clear error, ordinary YAML reads as
//! `serde_yaml` read it, and every error says where.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[allow(dead_code)]
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    #[allow(dead_code)]
    label: String,
}

#[test]
fn errors_name_the_field_path_and_the_line_and_column() {
    let err = from_str::<Doc>("name: a\nitems:\n  - label: x\n  - lable: y\n").unwrap_err();
    assert_eq!(err.path, "items[1].lable", "{err:?}");
    assert_eq!(
        err.message,
        "unknown field `lable`, expected `label` at line 4 column 5"
    );

    let err = from_str::<Doc>("name: [\n").unwrap_err();
    assert!(err.message.contains(" at line "), "{err:?}");
    assert!(err.message.contains(" column "), "{err:?}");
    assert!(!err.message.contains('\n'), "one line: {err:?}");
}

#[test]
fn untyped_scalars_read_as_yaml_1_2_core() {
    let doc: BTreeMap<String, Value> =
        from_str("a: yes\nb: 0755\nc: 1_000\nd: true\ne: 12\nf: ~\n").unwrap();
    assert_eq!(doc["a"], "yes");
    assert_eq!(doc["b"], "0755");
    assert_eq!(doc["c"], "1_000");
    assert_eq!(doc["d"], true);
    assert_eq!(doc["e"], 12);
    assert_eq!(doc["f"], Value::Null);
    let err = from_str::<BTreeMap<String, Value>>("a: 1\na: 2\n").unwrap_err();
    assert!(err.message.contains("duplicate"), "{err:?}");
}

#[test]
fn deep_nesting_is_refused_before_it_reaches_the_stack() {
    // Flow and block nesting, far past the limit; both would recurse once per level.
    for text in [
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        (0..200)
            .map(|depth| format!("{}k:\n", "  ".repeat(depth)))
            .collect::<String>(),
    ] {
        let err = from_str::<Value>(&text).unwrap_err();
        assert!(
            err.message
                .starts_with("nested deeper than 32 levels of mappings and sequences at line "),
            "{err:?}"
        );
    }
    // At the limit it still parses.
    let nested = format!(
        "{}1{}",
        "[".repeat(MAX_YAML_DEPTH),
        "]".repeat(MAX_YAML_DEPTH)
    );
    assert!(from_str::<Value>(&nested).is_ok());
}

#[test]
fn alias_bombs_and_oversized_texts_are_refused() {
    // "Billion laughs": nine levels of nine aliases each would expand to 9^9 strings.
    let mut bomb = String::from("a0: &a0 [lol]\n");
    for level in 1..10 {
        let prev = level - 1;
        let refs = vec![format!("*a{prev}"); 9].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    let err = from_str::<Value>(&bomb).unwrap_err();
    assert!(
        err.message.contains("alias replay limit exceeded"),
        "{err:?}"
    );

    let big = format!("name: \"{}\"\n", "x".repeat(MAX_YAML_BYTES));
    let err = from_str::<Doc>(&big).unwrap_err();
    assert!(err.message.contains("at most 1048576"), "{err:?}");
}
