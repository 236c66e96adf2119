//! Every log line the process writes, captured for a test to read: a global `tracing`
//! subscriber (installed once per test binary) at the binary's default filter, with
//! Pilothouse's own targets at TRACE.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// The filter: the `pilothouse` binary's default (`warn,chromiumoxide=error`) plus every
/// level of Pilothouse's own crates.
const FILTER: &str = "warn,chromiumoxide=error,pilothouse=trace,pilothouse_actors=trace";

#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<u8>>>);

impl Lines {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing (once); returns the shared buffer.
pub fn capture() -> Lines {
    static LINES: OnceLock<Lines> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let lines = Lines::default();
            let writer = lines.clone();
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(FILTER))
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .init();
            lines
        })
        .clone()
}
