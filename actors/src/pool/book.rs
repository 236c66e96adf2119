//! The pool's bookkeeping, apart from any browser: which processes are up, starting or
//! retiring, how many runs each serves, which spare contexts wait where, and what to start
//! next. Generic over the process and spare types so its rules are tested without Chromium.

use std::collections::VecDeque;

use super::PoolStats;
use crate::config::BrowserConfig;

/// A process of the pool, numbered from 1 in start order.
pub(crate) type HostId = u64;

/// Failed starts in a row after which the pool stops retrying until a run asks again.
const MAX_START_FAILURES: u32 = 3;

struct Entry<H> {
    id: HostId,
    /// `None` while starting.
    host: Option<H>,
    /// Contexts handed out over its life.
    served: u32,
    /// Contexts held by runs now.
    live: usize,
    /// Spare contexts being made in it.
    making: usize,
    /// Takes no new context; closed once its runs end.
    retiring: bool,
}

impl<H> Entry<H> {
    fn is_up(&self) -> bool {
        self.host.is_some() && !self.retiring
    }
}

/// Processes, spares and counters.
pub(crate) struct Book<H, S> {
    target_processes: usize,
    target_spares: usize,
    recycle_after: u32,
    max_bytes: u64,
    entries: Vec<Entry<H>>,
    spares: VecDeque<(HostId, S)>,
    /// Retired or dead processes for the actor to close.
    closable: Vec<H>,
    next_id: HostId,
    served_total: u64,
    recycled: u64,
    crashed: u64,
    failures: u32,
    last_error: Option<String>,
}

impl<H, S> Book<H, S> {
    pub(crate) fn new(config: &BrowserConfig) -> Self {
        Self {
            target_processes: config.pool_size(),
            target_spares: config.spare_contexts,
            recycle_after: config.recycle_after_contexts,
            max_bytes: config.max_process_mb.saturating_mul(1024 * 1024),
            entries: Vec::new(),
            spares: VecDeque::new(),
            closable: Vec::new(),
            next_id: 1,
            served_total: 0,
            recycled: 0,
            crashed: 0,
            failures: 0,
            last_error: None,
        }
    }

