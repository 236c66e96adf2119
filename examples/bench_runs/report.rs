//! The benchmark's tables, in Markdown so they paste into the README: throughput against bare
//! (a) and against issue 11's measurements, run time percentiles, time to the first action, and
//! per-action p50 against bare (a).

use crate::site::STEP_NAMES;
use crate::{Level, RunSample, System};

/// Issue 11's "Why" table (runs/min at concurrency 1 and 4), measured on a 2-core machine.
const ISSUE_RUNS_PER_MIN: &[(System, f64, f64)] = &[
    (System::BareContext, 67.4, 108.3),
    (System::Playwright, 61.0, 79.3),
    (System::BareProcess, 40.7, 54.6),
    (System::Pilothouse, 39.8, 67.8),
];

/// Prints every table for `levels`, systems in `systems` order.
pub(crate) fn print(levels: &[Level], systems: &[System]) {
    let concurrencies = {
        let mut c: Vec<usize> = levels.iter().map(|l| l.concurrency).collect();
        c.dedup();
        c
    };
    print_throughput(levels, systems, &concurrencies);
    print_run_times(levels, systems, &concurrencies);
    print_actions(levels, systems);
    print_issue(levels, systems);
    print_failures(levels);
}

fn print_throughput(levels: &[Level], systems: &[System], concurrencies: &[usize]) {
    println!("\n## Throughput, runs/min (ratio to (a) at the same concurrency)\n");
    let mut header = String::from("| system |");
    let mut rule = String::from("|---|");
    for c in concurrencies {
        header.push_str(&format!(" c={c} | ×(a) |"));
        rule.push_str("---:|---:|");
    }
    println!("{header}\n{rule}");
    for &system in systems {
        let mut row = format!("| {} |", system.label());
        for &c in concurrencies {
            let rate = find(levels, system, c).map_or(f64::NAN, runs_per_min);
            let bare = find(levels, System::BareContext, c).map_or(f64::NAN, runs_per_min);
            row.push_str(&format!(" {rate:.1} | {} |", ratio(rate, bare)));
        }
        println!("{row}");
    }
}

fn print_run_times(levels: &[Level], systems: &[System], concurrencies: &[usize]) {
    println!("\n## Run time, ms (first call → close done; submit → finished for Pilothouse)\n");
    println!(
        "| system | c | completed | run p50 | run p95 | start → first action p50 | p50 ×(a) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for &c in concurrencies {
        for &system in systems {
            let Some(level) = find(levels, system, c) else {
                continue;
            };
            let ok = completed(level);
            let walls: Vec<f64> = ok.iter().map(|s| s.wall_ms).collect();
            let firsts: Vec<f64> = ok.iter().map(|s| s.first_action_ms).collect();
            let bare_p50 = find(levels, System::BareContext, c).map_or(f64::NAN, |l| {
                percentile(
                    &completed(l).iter().map(|s| s.wall_ms).collect::<Vec<_>>(),
                    50.0,
                )
            });
            let p50 = percentile(&walls, 50.0);
            println!(
                "| {} | {c} | {}/{} | {p50:.0} | {:.0} | {:.1} | {} |",
                system.label(),
                ok.len(),
                level.samples.len(),
                percentile(&walls, 95.0),
                percentile(&firsts, 50.0),
                ratio(p50, bare_p50),
            );
        }
    }
    println!(
        "\nstart → first action: context + page creation for (a) and (c), launch + page for (b), \
         submit → the first action's start (its event's `at` − `duration_ms`) for Pilothouse."
    );
}

