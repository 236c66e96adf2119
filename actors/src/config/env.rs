//! Environment overrides: `PILOTHOUSE_<KEY>` sets a top-level key and
//! `PILOTHOUSE_<SECTION>__<KEY>` a key in a table (`PILOTHOUSE_AGENT__BASE_URL`), for every key
//! of [`Config`] without a list to keep in step with it.
//!
//! How: the config is serialized to a TOML table, the value is set at the variable's path
//! (parsed as a TOML value, `8`, `false`, `["a","b"]`, else taken as a plain string), and the
//! table is deserialized back, so serde's own type checks and `deny_unknown_fields` decide what
//! is valid. The known top-level keys come from serde too (the field list `Config`'s derived
//! `Deserialize` announces), so a key whose value is unset today is still known.
//!
//! This needs every field to survive a serialize/deserialize round trip. The one field that
//! cannot is a secret (`[server] api_key`, a `Secret`, serializes as `******`): [`keep_secrets`]
//! carries it over from before the override unless the override sets it.
//! `every_value_survives_the_round_trip` below guards the other fields.

use serde::Deserialize;
use serde::de::{self, Visitor};

use super::{Config, ConfigError};

/// Every override variable starts with this.
const PREFIX: &str = "PILOTHOUSE_";
/// Separates a section from its key.
const NESTING: &str = "__";

impl Config {
    /// Applies `PILOTHOUSE_*` overrides from `vars` (in name order). A `__` variable naming an
    /// unknown section or key is an error naming it; a single-segment variable that is not a
    /// top-level key is ignored (`PILOTHOUSE_CHROMIUM` and friends mean other things). The
    /// result is not validated: call [`Config::validate`] once every source is applied.
    pub fn apply_env(
        self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with(PREFIX))
            .collect();
        vars.sort();
        let top_level = top_level_keys();
        let mut config = self;
        for (var, value) in vars {
            let path: Vec<String> = var[PREFIX.len()..]
                .split(NESTING)
                .map(str::to_ascii_lowercase)
                .collect();
            if path.iter().any(String::is_empty) {
                return Err(env_error(
                    &var,
                    &path,
                    "is not PILOTHOUSE_<KEY> or PILOTHOUSE_<SECTION>__<KEY>".into(),
                ));
            }
            if !top_level.contains(&path[0].as_str()) {
                if path.len() == 1 {
                    continue;
                }
                return Err(env_error(
                    &var,
                    &path,
                    format!(
                        "unknown section `{}`; sections are {}",
                        path[0],
                        top_level.join(", ")
                    ),
                ));
            }
            config = set(config, &var, &path, &value)?;
        }
        Ok(config)
    }

    /// [`Config::apply_env`] with this process's environment (variables that are not UTF-8
    /// are skipped).
    pub fn with_env_overrides(self) -> Result<Config, ConfigError> {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        self.apply_env(vars)
    }
}

fn env_error(var: &str, path: &[String], message: String) -> ConfigError {
    ConfigError::Env {
        var: var.to_owned(),
        key: path.join("."),
        message,
    }
}

/// `config` with `path` set to `value`: first as the TOML value it reads as, then, when that
/// does not fit the key's type, as a plain string (`model = 4` is the model named "4").
fn set(config: Config, var: &str, path: &[String], value: &str) -> Result<Config, ConfigError> {
    let key = path.join(".");
    let parsed = parse_value(value);
    let attempt = |v: toml::Value| -> Result<Config, ConfigError> {
        let mut table = toml::Table::try_from(&config).map_err(|e| ConfigError::Env {
            var: var.to_owned(),
            key: key.clone(),
            message: format!("cannot serialize the config: {e}"),
        })?;
        insert(&mut table, path, v).map_err(|message| env_error(var, path, message))?;
        let mut updated = toml::Value::Table(table)
            .try_into::<Config>()
            .map_err(|e| env_error(var, path, describe(&key, value, &e.to_string())))?;
        keep_secrets(&config, &mut updated, path);
        Ok(updated)
    };
    match parsed {
        Some(toml::Value::String(s)) => attempt(toml::Value::String(s)),
        Some(v) => attempt(v)
            .or_else(|first| attempt(toml::Value::String(value.to_owned())).map_err(|_| first)),
        None => attempt(toml::Value::String(value.to_owned())),
    }
}

