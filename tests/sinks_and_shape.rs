//! Sinks with real destinations (a file on disk, a `tracing` subscriber) and the line's shape
//! compared with Kibana's audit lines.

mod common;

use std::collections::BTreeSet;

use audit_core::event::HttpRequestInfo;
use audit_core::sink::SyncFileSink;
use audit_core::sink::TracingSink;
use audit_core::{kibana, AuditContext, AuditEvent, AuditLogger, EcsFormat, Outcome, Resource, User};
use serde_json::Value;

fn temp_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("audit-sinks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn file_sink_appends_whole_lines_from_many_threads() {
    let path = temp_path("concurrent.log");
    std::fs::write(&path, "{\"existing\":true}\n").unwrap();
    let logger = AuditLogger::builder().sink(SyncFileSink::open(&path).unwrap()).build();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let logger = logger.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
                        .with_outcome(Outcome::Success)
                        .with_resource(Resource::new("dashboard", format!("{t}-{i}")).with_name("x".repeat(i % 300)));
                    logger.log(event).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "{\"existing\":true}", "append-only: earlier content is kept");
    let ids: BTreeSet<String> = lines[1..]
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("no torn or interleaved line")["kibana"]["saved_object"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(lines.len() - 1, 4000);
    assert_eq!(ids.len(), 4000, "every event exactly once");
    assert_eq!(logger.stats().written, 4000);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let fresh = temp_path("fresh.log");
        drop(SyncFileSink::open(&fresh).unwrap());
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::remove_file(fresh).unwrap();
    }
    std::fs::remove_file(path).unwrap();
}

#[test]
fn an_unwritable_file_is_an_error_that_names_it() {
    let error = SyncFileSink::open("/nonexistent-directory/audit.log").unwrap_err();
    assert!(error.to_string().contains("/nonexistent-directory/audit.log"), "{error}");
}

/// Collects what a `tracing` subscriber writes.
use common::Captured as Buffer;

#[test]
fn tracing_sink_reemits_on_the_audit_target() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let logger = AuditLogger::builder().sink(TracingSink).build();
    tracing::subscriber::with_default(subscriber, || {
        let ctx = AuditContext::builder().user(User::named("alice")).trace_id("abc").build();
        let event = AuditEvent::new(&kibana::SPACE_DELETE)
            .with_context(&ctx)
            .with_outcome(Outcome::Unknown)
            .with_resource(Resource::new("space", "marketing"));
        logger.log(event).unwrap();
    });
    let output = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(output.contains(" INFO audit: User is deleting space [id=marketing]"), "{output}");
    assert!(output.contains("action=space_delete"), "{output}");
    assert!(output.contains("outcome=\"unknown\""), "{output}");
    assert!(output.contains("user=\"alice\""), "{output}");
    assert!(output.contains("json="), "{output}");
}

/// Every key path of a line, as `a.b.c`.
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            if child.is_object() {
                key_paths(child, &path, out);
            } else {
                out.insert(path);
            }
        }
    }
}

#[test]
fn default_lines_have_kibanas_field_shape() {
    // The fields Kibana writes on a saved-object event logged in an HTTP request (see Kibana's
    // audit logging reference): nested objects, application fields under `kibana`.
    let kibana_line: Value = serde_json::json!({
        "@timestamp": "2024-01-01T00:00:00.000Z",
        "message": "User is updating dashboard [id=123]",
        "event": {"action": "saved_object_update", "category": ["database"], "type": ["change"], "outcome": "unknown"},
        "user": {"id": "u_profile", "name": "elastic", "roles": ["superuser"]},
        "kibana": {"space_id": "default", "session_id": "s1", "saved_object": {"type": "dashboard", "id": "123", "name": "Sales"}},
        "client": {"ip": "127.0.0.1"},
        "http": {"request": {"method": "put", "headers": {"x-forwarded-for": "1.2.3.4"}}},
        "url": {"domain": "localhost", "path": "/api/saved_objects/dashboard/123", "port": 5601, "query": "x=1", "scheme": "http"},
        "trace": {"id": "3b9b6a0e-0000"},
        "log": {"level": "INFO", "logger": "plugins.security.audit.ecs"},
        "ecs": {"version": "8.11.0"},
    });
    let ctx = AuditContext::builder()
        .user(User::named("elastic").with_id("u_profile").with_roles(["superuser"]))
        .space_id("default")
        .session_id("s1")
        .client_ip("127.0.0.1".parse().unwrap())
        .http(HttpRequestInfo {
            method: Some("put".into()),
            path: Some("/api/saved_objects/dashboard/123".into()),
            query: Some("x=1".into()),
            domain: Some("localhost".into()),
            port: Some(5601),
            scheme: Some("http".into()),
            user_agent: None,
            forwarded_for: Some("1.2.3.4".into()),
        })
        .trace_id("3b9b6a0e-0000")
        .build();
    let event = AuditEvent::new(&kibana::SAVED_OBJECT_UPDATE)
        .with_context(&ctx)
        .with_outcome(Outcome::Unknown)
        .with_resource(Resource::new("dashboard", "123").with_name("Sales"));
    let ours: Value = serde_json::from_str(&EcsFormat::default().to_line(&event)).unwrap();

    let (mut theirs_paths, mut our_paths) = (BTreeSet::new(), BTreeSet::new());
    key_paths(&kibana_line, "", &mut theirs_paths);
    key_paths(&ours, "", &mut our_paths);
    let missing: Vec<&String> = theirs_paths.difference(&our_paths).collect();
    assert!(missing.is_empty(), "fields Kibana writes that we do not: {missing:?}");
    let extra: Vec<&String> = our_paths.difference(&theirs_paths).collect();
    assert_eq!(extra, ["event.id", "process.pid"], "our only additions are ECS's event.id and process.pid");
    assert_eq!(ours["event"]["id"], event.id.as_str(), "the event's own id");
    let mut ours = ours;
    ours["event"].as_object_mut().unwrap().remove("id");
    for path in ["message", "event", "user", "kibana", "client", "http", "url"] {
        assert_eq!(ours[path], kibana_line[path], "{path}");
    }

    // Names can be left out, like Kibana's `include_saved_object_names: false`.
    let without_names: Value =
        serde_json::from_str(&EcsFormat::default().with_resource_names(false).to_line(&event)).unwrap();
    assert!(without_names["kibana"]["saved_object"].get("name").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_carry_the_context() {
    use audit_core::context::WithAuditContext;
    let (logger, memory) = AuditLogger::capture();
    let ctx = AuditContext::builder().user(User::named("carol")).new_trace_id().logger(logger).build();
    let _scope = ctx.enter();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            tokio::spawn(
                async move {
                    tokio::task::yield_now().await;
                    audit_core::dispatch::log(
                        AuditEvent::new(&kibana::SPACE_GET)
                            .with_outcome(Outcome::Success)
                            .with_label("task", i.to_string()),
                    )
                }
                .in_current_audit_context(),
            )
        })
        .collect();
    drop(_scope);
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let events = memory.json();
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e["user"]["name"] == "carol" && e["trace"]["id"] == ctx.trace_id().unwrap()));
}
