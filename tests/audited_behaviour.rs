//! What `#[audited]` does at run time: timing against the body's side effects, authorization,
//! bulk operations, panics, cancellation, and filters.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use audit_core::sink::SyncFileSink;
use audit_core::{audited, AuditContext, AuditLogger, IgnoreFilter, MemorySink, Outcome, User};
use serde_json::Value;

fn context_with(memory_or_logger: AuditLogger, user: &str, roles: &[&str]) -> AuditContext {
    AuditContext::builder()
        .user(User::named(user).with_roles(roles.iter().copied()))
        .space_id("default")
        .new_trace_id()
        .logger(memory_or_logger)
        .build()
}

fn capture(user: &str, roles: &[&str]) -> (AuditContext, MemorySink) {
    let (logger, memory) = AuditLogger::capture();
    (context_with(logger, user, roles), memory)
}

// ---------------------------------------------------------------------------------------------
// Timing, proven against a real file: the body checks what is on disk when it runs.

struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("audit-timing-{}-{name}.log", std::process::id()));
        let _ = fs::remove_file(&path);
        TempFile(path)
    }
    fn lines(&self) -> Vec<Value> {
        fs::read_to_string(&self.0).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Lines in the audit file when a body ran.
static SEEN_BY_BODY: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn audit_lines_now(path: &PathBuf) -> usize {
    fs::read_to_string(path).map(|s| s.lines().count()).unwrap_or(0)
}

#[audited(action = "dashboard_update", category = "database", resource(type = "dashboard", id = id))]
fn write_op(id: u32, audit_file: &PathBuf) -> Result<(), String> {
    SEEN_BY_BODY.lock().unwrap().push(audit_lines_now(audit_file));
    Ok(())
}

#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = id))]
fn read_op(id: u32, audit_file: &PathBuf) -> Result<(), String> {
    SEEN_BY_BODY.lock().unwrap().push(audit_lines_now(audit_file));
    Ok(())
}

#[test]
fn writes_are_on_disk_before_the_body_runs_and_reads_only_after() {
    let file = TempFile::new("timing");
    let logger = AuditLogger::builder().sink(SyncFileSink::open(&file.0).unwrap()).build();
    let ctx = context_with(logger, "alice", &["editor"]);
    SEEN_BY_BODY.lock().unwrap().clear();

    ctx.in_scope(|| write_op(1, &file.0)).unwrap();
    ctx.in_scope(|| read_op(2, &file.0)).unwrap();

    // The write's body already saw its own event in the file; the read's body saw only the write's.
    assert_eq!(*SEEN_BY_BODY.lock().unwrap(), [1, 1]);
    let lines = file.lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["event"]["outcome"], "unknown");
    assert_eq!(lines[1]["event"]["outcome"], "success");
}

// ---------------------------------------------------------------------------------------------
// Authorization.

#[derive(Debug, PartialEq)]
pub struct Forbidden(String);

impl std::fmt::Display for Forbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "forbidden: {}", self.0)
    }
}

#[derive(Debug, PartialEq)]
pub enum ServiceError {
    Forbidden(String),
}

impl From<Forbidden> for ServiceError {
    fn from(error: Forbidden) -> Self {
        ServiceError::Forbidden(error.0)
    }
}

fn require_editor(ctx: &AuditContext) -> Result<(), Forbidden> {
    let roles = ctx.user().map(|u| u.roles.clone()).unwrap_or_default();
    if roles.iter().any(|r| r == "editor") {
        Ok(())
    } else {
        Err(Forbidden("requires the editor role".into()))
    }
}