/// Secrets serialize redacted, so the round trip in [`set`] cannot carry them: take them from
/// the config before the override, unless the override is the secret itself.
fn keep_secrets(before: &Config, after: &mut Config, path: &[String]) {
    if path != ["server", "api_key"] {
        after.server.api_key = before.server.api_key.clone();
    }
}

/// `value` read as one TOML value (`8`, `false`, `"x"`, `["a","b"]`, `{k = "v"}`), or `None`
/// when it is not one (`http://…`, `lots`).
fn parse_value(value: &str) -> Option<toml::Value> {
    if value.contains('\n') {
        return None;
    }
    let mut doc: toml::Table = toml::from_str(&format!("v = {value}")).ok()?;
    doc.remove("v")
}

/// Sets `path` in `table`, creating the tables on the way (a section whose value is unset).
fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("a path has a key");
    let mut at = table;
    let mut walked = Vec::new();
    for name in parents {
        walked.push(name.as_str());
        let entry = at
            .entry(name.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("`{}` is a key, not a section", walked.join("."))),
        };
    }
    at.insert(last.clone(), value);
    Ok(())
}

/// A serde error in the words of the override: `invalid value "lots" for agent.max_steps:
/// expected an integer`, or serde's own message (an unknown key) with the key named.
fn describe(key: &str, value: &str, serde_message: &str) -> String {
    let first_line = serde_message.lines().next().unwrap_or(serde_message).trim();
    if first_line.starts_with("unknown field") {
        return format!("unknown key {key}: {first_line}");
    }
    let expected = first_line
        .rsplit_once("expected ")
        .map(|(_, e)| e.trim())
        .unwrap_or(first_line);
    let expected = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            "an integer"
        }
        "f32" | "f64" => "a number",
        other => other,
    };
    format!("invalid value {value:?} for {key}: expected {expected}")
}

/// The top-level keys of `Config`, as its derived `Deserialize` announces them.
fn top_level_keys() -> Vec<&'static str> {
    match Config::deserialize(FieldProbe) {
        Err(Probed(fields)) => fields.to_vec(),
        Ok(_) => Vec::new(),
    }
}

/// A deserializer that only records the field list of the struct asked of it.
struct FieldProbe;

/// The field list, carried out as the "error" of [`FieldProbe`].
#[derive(Debug)]
struct Probed(&'static [&'static str]);

impl std::fmt::Display for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fields {:?}", self.0)
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Probed(&[])
    }
}

impl<'de> de::Deserializer<'de> for FieldProbe {
    type Error = Probed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn apply(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::default().apply_env(vars(pairs))
    }

    #[test]
    fn an_override_keeps_the_server_key_and_can_set_it() {
        let mut config = Config::default();
        config.server.api_key = Some(crate::request::Secret::new("file-key"));
        let config = config
            .apply_env(vars(&[("PILOTHOUSE_MAX_CONCURRENT_RUNS", "3")]))
            .unwrap();
        assert_eq!(config.max_concurrent_runs, 3);
        let key = config
            .server
            .api_key
            .as_ref()
            .map(|k| k.expose().to_owned());
        assert_eq!(key.as_deref(), Some("file-key"));
        let config = config
            .apply_env(vars(&[("PILOTHOUSE_SERVER__API_KEY", "env-key")]))
            .unwrap();
        let key = config
            .server
            .api_key
            .as_ref()
            .map(|k| k.expose().to_owned());
        assert_eq!(key.as_deref(), Some("env-key"));
    }

