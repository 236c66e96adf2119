//! The benchmark's tables, in Markdown so they paste into the README: throughput against bare
//! (a) at every concurrency, run time percentiles and submit → first action, per-action p50
//! against (a) with the run split into start / actions / end, PSS per concurrent run, the
//! orchestrator's memory per finished run, and issue 11's own measurements beside ours.

use crate::memory::MemoryReport;
use crate::site::STEP_NAMES;
use crate::{Level, PSS_CONCURRENCY, RunSample, System};

/// Issue 11's "Why" table (runs/min at concurrency 1 and 4), measured on a 2-core machine;
/// its "Pilothouse today" is a browser process per run, before the pool.
const ISSUE_RUNS_PER_MIN: &[(&str, System, f64, f64)] = &[
    (
        "bare chromiumoxide, a context per run",
        System::BareContext,
        67.4,
        108.3,
    ),
    (
        "Playwright, a context per run",
        System::Playwright,
        61.0,
        79.3,
    ),
    (
        "bare chromiumoxide, a process per run",
        System::BareProcess,
        40.7,
        54.6,
    ),
    (
        "Pilothouse before the pool (process per run)",
        System::PilothouseProcess,
        39.8,
        67.8,
    ),
];

const MIB: f64 = 1024.0 * 1024.0;
/// PSS is reported in MB (10^6 bytes), the unit of issue 11's goal.
const MB: f64 = 1e6;

/// Prints every table for `levels`, systems in `systems` order.
pub(crate) fn print(levels: &[Level], systems: &[System], memory: Option<&MemoryReport>) {
    let concurrencies = {
        let mut c: Vec<usize> = levels.iter().map(|l| l.concurrency).collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    print_throughput(levels, systems, &concurrencies);
    print_run_times(levels, systems, &concurrencies);
    print_actions(levels, systems);
    print_pss(levels, systems);
    if let Some(memory) = memory {
        print_memory(memory);
    }
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
            let rate = rate(levels, system, c);
            row.push_str(&format!(
                " {rate:.1} | {} |",
                ratio(rate, self::rate(levels, System::BareContext, c))
            ));
        }
        println!("{row}");
    }
}

fn print_run_times(levels: &[Level], systems: &[System], concurrencies: &[usize]) {
    println!("\n## Run time, ms (first call → close done; submit → `finished` for Pilothouse)\n");
    println!(
        "| system | c | completed | run p50 | run p95 | p50 ×(a) | submit → first action p50 | \
         of which admission p50 | browser lease p50 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &c in concurrencies {
        let bare_p50 = metric(levels, System::BareContext, c, 50.0, |s| Some(s.wall_ms));
        for &system in systems {
            let Some(level) = find(levels, system, c) else {
                continue;
            };
            let p50 = metric(levels, system, c, 50.0, |s| Some(s.wall_ms));
            let lease = metric(levels, system, c, 50.0, |s| s.lease_ms);
            let admit = metric(levels, system, c, 50.0, |s| s.admit_ms);
            println!(
                "| {} | {c} | {}/{} | {p50:.0} | {:.0} | {} | {:.1} | {} | {} |",
                system.label(),
                completed(level).len(),
                level.samples.len(),
                metric(levels, system, c, 95.0, |s| Some(s.wall_ms)),
                ratio(p50, bare_p50),
                metric(levels, system, c, 50.0, |s| Some(s.first_action_ms)),
                optional(admit, 1),
                optional(lease, 0),
            );
        }
    }
    println!(
        "\nsubmit → first action: from the first call to the first action's start — context + \
         page creation for (a) and (c), launch + page for (b); for Pilothouse from `submit()` \
         to the run's `state: running` event, which the driver emits as it starts its first \
         action. Admission: `submit()` → the run's `queued` event (the run is written to the \
         store, fsync included, before it starts). Browser lease: `browser_ready`'s \
         `launch_ms` (a pooled context handed over and armed, or a Chromium launched for the \
         run), whole ms."
    );
}