static BODY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[audited(action = "dashboard_delete", category = "database", authorize = require_editor, resource(type = "dashboard", id = id))]
fn guarded_delete(id: &str) -> Result<(), ServiceError> {
    BODY_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[test]
fn denied_write_logs_failure_and_never_runs_the_body() {
    let before = BODY_RUNS.load(Ordering::SeqCst);
    let (viewer, memory) = capture("bob", &["viewer"]);
    let result = viewer.in_scope(|| guarded_delete("d-9"));
    assert_eq!(result, Err(ServiceError::Forbidden("requires the editor role".into())));
    assert_eq!(BODY_RUNS.load(Ordering::SeqCst), before, "the body must not run");
    let events = memory.json();
    assert_eq!(events.len(), 1, "only the failure: no `unknown` event for a denied write");
    assert_eq!(events[0]["event"]["outcome"], "failure");
    assert_eq!(events[0]["message"], "Failed attempt to delete dashboard [id=d-9]");
    assert_eq!(events[0]["error"]["message"], "forbidden: requires the editor role");

    let (editor, memory) = capture("alice", &["editor"]);
    editor.in_scope(|| guarded_delete("d-9")).unwrap();
    assert_eq!(BODY_RUNS.load(Ordering::SeqCst), before + 1);
    assert_eq!(memory.json()[0]["event"]["outcome"], "unknown");
}

// `authorize` as an expression, with access to the parameters.
#[audited(
    action = "dashboard_get",
    category = "database",
    authorize = if owner == "alice" { Ok(()) } else { Err(Forbidden(format!("{owner} is not the owner"))) },
    resource(type = "dashboard", id = id)
)]
fn owner_only(owner: &str, id: u32) -> Result<u32, ServiceError> {
    Ok(id)
}

#[test]
fn authorize_expression_sees_parameters() {
    let (ctx, memory) = capture("alice", &[]);
    assert_eq!(ctx.in_scope(|| owner_only("alice", 1)), Ok(1));
    assert!(ctx.in_scope(|| owner_only("mallory", 2)).is_err());
    let outcomes: Vec<Value> = memory.json().iter().map(|e| e["event"]["outcome"].clone()).collect();
    assert_eq!(outcomes, ["success", "failure"]);
}

// ---------------------------------------------------------------------------------------------
// Bulk operations: one event per resource, one shared trace id.

#[derive(Clone)]
pub struct Dashboard {
    id: String,
    title: String,
}

#[audited(action = "dashboard_bulk_get", category = "database", resource(type = "dashboard", each = ids))]
fn bulk_get(ids: &[&str]) -> Result<usize, String> {
    Ok(ids.len())
}

#[audited(
    action = "dashboard_bulk_delete",
    category = "database",
    authorize = require_editor,
    resource(type = "dashboard", each = dashboards, id = |d| d.id.clone(), name = |d| d.title.clone())
)]
fn bulk_delete(dashboards: Vec<Dashboard>) -> Result<usize, ServiceError> {
    Ok(dashboards.len())
}

#[audited(action = "dashboard_bulk_get", category = "database", resource(type = "dashboard", each = ids.iter().filter(|id| !id.is_empty())))]
fn bulk_get_expr(ids: Vec<String>) -> usize {
    ids.len()
}

