//! Guardrail precedence: where a run's guardrails come from three places — the operator's
//! `[guardrails]` floors, the request, and a playbook's own `guardrails` — the run gets what all
//! of them allow, and nothing any of them forbids. Each side means what it would mean alone
//! (an empty `allowed_domains` is "any public host", and with no `blocked_domains` of its own
//! it brings the built-in blocked list); [`narrow`] intersects two sides:
//!
//! - `allowed_domains`: the intersection, by coverage (`a.example` and `www.a.example` meet in
//!   `www.a.example`); empty on one side means the other side's list. Lists that do not meet
//!   at all are refused at submit; should two ever reach here, the run may go nowhere.
//! - `blocked_domains`: the union of both sides' lists (each side's built-in list included when
//!   it would apply to that side alone).
//! - `allow_private_networks`: only when both allow them.
//! - `task_kind`: the stricter, in the order navigate < read < interact < fill_form.
//! - `max_urls_visited`, `max_consecutive_errors`: the smaller.
//! - `stuck`: detection on if either side turns it on; the outer side's thresholds unless it
//!   left them at their defaults.

use super::scope;
use crate::config::GuardrailFloor;
use crate::request::{GuardrailSpec, StuckSpec, TaskKind};

/// The glob a run gets when its allow-lists do not meet: it matches every host.
const NOWHERE: &str = "*";

/// What both `outer` and `inner` allow (see the module docs). Symmetric but for `stuck`.
pub(crate) fn narrow(outer: &GuardrailSpec, inner: &GuardrailSpec) -> GuardrailSpec {
    let (allowed, nowhere) = match intersect_allowed(&outer.allowed_domains, &inner.allowed_domains)
    {
        Some(allowed) => (allowed, false),
        None => (outer.allowed_domains.clone(), true),
    };
    let mut blocked = effective_blocked(outer);
    for glob in effective_blocked(inner) {
        if !blocked.contains(&glob) {
            blocked.push(glob);
        }
    }
    if nowhere {
        blocked.push(NOWHERE.to_owned());
    }
    // Canonical shape: unset is the built-in list when no hosts are named, and no list when
    // some are (see `Guard::new`), so a narrowing that changes nothing changes no field.
    let unset = if allowed.is_empty() {
        blocked.iter().eq(scope::DEFAULT_BLOCKED_DOMAINS)
    } else {
        blocked.is_empty()
    };
    let stuck = if outer.stuck.thresholds_are_default() {
        inner.stuck.clone()
    } else {
        outer.stuck.clone()
    };
    GuardrailSpec {
        allowed_domains: allowed,
        blocked_domains: (!unset).then_some(blocked),
        allow_private_networks: outer.allow_private_networks && inner.allow_private_networks,
        max_urls_visited: smaller(outer.max_urls_visited, inner.max_urls_visited),
        max_consecutive_errors: smaller(outer.max_consecutive_errors, inner.max_consecutive_errors),
        task_kind: match (outer.task_kind, inner.task_kind) {
            (None, None) => None,
            _ => Some(stricter(outer.kind(), inner.kind())),
        },
        stuck: StuckSpec {
            enabled: match (outer.stuck.enabled, inner.stuck.enabled) {
                (Some(a), Some(b)) => Some(a || b),
                (a, b) => a.or(b),
            },
            ..stuck
        },
    }
}

/// `spec` within the operator's floors.
pub(crate) fn within_floor(spec: &GuardrailSpec, floor: &GuardrailFloor) -> GuardrailSpec {
    let floor = GuardrailSpec {
        allowed_domains: floor.allowed_domains.clone(),
        // Explicit, so an empty floor brings no built-in list of its own.
        blocked_domains: Some(floor.blocked_domains.clone()),
        allow_private_networks: floor.allow_private_networks,
        task_kind: Some(TaskKind::FillForm),
        ..GuardrailSpec::default()
    };
    narrow(&floor, spec)
}

/// Hosts both lists allow; an empty list allows any host. `None` when both name hosts and
/// none of them meet.
pub(crate) fn intersect_allowed(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.is_empty() {
        return Some(b.to_vec());
    }
    if b.is_empty() {
        return Some(a.to_vec());
    }
    let mut both = Vec::new();
    for x in a {
        for y in b {
            let (nx, ny) = (scope::normalize(x), scope::normalize(y));
            let within = if scope::covers(&nx, &ny) {
                Some(y)
            } else if scope::covers(&ny, &nx) {
                Some(x)
            } else {
                None
            };
            if let Some(host) = within.filter(|h| !both.contains(*h)) {
                both.push(host.clone());
            }
        }
    }
    (!both.is_empty()).then_some(both)
}

