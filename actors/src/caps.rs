//! Size caps on what a page can put into a run's records: `[limits] max_result_bytes` cuts
//! each action result (text, value, URL, error) where it leaves the browser seam, and
//! `[limits] max_data_bytes` is the run's budget for everything it keeps from pages (stored
//! values, landing URLs, errors, refused request targets, the final DOM). Both cut after the
//! scrubber ran, and mark the cut with the setting to raise.

use std::sync::Mutex;

use serde_json::Value;

/// The `[limits]` key of the per-result cap.
pub(crate) const RESULT_KEY: &str = "max_result_bytes";
/// The `[limits]` key of the per-run budget.
pub(crate) const DATA_KEY: &str = "max_data_bytes";

/// What a cut leaves behind: how much went and which setting cut it.
fn marker(dropped: usize, key: &str, max: usize) -> String {
    format!("…[truncated {dropped} bytes: [limits] {key} = {max}]")
}

/// `text` cut to `max_bytes` (at a character boundary) with a marker when longer.
pub(crate) fn cap_text(text: String, max_bytes: usize, key: &str) -> String {
    let mut left = max_bytes;
    cut_string(text, &mut left, key, max_bytes)
}

/// `value` with its strings cut and its items dropped so it holds about `max_bytes` of data.
pub(crate) fn cap_value(value: Value, max_bytes: usize, key: &str) -> Value {
    let mut left = max_bytes;
    cut_value(value, &mut left, key, max_bytes)
}

fn cut_string(text: String, left: &mut usize, key: &str, max: usize) -> String {
    if text.len() <= *left {
        *left -= text.len();
        return text;
    }
    let mut cut = *left;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    *left = 0;
    let mut out = text[..cut].to_owned();
    out.push_str(&marker(text.len() - cut, key, max));
    out
}

/// Walks `value` in order, charging each string its length and every other item its JSON
/// size; once `left` is spent, strings are cut and the remaining items of arrays and objects
/// are replaced by one marker.
fn cut_value(value: Value, left: &mut usize, key: &str, max: usize) -> Value {
    match value {
        Value::String(s) => Value::String(cut_string(s, left, key, max)),
        Value::Array(items) => {
            let total = items.len();
            let mut out = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                if *left == 0 {
                    out.push(Value::String(format!(
                        "…[{} more items truncated: [limits] {key} = {max}]",
                        total - i
                    )));
                    break;
                }
                *left = left.saturating_sub(1);
                out.push(cut_value(item, left, key, max));
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let total = map.len();
            let mut out = serde_json::Map::new();
            for (i, (k, v)) in map.into_iter().enumerate() {
                if *left == 0 {
                    out.insert(
                        "…truncated".into(),
                        Value::String(format!(
                            "{} more entries: [limits] {key} = {max}",
                            total - i
                        )),
                    );
                    break;
                }
                *left = left.saturating_sub(k.len() + 1);
                let v = cut_value(v, left, key, max);
                out.insert(k, v);
            }
            Value::Object(out)
        }
        other => {
            *left = left.saturating_sub(other.to_string().len());
            other
        }
    }
}

/// A run's `max_data_bytes`: what is left of it, shared by the run's actors.
#[derive(Debug)]
pub(crate) struct DataBudget {
    max: usize,
    left: Mutex<usize>,
}

impl DataBudget {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max: max_bytes,
            left: Mutex::new(max_bytes),
        }
    }

    fn left(&self) -> std::sync::MutexGuard<'_, usize> {
        self.left.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True once the budget is spent.
    pub(crate) fn is_spent(&self) -> bool {
        *self.left() == 0
    }

    /// Keeps `text`, cut to what is left of the budget.
    pub(crate) fn take_text(&self, text: String) -> String {
        let mut left = self.left();
        cut_string(text, &mut left, DATA_KEY, self.max)
    }

    /// Keeps `value`, cut to what is left of the budget.
    pub(crate) fn take_value(&self, value: Value) -> Value {
        let mut left = self.left();
        cut_value(value, &mut left, DATA_KEY, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_cut_at_a_character_boundary_with_the_setting_named() {
        assert_eq!(cap_text("short".into(), 10, RESULT_KEY), "short");
        let cut = cap_text("ééééé".into(), 5, RESULT_KEY);
        assert_eq!(cut, "éé…[truncated 6 bytes: [limits] max_result_bytes = 5]");
    }

    #[test]
    fn values_keep_their_shape_within_the_cap() {
        let value = json!({"a": "x".repeat(100), "b": ["y".repeat(50), 1, 2], "c": true});
        let capped = cap_value(value.clone(), 1_000, RESULT_KEY);
        assert_eq!(capped, value);
        let capped = cap_value(value, 40, RESULT_KEY);
        let a = capped["a"].as_str().unwrap();
        assert!(
            a.starts_with(&"x".repeat(38)) && a.contains("truncated 62 bytes"),
            "{a}"
        );
        assert!(
            capped["…truncated"]
                .as_str()
                .unwrap()
                .contains("2 more entries")
        );
        let many = Value::Array((0..1_000).map(|i| json!(i)).collect());
        let capped = cap_value(many, 100, RESULT_KEY);
        let items = capped.as_array().unwrap();
        assert!(items.len() < 60, "{}", items.len());
        assert!(
            items
                .last()
                .unwrap()
                .as_str()
                .unwrap()
                .contains("more items")
        );
    }

    #[test]
    fn the_budget_is_shared_by_everything_a_run_keeps() {
        let budget = DataBudget::new(100);
        assert_eq!(budget.take_text("a".repeat(60)), "a".repeat(60));
        let second = budget.take_value(json!("b".repeat(60)));
        assert!(
            second
                .as_str()
                .unwrap()
                .starts_with(&format!("{}…[truncated 20 bytes", "b".repeat(40)))
        );
        assert!(budget.is_spent());
        let third = budget.take_text("c".repeat(10));
        assert_eq!(
            third,
            "…[truncated 10 bytes: [limits] max_data_bytes = 100]"
        );
    }
}
