//! The library emits `pilothouse_*` metrics through the `metrics` facade and tracing spans for
//! each stage of a run, all carrying `run_id`; it installs neither a recorder nor a subscriber
//! (this test installs both, as a host would).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use common::harness::SHUTDOWN_GRACE;
use common::{Harness, Page};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use pilothouse::RunState;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// A span's name and its fields.
type SpanRecord = (String, BTreeMap<String, String>);

/// Every span opened.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SpanRecord>>>);

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        attrs.record(&mut fields);
        let name = attrs.metadata().name().to_owned();
        self.0.lock().unwrap().push((name, fields.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_emit_metrics_and_spans_with_run_ids() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let spans = Spans::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(spans.clone()))
        .unwrap();

    let h = Harness::new(vec![("/", Page::Html("<title>M</title><h1>m</h1>".into()))])
        .start()
        .await;
    let ok = h.submit_json(r##"{"driver": {"type": "script", "steps": [
                   {"action": "goto", "url": "{base}/"},
                   {"action": "extract", "selector": "h1"}]},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##).await;
    assert_eq!(h.wait(ok).await.state, RunState::Completed);
    let blocked = h.submit_json(r#"{"driver": {"type": "script", "steps": [{"action": "goto", "url": "http://10.1.2.3/"}]}}"#).await;
    assert_eq!(h.wait(blocked).await.state, RunState::Failed);
    let Harness {
        env, orchestrator, ..
    } = h;
    orchestrator.shutdown(SHUTDOWN_GRACE).await;
    assert_metrics(&snapshotter);
    assert_spans_name_their_run(&spans.0.lock().unwrap(), &ok.to_string());
    env.assert_no_browsers().await;
}

/// Every metric is `pilothouse_*`, and the two runs counted what they did.
fn assert_metrics(snapshotter: &Snapshotter) {
    let mut metrics: BTreeMap<String, f64> = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let value = match value {
            DebugValue::Counter(n) => n as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(samples) => samples.len() as f64,
        };
        metrics.insert(name, value);
    }
    let at_least = |name: &str, min: f64| {
        let value = metrics.get(name).copied();
        assert!(
            value.is_some_and(|v| v >= min),
            "{name} = {value:?}; all: {metrics:#?}"
        );
    };
    at_least("pilothouse_runs_total{state=completed}", 1.0);
    at_least("pilothouse_runs_total{state=failed}", 1.0);
    at_least("pilothouse_actions_total{action=goto,outcome=ok}", 1.0);
    at_least("pilothouse_actions_total{action=goto,outcome=error}", 1.0);
    at_least("pilothouse_action_duration_seconds{action=extract}", 1.0);
    at_least("pilothouse_run_duration_seconds{}", 2.0);
    at_least(
        "pilothouse_guardrail_blocks_total{check=private_network}",
        1.0,
    );
    at_least("pilothouse_browser_launches_total{}", 2.0);
    at_least("pilothouse_uploads_total{outcome=ok}", 2.0);
    assert_eq!(metrics.get("pilothouse_runs_active{}"), Some(&0.0));
    assert_eq!(metrics.get("pilothouse_runs_queued{}"), Some(&0.0));
    assert!(
        metrics.keys().all(|k| k.starts_with("pilothouse_")),
        "{metrics:#?}"
    );
}

/// The run has a span for each stage, and every span the engine opens names its run.
fn assert_spans_name_their_run(spans: &[SpanRecord], id: &str) {
    let of_run: BTreeSet<String> = spans
        .iter()
        .filter(|(_, fields)| fields.get("run_id").map(String::as_str) == Some(id))
        .map(|(name, fields)| match fields.get("step") {
            Some(step) if name == "finalize_step" => format!("{name}:{step}"),
            _ => name.clone(),
        })
        .collect();
    for expected in [
        "run",
        "setup",
        "browser_launch",
        "action",
        "guard_check",
        "finalize",
        "finalize_step:capture",
        "finalize_step:close_browser",
        "finalize_step:recording",
        "finalize_step:commit",
    ] {
        assert!(
            of_run.contains(expected),
            "no {expected} span for the run: {of_run:?}"
        );
    }
    let ours = [
        "run",
        "setup",
        "browser_launch",
        "action",
        "guard_check",
        "finalize",
        "finalize_step",
    ];
    for (name, fields) in spans {
        if ours.contains(&name.as_str()) {
            assert!(
                fields.contains_key("run_id"),
                "{name} span without run_id: {fields:?}"
            );
        }
    }
}
