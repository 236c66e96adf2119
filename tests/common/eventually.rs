//! The one way a test waits for something that has no event to await: `eventually(bound,
//! "what we wait for", async || probe)` polls the probe until it holds and fails the test
//! naming what never happened, with the last thing the probe saw. No bare sleeps elsewhere.

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// How long `eventually` waits between two probes.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `probe` every `POLL_INTERVAL` until it holds; what it yields then. Panics, naming
/// `what` and the last value seen, when `bound` passes first. The probe is tried at least once,
/// and once more at the bound.
pub async fn eventually<P: Probe>(
    bound: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> P,
) -> P::Ready {
    let deadline = Instant::now() + bound;
    loop {
        let last = match probe().await.check() {
            Ok(ready) => return ready,
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            panic!("never happened within {bound:?}: {what} (last seen: {last})");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

impl Probe for bool {
    type Ready = ();

    fn check(self) -> Result<(), String> {
        if self { Ok(()) } else { Err("false".into()) }
    }
}

impl<T> Probe for Option<T> {
    type Ready = T;

    fn check(self) -> Result<T, String> {
        self.ok_or_else(|| "None".into())
    }
}

/// `Err` carries what the probe saw instead, for the failure message.
impl<T, E: Debug> Probe for Result<T, E> {
    type Ready = T;

    fn check(self) -> Result<T, String> {
        self.map_err(|seen| format!("{seen:?}"))
    }
}

/// What a probe answers: `true`, `Some(value)` or `Ok(value)` once the condition holds;
/// `false`, `None` or `Err(what it saw)` while it does not.
pub trait Probe {
    /// What `eventually` returns once the probe holds.
    type Ready;
    /// The value once ready, or a description of what was seen instead.
    fn check(self) -> Result<Self::Ready, String>;
}
