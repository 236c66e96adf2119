//! Serialize once, send many: the JSON of each recent event, shared by every SSE stream that
//! carries it. A thousand subscribers of one run cost one serialization per event, not a
//! thousand (measured with `examples/bench_service`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use pilothouse::{RunEvent, RunId};

/// Events whose JSON is kept; older ones are serialized again if a slow reader still needs
/// them (correct either way, only slower).
const CAPACITY: usize = 4_096;

/// The JSON of recent events, by run and seq, oldest evicted first.
#[derive(Debug, Default)]
pub(crate) struct FrameCache {
    inner: Mutex<Frames>,
}

#[derive(Debug, Default)]
struct Frames {
    json: HashMap<(RunId, u64), Arc<str>>,
    order: VecDeque<(RunId, u64)>,
}

impl FrameCache {
    /// The event's JSON, serialized on first use.
    pub(crate) fn json(&self, event: &RunEvent) -> Arc<str> {
        let key = (event.run_id, event.seq);
        if let Some(json) = self.lock().json.get(&key) {
            return json.clone();
        }
        let json: Arc<str> = serialize(event).into();
        let mut frames = self.lock();
        if frames.json.insert(key, json.clone()).is_none() {
            frames.order.push_back(key);
            while frames.order.len() > CAPACITY {
                if let Some(old) = frames.order.pop_front() {
                    frames.json.remove(&old);
                }
            }
        }
        json
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Frames> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn serialize(event: &RunEvent) -> String {
    serde_json::to_string(event).unwrap_or_else(|e| {
        format!(
            r#"{{"run_id":"{}","seq":{},"error":"unserializable event: {e}"}}"#,
            event.run_id, event.seq
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pilothouse::EventKind;

    fn event(run_id: RunId, seq: u64) -> RunEvent {
        RunEvent {
            run_id,
            seq,
            at: chrono::Utc::now(),
            kind: EventKind::Log {
                level: "info".into(),
                message: format!("event {seq}"),
            },
        }
    }

    #[test]
    fn each_event_is_serialized_once_and_old_ones_are_evicted() {
        let cache = FrameCache::default();
        let run = RunId::new();
        let first = cache.json(&event(run, 1));
        assert!(Arc::ptr_eq(&first, &cache.json(&event(run, 1))));
        assert_eq!(
            serde_json::from_str::<RunEvent>(&first).unwrap().seq,
            1,
            "{first}"
        );
        for seq in 2..=(CAPACITY as u64 + 1) {
            cache.json(&event(run, seq));
        }
        assert_eq!(cache.lock().json.len(), CAPACITY);
        assert!(!cache.lock().json.contains_key(&(run, 1)));
    }
}
