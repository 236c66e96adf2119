//! Scoring against hand-computed values: every `expect` key passing and failing, nearest-rank
//! p95, cost, a case's aggregate over trials and the suite's rates; the reference's own suite
//! file loads unchanged.

use serde_json::json;

use super::*;
use crate::eval::aggregate::{aggregate, summarize};
use crate::eval::suite::Suite;

fn case(expect: serde_json::Value) -> Case {
    let mut c = json!({"id": "c", "directive": "d", "expect": expect});
    c["input_token_cost_per_million_usd"] = json!(3.0);
    c["output_token_cost_per_million_usd"] = json!(15.0);
    serde_json::from_value(c).unwrap()
}

/// A successful agent trial: 4 actions, 1200 ms, 1000 + 200 tokens.
fn seen() -> Observed {
    Observed {
        success: true,
        mode: Mode::Agent,
        summary: "The title is Example Domain".into(),
        error: None,
        duration_ms: 1200,
        actions: 4,
        input_tokens: 1000,
        output_tokens: 200,
        recovery_used: false,
        playbook_hit: false,
        handoff_occurred: false,
        handoff_succeeded: false,
        estimated_cost_usd: 0.006,
        data: json!({"details": {"title": "Example Domain"}, "count": 3}),
        extracted_texts: vec!["Example Domain".into(), "More information".into()],
    }
}

#[test]
fn p95_is_the_nearest_rank_and_cost_is_per_million() {
    assert_eq!(p95(&[]), 0);
    assert_eq!(p95(&[7]), 7);
    // 20 values: rank ceil(0.95 × 20) = 19 → the 19th smallest.
    let values: Vec<u64> = (1..=20).rev().map(|v| v * 10).collect();
    assert_eq!(p95(&values), 190);
    // 10 values: rank ceil(9.5) = 10 → the largest.
    assert_eq!(p95(&[5, 1, 9, 3, 7, 2, 8, 4, 6, 100]), 100);
    // 1000 / 1M × 3 + 200 / 1M × 15 = 0.003 + 0.003.
    let c = case(json!({}));
    assert!((cost_usd(&c, 1000, 200) - 0.006).abs() < 1e-12);
    let free: Case = serde_json::from_value(json!({"id": "f", "directive": "d"})).unwrap();
    assert_eq!(cost_usd(&free, 1000, 200), 0.0);
}

/// Each key: a value `seen()` meets, and one it fails with only that key named.
#[test]
fn every_expect_key_passes_and_fails_on_its_own() {
    let table = [
        (
            "summary_contains",
            json!(["example DOMAIN", "title"]),
            json!(["missing"]),
        ),
        ("error_contains", json!([]), json!(["timeout"])),
        (
            "extracted_text_contains",
            json!(["more info"]),
            json!(["absent"]),
        ),
        (
            "required_data_keys",
            json!(["details.title", "count"]),
            json!(["details.body"]),
        ),
        (
            "data_values_contain",
            json!({"details.title": "example"}),
            json!({"details.title": "Other"}),
        ),
        ("max_duration_ms", json!(1200), json!(1199)),
        ("max_actions", json!(4), json!(3)),
        ("min_actions", json!(4), json!(5)),
        ("max_input_tokens", json!(1000), json!(999)),
        ("max_output_tokens", json!(200), json!(199)),
        ("handoff", json!("forbid"), json!("require")),
        ("max_estimated_cost_usd", json!(0.006), json!(0.0059)),
    ];
    for (key, passing, failing) in table {
        let ok = case(json!({ key: passing }));
        assert_eq!(
            failed_checks(&ok, &seen()),
            Vec::<&str>::new(),
            "{key} passing"
        );
        let bad = case(json!({ key: failing }));
        assert_eq!(failed_checks(&bad, &seen()), vec![key], "{key} failing");
    }
}

#[test]
fn must_succeed_handoff_and_missing_values_read_the_run() {
    let mut failed = seen();
    failed.success = false;
    failed.error = Some("Step 2 timed out".into());
    assert_eq!(
        failed_checks(&case(json!({})), &failed),
        vec!["must_succeed"]
    );
    let expected_failure = case(json!({"must_succeed": false, "error_contains": ["TIMED OUT"]}));
    assert!(failed_checks(&expected_failure, &failed).is_empty());
    let mut handed = seen();
    handed.handoff_occurred = true;
    assert!(failed_checks(&case(json!({"handoff": "require"})), &handed).is_empty());
    assert_eq!(
        failed_checks(&case(json!({"handoff": "forbid"})), &handed),
        vec!["handoff"]
    );
    // A dotted path through a non-object, or to null, is missing.
    let mut nulls = seen();
    nulls.data = json!({"details": null, "count": 3});
    let keys = case(json!({"required_data_keys": ["details.title", "count.x"]}));
    assert_eq!(failed_checks(&keys, &nulls), vec!["required_data_keys"]);
}

fn trial(c: &Case, index: u32, duration_ms: u64, success: bool) -> Trial {
    let mut o = seen();
    o.duration_ms = duration_ms;
    o.success = success;
    score_trial(c, index, None, o)
}

