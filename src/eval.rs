//! `pilothouse eval`: evaluation suites in the reference system's format — cases with a
//! directive, a playbook or not, trials and expectations — run against the engine, scored, and
//! reported.
//!
//! The suite file is data (`eval/suite.rs`); what a trial observed and how it is scored are
//! pure functions (`eval/score.rs`: each `expect` key, nearest-rank p95, cost = tokens / 1M ×
//! price, per-case and per-suite aggregates).

pub(crate) mod aggregate;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod score;
pub(crate) mod suite;
pub(crate) mod trial;
