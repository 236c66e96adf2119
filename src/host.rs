//! What the binary needs as the host process of an orchestrator, shared by its commands
//! (`src/cli/`) and its server (`src/server.rs`): loading the config, exit codes, and the
//! SIGINT/SIGTERM listener. Below both, so neither imports the other for these.
//!
//! Exit codes follow the run's outcome: 0 completed, 1 failed or timed out (or the binary itself
//! failed), 2 invalid input (request, config or arguments), 130 cancelled by Ctrl-C.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pilothouse::{Config, RunState};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The run completed.
pub(crate) const EXIT_COMPLETED: u8 = 0;
/// The run failed or timed out, or the binary could not do its job.
pub(crate) const EXIT_FAILED: u8 = 1;
/// The request, the config or the arguments are invalid (clap also exits 2 on bad arguments).
pub(crate) const EXIT_INVALID: u8 = 2;
/// Ctrl-C cancelled the run (128 + SIGINT, as shells report it).
pub(crate) const EXIT_CANCELLED: u8 = 130;

/// How long runs may go on finishing when the binary shuts its orchestrator down. By then every
/// run the binary waits for is terminal, so this only bounds the unexpected.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The config: `file` when given (missing keys take their defaults), else `Config::default()`;
/// then the `PILOTHOUSE_<KEY>` and `PILOTHOUSE_<SECTION>__<KEY>` environment overrides; then
/// the flags: `runs_dir` overrides the runs directory, and moves a default `recordings_dir` next
/// to it (`<runs_dir>/../recordings`). The error names the key and the file or variable.
pub(crate) fn load_config(
    file: Option<&Path>,
    runs_dir: Option<PathBuf>,
) -> Result<Config, String> {
    let config = match file {
        Some(path) => Config::from_toml_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let mut config = config.with_env_overrides().map_err(|e| e.to_string())?;
    if let Some(dir) = runs_dir {
        if config.recording.recordings_dir == pilothouse::RecordingConfig::default().recordings_dir
        {
            let parent = dir.parent().unwrap_or(Path::new("."));
            config.recording.recordings_dir = parent.join("recordings");
        }
        config.runs_dir = dir;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// The exit code of a run that ended in `state`.
pub(crate) fn exit_code_for(state: RunState) -> u8 {
    match state {
        RunState::Completed => EXIT_COMPLETED,
        RunState::Cancelled => EXIT_CANCELLED,
        _ => EXIT_FAILED,
    }
}

impl Interrupts {
    /// Waits for the next SIGINT or SIGTERM.
    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// Registers the SIGINT and SIGTERM listener (see [`Interrupts`]).
pub(crate) fn interrupts() -> anyhow::Result<Interrupts> {
    Ok(Interrupts {
        int: signal(SignalKind::interrupt())?,
        term: signal(SignalKind::terminate())?,
    })
}

/// A SIGINT (Ctrl-C) and SIGTERM listener. It is registered when created, so a signal that
/// arrives while the orchestrator is still starting is kept rather than killing the process with
/// its browsers half launched. (`tokio::signal::ctrl_c` registers on first poll, which is later.)
/// SIGTERM (`kill`, `docker stop`) gets the same orderly cancel-and-shutdown as Ctrl-C.
pub(crate) struct Interrupts {
    int: Signal,
    term: Signal,
}