fn print_actions(levels: &[Level], systems: &[System]) {
    let c = 1;
    let shown: Vec<System> = systems
        .iter()
        .copied()
        .filter(|s| find(levels, *s, c).is_some())
        .collect();
    if shown.is_empty() {
        return;
    }
    println!("\n## Per action, p50 ms at concurrency {c} (ratio to (a))\n");
    let mut header = String::from("| step |");
    let mut rule = String::from("|---|");
    for system in &shown {
        header.push_str(&format!(" {} |", system.short()));
        rule.push_str("---:|");
    }
    println!("{header}\n{rule}");
    let row = |name: String, value: &dyn Fn(&RunSample) -> Option<f64>| {
        let bare = metric(levels, System::BareContext, c, 50.0, value);
        let mut row = format!("| {name} |");
        for &system in &shown {
            let ms = metric(levels, system, c, 50.0, value);
            if system == System::BareContext {
                row.push_str(&format!(" {ms:.1} |"));
            } else {
                row.push_str(&format!(" {ms:.1} ({}) |", ratio(ms, bare)));
            }
        }
        println!("{row}");
    };
    row("start (→ first action)".into(), &|s| {
        Some(s.first_action_ms)
    });
    for (step, name) in STEP_NAMES.iter().enumerate() {
        row(format!("{} {name}", step + 1), &|s| {
            s.steps.get(step).copied()
        });
    }
    row("all ten actions".into(), &|s| Some(s.steps.iter().sum()));
    row("end (last action → run done)".into(), &|s| {
        Some(end_ms(s))
    });
    println!(
        "\nPilothouse's per-action time is the gap between an action's event and the event \
         before it (µs resolution): guard checks, settling, the recording's capture (d-rec) and \
         the actors' hand-offs included. The others are timed around the library call. \
         `wait_for` ends 400 ms after the click's page-side handler ran, so a slower click \
         shortens it: compare click + wait_for together. End: the close (context dispose, \
         browser exit, or Pilothouse's finalize to `finished`)."
    );
}

fn print_pss(levels: &[Level], systems: &[System]) {
    let c = PSS_CONCURRENCY;
    if !levels
        .iter()
        .any(|l| l.concurrency == c && !l.pss.is_empty())
    {
        return;
    }
    println!("\n## Browser memory at concurrency {c}: PSS per concurrent run\n");
    println!(
        "| system | idle, MB | samples | Chromium PSS p50, MB | max, MB | per run (÷{c}), MB | \
         ×(a) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let bare = pss_per_run(levels, System::BareContext);
    for &system in systems {
        let Some(level) = find(levels, system, c) else {
            continue;
        };
        let samples: Vec<f64> = level.pss.iter().map(|&b| b as f64 / MB).collect();
        let per_run = pss_per_run(levels, system);
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} |",
            system.label(),
            optional(level.idle_pss.map_or(f64::NAN, |b| b as f64 / MB), 0),
            samples.len(),
            percentile(&samples, 50.0),
            samples.iter().copied().fold(f64::NAN, f64::max),
            per_run / MB,
            ratio(per_run, bare),
        );
    }
    println!(
        "\nPSS: `Pss` of `/proc/<pid>/smaps_rollup` summed over every Chromium process whose \
         arguments name the system's profile directory and all their descendants (shared pages \
         counted once), sampled each second while the measured concurrency-{c} runs were in \
         flight; idle: one reading after start-up (the browser, or the warm pool with its spare \
         contexts), before any run. Pilothouse's figure includes its whole warm pool (the idle \
         pool too under `isolation = \"process\"`, which its runs do not use); the \
         orchestrator's own process is not counted, nor is Playwright's Node."
    );
}

