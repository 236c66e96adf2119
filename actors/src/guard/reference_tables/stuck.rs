//! The reference system's stuck-detection tables (`test_stuck.py`): repetition, windows,
//! cycles, the escalation count and URL revisits, ported as inputs and expected outcomes.

use super::*;

fn detector(f: impl FnOnce(&mut StuckSpec)) -> StuckDetector {
    let mut spec = StuckSpec::default();
    f(&mut spec);
    StuckDetector::new(spec)
}

/// A detector with `revisit_gap = n` (and repetition out of the way).
fn gap(n: usize) -> impl FnOnce(&mut StuckSpec) {
    move |s: &mut StuckSpec| {
        s.revisit_gap = n;
        s.repeat_hint = 20;
    }
}

fn sev(v: Option<Verdict>) -> Option<Severity> {
    v.map(|v| v.severity)
}

fn click(d: &mut StuckDetector, sel: &str) -> Option<Severity> {
    sev(d.observe(format!("click {sel}"), false, &[]))
}

fn goto(d: &mut StuckDetector, url: &str) -> Option<Severity> {
    sev(d.observe(format!("goto {url}"), false, &[url.to_owned()]))
}

/// test_stuck.py: repetition, windows, cycles and the escalation count.
#[test]
fn the_reference_repetition_and_cycle_table() {
    repetition();
    cycles_and_escalation();
}

/// Repeats: levels, the window, successes and failures alike, only consecutive ones.
fn repetition() {
    // No detection with varied actions.
    let mut d = detector(|_| {});
    for i in 0..8 {
        assert_eq!(click(&mut d, &format!("#btn-{i}")), None);
    }
    // Hint at 3, warning at 5, stop at 7 (window 10).
    let mut d = detector(|s| s.window_size = 10);
    let levels: Vec<_> = (0..7).map(|_| click(&mut d, "#submit")).collect();
    assert_eq!(levels[2], Some(Severity::Hint));
    assert_eq!(levels[4], Some(Severity::Warning));
    assert_eq!(levels[6], Some(Severity::Stop));
    // Window trimming: old repeats fall out.
    let mut d = detector(|s| s.window_size = 4);
    for sel in ["#a", "#a", "#b", "#c", "#d"] {
        click(&mut d, sel);
    }
    assert_eq!(click(&mut d, "#a"), None);
    // Success or failure, repetition counts.
    let mut d = detector(|_| {});
    d.observe("click #submit".into(), false, &[]);
    d.observe("click #submit".into(), true, &[]);
    assert_eq!(click(&mut d, "#submit"), Some(Severity::Hint));
    // Non-consecutive repeats do not trigger.
    let mut d = detector(|s| s.window_size = 8);
    for sel in ["#submit", "#other", "#submit", "#other"] {
        click(&mut d, sel);
    }
    assert_eq!(click(&mut d, "#submit"), None);
}

/// Cycles of 2 and 3, their escalation, and the count's decay.
fn cycles_and_escalation() {
    // Cycles of 2 and 3.
    let mut d = detector(|s| s.window_size = 10);
    for _ in 0..3 {
        click(&mut d, "#next");
        click(&mut d, "#prev");
    }
    assert!(d.stuck_count() >= 1);
    let mut d = detector(|s| s.repeat_hint = 10);
    for _ in 0..3 {
        for sel in ["#a", "#b", "#c"] {
            click(&mut d, sel);
        }
    }
    assert!(d.stuck_count() >= 1);
    let mut d = detector(|s| s.window_size = 10);
    let mut last = None;
    for sel in ["#a", "#b", "#c", "#d"] {
        last = click(&mut d, sel);
    }
    assert_eq!(last, None);
    // Repeated cycles escalate.
    let mut d = detector(|s| {
        s.cycle_max_length = 2;
        s.repeat_hint = 20;
    });
    for _ in 0..3 {
        click(&mut d, "#x");
        click(&mut d, "#y");
    }
    assert!(d.stuck_count() >= 1);
    for _ in 0..3 {
        click(&mut d, "#x");
        click(&mut d, "#y");
    }
    assert!(d.stuck_count() >= 2);
    // Every detection counts; a clean action decays the count.
    let mut d = detector(|_| {});
    for _ in 0..3 {
        click(&mut d, "#submit");
    }
    assert_eq!(d.stuck_count(), 1);
    click(&mut d, "#other");
    assert_eq!(d.stuck_count(), 0);
}

