//! `pilothouse export-playbook RUN_ID [-o FILE] [--id NAME]`: a finished agent run, from the
//! runs directory, as a playbook in the reference's format (`export.rs` in the engine) — its
//! steps the actions that worked, with the selectors that worked and those tried before them,
//! text from the directive as parameters, credentials as `credential_ref`. The playbook is
//! validated before it is written; it replays without the model.

use std::path::PathBuf;

use crate::host::{EXIT_COMPLETED, EXIT_FAILED, EXIT_INVALID, load_config};

/// Arguments of `pilothouse export-playbook`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// The run, by id (its directory under the runs directory).
    #[arg(value_name = "RUN_ID")]
    run_id: String,
    /// Write the playbook here instead of to standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The playbook's id (default: `run_` and the run id's first 8 characters).
    #[arg(long, value_name = "NAME")]
    id: Option<String>,
    /// A TOML config file (for its `runs_dir`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where runs/<run_id>/ are (overrides the config's `runs_dir`).
    #[arg(long, value_name = "DIR")]
    runs_dir: Option<PathBuf>,
}

/// Runs the command; returns the exit code.
pub(crate) fn export(args: &ExportArgs) -> u8 {
    let config = match load_config(args.config.as_deref(), args.runs_dir.clone()) {
        Ok(config) => config,
        Err(message) => {
            say_err!("error: {message}");
            return EXIT_INVALID;
        }
    };
    let Ok(run_id) = args.run_id.parse::<pilothouse::RunId>() else {
        say_err!(
            "error: `{}` is not a run id (a UUID, as `pilothouse run` prints)",
            args.run_id
        );
        return EXIT_INVALID;
    };
    let run_dir = config.runs_dir.join(run_id.to_string());
    if !run_dir.is_dir() {
        say_err!("error: no run {run_id} in {}", config.runs_dir.display());
        return EXIT_INVALID;
    }
    let short: String = run_id.to_string().chars().take(8).collect();
    let id = args.id.clone().unwrap_or_else(|| format!("run_{short}"));
    let exported = match pilothouse::export_playbook(&run_dir, &id) {
        Ok(exported) => exported,
        Err(message) => {
            say_err!("error: cannot export run {run_id}: {message}");
            return EXIT_INVALID;
        }
    };
    for note in &exported.notes {
        say_err!("note: {note}");
    }
    let steps = exported.playbook.steps.len();
    match &args.out {
        None => {
            say!("{}", exported.yaml.trim_end());
            EXIT_COMPLETED
        }
        Some(path) => match std::fs::write(path, &exported.yaml) {
            Ok(()) => {
                say_err!(
                    "wrote {} ({steps} steps, valid): run it with a playbook driver",
                    path.display()
                );
                EXIT_COMPLETED
            }
            Err(e) => {
                say_err!("error: cannot write {}: {e}", path.display());
                EXIT_FAILED
            }
        },
    }
}