#[test]
fn bulk_reads_log_one_event_per_resource_with_one_trace_id() {
    let (ctx, memory) = capture("alice", &["viewer"]);
    assert_eq!(ctx.in_scope(|| bulk_get(&["a", "b", "c"])), Ok(3));
    let events = memory.json();
    let ids: Vec<&str> = events.iter().map(|e| e["kibana"]["saved_object"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert!(events.iter().all(|e| e["event"]["outcome"] == "success"));
    let trace = &events[0]["trace"]["id"];
    assert!(events.iter().all(|e| &e["trace"]["id"] == trace));
    assert_eq!(events[1]["message"], "User has accessed dashboard [id=b]");

    memory.take();
    assert_eq!(ctx.in_scope(|| bulk_get_expr(vec!["x".into(), String::new(), "y".into()])), 3);
    assert_eq!(memory.len(), 2, "the expression's items, not the parameter's");
}

#[test]
fn bulk_denial_gives_every_resource_its_failure() {
    let dashboards =
        vec![Dashboard { id: "1".into(), title: "Sales".into() }, Dashboard { id: "2".into(), title: "Ops".into() }];
    let (viewer, memory) = capture("bob", &["viewer"]);
    assert!(viewer.in_scope(|| bulk_delete(dashboards.clone())).is_err());
    let events = memory.json();
    assert_eq!(events.len(), 2);
    for (event, (id, title)) in events.iter().zip([("1", "Sales"), ("2", "Ops")]) {
        assert_eq!(event["event"]["outcome"], "failure");
        assert_eq!(event["kibana"]["saved_object"], serde_json::json!({"type": "dashboard", "id": id, "name": title}));
        assert_eq!(event["error"]["message"], "forbidden: requires the editor role");
    }

    let (editor, memory) = capture("alice", &["editor"]);
    assert_eq!(editor.in_scope(|| bulk_delete(dashboards)), Ok(2));
    assert!(memory.json().iter().all(|e| e["event"]["outcome"] == "unknown"));
    assert_eq!(memory.len(), 2);
}

#[test]
fn bulk_with_no_items_logs_one_event_for_the_action() {
    let (ctx, memory) = capture("alice", &[]);
    assert_eq!(ctx.in_scope(|| bulk_get(&[])), Ok(0));
    let event = &memory.json()[0];
    assert!(event["kibana"].get("saved_object").is_none());
    assert_eq!(event["message"], "User has accessed dashboards");
}

// ---------------------------------------------------------------------------------------------
// Panics and cancellation.

#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = id))]
fn panicking_read(id: u32) -> u32 {
    if id > 0 {
        panic!("boom");
    }
    id
}

#[audited(action = "dashboard_update", category = "database", resource(type = "dashboard", id = id))]
fn panicking_write(id: u32) {
    panic!("boom {id}");
}

#[test]
fn panics_are_logged_and_keep_unwinding() {
    let (ctx, memory) = capture("alice", &[]);
    let result = std::panic::catch_unwind(|| ctx.in_scope(|| panicking_read(1)));
    assert!(result.is_err(), "the panic continues to unwind");
    let event = &memory.json()[0];
    assert_eq!(event["event"]["outcome"], "failure");
    assert_eq!(event["error"]["type"], "panic");

    memory.take();
    assert!(std::panic::catch_unwind(|| ctx.in_scope(|| panicking_write(2))).is_err());
    let outcomes: Vec<Value> = memory.json().iter().map(|e| e["event"]["outcome"].clone()).collect();
    assert_eq!(outcomes, ["unknown", "failure"], "the intention, then the panic");
}

#[audited(action = "dashboard_get", category = "database")]
async fn never_finishes() -> u32 {
    std::future::pending::<()>().await;
    1
}

#[tokio::test]
async fn a_cancelled_read_is_not_silently_skipped() {
    let (ctx, memory) = capture("alice", &[]);
    let result = tokio::time::timeout(std::time::Duration::from_millis(10), ctx.scope(never_finishes())).await;
    assert!(result.is_err());
    let event = &memory.json()[0];
    assert_eq!(event["event"]["outcome"], "unknown");
    assert_eq!(event["event"]["reason"], "cancelled before completion");
}

// ---------------------------------------------------------------------------------------------
// Filters: a filtered call prepares nothing and writes nothing.

static PREPARED: AtomicUsize = AtomicUsize::new(0);

fn counted(id: u32) -> u32 {
    PREPARED.fetch_add(1, Ordering::SeqCst);
    id
}

#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = counted(id)))]
fn filtered_read(id: u32) -> u32 {
    id
}

#[test]
fn ignore_filters_skip_preparation_and_logging() {
    let memory = MemorySink::new();
    let logger =
        AuditLogger::builder().sink(memory.clone()).ignore(IgnoreFilter::new().actions(["dashboard_get"])).build();
    let ctx = context_with(logger.clone(), "alice", &[]);
    let before = PREPARED.load(Ordering::SeqCst);
    assert_eq!(ctx.in_scope(|| filtered_read(3)), 3);
    assert_eq!(PREPARED.load(Ordering::SeqCst), before, "the resource id was never computed");
    assert!(memory.is_empty());
    assert_eq!(logger.stats().ignored, 1);

    // An outcome-specific filter needs the outcome: the event is prepared, then dropped on success.
    let memory = MemorySink::new();
    let logger = AuditLogger::builder()
        .sink(memory.clone())
        .ignore(IgnoreFilter::new().actions(["dashboard_get"]).outcomes([Outcome::Success]))
        .build();
    let ctx = context_with(logger, "alice", &[]);
    ctx.in_scope(|| filtered_read(4));
    assert!(memory.is_empty());
    assert_eq!(PREPARED.load(Ordering::SeqCst), before + 1);
}

// ---------------------------------------------------------------------------------------------
// No call leaves no event: a panicking authorization check, an error whose `Display` panics.

fn authorize_panics(_: &AuditContext) -> Result<(), String> {
    panic!("the session store is gone");
}

static RAN_AFTER_PANICKING_AUTHORIZE: AtomicUsize = AtomicUsize::new(0);

#[audited(action = "dashboard_delete", category = "database", authorize = authorize_panics,
          resource(type = "dashboard", id = id))]
