//! Issue 11's goals beside the measured numbers, each with ✓ or ✗, and for each ✗ a line
//! derived from the numbers saying what stands in the way (which part of the run, which action
//! kind, which component).

use crate::memory::MemoryReport;
use crate::report::{end_ms, metric, pss_per_run, rate};
use crate::site::STEP_NAMES;
use crate::{Level, PSS_CONCURRENCY, System};

/// Throughput with context isolation against bare-with-contexts, at concurrency 1 and 4.
const THROUGHPUT_C1: f64 = 1.1;
const THROUGHPUT_C4: f64 = 1.0;
/// Per-action time against bare, for every action kind that does not navigate.
const ACTION_RATIO: f64 = 1.05;
/// Steps of the workload that do not navigate (indices into `STEP_NAMES`).
const NON_NAVIGATING_STEPS: [usize; 7] = [1, 3, 4, 5, 6, 7, 8];
/// Submit → first action, p50, from a warm pool.
const FIRST_ACTION_MS: f64 = 50.0;
/// PSS per concurrent run, bytes (100 MB).
const PSS_PER_RUN_BYTES: f64 = 100e6;
/// Throughput lost to recording.
const RECORDING_COST: f64 = 0.10;
/// Memory per finished run, bytes (4 KB taken as 4 KiB).
const BYTES_PER_RUN: f64 = 4096.0;

/// Prints the goals table for Pilothouse's default system (d: context isolation, warm pool,
/// recording off) and its recording variant.
pub(crate) fn print(levels: &[Level], memory: Option<&MemoryReport>) {
    let mut rows: Vec<Goal> = throughput_goals(levels);
    rows.push(action_goal(levels));
    rows.push(first_action_goal(levels));
    rows.push(pss_goal(levels));
    rows.push(recording_goal(levels));
    if let Some(memory) = memory {
        rows.push(memory_goal(memory));
    }

    println!("\n## Issue 11's goals, for (d) Pilothouse, isolation = context, warm pool\n");
    println!("| goal | measured | | what stands in the way |");
    println!("|---|---|:-:|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} |",
            row.goal,
            row.measured,
            if row.met { "✓" } else { "✗" },
            if row.met { "" } else { row.obstacle.as_str() }
        );
    }
}

/// Throughput of (d) against (a) at concurrency 1 and 4.
fn throughput_goals(levels: &[Level]) -> Vec<Goal> {
    let (d, a) = (System::Pilothouse, System::BareContext);
    let mut rows = Vec::new();
    for (c, target) in [(1, THROUGHPUT_C1), (4, THROUGHPUT_C4)] {
        let ratio = rate(levels, d, c) / rate(levels, a, c);
        let vs_playwright = rate(levels, d, c) / rate(levels, System::Playwright, c);
        rows.push(Goal {
            goal: format!("throughput at c={c} ≥ {target:.2}× (a)"),
            measured: format!(
                "{ratio:.3}× ({:.1} vs {:.1} runs/min; {vs_playwright:.2}× Playwright)",
                rate(levels, d, c),
                rate(levels, a, c)
            ),
            met: ratio >= target,
            obstacle: format!(
                "{}; without spare contexts (d-cold) {:.2}×",
                run_time_gap(levels, c),
                rate(levels, System::PilothouseCold, c) / rate(levels, a, c)
            ),
        });
    }
    rows
}

