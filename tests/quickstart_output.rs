//! Runs the quickstart example as a user would and checks every line it prints: valid JSON, only
//! ECS-allowed categorization values, and the trail the README promises.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// `cargo test` builds the examples next to the test binaries: `target/<profile>/examples/`.
fn example_binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let binary = dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.exists(), "{} not built; run through `cargo test`", binary.display());
    binary
}

fn ecs_allowed() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/audit-schema/data/ecs_event_allowed.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

#[test]
fn every_printed_line_is_an_ecs_event_with_allowed_values() {
    let output = Command::new(example_binary("quickstart")).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let allowed = ecs_allowed();
    let mut events = Vec::new();
    for line in stdout.lines() {
        let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(keys[..2], ["@timestamp", "message"], "{line}");
        assert!(event["@timestamp"].as_str().unwrap().ends_with('Z'));
        let categories = strings(&event["event"]["category"]);
        for category in &categories {
            let expected = strings(&allowed["category"][*category]);
            for ty in strings(&event["event"]["type"]) {
                // ECS's expected pairs, plus Kibana's established database/creation and database/deletion.
                let kibana_pair = *category == "database" && (ty == "creation" || ty == "deletion");
                assert!(expected.contains(&ty) || kibana_pair, "{category}/{ty} in {line}");
            }
        }
        assert!(strings(&allowed["outcome"]).contains(&event["event"]["outcome"].as_str().unwrap()));
        assert_eq!(event["ecs"]["version"], allowed["ecs_version"]);
        events.push(event);
    }

    let trail: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["event"]["action"].as_str().unwrap(), e["event"]["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        trail,
        [
            ("saved_object_create", "unknown"),
            ("saved_object_create", "unknown"),
            ("saved_object_create", "unknown"),
            ("saved_object_update", "unknown"),
            ("saved_object_get", "success"),
            ("saved_object_get", "success"),
            ("saved_object_get", "success"),
            ("saved_object_get", "success"),
            ("saved_object_delete", "failure"),
            ("saved_object_get", "failure"),
            ("saved_object_delete", "unknown"),
        ]
    );
    // The bulk read: one event per dashboard, one trace id.
    let bulk = &events[5..8];
    assert!(bulk.iter().all(|e| e["trace"]["id"] == bulk[0]["trace"]["id"] && e["user"]["name"] == "bob"));
    assert_eq!(events[8]["error"]["code"], "forbidden");
    assert_eq!(events[9]["error"]["code"], "not_found");
}

/// The README's commands run from the workspace's root, where the `audit` binary is the
/// `audit-cli` package's: `cargo run --bin audit` alone finds no such binary there.
#[test]
fn the_readme_runs_the_audit_command_from_its_package() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (number, line) in readme.lines().enumerate() {
        if line.contains("cargo run") && line.contains("--bin audit") {
            assert!(line.contains("-p audit-cli"), "README.md:{}: {line}", number + 1);
        }
    }
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/audit-cli/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"audit\""), "the binary is named `audit`");
}
