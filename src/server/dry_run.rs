//! `POST /runs/dry-run`: parses and validates a request as `POST /runs` would, and reports each
//! check, the warnings of the reference system, and the effective limits, without starting a
//! run. Secrets never appear in the answer.

use std::collections::BTreeMap;

use pilothouse::{Config, DriverSpec, FieldError, RunRequest};
use serde_json::{Value, json};

/// Limits past which the reference system warns: steps, and the run's deadline.
const WARN_MAX_STEPS: u32 = 100;
const WARN_TIMEOUT_SECONDS: u64 = 1_800;

/// The checks every report lists, in order (other failing groups are appended).
const CHECKS: &[&str] = &[
    "parse",
    "driver",
    "start_url",
    "guardrails",
    "limits",
    "credentials",
    "output_schema",
    "playbook",
    "chromium",
];

/// The dry-run report of `text`: `{valid, checks, warnings, config_summary}`.
pub(crate) fn report(text: &str, config: &Config) -> Value {
    let request = match super::body::parse_request(text) {
        Ok(request) => request,
        Err(invalid) => {
            let failed = check("parse", &invalid.errors);
            return json!({
                "valid": false,
                "checks": [failed],
                "warnings": [],
                "config_summary": config_summary(config, None),
            });
        }
    };
    let mut errors = request
        .validate(config)
        .err()
        .map(|e| e.errors)
        .unwrap_or_default();
    errors.extend(empty_credentials(&request));
    let groups = group(&request, errors);
    let mut checks: Vec<Value> = CHECKS
        .iter()
        .map(|name| match *name {
            "chromium" => chromium_check(config),
            name => check(name, groups.get(name).map_or(&[][..], Vec::as_slice)),
        })
        .collect();
    for (name, errors) in groups.iter().filter(|(n, _)| !CHECKS.contains(&n.as_str())) {
        checks.push(check(name, errors));
    }
    let valid = checks.iter().all(|c| c["passed"] == json!(true));
    json!({
        "valid": valid,
        "checks": checks,
        "warnings": warnings(&request, config),
        "config_summary": config_summary(config, Some(&request)),
    })
}

/// One check: passed when it has no errors, else their fields and messages.
fn check(name: &str, errors: &[FieldError]) -> Value {
    let message = if errors.is_empty() {
        "ok".to_owned()
    } else {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    json!({"name": name, "passed": errors.is_empty(), "message": message, "errors": errors})
}

fn chromium_check(config: &Config) -> Value {
    match config.resolve_chromium() {
        Ok(path) => json!({"name": "chromium", "passed": true,
                           "message": format!("found {}", path.display())}),
        Err(e) => json!({"name": "chromium", "passed": false, "message": e.to_string()}),
    }
}

/// Credentials with empty values fail (a `type` would type nothing).
fn empty_credentials(request: &RunRequest) -> Vec<FieldError> {
    request
        .credentials
        .iter()
        .filter(|(_, secret)| secret.expose().is_empty())
        .map(|(name, _)| FieldError {
            field: format!("credentials.{name}"),
            message: "must not be empty; give the secret's value".into(),
        })
        .collect()
}

/// The errors by check: the field's top-level key, except that a playbook driver's problems
/// are `playbook` and an agent's `output_schema` problems are `output_schema`.
fn group(request: &RunRequest, errors: Vec<FieldError>) -> BTreeMap<String, Vec<FieldError>> {
    let mut groups: BTreeMap<String, Vec<FieldError>> = BTreeMap::new();
    for error in errors {
        let top = error
            .field
            .split(['.', '['])
            .next()
            .unwrap_or_default()
            .to_owned();
        let name = if error.field.contains("output_schema") {
            "output_schema".to_owned()
        } else if top == "driver" && matches!(request.driver, DriverSpec::Playbook(_)) {
            "playbook".to_owned()
        } else {
            top
        };
        groups.entry(name).or_default().push(error);
    }
    groups
}

/// The reference system's warnings: many steps, a long deadline, a schema without `type`.
fn warnings(request: &RunRequest, config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    let limits = request.limits.effective(config);
    let agent = match &request.driver {
        DriverSpec::Agent(agent) => Some(agent),
        _ => None,
    };
    let steps = agent
        .and_then(|a| a.max_steps)
        .unwrap_or(limits.max_steps)
        .max(limits.max_steps);
    if steps > WARN_MAX_STEPS {
        warnings.push(format!(
            "max_steps {steps} is over {WARN_MAX_STEPS}: a long run costs time (and model calls)"
        ));
    }
    if limits.timeout_seconds > WARN_TIMEOUT_SECONDS {
        warnings.push(format!(
            "limits.timeout_seconds {} is over {WARN_TIMEOUT_SECONDS}",
            limits.timeout_seconds
        ));
    }
    if let Some(schema) = agent.and_then(|a| a.output_schema.as_ref())
        && schema.get("type").is_none()
    {
        warnings
            .push("driver.output_schema has no `type`; the answer is not checked for one".into());
    }
    warnings
}

/// What the run would get: its effective limits and the server's capacity. Never a secret.
fn config_summary(config: &Config, request: Option<&RunRequest>) -> Value {
    let limits = request
        .map(|r| r.limits.clone())
        .unwrap_or_default()
        .effective(config);
    json!({
        "driver": request.map(|r| r.driver.type_name()),
        "limits": {
            "timeout_seconds": limits.timeout_seconds,
            "max_steps": limits.max_steps,
            "action_timeout_ms": limits.action_timeout_ms,
            "navigation_timeout_ms": limits.navigation_timeout_ms,
        },
        "max_concurrent_runs": config.max_concurrent_runs,
        "queue_capacity": config.queue_capacity,
        "recording": {
            "screenshots": config.recording.screenshots,
            "report": config.recording.report,
            "upload": config.recording.upload,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks_of(report: &Value) -> BTreeMap<String, bool> {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["passed"] == json!(true),
                )
            })
            .collect()
    }

    #[test]
    fn problems_fail_their_own_check_and_warnings_follow_the_reference() {
        let report = report(
            r#"{"start_url": "ftp://x", "driver": {"type": "agent", "directive": "d",
                "max_steps": 150, "output_schema": {"properties": {}}},
                "limits": {"timeout_seconds": 3600}, "credentials": {"pw": ""}}"#,
            &Config::default(),
        );
        let checks = checks_of(&report);
        assert_eq!(report["valid"], json!(false));
        assert!(!checks["start_url"] && !checks["credentials"], "{report}");
        assert!(checks["parse"] && checks["guardrails"], "{report}");
        let warnings = report["warnings"].to_string();
        assert!(warnings.contains("max_steps 150"), "{warnings}");
        assert!(warnings.contains("timeout_seconds 3600"), "{warnings}");
        assert!(warnings.contains("no `type`"), "{warnings}");
    }

    #[test]
    fn malformed_json_fails_parse_only() {
        let report = report("{\"driver\": 3}", &Config::default());
        assert_eq!(report["valid"], json!(false));
        assert_eq!(report["checks"][0]["name"], "parse");
        assert!(
            report["checks"][0]["message"]
                .as_str()
                .unwrap()
                .contains("driver")
        );
    }
}
