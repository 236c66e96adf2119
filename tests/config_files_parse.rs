//! The files under `config/` stay true to the code: `default.toml` parses to exactly
//! `Config::default()`, and every example request parses and validates.

use std::path::{Path, PathBuf};

use pilothouse::{Config, RunRequest};

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

#[test]
fn default_toml_mirrors_config_default() {
    let path = config_dir().join("default.toml");
    let parsed = Config::from_toml_file(&path).unwrap_or_else(|e| panic!("{e}"));
    // `profile_root` defaults to the system temp dir + `pilothouse-profiles`; the file spells
    // out the Linux value. Every other key must equal the default as is.
    let written_profile_root = PathBuf::from("/tmp/pilothouse-profiles");
    assert_eq!(parsed.profile_root, written_profile_root);
    assert_eq!(
        parsed,
        Config {
            profile_root: written_profile_root.clone(),
            ..Config::default()
        },
        "config/default.toml no longer mirrors Config::default()"
    );
    if std::env::temp_dir() == Path::new("/tmp") {
        assert_eq!(parsed, Config::default());
    } else {
        eprintln!(
            "TMPDIR is {}: profile_root compared to /tmp/pilothouse-profiles only",
            std::env::temp_dir().display()
        );
    }
}

#[test]
fn default_toml_spells_out_every_key() {
    // A key added to Config without a line in the file would still parse (missing keys take
    // their defaults), so check that each serialized key is written, commented out or not.
    let text = std::fs::read_to_string(config_dir().join("default.toml")).unwrap();
    let keys = serde_json::to_value(Config::default()).unwrap();
    let mut missing = Vec::new();
    for (key, value) in keys.as_object().unwrap() {
        match value.as_object() {
            Some(table) => {
                if !text.contains(&format!("[{key}]")) {
                    missing.push(format!("[{key}]"));
                }
                for inner in table.keys() {
                    let written = text.contains(&format!("\n{inner} = "))
                        || text.contains(&format!("\n# {inner} = "))
                        || text.contains(&format!("\n[{key}.{inner}]"));
                    if !written {
                        missing.push(format!("{key}.{inner}"));
                    }
                }
            }
            None => {
                if !text.contains(&format!("\n{key} = ")) && !text.contains(&format!("# {key} = "))
                {
                    missing.push(key.clone());
                }
            }
        }
    }
    assert!(missing.is_empty(), "config/default.toml lacks {missing:?}");
}

#[test]
fn every_example_request_parses_and_validates() {
    let dir = config_dir().join("examples");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let request = RunRequest::from_json(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        request
            .validate(&Config::default())
            .unwrap_or_else(|e| panic!("{} is invalid: {e}", path.display()));
        if let Some(expect) = request.labels.get("expect") {
            assert!(
                ["completed", "failed", "timed_out", "cancelled"].contains(&expect.as_str()),
                "{}: labels.expect `{expect}` is not a terminal state",
                path.display()
            );
        }
        checked.push(path);
    }
    assert!(
        checked.len() >= 3,
        "expected at least 3 example requests in {}, found {checked:?}",
        dir.display()
    );
}

#[test]
fn every_bundled_playbook_is_valid() {
    let dir = config_dir().join("playbooks");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let playbook = pilothouse::parse_playbook(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let problems = playbook.problems();
        assert!(problems.is_empty(), "{}: {problems:?}", path.display());
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(playbook.id, stem, "a playbook's id is its file name");
        checked += 1;
    }
    assert!(checked >= 1, "no playbook in {}", dir.display());
}

#[test]
fn every_bundled_profile_loads_and_a_request_may_name_it() {
    let dir = config_dir().join("profiles");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let profile: pilothouse::Profile = pilothouse::parse_yaml_value(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(profile.name, stem, "a profile's name is its file name");
        assert!(profile.prompt_extension.is_some(), "{}", path.display());
        let request = RunRequest::from_json(&format!(
            r#"{{"start_url": "https://shop.example/", "driver": {{"type": "agent",
                "directive": "Read it.", "model": "m", "base_url": "https://api.openai.com/v1",
                "api_key": "k", "profile": "{stem}"}}}}"#
        ))
        .unwrap();
        let config = Config {
            agent: pilothouse::AgentConfig {
                profiles_dir: dir.clone(),
                ..Default::default()
            },
            ..Config::default()
        };
        request
            .validate(&config)
            .unwrap_or_else(|e| panic!("profile {stem}: {e}"));
        checked += 1;
    }
    assert_eq!(checked, 3, "default, research and form_filling");
}

#[test]
fn the_reference_profile_format_loads_unchanged() {
    // The shape of the reference's profile files: a folded description, a literal prompt
    // extension, and guardrail overrides that include its model-check switch.
    let text = "name: research\ndescription: >\n  Reading only.\n  Nothing changes.\n\
                prompt_extension: |\n  ## Research\n  Cite each source.\n\
                guardrail_overrides:\n  enable_llm_action_check: false\n  max_urls_visited: 100\n";
    let profile: pilothouse::Profile = pilothouse::parse_yaml_value(text).unwrap();
    assert_eq!(profile.description, "Reading only. Nothing changes.\n");
    assert_eq!(
        profile.guardrail_overrides.max_urls_visited,
        Some(100),
        "kept, and capped by the request's at admission"
    );
}
