//! Invalid requests are rejected with the field's path and a fix; nothing starts.

mod common;

use common::Harness;
use common::harness::SHUTDOWN_GRACE;
use pilothouse::{RunRequest, SubmitError};

fn field_errors(json: &str) -> Vec<(String, String)> {
    let err = match RunRequest::from_json(json) {
        Err(e) => e,
        Ok(req) => req.validate(&pilothouse::Config::default()).unwrap_err(),
    };
    err.errors
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_name_the_field_and_start_nothing() {
    // No page: nothing here may be reached.
    let h = Harness::new(vec![]).start().await;
    let (env, handle) = (&h.env, &h.handle);

    let cases = [
        (
            r#"{"driver":{"type":"script","steps":[{"action":"goto","url":"htp:/nope"}]}}"#,
            "driver.steps[0].url",
        ),
        (
            r#"{"driver":{"type":"script","steps":[{"action":"goto","url":"https://a.test/"},{"action":"click","selector":""}]}}"#,
            "driver.steps[1].selector",
        ),
        (
            r#"{"start_url":"ftp://x.test/","driver":{"type":"script","steps":[]}}"#,
            "start_url",
        ),
        (
            r##"{"driver":{"type":"script","steps":[{"action":"wait_for","selector":"#a","timeout_ms":0}]}}"##,
            "driver.steps[0].timeout_ms",
        ),
        (
            r#"{"driver":{"type":"script","steps":[{"action":"screenshot"}]},"viewport":{"width":5,"height":720}}"#,
            "viewport.width",
        ),
    ];
    for (json, field) in cases {
        let request = RunRequest::from_json(json).unwrap();
        match handle.submit(request).await {
            Err(SubmitError::Invalid(e)) => {
                assert_eq!(e.errors[0].field, field, "{json}");
                assert!(e.to_string().contains(field));
            }
            other => panic!("{json}: expected Invalid, got {other:?}"),
        }
    }
    // Unknown actions and fields are refused at parse time, with their path.
    let errs =
        field_errors(r#"{"driver":{"type":"script","steps":[{"action":"teleport","to":"x"}]}}"#);
    assert_eq!(errs[0].0, "driver.steps[0].action");
    assert!(errs[0].1.contains("teleport"), "{errs:?}");
    let errs = field_errors(
        r#"{"driver":{"type":"script","steps":[]},"guardrails":{"allow_private":true}}"#,
    );
    assert_eq!(errs[0].0, "guardrails.allow_private");
    assert!(errs[0].1.contains("allow_private"), "{errs:?}");
    let errs = field_errors(r#"{"driver":{"type":"robot"}}"#);
    assert_eq!(errs[0].0, "driver.type");

    // Nothing was admitted, stored or launched.
    assert!(handle.list().await.unwrap().is_empty());
    let stored = std::fs::read_dir(env.runs_dir()).unwrap().count();
    assert_eq!(stored, 0, "no run directory was created");
    assert!(env.run_browsers().is_empty());
    let pool = handle.stats().await.unwrap().pool.unwrap();
    assert_eq!(pool.contexts_served, 0, "no pooled context was handed out");
    h.orchestrator.shutdown(SHUTDOWN_GRACE).await;
}