fn delete_with_panicking_authorize(id: u32) -> Result<(), String> {
    RAN_AFTER_PANICKING_AUTHORIZE.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[audited(action = "dashboard_get", category = "database", authorize = authorize_panics)]
fn read_with_panicking_authorize() -> Result<u32, String> {
    Ok(1)
}

#[test]
fn an_authorization_check_that_panics_is_logged_as_a_failure_and_unwinds() {
    let (ctx, memory) = capture("alice", &["editor"]);
    let result = std::panic::catch_unwind(|| ctx.in_scope(|| delete_with_panicking_authorize(7)));
    assert!(result.is_err(), "the panic goes on unwinding");
    assert_eq!(RAN_AFTER_PANICKING_AUTHORIZE.load(Ordering::SeqCst), 0, "the body never ran");
    let events = memory.json();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"]["outcome"], "failure");
    assert_eq!(events[0]["error"]["type"], "panic");
    assert_eq!(events[0]["kibana"]["saved_object"]["id"], "7");

    memory.take();
    assert!(std::panic::catch_unwind(|| ctx.in_scope(read_with_panicking_authorize)).is_err());
    let events = memory.json();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0]["event"]["outcome"].as_str(), events[0]["error"]["type"].as_str()),
        (Some("failure"), Some("panic"))
    );
}

#[derive(Debug)]
struct Unprintable;

impl std::fmt::Display for Unprintable {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("this error cannot describe itself");
    }
}

impl std::error::Error for Unprintable {}

#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = id))]
fn read_failing_with_unprintable_error(id: u32) -> Result<u32, Unprintable> {
    Err(Unprintable)
}

fn deny_with_unprintable(_: &AuditContext) -> Result<(), Unprintable> {
    Err(Unprintable)
}

#[audited(action = "dashboard_update", category = "database", authorize = deny_with_unprintable)]
fn update_denied_with_unprintable() -> Result<(), Unprintable> {
    Ok(())
}

/// Only the audit calls the error's `Display`: its panic must neither escape (the call returns
/// its error as it would without the attribute) nor leave the call unrecorded.
#[test]
fn an_error_whose_display_panics_is_still_on_record() {
    let (ctx, memory) = capture("alice", &[]);
    let result = std::panic::catch_unwind(|| ctx.in_scope(|| read_failing_with_unprintable_error(3)));
    assert!(matches!(result, Ok(Err(Unprintable))), "the call returns its own error");
    let events = memory.json();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"]["outcome"], "failure");
    assert_eq!(events[0]["kibana"]["saved_object"]["id"], "3");
    assert!(events[0]["error"]["type"].as_str().unwrap().contains("Unprintable"), "{}", events[0]);
    assert!(events[0]["error"]["message"].as_str().unwrap().contains("panicked"), "{}", events[0]);

    memory.take();
    let result = std::panic::catch_unwind(|| ctx.in_scope(update_denied_with_unprintable));
    assert!(matches!(result, Ok(Err(Unprintable))), "the denial returns its own error");
    let events = memory.json();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"]["outcome"], "failure");
}
