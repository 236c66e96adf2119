//! A subscriber that drops its stream and reconnects with `after_seq` = the last seq it saw, at
//! random points while the run executes, reassembles exactly 1..N: no gap and no duplicate at
//! any seam, whether the resumed part comes from the log, the live broadcast, or both.

mod common;

use std::time::Duration;

use common::{Harness, Page};
use futures::StreamExt;
use pilothouse::{RunEvent, RunId, RunState};

/// A tiny deterministic generator; the seed is printed so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_subscriber_reassembles_one_to_n() {
    let h = Harness::new(vec![(
        "/",
        Page::Html("<title>R</title><p id=a>1</p>".into()),
    )])
    .start()
    .await;
    let handle = &h.handle;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = Lcg(seed);
    let run_id = h.submit_json(&fifteen_step_run()).await;

    let (got, reconnects_mid_run) = reassemble_reconnecting_at_random(&h, run_id, &mut rng).await;
    let n = got.len() as u64;
    let seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "seed {seed}");
    let status = handle.status(run_id).await.unwrap().unwrap();
    assert_eq!(status.state, RunState::Completed);
    assert_eq!(status.last_seq, n);
    // The reassembled stream is the log, event for event.
    let whole: Vec<RunEvent> = handle.events(run_id, 0).await.unwrap().collect().await;
    assert_eq!(whole, got);
    assert!(
        reconnects_mid_run >= 5,
        "only {reconnects_mid_run} reconnections happened while the run was live (seed {seed})"
    );
    h.finish().await;
}

/// A goto and fourteen quick evaluates: a run long enough to reconnect into many times.
fn fifteen_step_run() -> String {
    let mut steps = vec![r#"{"action": "goto", "url": "{base}/"}"#.to_owned()];
    for i in 0..14 {
        steps.push(format!(
            r#"{{"action": "evaluate", "script": "document.getElementById('a').textContent = '{i}'"}}"#
        ));
    }
    format!(
        r#"{{"driver": {{"type": "script", "steps": [{}]}},
             "guardrails": {{"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}}}"#,
        steps.join(",")
    )
}

/// Subscribes after the last seq seen, takes 1 to 3 events, drops the stream and pauses up to
/// 40 ms, until the terminal event; every event got, and how many subscriptions began while
/// the run was live.
async fn reassemble_reconnecting_at_random(
    h: &Harness,
    run_id: RunId,
    rng: &mut Lcg,
) -> (Vec<RunEvent>, u32) {
    let mut got: Vec<RunEvent> = Vec::new();
    let mut reconnects_mid_run = 0;
    loop {
        let after = got.last().map_or(0, |e| e.seq);
        let live = !h
            .handle
            .status(run_id)
            .await
            .unwrap()
            .unwrap()
            .state
            .is_terminal();
        let mut stream = h.handle.events(run_id, after).await.unwrap();
        if live {
            reconnects_mid_run += 1;
        }
        let take = 1 + rng.below(3);
        for _ in 0..take {
            match stream.next().await {
                Some(event) => {
                    let done = event.is_terminal();
                    got.push(event);
                    if done {
                        return (got, reconnects_mid_run);
                    }
                }
                None => panic!("stream ended without a terminal event after seq {after}"),
            }
        }
        drop(stream);
        tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
    }
}
