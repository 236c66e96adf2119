//! `pilothouse eval SUITE.yaml [--trials N] [--concurrency C] [--out DIR]`: runs an evaluation
//! suite (the reference's format; `src/eval/`) on an embedded orchestrator with a progress bar,
//! writes `report.json` and `report.html`, prints each case's verdict, and exits 1 when a case
//! failed (2 for an invalid suite, 130 on Ctrl-C).

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use pilothouse::{Config, Orchestrator};

use super::demo_site::DemoSite;
use crate::eval::report;
use crate::eval::run::{Job, run_suite};
use crate::eval::score::{SuiteResult, Trial};
use crate::eval::suite::Suite;
use crate::eval::trial::request_for;
use crate::host::{
    EXIT_CANCELLED, EXIT_COMPLETED, EXIT_FAILED, EXIT_INVALID, SHUTDOWN_GRACE, interrupts,
    load_config,
};

/// Arguments of `pilothouse eval`.
#[derive(Debug, clap::Args)]
pub(crate) struct EvalArgs {
    /// The suite: YAML with `name` and `cases` (see "Evaluation suites" in the README).
    #[arg(value_name = "SUITE")]
    suite: PathBuf,
    /// Trials per case, instead of each case's `trials`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    trials: Option<u32>,
    /// Trials run at once (default: the config's `max_concurrent_runs`).
    #[arg(long, value_name = "C", value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Option<u32>,
    /// Where `report.json` and `report.html` go.
    #[arg(long, value_name = "DIR", default_value = "eval-report")]
    out: PathBuf,
    /// A TOML config file (see config/default.toml); defaults apply without one.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where to keep runs/<run_id>/ (overrides the config's `runs_dir`).
    #[arg(long, value_name = "DIR")]
    runs_dir: Option<PathBuf>,
    /// Serve the bundled demo site on a free 127.0.0.1 port for the suite, pointing its
    /// `http://127.0.0.1:8080` URLs there (`config/suites/demo.yaml`).
    #[arg(long)]
    demo_site: bool,
}

/// Runs the command; returns the exit code.
pub(crate) async fn eval(args: EvalArgs) -> anyhow::Result<u8> {
    let site = match args.demo_site {
        true => Some(
            DemoSite::serve(0)
                .await
                .context("cannot serve the demo site")?,
        ),
        false => None,
    };
    let prepared = load_config(args.config.as_deref(), args.runs_dir.clone())
        .and_then(|config| Ok((jobs(&args, &config, site.as_ref())?, config)));
    let ((suite, jobs), config) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => {
            say_err!("error: {message}");
            return Ok(EXIT_INVALID);
        }
    };
    let concurrency = args
        .concurrency
        .map_or(config.max_concurrent_runs, |c| c as usize);
    let mut sigint = interrupts()?;
    let orchestrator = Orchestrator::start(config.clone())
        .await
        .context("cannot start the orchestrator")?;
    let handle = orchestrator.handle();
    let mut bar = Progress::new(jobs.len());
    let result = tokio::select! {
        result = run_suite(&handle, &suite, jobs, concurrency, |case, trial| bar.step(case, trial)) => Some(result),
        _ = sigint.recv() => None,
    };
    bar.finish();
    orchestrator.shutdown(SHUTDOWN_GRACE).await;
    let Some(result) = result else {
        say_err!("cancelled: the runs were cancelled and their browsers closed");
        return Ok(EXIT_CANCELLED);
    };
    report::write(&result, &args.out, &config.runs_dir)
        .with_context(|| format!("cannot write the report to {}", args.out.display()))?;
    print_verdicts(&result, &args.out);
    Ok(if result.failed == 0 {
        EXIT_COMPLETED
    } else {
        EXIT_FAILED
    })
}

/// The suite and a job per trial, each request checked against `config`; the error names the
/// file, or the case and the field.
fn jobs(
    args: &EvalArgs,
    config: &Config,
    site: Option<&DemoSite>,
) -> Result<(Suite, Vec<Job>), String> {
    let mut text = std::fs::read_to_string(&args.suite)
        .map_err(|e| format!("cannot read {}: {e}", args.suite.display()))?;
    if let Some(site) = site {
        say_err!("serving the demo site at {}", site.base_url());
        text = site.rewrite(&text);
    }
    let suite = Suite::parse(&text).map_err(|e| format!("{}: {e}", args.suite.display()))?;
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    for (index, case) in suite.cases.iter().enumerate() {
        for trial in 1..=args.trials.unwrap_or(case.trials) {
            match request_for(&suite.name, case, trial) {
                Ok(request) => {
                    if trial == 1
                        && let Err(invalid) = request.validate(config)
                    {
                        problems.extend(
                            invalid
                                .errors
                                .iter()
                                .map(|e| format!("case {}: {e}", case.id)),
                        );
                    }
                    jobs.push(Job {
                        case: index,
                        trial,
                        request,
                    });
                }
                Err(message) => problems.push(message),
            }
        }
    }
    if problems.is_empty() {
        Ok((suite, jobs))
    } else {
        Err(format!(
            "{}: {}",
            args.suite.display(),
            problems.join("\n  ")
        ))
    }
}

/// A progress bar on a terminal, a line per trial elsewhere.
struct Progress {
    total: usize,
    done: usize,
    failed: usize,
    terminal: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Self {
            total,
            done: 0,
            failed: 0,
            terminal,
        }
    }

    fn step(&mut self, case: &str, trial: &Trial) {
        self.done += 1;
        self.failed += usize::from(!trial.passed);
        let verdict = if trial.passed { "pass" } else { "FAIL" };
        let filled = self.done * 30 / self.total.max(1);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(30 - filled));
        let line = format!(
            "[{bar}] {}/{} trials, {} failed · {case} #{} {verdict}",
            self.done, self.total, self.failed, trial.index
        );
        if self.terminal {
            eprint!("\r\x1b[2K{line}");
        } else {
            say_err!("{line}");
        }
    }

    fn finish(&self) {
        if self.terminal && self.done > 0 {
            eprintln!();
        }
    }
}

fn print_verdicts(result: &SuiteResult, out: &std::path::Path) {
    for case in &result.cases {
        let verdict = if case.passed { "pass" } else { "FAIL" };
        let failed = if case.failed_checks.is_empty() {
            String::new()
        } else {
            format!("  failed: {}", case.failed_checks.join(", "))
        };
        say!(
            "{verdict}  {}  {}/{} trials  p95 {} ms  ${:.4}{failed}",
            case.id,
            (case.trial_pass_rate * case.trials_run as f64).round(),
            case.trials_run,
            case.p95_duration_ms,
            case.avg_estimated_cost_usd
        );
    }
    say!(
        "{}: {}/{} cases passed · report: {}",
        result.name,
        result.passed,
        result.total,
        out.join("report.html").display()
    );
}
