//! The pool's rules without a browser: warm-up targets, least-loaded spares, recycling after
//! N contexts and above the memory bound, replacement after a death, and start failures.

use super::*;

fn config(processes: usize, spares: usize, recycle_after: u32) -> BrowserConfig {
    BrowserConfig {
        pool_processes: processes,
        spare_contexts: spares,
        recycle_after_contexts: recycle_after,
        max_process_mb: 100,
        ..BrowserConfig::default()
    }
}

/// A book with every process started; hosts are named by their id.
fn warm(processes: usize, spares: usize, recycle_after: u32) -> Book<HostId, &'static str> {
    let mut book = Book::new(&config(processes, spares, recycle_after));
    while let Some(id) = book.next_start() {
        book.started(id, id);
    }
    book
}

fn make_spares(book: &mut Book<HostId, &'static str>) -> Vec<HostId> {
    let mut made = Vec::new();
    while let Some((id, _)) = book.next_spare(0) {
        made.push(id);
    }
    for &id in &made {
        let spare = book.made(id, "spare").expect("kept");
        book.keep_spare(id, spare);
    }
    made
}

#[test]
fn warm_up_starts_the_target_and_spreads_spares_over_processes() {
    let mut book = warm(2, 4, 0);
    assert_eq!(book.stats().processes, 2);
    assert_eq!(book.next_start(), None);
    let made = make_spares(&mut book);
    assert_eq!(made.len(), 4);
    assert_eq!(made.iter().filter(|&&h| h == 1).count(), 2, "{made:?}");
    assert_eq!(book.stats().spare_contexts, 4);
    assert!(book.stats().ready);
}

#[test]
fn runs_waiting_raise_the_spares_in_the_making() {
    let mut book = warm(1, 0, 0);
    assert!(book.next_spare(0).is_none());
    assert!(book.next_spare(2).is_some());
    assert!(book.next_spare(2).is_some());
    assert!(book.next_spare(2).is_none());
}

#[test]
fn a_process_retires_after_n_contexts_and_closes_when_its_runs_end() {
    let mut book = warm(1, 1, 2);
    make_spares(&mut book);
    let (first, _) = book.take_spare().unwrap();
    make_spares(&mut book);
    let (second, _) = book.take_spare().unwrap();
    assert_eq!((first, second), (1, 1));
    let stats = book.stats();
    assert_eq!((stats.recycled, stats.processes, stats.leased), (1, 0, 2));
    // Its replacement starts at once; the retired one waits for its runs.
    assert_eq!(book.next_start(), Some(2));
    book.released(1);
    assert!(book.take_closable().is_empty());
    book.released(1);
    assert_eq!(book.take_closable(), vec![1]);
}

#[test]
fn a_process_above_the_memory_bound_retires() {
    let mut book = warm(1, 2, 0);
    make_spares(&mut book);
    book.measured(&[(1, 50 << 20)]);
    assert_eq!(book.stats().recycled, 0);
    book.measured(&[(1, 200 << 20)]);
    let stats = book.stats();
    assert_eq!((stats.recycled, stats.spare_contexts), (1, 0));
    assert_eq!(book.take_closable(), vec![1], "no run held it");
}

#[test]
fn a_dead_process_loses_its_spares_and_is_replaced() {
    let mut book = warm(2, 2, 0);
    make_spares(&mut book);
    book.died(1);
    let stats = book.stats();
    assert_eq!(
        (stats.crashed, stats.processes, stats.spare_contexts),
        (1, 1, 1)
    );
    assert_eq!(book.take_closable(), vec![1]);
    assert_eq!(book.next_start(), Some(3));
    // A late release from a run of the dead process changes nothing.
    book.released(1);
    assert_eq!(book.stats().leased, 0);
}

#[test]
fn a_spare_made_for_a_retired_process_is_dropped() {
    let mut book = warm(1, 1, 0);
    let (id, _) = book.next_spare(0).unwrap();
    book.measured(&[(id, 1 << 40)]);
    assert!(
        book.take_closable().is_empty(),
        "a spare is still being made"
    );
    assert_eq!(book.made(id, "spare"), None);
    assert_eq!(book.take_closable(), vec![1]);
}

#[test]
fn failed_starts_stop_retrying_until_a_run_asks() {
    let mut book: Book<HostId, &str> = Book::new(&config(1, 1, 0));
    for _ in 0..MAX_START_FAILURES {
        let id = book.next_start().unwrap();
        book.start_failed(id, "no chromium at /nope".into());
    }
    assert_eq!(book.next_start(), None);
    assert_eq!(
        book.stats().last_error.as_deref(),
        Some("no chromium at /nope")
    );
    assert_eq!(book.unavailable().as_deref(), Some("no chromium at /nope"));
    assert!(
        book.next_start().is_some(),
        "asking again allows a fresh attempt"
    );
    assert_eq!(book.unavailable(), None, "one is starting");
}