/// Every non-navigating action of (d) against (a), p50 at c=1.
fn action_goal(levels: &[Level]) -> Goal {
    let (d, a) = (System::Pilothouse, System::BareContext);
    let step_ms = |s, step: usize| metric(levels, s, 1, 50.0, |r| r.steps.get(step).copied());
    let slow: Vec<(usize, f64, f64)> = NON_NAVIGATING_STEPS
        .iter()
        .map(|&step| (step, step_ms(d, step), step_ms(a, step)))
        .collect();
    let worst = slow
        .iter()
        .map(|&(_, ms, bare)| ms / bare)
        .fold(f64::NAN, f64::max);
    let over: Vec<String> = slow
        .iter()
        .filter(|&&(_, ms, bare)| ms > bare * ACTION_RATIO)
        .map(|&(step, ms, bare)| {
            format!(
                "{} {ms:.1} ms vs {bare:.1} ({:.2}×; d-cold {:.1})",
                STEP_NAMES[step],
                ms / bare,
                step_ms(System::PilothouseCold, step)
            )
        })
        .collect();
    Goal {
        goal: format!("every non-navigating action ≤ {ACTION_RATIO:.2}× (a) (p50, c=1)"),
        measured: format!("worst {worst:.3}×"),
        met: worst <= ACTION_RATIO,
        obstacle: format!("slower than bare: {}", over.join("; ")),
    }
}

/// (d)'s submit → first action from a warm pool, with where the time goes.
fn first_action_goal(levels: &[Level]) -> Goal {
    let d = System::Pilothouse;
    let first = metric(levels, d, 1, 50.0, |s| Some(s.first_action_ms));
    let lease = metric(levels, d, 1, 50.0, |s| s.lease_ms);
    let admit = metric(levels, d, 1, 50.0, |s| s.admit_ms);
    Goal {
        goal: format!("submit → first action p50 ≤ {FIRST_ACTION_MS:.0} ms (warm pool)"),
        measured: format!(
            "{first:.1} ms at c=1, {:.1} ms at c=4",
            metric(levels, d, 4, 50.0, |s| Some(s.first_action_ms))
        ),
        met: first <= FIRST_ACTION_MS,
        obstacle: format!(
            "p50s at c=1: admission (submit → `queued`: the run is written to the store, \
             fsync included, before it starts) {admit:.1} ms; context lease (`browser_ready` \
             launch_ms) {lease:.0} ms; the rest (session and router start) ≈ {:.0} ms",
            first - admit - lease
        ),
    }
}

/// (d)'s PSS per concurrent run, beside (a), d-cold and the idle warm pool.
fn pss_goal(levels: &[Level]) -> Goal {
    let (d, a) = (System::Pilothouse, System::BareContext);
    let pss = pss_per_run(levels, d);
    let bare_pss = pss_per_run(levels, a);
    Goal {
        goal: format!(
            "PSS per concurrent run ≤ {:.0} MB (c={PSS_CONCURRENCY})",
            PSS_PER_RUN_BYTES / 1e6
        ),
        measured: format!("{:.0} MB ((a): {:.0} MB)", pss / 1e6, bare_pss / 1e6),
        met: pss <= PSS_PER_RUN_BYTES,
        obstacle: format!(
            "bare Chromium with a context per run needs {:.0} MB/run by the same method; \
             Pilothouse without spare contexts (d-cold) {:.0} MB/run; idle, the warm pool holds \
             {:.0} MB, {:.0} MB more than without spares",
            bare_pss / 1e6,
            pss_per_run(levels, System::PilothouseCold) / 1e6,
            idle_pss(levels, d) / 1e6,
            (idle_pss(levels, d) - idle_pss(levels, System::PilothouseCold)) / 1e6
        ),
    }
}

/// The throughput recording costs (d), at c=1 and c=4.
fn recording_goal(levels: &[Level]) -> Goal {
    let d = System::Pilothouse;
    let cost = |c| 1.0 - rate(levels, System::PilothouseRecording, c) / rate(levels, d, c);
    let (cost_c1, cost_c4) = (cost(1), cost(4));
    Goal {
        goal: format!(
            "recording costs ≤ {:.0} % of throughput",
            RECORDING_COST * 100.0
        ),
        measured: format!(
            "{:.0} % at c=1, {:.0} % at c=4",
            cost_c1 * 100.0,
            cost_c4 * 100.0
        ),
        met: cost_c1 <= RECORDING_COST && cost_c4 <= RECORDING_COST,
        obstacle: recording_gap(levels, if cost_c4 > cost_c1 { 4 } else { 1 }),
    }
}