fn print_memory(memory: &MemoryReport) {
    let per_run = (memory.rss_end - memory.rss_start) / memory.runs as f64;
    let to_bound = memory.runs.min(memory.registry_bound);
    println!(
        "\n## Orchestrator memory per finished run ({} runs of an instant driver)\n",
        memory.runs
    );
    println!("| measure | value |");
    println!("|---|---:|");
    println!(
        "| RSS after warm-up → after {} runs | {:.1} → {:.1} MiB |",
        memory.runs,
        memory.rss_start / MIB,
        memory.rss_end / MIB
    );
    println!(
        "| bytes per finished run, (after − before) ÷ {} | {per_run:.0} |",
        memory.runs
    );
    println!(
        "| while the registry fills (first {to_bound} runs, all kept in memory) | {:.0} B/run |",
        (memory.rss_bound - memory.rss_start) / to_bound.max(1) as f64
    );
    if memory.runs > to_bound {
        println!(
            "| once it is full (the next {} runs, each evicting one) | {:.0} B/run |",
            memory.runs - to_bound,
            (memory.rss_end - memory.rss_bound) / (memory.runs - to_bound) as f64
        );
    }
    println!(
        "| finished runs still in memory at the end (`stats()`) | {} |",
        memory.finished_in_memory
    );
    println!(
        "| the orchestrator alone (instant driver), runs/s | {:.0} |",
        memory.runs_per_sec
    );
    println!(
        "\nThe engine ran with `[registry]` defaults: finished runs stay in memory up to \
         `max_finished_runs` ({}) and one hour, then are served from the store; RSS is the \
         child process's `VmRSS` (freed memory the allocator keeps counts).",
        memory.registry_bound
    );
}

fn print_issue(levels: &[Level], systems: &[System]) {
    println!("\n## Beside issue 11's measurements, runs/min\n");
    println!("| issue's row | here | issue c=1 | here c=1 | issue c=4 | here c=4 |");
    println!("|---|---|---:|---:|---:|---:|");
    for &(name, system, issue_c1, issue_c4) in ISSUE_RUNS_PER_MIN {
        if !systems.contains(&system) {
            continue;
        }
        println!(
            "| {name} | {} | {issue_c1:.1} | {:.1} | {issue_c4:.1} | {:.1} |",
            system.short(),
            rate(levels, system, 1),
            rate(levels, system, 4)
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

// ---------------------------------------------------------------------------------------------
// Figures, shared with the goals

/// Completed runs per minute of the level's wall time (failed runs do not count); NaN when
/// the level was not measured.
pub(crate) fn rate(levels: &[Level], system: System, concurrency: usize) -> f64 {
    find(levels, system, concurrency).map_or(f64::NAN, |level| {
        completed(level).len() as f64 / level.wall.as_secs_f64() * 60.0
    })
}

/// The `p`th percentile of `value` over the level's completed runs; NaN without values.
pub(crate) fn metric(
    levels: &[Level],
    system: System,
    concurrency: usize,
    p: f64,
    value: impl Fn(&RunSample) -> Option<f64>,
) -> f64 {
    find(levels, system, concurrency).map_or(f64::NAN, |level| {
        let values: Vec<f64> = completed(level).into_iter().filter_map(value).collect();
        percentile(&values, p)
    })
}

/// The median PSS sample at `PSS_CONCURRENCY`, per concurrent run, in bytes.
pub(crate) fn pss_per_run(levels: &[Level], system: System) -> f64 {
    find(levels, system, PSS_CONCURRENCY).map_or(f64::NAN, |level| {
        let samples: Vec<f64> = level.pss.iter().map(|&b| b as f64).collect();
        percentile(&samples, 50.0) / PSS_CONCURRENCY as f64
    })
}

/// What a run waited for after its last action: the close, or Pilothouse's finalize.
pub(crate) fn end_ms(sample: &RunSample) -> f64 {
    sample.wall_ms - sample.first_action_ms - sample.steps.iter().sum::<f64>()
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

/// `value` with `decimals`, or `–` when it was not measured.
fn optional(value: f64, decimals: usize) -> String {
    if value.is_nan() {
        "–".into()
    } else {
        format!("{value:.decimals$}")
    }
}

pub(crate) fn ratio(value: f64, base: f64) -> String {
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
