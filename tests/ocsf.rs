//! OCSF lines: a chained trail written in OCSF, with an event of every class the toolkit maps
//! to, checked line by line against the JSON Schema of its class (OCSF's own, generated from
//! the released OCSF schema by `tests/data/ocsf/generate.py`), verified by `verify_trail`, and
//! shipped with every event id delivered.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use audit_core::chain::ChainHash;
use audit_core::event::{ErrorInfo, HttpRequestInfo};
use audit_core::ship::Shipper;
use audit_core::trail::{TrailItem, TrailReader};
use audit_core::writer::Rotation;
use audit_core::{
    kibana, AuditConfig, AuditContext, AuditEvent, AuditLogger, Category, EcsFormat, EventType, FileWriter, LineSchema,
    Outcome, Resource, User, OCSF_VERSION,
};
use common::sinks::Ids;
use common::TempDir;
use serde_json::Value;

/// The classes mapped, and a validator of each.
fn validators() -> Vec<(u64, jsonschema::Validator)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ocsf").join(OCSF_VERSION);
    [6003, 3002, 3001, 3004, 4002, 1008]
        .into_iter()
        .map(|uid| {
            let text = std::fs::read_to_string(dir.join(format!("{uid}.json"))).unwrap();
            let schema: Value = serde_json::from_str(&text).unwrap();
            (uid, jsonschema::draft202012::new(&schema).unwrap())
        })
        .collect()
}

/// Every problem of `line` against its class's schema.
fn problems(validators: &[(u64, jsonschema::Validator)], line: &Value) -> Vec<String> {
    let class = line["class_uid"].as_u64().expect("class_uid");
    let Some((_, validator)) = validators.iter().find(|(uid, _)| *uid == class) else {
        return vec![format!("class {class} is not one of the classes mapped")];
    };
    validator.iter_errors(line).map(|error| format!("{}: {error}", error.instance_path())).collect()
}

#[audit_core::audited(action = "dashboard_rename", category = "database", type = "change", resource(type = "dashboard", id = id), results)]
fn rename(id: u64, title: &str) -> Result<(), String> {
    audit_core::changes::update(&serde_json::json!({ "title": "Old" }), &serde_json::json!({ "title": title }));
    let _ = id;
    Ok(())
}

/// One event of each class and activity, with and without a context.
fn every_kind(logger: &AuditLogger) {
    let context = AuditContext::builder()
        .user(User::named("alice").with_roles(["editor", "viewer"]))
        .session_id("session-1")
        .space_id("default")
        .client_ip("203.0.113.7".parse().unwrap())
        .http(HttpRequestInfo {
            method: Some("PUT".into()),
            path: Some("/api/dashboards/1".into()),
            user_agent: Some("curl/8".into()),
            forwarded_for: Some("198.51.100.1, 10.0.0.2".into()),
            ..HttpRequestInfo::default()
        })
        .new_trace_id()
        .logger(logger.clone())
        .build();
    let provider = audit_core::auth::Provider::new("basic", "cloud");
    let events = [
        AuditEvent::new(&kibana::SAVED_OBJECT_CREATE)
            .with_outcome(Outcome::Unknown)
            .with_resource(Resource::new("dashboard", "1")),
        AuditEvent::new(&kibana::SAVED_OBJECT_GET)
            .with_outcome(Outcome::Success)
            .with_resource(Resource::new("dashboard", "1").with_name("Sales")),
        AuditEvent::new(&kibana::SAVED_OBJECT_DELETE)
            .with_outcome(Outcome::Failure)
            .with_error(ErrorInfo {
                code: Some("not_found".into()),
                message: Some("no such dashboard".into()),
                kind: Some("NotFound".into()),
            })
            .with_resource(Resource::new("dashboard", "2")),
        AuditEvent::new(&kibana::SPACE_FIND)
            .with_outcome(Outcome::Success)
            .with_label("page", "1")
            .with_label("a.b", "c"),
        audit_core::auth::login_success(User::named("bob"), &provider, "session-2"),
        audit_core::auth::login_failure(Some("eve"), &provider, "invalid password"),
        audit_core::auth::logout(User::named("bob"), &provider, "session-2"),
        AuditEvent::custom("user_create", &[Category::Iam][..], &[EventType::User, EventType::Creation][..])
            .with_outcome(Outcome::Success)
            .with_resource(Resource::new("user", "carol")),
        AuditEvent::custom("role_update", &[Category::Iam][..], &[EventType::Group, EventType::Change][..])
            .with_outcome(Outcome::Success)
            .with_resource(Resource::new("role", "admins")),
        AuditEvent::new(&kibana::HTTP_REQUEST).with_outcome(Outcome::Unknown),
        AuditEvent::new(&audit_core::own::AUDIT_SHIP_BEHIND)
            .with_outcome(Outcome::Failure)
            .with_label("destination", "pg"),
    ];
    for event in events {
        logger.log(event.with_context(&context)).unwrap();
    }
    // Without a context: no user, no client address.
    logger.log(AuditEvent::new(&kibana::SAVED_OBJECT_UPDATE).with_outcome(Outcome::Unknown)).unwrap();
    // A write with its result and diff.
    context.in_scope(|| rename(1, "New")).unwrap();
}

