//! Profiles at admission: a profile named by a request is loaded once from
//! `[agent] profiles_dir` and inlined, so the run (on this node or a claiming one) uses exactly
//! the profile that was checked; its `guardrail_overrides` then narrow the request's
//! guardrails (never widen them).

use std::path::Path;

use super::narrowing::capped_by;
use crate::config::AgentConfig;
use crate::guard::narrow;
use crate::request::{
    AutoSpec, DriverSpec, FieldError, Profile, ProfileSpec, RunRequest, check_domain_pattern,
    is_profile_name,
};

impl RunRequest {
    /// Loads every profile the request names and puts it inline; the problems, each naming
    /// its field and the fix.
    pub(super) fn inline_profiles(&mut self, config: &AgentConfig) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let Some((field, slot)) = profile_slot(&mut self.driver) else {
            return errors;
        };
        let error = |message: String| FieldError {
            field: field.to_owned(),
            message,
        };
        let profile = match slot.take() {
            None => return errors,
            Some(ProfileSpec::Named(name)) => match load(&config.profiles_dir, &name) {
                Ok(profile) => profile,
                Err(message) => {
                    errors.push(error(message));
                    return errors;
                }
            },
            Some(ProfileSpec::Inline(profile)) => *profile,
        };
        let overrides = &profile.guardrail_overrides;
        for (list, globs) in [
            ("allowed_domains", &overrides.allowed_domains),
            ("blocked_domains", &overrides.blocked_domains),
        ] {
            for glob in globs.iter().flatten() {
                if let Err(message) = check_domain_pattern(glob) {
                    errors.push(error(format!(
                        "guardrail_overrides.{list}: `{glob}`: {message}"
                    )));
                }
            }
        }
        *slot = Some(ProfileSpec::Inline(Box::new(profile)));
        errors
    }

    /// The request's guardrails narrowed by its inline profile's overrides.
    pub(super) fn narrow_by_profile(&mut self) {
        let Some((_, Some(ProfileSpec::Inline(profile)))) = profile_slot(&mut self.driver) else {
            return;
        };
        let own = profile.guardrail_overrides.applied_to(&self.guardrails);
        let own = capped_by(own, &self.guardrails);
        self.guardrails = narrow(&self.guardrails, &own);
    }
}

/// The driver's profile field and where it is in the request.
fn profile_slot(driver: &mut DriverSpec) -> Option<(&'static str, &mut Option<ProfileSpec>)> {
    match driver {
        DriverSpec::Agent(agent) | DriverSpec::Auto(AutoSpec { agent, .. }) => {
            Some(("driver.profile", &mut agent.profile))
        }
        DriverSpec::Playbook(spec) => spec
            .agent
            .as_mut()
            .map(|agent| ("driver.agent.profile", &mut agent.profile)),
        DriverSpec::Script { .. } => None,
    }
}

/// `<dir>/<name>.yaml` (or `.yml`), in the reference's profile format.
pub(crate) fn load(dir: &Path, name: &str) -> Result<Profile, String> {
    if !is_profile_name(name) {
        return Err(format!(
            "`{name}` is not a profile name (letters, digits, `_`, `-`); name a file in \
             [agent] profiles_dir or give the profile inline"
        ));
    }
    let Some(path) = ["yaml", "yml"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .find(|p| p.is_file())
    else {
        return Err(format!(
            "no profile `{name}` in {} (available: {}; set [agent] profiles_dir)",
            dir.display(),
            available(dir).join(", ")
        ));
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut profile: Profile = crate::yaml::parse_yaml_value(&text)
        .map_err(|e| format!("{} is not a profile: {e}", path.display()))?;
    if profile.name.is_empty() {
        profile.name = name.to_owned();
    }
    Ok(profile)
}

/// The profile names in `dir`, sorted.
fn available(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let ext = path.extension()?.to_str()?;
            matches!(ext, "yaml" | "yml")
                .then(|| path.file_stem()?.to_str().map(str::to_owned))
                .flatten()
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::request::{DriverSpec, ProfileSpec, RunRequest, TaskKind};

    fn agent(profile: &str, guardrails: &str) -> RunRequest {
        RunRequest::from_json(&format!(
            r#"{{"start_url": "https://shop.test/", "guardrails": {guardrails},
                "driver": {{"type": "agent", "directive": "Read it.", "model": "m",
                            "base_url": "https://api.openai.com/v1", "api_key": "k",
                            "profile": {profile}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_profile_narrows_the_request_and_never_widens_it() {
        let profile = r#"{"name": "wide", "prompt_extension": "Cite sources.",
            "guardrail_overrides": {"task_kind": "read", "max_urls_visited": 500,
                                    "allow_private_networks": true,
                                    "enable_llm_action_check": false}}"#;
        let run = agent(profile, "{}").admit(&Config::default()).unwrap();
        let g = &run.request.guardrails;
        assert_eq!(g.kind(), TaskKind::Read, "narrowed");
        assert!(!g.allow_private_networks, "not widened");
        assert!(g.max_urls_visited.is_none_or(|n| n <= 50), "{g:?}");
        let DriverSpec::Agent(spec) = &run.request.driver else {
            panic!("an agent driver")
        };
        let Some(ProfileSpec::Inline(kept)) = &spec.profile else {
            panic!("the profile stays inline")
        };
        assert_eq!(kept.prompt_extension.as_deref(), Some("Cite sources."));
        let run = agent(
            r#"{"guardrail_overrides": {}}"#,
            r#"{"task_kind": "fill_form"}"#,
        )
        .admit(&Config::default())
        .unwrap();
        assert_eq!(
            run.request.guardrails.kind(),
            TaskKind::FillForm,
            "an empty override changes nothing"
        );
    }

    #[test]
    fn named_profiles_load_from_the_dir_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("careful.yaml"),
            "description: d\nprompt_extension: |\n  Go slowly.\n",
        )
        .unwrap();
        let mut config = Config::default();
        config.agent.profiles_dir = dir.path().to_owned();
        let run = agent(r#""careful""#, "{}").admit(&config).unwrap();
        let DriverSpec::Agent(spec) = &run.request.driver else {
            panic!("an agent driver")
        };
        let Some(ProfileSpec::Inline(profile)) = &spec.profile else {
            panic!("inlined")
        };
        assert_eq!(profile.name, "careful", "named after its file");
        assert_eq!(profile.prompt_extension.as_deref(), Some("Go slowly.\n"));
        for (name, expected) in [
            (r#""missing""#, "no profile `missing`"),
            (r#""../etc/passwd""#, "is not a profile name"),
            (
                r#"{"guardrail_overrides": {"allowed_domains": [""]}}"#,
                "allowed_domains",
            ),
        ] {
            let errors = agent(name, "{}").validate(&config).unwrap_err().errors;
            assert!(
                errors
                    .iter()
                    .any(|e| e.field == "driver.profile" && e.message.contains(expected)),
                "{name}: {errors:?}"
            );
        }
        let errors = agent(r#""missing""#, "{}")
            .validate(&config)
            .unwrap_err()
            .errors;
        assert!(
            errors[0].message.contains("available: careful"),
            "{errors:?}"
        );
    }
}
