//! `pilothouse validate FILE...` checks playbooks and run requests without running anything:
//! exit 0 and an `ok:` line when valid, exit 2 with every problem's step and field otherwise.

use std::process::Command;

fn validate(files: &[&std::path::Path]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pilothouse"))
        .arg("validate")
        .args(files)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn good_files_pass_and_bad_ones_name_step_and_field() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let playbook = root.join("config/playbooks/greet_visitor.yaml");
    let request = root.join("config/examples/playbook_greeting.json");
    let (code, stdout, stderr) = validate(&[&playbook, &request]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("playbook `greet_visitor` (4 steps, 2 parameters)"),
        "{stdout}"
    );
    assert!(stdout.contains("playbook run request"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "id: bad\nsteps:\n  - action: goto\n    url: https://example.com/\n  - action: fly\n  - action: click\n    selector: {primary: \"div[\"}\n",
    )
    .unwrap();
    let (code, _, stderr) = validate(&[&bad]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("steps[1].action: unknown action `fly`"),
        "{stderr}"
    );
    assert!(stderr.contains("steps[2].selector.primary"), "{stderr}");
}

#[test]
fn validate_says_which_format_it_read() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = root.join("tests/playbooks/cancel_order.yaml");
    let ours = root.join("config/playbooks/greet_visitor.yaml");
    let (code, stdout, stderr) = validate(&[&reference, &ours]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("playbook `cancel_order` (7 steps, 2 parameters), reference format"),
        "{stdout}"
    );
    assert!(
        stdout.contains("playbook `greet_visitor` (4 steps, 2 parameters), pilothouse format"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad_reference.yaml");
    std::fs::write(
        &bad,
        "id: bad\nauth_required: true\nguardrails:\n  task: read\nsteps:\n  - action: goto\n    \
         params: {url: \"https://example.com/\"}\n",
    )
    .unwrap();
    let (code, _, stderr) = validate(&[&bad]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("(read as reference format)"), "{stderr}");
    assert!(
        stderr.contains("guardrails.task: unknown field `task`")
            && stderr.contains("line 4 column"),
        "{stderr}"
    );
}