#[test]
fn a_case_aggregates_its_trials() {
    let c = case(json!({"max_p95_duration_ms": 3000}));
    let trials = vec![
        trial(&c, 1, 1000, true),
        trial(&c, 2, 2000, true),
        trial(&c, 3, 4000, false),
    ];
    let result = aggregate(&c, trials);
    assert_eq!(result.trials_run, 3);
    assert!((result.trial_pass_rate - 2.0 / 3.0).abs() < 1e-12);
    assert!((result.avg_duration_ms - 7000.0 / 3.0).abs() < 1e-9);
    assert_eq!(result.observed.duration_ms, 2333);
    assert_eq!(result.p95_duration_ms, 4000);
    assert_eq!(result.observed.summary, "2/3 trials passed");
    assert!(!result.observed.success);
    // Averages: 4 actions; 0.006 USD.
    assert_eq!(result.observed.actions, 4);
    assert!((result.avg_estimated_cost_usd - 0.006).abs() < 1e-12);
    assert_eq!(
        result.failed_checks,
        vec!["must_succeed", "max_p95_duration_ms", "trial_pass_rate"]
    );
    // With a pass rate to meet, 2 of 3 is enough.
    let lenient = case(json!({"min_trial_pass_rate": 0.6}));
    let trials = vec![
        trial(&lenient, 1, 10, true),
        trial(&lenient, 2, 10, true),
        trial(&lenient, 3, 10, false),
    ];
    let result = aggregate(&lenient, trials);
    assert!(result.passed, "{:?}", result.failed_checks);
    let strict = case(json!({"min_trial_pass_rate": 0.7}));
    let trials = vec![
        trial(&strict, 1, 10, true),
        trial(&strict, 2, 10, true),
        trial(&strict, 3, 10, false),
    ];
    assert_eq!(
        aggregate(&strict, trials).failed_checks,
        vec!["must_succeed", "min_trial_pass_rate"]
    );
}

#[test]
fn one_trial_is_its_case_and_the_suite_counts_rates_over_trials() {
    let c = case(json!({"max_p95_duration_ms": 500}));
    let single = aggregate(&c, vec![trial(&c, 1, 900, true)]);
    assert_eq!(single.failed_checks, vec!["max_p95_duration_ms"]);
    let ok = case(json!({}));
    let mut hit = seen();
    hit.mode = Mode::Playbook;
    hit.playbook_hit = true;
    let mut rescued = seen();
    rescued.mode = Mode::Hybrid;
    rescued.handoff_occurred = true;
    rescued.handoff_succeeded = true;
    let mut lost = rescued.clone();
    lost.success = false;
    lost.handoff_succeeded = false;
    let mixed = aggregate(
        &ok,
        vec![
            score_trial(&ok, 1, None, hit),
            score_trial(&ok, 2, None, rescued),
            score_trial(&ok, 3, None, lost),
        ],
    );
    assert_eq!(mixed.observed.mode, Mode::Hybrid);
    let suite = summarize("s", vec![single, mixed]);
    assert_eq!((suite.passed, suite.failed, suite.total), (0, 2, 2));
    // Four trials: one playbook hit, two hand-offs of which one rescued the run.
    assert!((suite.deterministic_hit_rate - 0.25).abs() < 1e-12);
    assert!((suite.handoff_rate - 0.5).abs() < 1e-12);
    assert!((suite.handoff_rescue_rate - 0.5).abs() < 1e-12);
    assert_eq!(suite.p95_duration_ms, 1200);
}

/// The reference's `evaluation/suites/example.yaml`, its commented-out case included.
const REFERENCE_SUITE: &str = "name: example-local-suite
cases:
  - id: agent-example-dot-com
    directive: Open example.com and return the page title
    start_url: https://example.com
    execution_mode: agent_only
    trials: 2
    benchmark_tags: [public, smoke]
    max_steps: 5
    output_schema:
      type: object
      properties:
        summary:
          type: string
        details:
          type: object
          properties:
            title:
              type: string
          required:
            - title
      required:
        - summary
        - details
    expect:
      must_succeed: true
      required_data_keys:
        - details.title
      data_values_contain:
        details.title: Example Domain
      min_trial_pass_rate: 1.0
      max_p95_duration_ms: 10000
      max_actions: 4

  # - id: example-cancel-order
  #   directive: Cancel order 12345
  #   playbook: example_cancel_order
";

#[test]
fn the_references_suite_loads_unchanged_and_typos_are_named() {
    let suite = Suite::parse(REFERENCE_SUITE).unwrap();
    assert_eq!(suite.name, "example-local-suite");
    let c = &suite.cases[0];
    assert_eq!((c.trials, c.max_steps), (2, Some(5)));
    assert_eq!(
        c.expect.data_values_contain["details.title"],
        "Example Domain"
    );
    assert_eq!(c.expect.max_actions, Some(4));
    let typo = "cases:\n  - id: a\n    directive: d\n    expect:\n      must_succed: true\n";
    let error = Suite::parse(typo).unwrap_err();
    assert!(error.starts_with("cases[0].expect"), "{error}");
    assert!(error.contains("must_succed"), "{error}");
    let twice = "cases:\n  - {id: a, directive: d}\n  - {id: a, directive: e, trials: 0}\n";
    let error = Suite::parse(twice).unwrap_err();
    assert!(
        error.contains("cases[1].trials: must be at least 1"),
        "{error}"
    );
    assert!(error.contains("cases[1].id: `a` is used twice"), "{error}");
}
