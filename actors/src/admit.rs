//! Admitting a run: a [`RunRequest`] (the contract, `request.rs`) checked against the config and
//! turned into an [`AdmittedRun`], or refused with every problem naming its field and the fix.
//!
//! Parse, don't validate: admission loads a playbook driver's playbook once, validates that very
//! playbook and inlines it, so the run executes exactly what was checked and nothing reads the
//! file again; it narrows the guardrails (the playbook's own, then the operator's floors; see
//! `guard/precedence.rs`) and resolves the limits and recording switches from the config's
//! defaults. What comes out needs no further checking.
//!
//! The checks themselves: `admit/validate.rs` (drivers, actions, URLs, selectors),
//! `admit/ceilings.rs` (the server's `[limits]`), `admit/narrowing.rs` (allow-lists that must
//! meet), `admit/playbook.rs`, `admit/downloads.rs`, `admit/api_steps.rs` (`api_request`,
//! `llm_extract`), `admit/session.rs` (saved sessions), `admit/profile.rs` (agent profiles).

use crate::config::{Config, LimitsConfig, RecordingConfig};
use crate::guard::{narrow, within_floor};
use crate::request::{
    AdmittedRun, DownloadSpec, DriverSpec, EffectiveLimits, InvalidRequest, Limits, Playbook,
    RecordingPlan, RecordingSpec, Route, RunRequest,
};

mod api_steps;
mod auto;
mod ceilings;
mod downloads;
mod narrowing;
mod playbook;
mod profile;
mod session;
mod validate;

use validate::Validator;

impl RunRequest {
    /// Checks everything serde cannot: URLs, selectors, names and limits, against `config`.
    pub fn validate(&self, config: &Config) -> Result<(), InvalidRequest> {
        self.clone().admit(config).map(|_| ())
    }

    /// The run this request asks for, ready to store and start: validated, its playbook loaded
    /// once and inlined, its guardrails narrowed, its limits and recording resolved.
    pub(crate) fn admit(mut self, config: &Config) -> Result<AdmittedRun, InvalidRequest> {
        let profile_errors = self.inline_profiles(&config.agent);
        let (route, playbook) = self.check(config, profile_errors)?;
        if let DriverSpec::Auto(spec) = &mut self.driver {
            spec.route = route.map(Box::new);
        }
        if let Some(playbook) = playbook {
            self.inline(playbook)?;
        }
        self.narrow_by_profile();
        // The playbook's and the profile's guardrails narrowed the request's; the operator's
        // floors narrow all.
        self.guardrails = within_floor(&self.guardrails, &config.guardrails);
        Ok(AdmittedRun {
            limits: self.limits.effective(config),
            recording: self.recording.plan(&config.recording),
            request: self,
        })
    }

    /// Every check, in field order; when all pass, an `auto` driver's route and the playbook
    /// to inline (a playbook driver's, or the one an `auto` directive was routed to), loaded
    /// once.
    fn check(
        &self,
        config: &Config,
        earlier: Vec<crate::request::FieldError>,
    ) -> Result<(Option<Route>, Option<Playbook>), InvalidRequest> {
        let mut v = Validator::new(&self.credentials, &config.limits, &config.guardrails);
        v.errors.extend(earlier);
        if let Some(url) = &self.start_url {
            v.url("start_url", url);
        }
        let routed = match &self.driver {
            DriverSpec::Script { steps } => {
                v.script(self, steps, self.limits.effective(config).max_steps);
                None
            }
            DriverSpec::Agent(agent) => {
                v.agent(agent, &config.agent);
                None
            }
            DriverSpec::Playbook(spec) => Some((None, v.playbook(spec, config, &self.guardrails))),
            DriverSpec::Auto(spec) => v
                .auto(spec, config, &self.guardrails)
                .map(|(route, playbook)| (Some(route), playbook)),
        };
        v.domain_patterns(&self.guardrails);
        v.limits(self);
        v.downloads(&self.downloads);
        v.session(&self.session, config);
        v.viewport(self.viewport);
        v.finish().map(|()| routed.unwrap_or((None, None)))
    }

    /// Puts the validated `playbook` in place of the id or text that named it, so the run
    /// executes exactly what was validated; its `guardrails`, when it has them, narrow the
    /// request's (never widen them).
    fn inline(&mut self, playbook: Playbook) -> Result<(), InvalidRequest> {
        let spec = match &mut self.driver {
            DriverSpec::Playbook(spec) => spec,
            DriverSpec::Auto(auto) => match auto.route.as_deref_mut() {
                Some(Route::Playbook { spec, .. }) => spec,
                _ => return Ok(()),
            },
            _ => return Ok(()),
        };
        if let Some(own) = &playbook.guardrails {
            let own = narrowing::capped_by(own.spec(), &self.guardrails);
            self.guardrails = narrow(&self.guardrails, &own);
        }
        spec.playbook = serde_json::to_value(&playbook).map_err(|e| {
            InvalidRequest::single("driver.playbook", format!("cannot be inlined: {e}"))
        })?;
        Ok(())
    }
}

impl Limits {
    /// Fills unset limits from the config.
    pub fn effective(&self, config: &Config) -> EffectiveLimits {
        let d = &config.defaults;
        EffectiveLimits {
            timeout_seconds: self.timeout_seconds.unwrap_or(d.run_timeout_seconds),
            max_steps: self.max_steps.unwrap_or(d.max_steps),
            action_timeout_ms: self.action_timeout_ms.unwrap_or(d.action_timeout_ms),
            navigation_timeout_ms: self
                .navigation_timeout_ms
                .unwrap_or(d.navigation_timeout_ms),
        }
    }
}

impl RecordingSpec {
    /// The run's recording switches: each unset one takes the config's `[recording]` default.
    pub(crate) fn plan(&self, config: &RecordingConfig) -> RecordingPlan {
        RecordingPlan {
            screenshots: self.screenshots.unwrap_or(config.screenshots),
            actions: self.actions.unwrap_or(config.actions),
            final_dom: self.final_dom.unwrap_or(config.final_dom),
            report: self.report.unwrap_or(config.report),
            upload: self.upload.unwrap_or(config.upload),
        }
    }
}

impl DownloadSpec {
    /// The size cap of an allowed download; `None` when downloads are refused.
    pub fn max_bytes(&self, limits: &LimitsConfig) -> Option<u64> {
        self.allow
            .then(|| self.max_bytes.unwrap_or(limits.max_download_bytes))
    }
}

/// Every field error `json` gets against `config` (none for a valid request); for the tests of
/// this module and its children.
#[cfg(test)]
fn errors_of(json: &str, config: &Config) -> Vec<crate::request::FieldError> {
    let request = RunRequest::from_json(json).unwrap();
    request
        .validate(config)
        .map(|()| Vec::new())
        .unwrap_or_else(|e| e.errors)
}

#[cfg(test)]
mod tests;
