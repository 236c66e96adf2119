//! The run index: every stored run's id, state and labels, in memory, so `list_page` filters and
//! pages without reading a file per run. Built once at start from the store and kept current by
//! [`IndexedStore`], which updates it on every status write that reaches the store.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::event::RunEvent;
use crate::run::{RunId, RunState, RunStatus};
use crate::store::{LogWriter, RunStore};

/// Which runs `list_page` returns: newest first, after `cursor`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Only runs carrying every one of these labels with these values.
    pub labels: BTreeMap<String, String>,
    /// Runs per page (0 means the default, 50; at most 1000).
    pub limit: usize,
    /// The last run id of the previous page; this page holds older runs.
    pub cursor: Option<RunId>,
}

/// One page of runs, newest first; `next_cursor` continues after the last one.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPage {
    /// The runs' statuses.
    pub runs: Vec<RunStatus>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<RunId>,
}

/// Runs per page when a query says 0.
pub(crate) const DEFAULT_PAGE: usize = 50;
/// The largest page.
pub(crate) const MAX_PAGE: usize = 1_000;

#[derive(Clone, Debug)]
struct Entry {
    state: RunState,
    labels: BTreeMap<String, String>,
}

/// Every stored run, by id (ids are time-ordered, so the map is in creation order).
#[derive(Debug, Default)]
pub(crate) struct RunIndex {
    runs: RwLock<BTreeMap<RunId, Entry>>,
}

impl RunIndex {
    /// Reads every stored status once. Blocking (file I/O): call at start, off the runtime.
    pub(crate) fn build(store: &dyn RunStore) -> Self {
        let index = Self::default();
        for run_id in store.run_ids() {
            if let Some(status) = store.load_status(run_id) {
                index.upsert(&status);
            }
        }
        index
    }

    /// Records a status that reached the store.
    pub(crate) fn upsert(&self, status: &RunStatus) {
        let entry = Entry {
            state: status.state,
            labels: status.labels.clone(),
        };
        self.write().insert(status.run_id, entry);
    }

    /// True when the run is in the store.
    pub(crate) fn contains(&self, run_id: RunId) -> bool {
        self.read().contains_key(&run_id)
    }

    /// Every indexed run id, oldest first.
    pub(crate) fn ids(&self) -> Vec<RunId> {
        self.read().keys().copied().collect()
    }

    /// The ids of one page, newest first, and the cursor of the next. `live_state` gives the
    /// state of runs still in memory (fresher than the index, whose writes run behind).
    pub(crate) fn page(
        &self,
        query: &ListQuery,
        live_state: impl Fn(RunId) -> Option<RunState>,
    ) -> (Vec<RunId>, Option<RunId>) {
        let limit = match query.limit {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let runs = self.read();
        let upper = query.cursor.map_or(Bound::Unbounded, Bound::Excluded);
        let mut matching = runs
            .range((Bound::Unbounded, upper))
            .rev()
            .filter(|(id, entry)| {
                let state = live_state(**id).unwrap_or(entry.state);
                query.state.is_none_or(|wanted| wanted == state)
                    && query
                        .labels
                        .iter()
                        .all(|(k, v)| entry.labels.get(k) == Some(v))
            })
            .map(|(id, _)| *id);
        let ids: Vec<RunId> = matching.by_ref().take(limit).collect();
        let more = matching.next().is_some();
        let next = if more { ids.last().copied() } else { None };
        (ids, next)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<RunId, Entry>> {
        self.runs.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<RunId, Entry>> {
        self.runs.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// A store that keeps the index current: every successful status write updates it.
#[derive(Debug)]
pub(crate) struct IndexedStore {
    inner: Arc<dyn RunStore>,
    index: Arc<RunIndex>,
}

impl IndexedStore {
    pub(crate) fn new(inner: Arc<dyn RunStore>, index: Arc<RunIndex>) -> Self {
        Self { inner, index }
    }
}

impl RunStore for IndexedStore {
    fn create_run(&self, run_id: RunId) -> std::io::Result<PathBuf> {
        self.inner.create_run(run_id)
    }

    fn write_status(&self, status: &RunStatus) -> std::io::Result<()> {
        self.inner.write_status(status)?;
        self.index.upsert(status);
        Ok(())
    }

    fn load_status(&self, run_id: RunId) -> Option<RunStatus> {
        self.inner.load_status(run_id)
    }

    fn open_log(&self, run_id: RunId) -> std::io::Result<Box<dyn LogWriter>> {
        self.inner.open_log(run_id)
    }

    fn load_events(&self, run_id: RunId) -> Vec<RunEvent> {
        self.inner.load_events(run_id)
    }

    fn run_ids(&self) -> Vec<RunId> {
        self.index.ids()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: RunState, team: &str) -> RunStatus {
        let mut labels = BTreeMap::new();
        labels.insert("team".to_owned(), team.to_owned());
        let mut status = RunStatus::new_queued(RunId::new(), "script", labels);
        status.state = state;
        status
    }

    #[test]
    fn pages_run_newest_first_with_filters_and_a_cursor() {
        let index = RunIndex::default();
        let mut ids = Vec::new();
        for i in 0..7 {
            let state = if i % 2 == 0 {
                RunState::Completed
            } else {
                RunState::Failed
            };
            let s = status(state, if i < 4 { "a" } else { "b" });
            ids.push(s.run_id);
            index.upsert(&s);
        }
        let none = |_| None;
        let query = ListQuery {
            limit: 3,
            ..ListQuery::default()
        };
        let (first, next) = index.page(&query, none);
        assert_eq!(first, vec![ids[6], ids[5], ids[4]]);
        let (second, next) = index.page(
            &ListQuery {
                cursor: next,
                ..query.clone()
            },
            none,
        );
        assert_eq!(second, vec![ids[3], ids[2], ids[1]]);
        let (third, next) = index.page(
            &ListQuery {
                cursor: next,
                ..query.clone()
            },
            none,
        );
        assert_eq!((third, next), (vec![ids[0]], None));

        let mut labels = BTreeMap::new();
        labels.insert("team".to_owned(), "a".to_owned());
        let failed_a = ListQuery {
            state: Some(RunState::Failed),
            labels,
            ..ListQuery::default()
        };
        assert_eq!(index.page(&failed_a, none).0, vec![ids[3], ids[1]]);
        // A live state wins over the indexed one.
        let live = |id| (id == ids[0]).then_some(RunState::Failed);
        assert_eq!(index.page(&failed_a, live).0, vec![ids[3], ids[1], ids[0]]);
    }

    #[test]
    fn the_indexed_store_indexes_what_it_writes() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn RunStore> = Arc::new(crate::store::DirStore::new(dir.path()));
        let old = status(RunState::Completed, "a");
        inner.write_status(&old).unwrap();
        let index = Arc::new(RunIndex::build(inner.as_ref()));
        let store = IndexedStore::new(inner, index.clone());
        let new = status(RunState::Queued, "b");
        store.write_status(&new).unwrap();
        assert_eq!(store.run_ids(), vec![old.run_id, new.run_id]);
        let queued = ListQuery {
            state: Some(RunState::Queued),
            ..ListQuery::default()
        };
        assert_eq!(index.page(&queued, |_| None).0, vec![new.run_id]);
    }
}
