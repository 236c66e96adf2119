//! `pilothouse validate FILE...`: checks playbooks (`.yaml`, `.yml`) and run requests (`.json`)
//! without running anything — every problem printed with its step and field, and for a playbook
//! the spelling it is written in (the reference's or Pilothouse's). Exit 0 when all are valid,
//! 2 otherwise.

use std::path::{Path, PathBuf};

use pilothouse::{RunRequest, parse_playbook_with_format, playbook_yaml_format};

use crate::host::{EXIT_COMPLETED, EXIT_INVALID, load_config};

/// Arguments of `pilothouse validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Playbooks (.yaml/.yml) or run requests (.json).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A TOML config file (requests are checked against it; it says where playbooks live).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Checks every file; returns the exit code.
pub(crate) fn validate(args: &ValidateArgs) -> u8 {
    let config = match load_config(args.config.as_deref(), None) {
        Ok(config) => config,
        Err(message) => {
            say_err!("error: {message}");
            return EXIT_INVALID;
        }
    };
    let mut all_ok = true;
    for file in &args.files {
        match check(file, &config) {
            Ok(summary) => say!("ok: {}: {summary}", file.display()),
            Err(problems) => {
                all_ok = false;
                say_err!("error: {} is invalid:", file.display());
                for problem in problems {
                    say_err!("  {}", super::output::terminal_safe(&problem));
                }
            }
        }
    }
    if all_ok { EXIT_COMPLETED } else { EXIT_INVALID }
}

fn check(file: &Path, config: &pilothouse::Config) -> Result<String, Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| vec![format!("cannot read it: {e}")])?;
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "yaml" | "yml") {
        // A file that does not read still says whose spelling it looks like.
        let read_as = |problems: Vec<String>| match playbook_yaml_format(&text) {
            Some(format) => [vec![format!("(read as {format})")], problems].concat(),
            None => problems,
        };
        let (playbook, format) =
            parse_playbook_with_format(&text).map_err(|e| read_as(vec![e.to_string()]))?;
        let problems = playbook.problems();
        if !problems.is_empty() {
            return Err(read_as(problems.iter().map(ToString::to_string).collect()));
        }
        return Ok(format!(
            "playbook `{}` ({} steps, {} parameters), {format}",
            playbook.id,
            playbook.steps.len(),
            playbook.parameters.len()
        ));
    }
    let request = RunRequest::from_json(&text)
        .map_err(|e| e.errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    request
        .validate(config)
        .map_err(|e| e.errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok(format!("{} run request", request.driver.type_name()))
}