#[test]
fn every_line_of_an_ocsf_trail_is_valid_against_its_class_and_the_trail_verifies_and_ships() {
    let dir = TempDir::new("ocsf-trail");
    let path = dir.path("audit.log");
    let (writer, guard) = FileWriter::builder(&path)
        .format(EcsFormat::ocsf().with_service_name("shop"))
        .chain(ChainHash::Sha256)
        .rotation(Rotation::by_size(4096))
        .build()
        .unwrap();
    // The logger writes ECS (to its memory sink); the writer writes OCSF.
    let memory = audit_core::MemorySink::new();
    let logger = AuditLogger::builder().sink(writer).sink(memory.clone()).build();
    every_kind(&logger);
    guard.shutdown().unwrap();

    let validators = validators();
    let mut lines = Vec::new();
    for item in TrailReader::open(&path) {
        if let TrailItem::Event { event, .. } = item.unwrap() {
            lines.push(event);
        }
    }
    assert_eq!(lines.len(), memory.json().len(), "every event is in the OCSF trail");
    let mut classes = BTreeSet::new();
    for line in &lines {
        let found = problems(&validators, line);
        assert!(found.is_empty(), "{line}\n{found:#?}");
        classes.insert((line["class_uid"].as_u64().unwrap(), line["activity_id"].as_u64().unwrap()));
        assert_eq!(
            line["type_uid"].as_u64(),
            Some(line["class_uid"].as_u64().unwrap() * 100 + line["activity_id"].as_u64().unwrap())
        );
        assert_eq!(line["metadata"]["version"], OCSF_VERSION);
        assert_eq!(line["metadata"]["uid"], line["unmapped"]["event"]["id"]);
        assert!(line["unmapped"]["event"]["sequence"].is_u64(), "chained under unmapped.event: {line}");
    }
    // The schemas refuse what OCSF does not have: the check can fail.
    let mut broken = lines[0].clone();
    broken["not_ocsf"] = Value::from(1);
    assert!(!problems(&validators, &broken).is_empty());
    broken = lines[0].clone();
    broken["activity_id"] = Value::from(7);
    assert!(!problems(&validators, &broken).is_empty());
    for expected in
        [(6003, 1), (6003, 2), (6003, 3), (6003, 4), (3002, 1), (3002, 2), (3001, 1), (3004, 3), (4002, 7), (1008, 99)]
    {
        assert!(classes.contains(&expected), "{expected:?} is in the trail: {classes:?}");
    }
    // What the ECS line says, the OCSF line says in its own words.
    let ecs = memory.json();
    let by_id = |id: &Value| ecs.iter().find(|line| line["event"]["id"] == *id).unwrap().clone();
    let delete = lines.iter().find(|line| line["metadata"]["event_code"] == "saved_object_delete").unwrap();
    assert_eq!((delete["status_id"].as_u64(), delete["status"].as_str()), (Some(2), Some("Failure")));
    assert_eq!(delete["api"]["response"]["error_message"], "no such dashboard");
    assert_eq!(delete["actor"]["user"]["name"], "alice");
    assert_eq!(delete["actor"]["user"]["groups"][1]["name"], "viewer");
    assert_eq!(delete["src_endpoint"]["ip"], "203.0.113.7");
    assert_eq!(delete["http_request"]["x_forwarded_for"][0], "198.51.100.1");
    assert_eq!(delete["metadata"]["correlation_uid"], by_id(&delete["metadata"]["uid"])["trace"]["id"]);
    assert_eq!(delete["message"], by_id(&delete["metadata"]["uid"])["message"]);
    let result = lines.iter().find(|line| !line["unmapped"]["kibana"]["intent_event_id"].is_null()).expect("a result");
    assert_eq!(result["activity_id"], 3);
    assert_eq!(result["status"], "Success");
    assert_eq!(result["unmapped"]["kibana"]["diff"]["format"], "json_patch_extended");
    let labels = lines.iter().find(|line| line["metadata"]["event_code"] == "space_find").unwrap();
    assert_eq!(labels["unmapped"]["labels"]["a_b"], "c");

    let report = audit_core::verify::verify_trail(&path, &audit_core::verify::Options::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.verified, lines.len() as u64);

    let shipped = Shipper::builder(&path, Ids(BTreeSet::new()))
        .cursor(dir.path("ship.cursor"))
        .run_until_caught_up(Duration::from_secs(30))
        .unwrap();
    assert_eq!(shipped.delivered, lines.len() as u64);
    let ids: BTreeSet<String> = lines.iter().map(|line| line["metadata"]["uid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), lines.len());
}

#[test]
fn a_trail_can_be_ocsf_from_the_config_and_a_misspelt_schema_is_refused_by_name() {
    let dir = TempDir::new("ocsf-config");
    let path = dir.path("audit.log");
    let config = AuditConfig::from_json(&format!(
        r#"{{ "format": "ocsf", "service_name": "shop", "sinks": [{{ "type": "rolling_file", "path": "{}", "chain": true }}] }}"#,
        path.display()
    ))
    .unwrap();
    let (logger, guards) = config.build().unwrap();
    assert_eq!(logger.format().schema(), LineSchema::Ocsf);
    every_kind(&logger);
    drop(guards);
    let validators = validators();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().count() > 10);
    for line in text.lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        let found = problems(&validators, &line);
        assert!(found.is_empty(), "{line}\n{found:#?}");
        assert_eq!(line["metadata"]["product"]["name"], "shop");
    }

    // One sink in OCSF, the settings in ECS.
    let ocsf = dir.path("ocsf.log");
    let config = AuditConfig::from_json(&format!(
        r#"{{ "sinks": [{{ "type": "rolling_file", "path": "{}", "format": "ocsf" }}] }}"#,
        ocsf.display()
    ))
    .unwrap();
    let (logger, guards) = config.build().unwrap();
    assert_eq!(logger.format().schema(), LineSchema::Ecs);
    logger.log(AuditEvent::new(&kibana::SAVED_OBJECT_GET).with_outcome(Outcome::Success)).unwrap();
    drop(guards);
    let line: Value = serde_json::from_str(std::fs::read_to_string(&ocsf).unwrap().trim()).unwrap();
    assert_eq!(line["class_uid"], 6003);

    let error = AuditConfig::from_json(r#"{ "format": "ocfs" }"#).unwrap_err();
    assert_eq!(error.setting(), "format");
    assert!(error.to_string().contains("did you mean `ocsf`"), "{error}");
}

#[test]
fn an_ecs_line_is_the_same_bytes_as_before_ocsf_existed() {
    // The default format is ECS, and choosing ECS explicitly writes the same line.
    let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
        .with_outcome(Outcome::Success)
        .with_resource(Resource::new("dashboard", "1"));
    let default = EcsFormat::default().with_process_pid(None);
    let explicit = EcsFormat::default().with_process_pid(None).with_schema(LineSchema::Ecs);
    assert_eq!(default.to_line(&event), explicit.to_line(&event));
    let line: Value = serde_json::from_str(&default.to_line(&event)).unwrap();
    assert!(line["class_uid"].is_null() && line["event"]["action"] == "saved_object_get");
}