/// test_stuck.py TestUrlRevisitDetection.
#[test]
fn the_reference_url_revisit_table() {
    revisits_and_their_gap();
    what_counts_as_a_visit();
}

/// First visits, revisits inside and past the gap, and their escalation and decay.
fn revisits_and_their_gap() {
    // First visit; a revisit inside the gap; one past it.
    let mut d = detector(gap(3));
    assert_eq!(goto(&mut d, "https://example.com"), None);
    let mut d = detector(gap(5));
    goto(&mut d, "https://example.com");
    click(&mut d, "#a");
    click(&mut d, "#b");
    assert_eq!(goto(&mut d, "https://example.com"), None);
    let mut d = detector(gap(5));
    goto(&mut d, "https://example.com/dashboard");
    for i in 0..5 {
        click(&mut d, &format!("#btn-{i}"));
    }
    let v = d
        .observe(
            "goto dashboard".into(),
            false,
            &["https://example.com/dashboard".to_owned()],
        )
        .unwrap();
    assert_eq!(v.severity, Severity::Hint);
    assert!(v.message.contains("already visited"), "{}", v.message);
    // Rapid returns escalate: the gap is measured from the first visit.
    let mut d = detector(gap(3));
    goto(&mut d, "https://example.com");
    for i in 0..4 {
        click(&mut d, &format!("#a-{i}"));
    }
    assert_eq!(goto(&mut d, "https://example.com"), Some(Severity::Hint));
    assert_eq!(goto(&mut d, "https://example.com"), Some(Severity::Hint));
    assert_eq!(goto(&mut d, "https://example.com"), Some(Severity::Warning));
    // Separated returns decay back to a hint.
    let mut d = detector(gap(3));
    goto(&mut d, "https://example.com");
    for i in 0..4 {
        click(&mut d, &format!("#a-{i}"));
    }
    goto(&mut d, "https://example.com");
    for i in 0..4 {
        click(&mut d, &format!("#b-{i}"));
    }
    assert_eq!(goto(&mut d, "https://example.com"), Some(Severity::Hint));
}

/// What makes a new page, and which actions visit one.
fn what_counts_as_a_visit() {
    // Host case and a trailing slash do not make a new page; another path or query does.
    for (first, again, want) in [
        (
            "https://Example.COM/Path/",
            "https://example.com/Path",
            Some(Severity::Hint),
        ),
        (
            "https://example.com/page-a",
            "https://example.com/page-b",
            None,
        ),
        (
            "https://example.com/search?q=alpha",
            "https://example.com/search?q=beta",
            None,
        ),
    ] {
        let mut d = detector(gap(3));
        goto(&mut d, first);
        for i in 0..4 {
            click(&mut d, &format!("#x-{i}"));
        }
        assert_eq!(goto(&mut d, again), want, "{first} then {again}");
    }
    // A failed goto visits nothing.
    let mut d = detector(gap(3));
    d.observe(
        "goto example".into(),
        true,
        &["https://example.com".to_owned()],
    );
    for i in 0..4 {
        click(&mut d, &format!("#x-{i}"));
    }
    assert_eq!(goto(&mut d, "https://example.com"), None);
    // A sequence's visits, and a click that really navigated, count.
    let mut d = detector(gap(3));
    d.observe(
        "sequence".into(),
        false,
        &["https://example.com".to_owned()],
    );
    for i in 0..4 {
        click(&mut d, &format!("#x-{i}"));
    }
    assert_eq!(goto(&mut d, "https://example.com"), Some(Severity::Hint));
    // Once seen, a revisit does not fire again on the clicks that follow (which visit nothing).
    let mut d = detector(gap(3));
    goto(&mut d, "https://example.com");
    for i in 0..4 {
        click(&mut d, &format!("#a-{i}"));
    }
    assert_eq!(goto(&mut d, "https://example.com"), Some(Severity::Hint));
    assert_eq!(click(&mut d, "#next-action"), None);
    assert_eq!(click(&mut d, "#another-action"), None);
}