/// Memory per finished run, split into runs the registry keeps and runs it evicted.
fn memory_goal(memory: &MemoryReport) -> Goal {
    let per_run = (memory.rss_end - memory.rss_start) / memory.runs as f64;
    let bound = memory.runs.min(memory.registry_bound).max(1);
    let kept = (memory.rss_bound - memory.rss_start) / bound as f64;
    let evicted = if memory.runs > bound {
        (memory.rss_end - memory.rss_bound) / (memory.runs - bound) as f64
    } else {
        f64::NAN
    };
    Goal {
        goal: "≤ 4 KB per finished run in memory".into(),
        measured: format!("{per_run:.0} B/run over {} runs", memory.runs),
        met: per_run <= BYTES_PER_RUN,
        obstacle: format!(
            "a run kept in the registry (the last {}) holds ≈ {kept:.0} B; after eviction \
             ≈ {evicted:.0} B/run stays",
            memory.registry_bound
        ),
    }
}

/// Where (d)'s run time differs from (a)'s at concurrency `c`: start, the actions (the three
/// steps that differ most), and the end.
fn run_time_gap(levels: &[Level], c: usize) -> String {
    let (d, a) = (System::Pilothouse, System::BareContext);
    let delta = |value: &dyn Fn(&crate::RunSample) -> Option<f64>| {
        metric(levels, d, c, 50.0, value) - metric(levels, a, c, 50.0, value)
    };
    let run = delta(&|s| Some(s.wall_ms));
    let start = delta(&|s| Some(s.first_action_ms));
    let lease = metric(levels, d, c, 50.0, |s| s.lease_ms);
    let actions = delta(&|s| Some(s.steps.iter().sum()));
    let end = delta(&|s| Some(end_ms(s)));
    let top = top_steps(|step| delta(&|s| s.steps.get(step).copied()));
    format!(
        "run p50 {run:+.0} ms vs (a) at c={c}: start {start:+.0} (context lease p50 \
         {lease:.0} ms), actions {actions:+.0} (most: {}), end {end:+.0}",
        top.join(", ")
    )
}

/// What recording adds per run at concurrency `c`: over the actions (the three steps it slows
/// most) and at the end (finalize: final DOM, report, writes).
fn recording_gap(levels: &[Level], c: usize) -> String {
    let (on, off) = (System::PilothouseRecording, System::Pilothouse);
    let delta = |value: &dyn Fn(&crate::RunSample) -> Option<f64>| {
        metric(levels, on, c, 50.0, value) - metric(levels, off, c, 50.0, value)
    };
    let top = top_steps(|step| delta(&|s| s.steps.get(step).copied()));
    format!(
        "recording adds {:+.0} ms per run p50 at c={c}: {:+.0} ms over the ten actions (a \
         screenshot after each; most: {}), {:+.0} ms at the end (final DOM, report, writes)",
        delta(&|s| Some(s.wall_ms)),
        delta(&|s| Some(s.steps.iter().sum())),
        top.join(", "),
        delta(&|s| Some(end_ms(s)))
    )
}

/// The idle PSS reading of `system` at `PSS_CONCURRENCY`, in bytes; NaN when not taken.
fn idle_pss(levels: &[Level], system: System) -> f64 {
    levels
        .iter()
        .find(|l| l.system == system && l.concurrency == PSS_CONCURRENCY)
        .and_then(|l| l.idle_pss)
        .map_or(f64::NAN, |b| b as f64)
}

/// One goal's row.
struct Goal {
    goal: String,
    measured: String,
    met: bool,
    obstacle: String,
}

/// The three steps whose p50 grew most (`step_delta` of a step's index), as "name +ms".
fn top_steps(step_delta: impl Fn(usize) -> f64) -> Vec<String> {
    let mut steps: Vec<(usize, f64)> = (0..STEP_NAMES.len())
        .map(|step| (step, step_delta(step)))
        .collect();
    steps.sort_by(|x, y| y.1.total_cmp(&x.1));
    steps
        .iter()
        .take(3)
        .map(|&(step, ms)| format!("{} {ms:+.0}", STEP_NAMES[step]))
        .collect()
}