    /// A process to start, when fewer than the target are up or starting.
    pub(crate) fn next_start(&mut self) -> Option<HostId> {
        let serving = self.entries.iter().filter(|e| !e.retiring).count();
        if serving >= self.target_processes || self.failures >= MAX_START_FAILURES {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push(Entry {
            id,
            host: None,
            served: 0,
            live: 0,
            making: 0,
            retiring: false,
        });
        Some(id)
    }

    pub(crate) fn started(&mut self, id: HostId, host: H) {
        self.failures = 0;
        self.last_error = None;
        match self.entry(id) {
            Some(entry) => entry.host = Some(host),
            None => self.closable.push(host),
        }
    }

    pub(crate) fn start_failed(&mut self, id: HostId, error: String) {
        self.entries.retain(|e| e.id != id);
        self.failures += 1;
        self.last_error = Some(error);
    }

    /// Why no run can get a context now: nothing is up or starting, and the last start
    /// failed. Asking again allows a fresh attempt.
    pub(crate) fn unavailable(&mut self) -> Option<String> {
        if self.entries.iter().any(|e| !e.retiring) {
            return None;
        }
        let error = self.last_error.clone()?;
        self.failures = 0;
        Some(error)
    }

    /// The process to make the next spare in, when spares (waiting and being made) are short
    /// of the target plus the runs waiting: the up process with the least load.
    pub(crate) fn next_spare(&mut self, waiting: usize) -> Option<(HostId, &H)> {
        let making: usize = self.entries.iter().map(|e| e.making).sum();
        if self.spares.len() + making >= self.target_spares + waiting {
            return None;
        }
        let spares = &self.spares;
        let entry = self
            .entries
            .iter_mut()
            .filter(|e| e.is_up())
            .min_by_key(|e| {
                e.live + e.making + spares.iter().filter(|(h, _)| *h == e.id).count()
            })?;
        entry.making += 1;
        Some((entry.id, entry.host.as_ref()?))
    }

    /// A spare was made: kept when its process still serves, else dropped (disposed).
    pub(crate) fn made(&mut self, id: HostId, spare: S) -> Option<S> {
        let entry = self.entry(id)?;
        entry.making = entry.making.saturating_sub(1);
        let serving = entry.is_up();
        self.collect(id);
        serving.then_some(spare)
    }

    pub(crate) fn make_failed(&mut self, id: HostId) {
        if let Some(entry) = self.entry(id) {
            entry.making = entry.making.saturating_sub(1);
        }
        self.collect(id);
    }

    pub(crate) fn keep_spare(&mut self, id: HostId, spare: S) {
        self.spares.push_back((id, spare));
    }

    /// The oldest spare, leased.
    pub(crate) fn take_spare(&mut self) -> Option<(HostId, S)> {
        let (id, spare) = self.spares.pop_front()?;
        Some(self.lease(id, spare))
    }

    /// Counts a lease; a process that served `recycle_after_contexts` retires.
    pub(crate) fn lease(&mut self, id: HostId, spare: S) -> (HostId, S) {
        self.served_total += 1;
        let recycle_after = self.recycle_after;
        if let Some(entry) = self.entry(id) {
            entry.served += 1;
            entry.live += 1;
            if recycle_after > 0 && entry.served >= recycle_after {
                self.retire(id);
            }
        }
        (id, spare)
    }

    /// A run's lease ended.
    pub(crate) fn released(&mut self, id: HostId) {
        if let Some(entry) = self.entry(id) {
            entry.live = entry.live.saturating_sub(1);
        }
        self.collect(id);
    }

    /// A process died: its spares go, and it is replaced.
    pub(crate) fn died(&mut self, id: HostId) {
        let Some(index) = self.entries.iter().position(|e| e.id == id) else {
            return;
        };
        let entry = self.entries.remove(index);
        self.spares.retain(|(h, _)| *h != id);
        self.crashed += 1;
        self.closable.extend(entry.host);
    }

    /// Memory per process: one above `max_process_mb` retires.
    pub(crate) fn measured(&mut self, sizes: &[(HostId, u64)]) {
        for &(id, bytes) in sizes {
            if self.max_bytes > 0 && bytes > self.max_bytes {
                tracing::info!(
                    host = id,
                    bytes,
                    "a pooled browser passed max_process_mb; recycling it"
                );
                self.retire(id);
            }
        }
    }

    /// Retired and dead processes to close now.
    pub(crate) fn take_closable(&mut self) -> Vec<H> {
        std::mem::take(&mut self.closable)
    }

    /// Every process and spare, for shutdown.
    pub(crate) fn drain(&mut self) -> Vec<H> {
        self.spares.clear();
        let mut hosts = self.take_closable();
        hosts.extend(self.entries.drain(..).filter_map(|e| e.host));
        hosts
    }

    /// Every process of the book, starting or up.
    pub(crate) fn ids(&self) -> impl Iterator<Item = HostId> {
        self.entries.iter().map(|e| e.id)
    }

    /// The processes up, for measuring.
    pub(crate) fn hosts(&self) -> impl Iterator<Item = (HostId, &H)> {
        self.entries
            .iter()
            .filter_map(|e| Some((e.id, e.host.as_ref()?)))
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let processes = self.entries.iter().filter(|e| e.is_up()).count();
        PoolStats {
            isolation: "",
            processes,
            starting: self.entries.iter().filter(|e| e.host.is_none()).count(),
            spare_contexts: self.spares.len(),
            leased: self.entries.iter().map(|e| e.live).sum(),
            contexts_served: self.served_total,
            recycled: self.recycled,
            crashed: self.crashed,
            ready: processes > 0,
            last_error: if processes > 0 {
                None
            } else {
                self.last_error.clone()
            },
        }
    }

    fn entry(&mut self, id: HostId) -> Option<&mut Entry<H>> {
        self.entries.iter_mut().find(|e| e.id == id)
    }

    fn retire(&mut self, id: HostId) {
        if let Some(entry) = self.entry(id)
            && !entry.retiring
        {
            entry.retiring = true;
            self.recycled += 1;
        }
        self.spares.retain(|(h, _)| *h != id);
        self.collect(id);
    }

    /// Moves a retiring process with no run and no spare in the making to `closable`.
    fn collect(&mut self, id: HostId) {
        let done = |e: &Entry<H>| e.id == id && e.retiring && e.live == 0 && e.making == 0;
        if let Some(index) = self.entries.iter().position(done) {
            let entry = self.entries.remove(index);
            self.closable.extend(entry.host);
        }
    }
}

#[cfg(test)]
mod tests;