fn print_actions(levels: &[Level], systems: &[System]) {
    let c = levels.iter().map(|l| l.concurrency).min().unwrap_or(1);
    println!("\n## Per action, p50 ms at concurrency {c} (ratio to (a))\n");
    let shown: Vec<System> = systems
        .iter()
        .copied()
        .filter(|s| find(levels, *s, c).is_some())
        .collect();
    let mut header = String::from("| step |");
    let mut rule = String::from("|---|");
    for system in &shown {
        header.push_str(&format!(" {} |", short(*system)));
        rule.push_str("---:|");
    }
    println!("{header}\n{rule}");
    let step_p50 = |system: System, step: usize| -> f64 {
        find(levels, system, c).map_or(f64::NAN, |level| {
            let values: Vec<f64> = completed(level)
                .iter()
                .filter_map(|s| s.steps.get(step).copied())
                .collect();
            percentile(&values, 50.0)
        })
    };
    for (step, name) in STEP_NAMES.iter().enumerate() {
        let bare = step_p50(System::BareContext, step);
        let mut row = format!("| {} {name} |", step + 1);
        for &system in &shown {
            let ms = step_p50(system, step);
            if system == System::BareContext {
                row.push_str(&format!(" {ms:.1} |"));
            } else {
                row.push_str(&format!(" {ms:.1} ({}) |", ratio(ms, bare)));
            }
        }
        println!("{row}");
    }
    println!(
        "\nPilothouse's per-action times are its own `action` events' `duration_ms` (whole ms, \
         guard checks and settling included); the others are timed around the library call."
    );
}

fn print_issue(levels: &[Level], systems: &[System]) {
    println!("\n## Beside issue 11's measurements, runs/min\n");
    println!("| system | issue c=1 | here c=1 | issue c=4 | here c=4 |");
    println!("|---|---:|---:|---:|---:|");
    for (system, issue_c1, issue_c4) in ISSUE_RUNS_PER_MIN {
        if !systems.contains(system) {
            continue;
        }
        let here = |c| find(levels, *system, c).map_or(f64::NAN, runs_per_min);
        println!(
            "| {} | {issue_c1:.1} | {:.1} | {issue_c4:.1} | {:.1} |",
            system.label(),
            here(1),
            here(4)
        );
    }
    let drop = |c| {
        let off = find(levels, System::Pilothouse, c).map(runs_per_min)?;
        let on = find(levels, System::PilothouseRecording, c).map(runs_per_min)?;
        Some((1.0 - on / off) * 100.0)
    };
    if let (Some(c1), Some(c4)) = (drop(1), drop(4)) {
        println!(
            "\nRecording on costs Pilothouse {c1:.0} % of its throughput at c=1 and {c4:.0} % \
             at c=4 (issue 11: 16–19 %)."
        );
    }
}

fn print_failures(levels: &[Level]) {
    for level in levels {
        let failed: Vec<String> = level
            .samples
            .iter()
            .filter_map(|s| s.as_ref().err().map(|e| format!("{e:#}")))
            .collect();
        if failed.is_empty() {
            continue;
        }
        println!(
            "\n{} at c={}: {} run(s) failed, e.g.",
            level.system.label(),
            level.concurrency,
            failed.len()
        );
        for error in failed.iter().take(3) {
            println!("  - {error}");
        }
    }
}

/// Completed runs per minute of the level's wall time (failed runs do not count).
fn runs_per_min(level: &Level) -> f64 {
    completed(level).len() as f64 / level.wall.as_secs_f64() * 60.0
}

fn completed(level: &Level) -> Vec<&RunSample> {
    level
        .samples
        .iter()
        .filter_map(|s| s.as_ref().ok())
        .collect()
}

fn find(levels: &[Level], system: System, concurrency: usize) -> Option<&Level> {
    levels
        .iter()
        .find(|l| l.system == system && l.concurrency == concurrency)
}

fn short(system: System) -> &'static str {
    match system {
        System::BareContext => "(a) bare, context",
        System::BareProcess => "(b) bare, process",
        System::Playwright => "(c) Playwright",
        System::Pilothouse => "(d) Pilothouse",
        System::PilothouseRecording => "(d-rec) Pilothouse, recording",
    }
}

fn ratio(value: f64, base: f64) -> String {
    if value.is_finite() && base.is_finite() && base > 0.0 {
        format!("{:.2}×", value / base)
    } else {
        "–".into()
    }
}

/// Nearest-rank percentile; NaN for no values.
pub(crate) fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