/// The blocked globs `spec` would apply on its own.
fn effective_blocked(spec: &GuardrailSpec) -> Vec<String> {
    match &spec.blocked_domains {
        Some(globs) => globs.clone(),
        None if spec.allowed_domains.is_empty() => scope::DEFAULT_BLOCKED_DOMAINS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        None => Vec::new(),
    }
}

fn smaller(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The kind that allows less: navigate < read < interact < fill_form (`navigate` has fewer
/// actions than `read`; `fill_form` may click more controls than `interact`).
pub(crate) fn stricter(a: TaskKind, b: TaskKind) -> TaskKind {
    let rank = |k: TaskKind| match k {
        TaskKind::Navigate => 0,
        TaskKind::Read => 1,
        TaskKind::Interact => 2,
        TaskKind::FillForm => 3,
    };
    if rank(a) <= rank(b) { a } else { b }
}

/// One line stating a run's effective guardrails, for the `log` event at its start.
pub(crate) fn describe(spec: &GuardrailSpec) -> String {
    let list = |l: &[String]| format!("[{}]", l.join(", "));
    let allowed = if spec.allowed_domains.is_empty() {
        "any public host".to_owned()
    } else {
        list(&spec.allowed_domains)
    };
    let blocked = match &spec.blocked_domains {
        None if spec.allowed_domains.is_empty() => format!(
            "the built-in list ({} patterns)",
            scope::DEFAULT_BLOCKED_DOMAINS.len()
        ),
        None => "none".to_owned(),
        Some(l) if l.iter().eq(scope::DEFAULT_BLOCKED_DOMAINS) => format!(
            "the built-in list ({} patterns)",
            scope::DEFAULT_BLOCKED_DOMAINS.len()
        ),
        Some(l) if l.is_empty() => "none".to_owned(),
        Some(l) => list(l),
    };
    format!(
        "effective guardrails: allowed_domains {allowed}; blocked_domains {blocked}; \
         private networks {}; task_kind {}; max_urls_visited {}; max_consecutive_errors {}",
        if spec.allow_private_networks {
            "allowed"
        } else {
            "blocked"
        },
        spec.kind().as_str(),
        spec.max_urls_visited
            .unwrap_or(crate::request::DEFAULT_MAX_URLS_VISITED),
        spec.max_consecutive_errors
            .unwrap_or(crate::request::DEFAULT_MAX_CONSECUTIVE_ERRORS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        allowed: &[&str],
        blocked: Option<&[&str]>,
        private: bool,
        kind: TaskKind,
    ) -> GuardrailSpec {
        GuardrailSpec {
            allowed_domains: allowed.iter().map(|s| s.to_string()).collect(),
            blocked_domains: blocked.map(|b| b.iter().map(|s| s.to_string()).collect()),
            allow_private_networks: private,
            task_kind: Some(kind),
            ..GuardrailSpec::default()
        }
    }

    /// The finding: a request allowing only 127.0.0.1 for reading, a playbook allowing
    /// 127.0.0.2 and interaction. The playbook does not widen anything.
    #[test]
    fn a_playbook_cannot_widen_the_request() {
        let request = spec(&["127.0.0.1"], None, true, TaskKind::Read);
        let playbook = spec(&["127.0.0.1", "127.0.0.2"], None, true, TaskKind::Interact);
        let got = narrow(&request, &playbook);
        assert_eq!(got.allowed_domains, ["127.0.0.1"]);
        assert_eq!(got.kind(), TaskKind::Read);
        assert!(got.allow_private_networks);
        assert_eq!(got.blocked_domains, None);
        // Private networks need both sides.
        let closed = spec(&["127.0.0.1"], None, false, TaskKind::Read);
        assert!(!narrow(&closed, &playbook).allow_private_networks);
        assert!(!narrow(&playbook, &closed).allow_private_networks);
    }

    /// Case by case: (request allowed, playbook allowed, effective allowed).
    #[test]
    fn allow_lists_intersect_by_coverage_and_empty_means_the_other_side() {
        let table: &[(&[&str], &[&str], &[&str])] = &[
            (&[], &[], &[]),
            (&[], &["a.example"], &["a.example"]),
            (&["a.example"], &[], &["a.example"]),
            (&["a.example"], &["www.a.example"], &["www.a.example"]),
            (&["www.a.example"], &["a.example"], &["www.a.example"]),
            (&["*.a.example"], &["A.EXAMPLE."], &["A.EXAMPLE."]),
            (
                &["a.example", "b.example"],
                &["b.example", "c.example"],
                &["b.example"],
            ),
            (&["a.example"], &["evila.example"], &["a.example"]),
        ];
        for (a, b, want) in table {
            let got = narrow(
                &spec(a, None, false, TaskKind::Interact),
                &spec(b, None, false, TaskKind::Interact),
            );
            assert_eq!(got.allowed_domains, *want, "{a:?} ∩ {b:?}");
        }
        // Lists that do not meet: nothing is allowed, not everything.
        let got = narrow(
            &spec(&["a.example"], None, false, TaskKind::Interact),
            &spec(&["evila.example"], None, false, TaskKind::Interact),
        );
        assert!(got.blocked_domains.unwrap().contains(&"*".to_owned()));
    }

    #[test]
    fn blocked_lists_unite_and_the_built_in_list_keeps_its_shape() {
        let open = spec(&[], None, false, TaskKind::Interact);
        assert_eq!(narrow(&open, &open).blocked_domains, None);
        // The playbook's own blocked list adds to the request's built-in one.
        let pb = spec(&[], Some(&["ads.example"]), false, TaskKind::Interact);
        let got = narrow(&open, &pb).blocked_domains.unwrap();
        assert!(
            got.contains(&"*.paypal.com".to_owned()) && got.contains(&"ads.example".to_owned())
        );
        // A request with an allow-list has no built-in list; a playbook that names no hosts
        // brings it (it means "any public host but those"), so the intersection keeps it.
        let scoped = spec(&["shop.example"], None, false, TaskKind::Interact);
        let got = narrow(&scoped, &open);
        assert_eq!(got.allowed_domains, ["shop.example"]);
        assert!(got.blocked_domains.unwrap().contains(&"*.gov".to_owned()));
        // Unless the playbook opts out of it explicitly.
        let opt_out = spec(&[], Some(&[]), false, TaskKind::Interact);
        assert_eq!(narrow(&scoped, &opt_out).blocked_domains, None);
    }

    #[test]
    fn the_stricter_task_kind_and_the_smaller_limits_win() {
        use TaskKind::*;
        for (a, b, want) in [
            (Read, Interact, Read),
            (FillForm, Interact, Interact),
            (Navigate, Read, Navigate),
            (FillForm, FillForm, FillForm),
        ] {
            assert_eq!(stricter(a, b), want);
            assert_eq!(stricter(b, a), want);
        }
        let mut a = spec(&[], None, false, Interact);
        let mut b = a.clone();
        a.max_urls_visited = Some(10);
        b.max_consecutive_errors = Some(2);
        b.stuck.enabled = Some(true);
        let got = narrow(&a, &b);
        assert_eq!(got.max_urls_visited, Some(10));
        assert_eq!(got.max_consecutive_errors, Some(2));
        assert_eq!(got.stuck.enabled, Some(true));
    }

    #[test]
    fn floors_win_over_requests() {
        let floor = GuardrailFloor {
            allow_private_networks: false,
            allowed_domains: vec!["corp.example".into()],
            blocked_domains: vec!["admin.corp.example".into()],
        };
        let request = spec(&[], None, true, TaskKind::FillForm);
        let got = within_floor(&request, &floor);
        assert_eq!(got.allowed_domains, ["corp.example"]);
        assert!(!got.allow_private_networks);
        let blocked = got.blocked_domains.clone().unwrap();
        // The request named no hosts: its built-in list still applies, with the floor's.
        assert!(blocked.contains(&"admin.corp.example".to_owned()));
        assert!(blocked.contains(&"*.paypal.com".to_owned()));
        assert_eq!(got.kind(), TaskKind::FillForm);
        // The default floor changes nothing.
        for request in [
            spec(&[], None, false, TaskKind::Read),
            spec(
                &["a.example"],
                Some(&["x.a.example"]),
                true,
                TaskKind::Interact,
            ),
            spec(&["a.example"], None, true, TaskKind::Navigate),
        ] {
            assert_eq!(within_floor(&request, &GuardrailFloor::default()), request);
        }
    }

    #[test]
    fn the_description_names_every_guardrail() {
        let text = describe(&spec(&["127.0.0.1"], None, true, TaskKind::Read));
        assert_eq!(
            text,
            "effective guardrails: allowed_domains [127.0.0.1]; blocked_domains none; \
             private networks allowed; task_kind read; max_urls_visited 50; \
             max_consecutive_errors 5"
        );
        let open = describe(&GuardrailSpec::default());
        assert!(
            open.contains("allowed_domains any public host; blocked_domains the built-in list")
        );
        assert!(open.contains("private networks blocked; task_kind interact"));
    }
}