    #[test]
    fn top_level_and_section_keys_are_set() {
        let config = apply(&[
            ("PILOTHOUSE_MAX_CONCURRENT_RUNS", "8"),
            ("PILOTHOUSE_AGENT__BASE_URL", "http://127.0.0.1:8000/v1/"),
            ("PILOTHOUSE_RECORDING__UPLOAD", "false"),
            ("PILOTHOUSE_CHROMIUM_ARGS", r#"["lang=en-US","mute-audio"]"#),
            ("PILOTHOUSE_RUNS_DIR", "/var/lib/pilothouse/runs"),
            ("PILOTHOUSE_LIMITS__MAX_STEPS", "200"),
        ])
        .unwrap();
        assert_eq!(config.max_concurrent_runs, 8);
        assert_eq!(
            config.agent.base_url.as_deref(),
            Some("http://127.0.0.1:8000/v1/")
        );
        assert!(!config.recording.upload);
        assert_eq!(config.chromium_args, ["lang=en-US", "mute-audio"]);
        assert_eq!(
            config.runs_dir,
            std::path::PathBuf::from("/var/lib/pilothouse/runs")
        );
        assert_eq!(config.limits.max_steps, 200);
        // Nothing else moved.
        let expected = Config {
            max_concurrent_runs: 8,
            chromium_args: config.chromium_args.clone(),
            runs_dir: config.runs_dir.clone(),
            agent: config.agent.clone(),
            recording: config.recording.clone(),
            limits: config.limits.clone(),
            ..Config::default()
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn unset_optional_keys_and_nested_tables_are_set() {
        let config = apply(&[
            ("PILOTHOUSE_CHROMIUM_PATH", "/opt/chromium/chrome"),
            ("PILOTHOUSE_AGENT__MODEL", "4"),
            (
                "PILOTHOUSE_RECORDING__UPLOAD_OPTIONS__AWS_REGION",
                "eu-west-1",
            ),
        ])
        .unwrap();
        assert_eq!(
            config.chromium_path,
            Some(std::path::PathBuf::from("/opt/chromium/chrome"))
        );
        // `4` reads as an integer; a string key takes it as the text "4".
        assert_eq!(config.agent.model.as_deref(), Some("4"));
        assert_eq!(
            config
                .recording
                .upload_options
                .get("aws_region")
                .map(String::as_str),
            Some("eu-west-1")
        );
    }

    #[test]
    fn a_bad_value_names_the_variable_the_key_and_the_type() {
        let err = apply(&[("PILOTHOUSE_AGENT__MAX_STEPS", "lots")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            r#"PILOTHOUSE_AGENT__MAX_STEPS: invalid value "lots" for agent.max_steps: expected an integer"#
        );
        let err = apply(&[("PILOTHOUSE_RECORDING__UPLOAD", "sometimes")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "PILOTHOUSE_RECORDING__UPLOAD: invalid value \"sometimes\" for recording.upload"
            ),
            "{err}"
        );
    }

    #[test]
    fn unknown_sections_and_keys_are_errors_that_name_them() {
        let err = apply(&[("PILOTHOUSE_AGNET__MODEL", "x")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("PILOTHOUSE_AGNET__MODEL: unknown section `agnet`"),
            "{err}"
        );
        let err = apply(&[("PILOTHOUSE_AGENT__MODLE", "x")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("PILOTHOUSE_AGENT__MODLE: unknown key agent.modle"),
            "{err}"
        );
        let err = apply(&[("PILOTHOUSE_RUNS_DIR__X", "x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`runs_dir` is a key, not a section"), "{err}");
    }

    #[test]
    fn other_pilothouse_variables_are_ignored() {
        let config = apply(&[
            ("PILOTHOUSE_CHROMIUM", "/usr/bin/chromium"),
            ("PILOTHOUSE_API_KEY", "k"),
            ("PILOTHOUSE_PYTHON", "python3"),
            ("PATH", "/usr/bin"),
            ("OTHER__THING", "1"),
        ])
        .unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn every_value_survives_the_round_trip() {
        let mut config = Config {
            chromium_path: Some("/opt/chromium".into()),
            chromium_args: vec!["lang=en-US".into()],
            ..Config::default()
        };
        config.agent.base_url = Some("http://127.0.0.1:8000/v1".into());
        config.agent.model = Some("m".into());
        config.agent.allowed_base_urls = vec!["https://gateway.example/v1".into()];
        config.recording.upload_url = Some("file:///tmp/up".into());
        config
            .recording
            .upload_options
            .insert("aws_region".into(), "eu-west-1".into());
        // An override of an unrelated key leaves every other value as it was.
        let applied = config
            .clone()
            .apply_env(vars(&[("PILOTHOUSE_SCREENSHOT_QUALITY", "80")]))
            .unwrap();
        assert_eq!(
            applied,
            Config {
                screenshot_quality: 80,
                ..config
            }
        );
    }

    #[test]
    fn every_top_level_key_is_known() {
        let keys = top_level_keys();
        let table = toml::Table::try_from(Config::default()).unwrap();
        for key in table.keys() {
            assert!(keys.contains(&key.as_str()), "{key} missing from {keys:?}");
        }
        assert!(keys.contains(&"chromium_path"), "{keys:?}");
    }
}
