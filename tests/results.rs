//! What changed, and did it take effect: a write whose action carries results logs its intent
//! before its body and a result after it (success, failure with `error.*`, a panic, a
//! cancellation), linked by the intent's `event.id`; a change recorded in the body is the
//! result's `kibana.diff`, in Kibana's shape, with secrets only as HMACs.

use std::borrow::Cow;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use audit_core::changes::{self, DiffSettings};
use audit_core::schema::Timing;
use audit_core::secret::Concealer;
use audit_core::sink::{FailurePolicy, Record, SinkError};
use audit_core::{
    audited, kibana, Action, AuditContext, AuditErrorCode, AuditLogger, AuditRefused, AuditSink, Category, Durability,
    EventType, MemorySink, User,
};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, PartialEq)]
enum StoreError {
    NotFound(String),
    Refused,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound(id) => write!(f, "dashboard {id} not found"),
            StoreError::Refused => f.write_str("audit refused"),
        }
    }
}

impl AuditErrorCode for StoreError {
    fn audit_error_code(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            StoreError::NotFound(_) => "not_found".into(),
            StoreError::Refused => "audit_refused".into(),
        })
    }
}

impl From<AuditRefused> for StoreError {
    fn from(_: AuditRefused) -> Self {
        StoreError::Refused
    }
}

#[derive(Clone, Debug, Serialize)]
struct Dashboard {
    id: String,
    title: String,
    tags: Vec<String>,
    share_password: Option<String>,
    api_token: Option<String>,
}

fn dashboard(id: &str, title: &str) -> Dashboard {
    Dashboard { id: id.into(), title: title.into(), tags: vec![], share_password: None, api_token: None }
}

type Db = Mutex<Vec<Dashboard>>;

#[audited(action = kibana::SAVED_OBJECT_UPDATE, results(secret = ["share_password"]), resource(type = "dashboard", id = id))]
fn rename(db: &Db, id: &str, title: &str, password: Option<&str>) -> Result<(), StoreError> {
    let mut db = db.lock().unwrap();
    let stored = db.iter_mut().find(|d| d.id == id).ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
    let before = stored.clone();
    stored.title = title.to_owned();
    stored.tags.push("renamed".to_owned());
    if let Some(password) = password {
        stored.share_password = Some(password.to_owned());
        stored.api_token = Some(format!("token-of-{password}"));
    }
    changes::update(&before, &*stored);
    Ok(())
}

#[audited(action = kibana::SAVED_OBJECT_DELETE, results, resource(type = "dashboard", id = id))]
fn delete(db: &Db, id: &str) -> Result<(), StoreError> {
    let mut db = db.lock().unwrap();
    let index = db.iter().position(|d| d.id == id).ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
    let gone = db.remove(index);
    changes::delete(&gone);
    Ok(())
}

#[audited(action = kibana::SAVED_OBJECT_DELETE, results, resource(type = "dashboard", each = ids))]
fn bulk_delete(db: &Db, ids: &[&str]) -> Result<usize, StoreError> {
    let mut db = db.lock().unwrap();
    let mut deleted = 0;
    for id in ids {
        if let Some(index) = db.iter().position(|d| d.id == *id) {
            let gone = db.remove(index);
            changes::of(id).delete(&gone);
            deleted += 1;
        }
    }
    // A resource the call does not name: counted, never written anywhere.
    changes::of("not-in-this-call").delete(&dashboard("x", "x"));
    Ok(deleted)
}

#[audited(action = kibana::SAVED_OBJECT_CREATE, results, resource(type = "dashboard", id = id))]
fn create_panicking(id: &str) -> Result<(), StoreError> {
    changes::create(&dashboard(id, "half-made"));
    panic!("the database connection was lost mid-write");
}

const WIDGET_UPDATE: Action = Action::new("widget_update", Category::Database, EventType::Change);

/// An action constant that carries no results: the macro cannot see that, the runtime can.
#[audited(action = WIDGET_UPDATE, resource(type = "widget", id = id))]
fn update_widget(id: u32) -> Result<u32, StoreError> {
    changes::update(&1, &2);
    Ok(id)
}

/// Opts out even where the logger turns results on for every write.
#[audited(action = WIDGET_UPDATE, results = false, resource(type = "widget", id = id))]
fn update_widget_quietly(id: u32) -> Result<u32, StoreError> {
    Ok(id)
}

#[audited(action = "widget_update", category = "database", results, durability = "flushed", resource(type = "widget", id = id))]
async fn update_widget_async(id: u32, db: &Db) -> Result<(), StoreError> {
    let before = dashboard("w", "before");
    tokio::task::yield_now().await;
    changes::update(&before, &dashboard("w", "after"));
    db.lock().unwrap().push(dashboard("w", "after"));
    Ok(())
}

#[audited(action = "widget_update", category = "database", results, resource(type = "widget", id = id))]
async fn update_widget_forever(id: u32) -> Result<(), StoreError> {
    std::future::pending::<()>().await;
    Ok(())
}

fn db() -> Db {
    Mutex::new(vec![dashboard("d1", "Sales"), dashboard("d2", "Ops"), dashboard("d3", "HR")])
}

const KEY: &[u8] = b"results-test-key";

fn capture_with(builder: audit_core::logger::AuditLoggerBuilder) -> (AuditContext, MemorySink, AuditLogger) {
    let memory = MemorySink::new();
    let logger = builder.sink(memory.clone()).hmac_key(KEY).build();
    let ctx = AuditContext::builder()
        .user(User::named("alice").with_roles(["editor"]))
        .space_id("default")
        .logger(logger.clone())
        .build();
    (ctx, memory, logger)
}

fn capture() -> (AuditContext, MemorySink, AuditLogger) {
    capture_with(AuditLogger::builder())
}

fn ops(line: &Value) -> &Vec<Value> {
    line["kibana"]["diff"]["ops"].as_array().unwrap_or_else(|| panic!("no diff: {line}"))
}

fn op<'a>(line: &'a Value, path: &str) -> &'a Value {
    ops(line).iter().find(|op| op["path"] == path).unwrap_or_else(|| panic!("no op at {path}: {line}"))
}

#[test]
fn a_write_logs_its_intent_then_its_result_linked_by_the_intents_id() {
    let (ctx, memory, _) = capture();
    let db = db();
    ctx.in_scope(|| rename(&db, "d1", "Sales 2026", None)).unwrap();
    let [intent, result] = memory.json().try_into().unwrap();
    assert_eq!(intent["event"]["outcome"], "unknown");
    assert_eq!(intent["message"], "User is updating dashboard [id=d1]");
    assert!(intent["kibana"].get("diff").is_none() && intent["kibana"].get("intent_event_id").is_none());
    assert_eq!(result["event"]["outcome"], "success");
    assert_eq!(result["message"], "User has updated dashboard [id=d1]");
    assert_eq!(result["kibana"]["intent_event_id"], intent["event"]["id"]);
    assert_ne!(result["event"]["id"], intent["event"]["id"]);
    assert_eq!(result["trace"]["id"], intent["trace"]["id"]);
    assert!(result["event"]["duration"].as_u64().is_some(), "{result}");
    assert_eq!(result["kibana"]["saved_object"]["id"], "d1");
    // The old and new title, and the tag added.
    let title = op(&result, "/title");
    assert_eq!(
        (&title["op"], &title["oldValue"], &title["value"]),
        (&"replace".into(), &"Sales".into(), &"Sales 2026".into())
    );
    assert_eq!(op(&result, "/tags/0")["value"], "renamed");
    assert_eq!(ops(&result).len(), 2, "unchanged fields are not operations: {result}");
}

#[test]
fn a_failed_write_is_a_failure_with_its_error_joined_to_its_intent() {
    let (ctx, memory, _) = capture();
    let db = db();
    let error = ctx.in_scope(|| delete(&db, "missing")).unwrap_err();
    assert_eq!(error, StoreError::NotFound("missing".into()), "the call's own error is returned");
    let [intent, result] = memory.json().try_into().unwrap();
    assert_eq!(result["event"]["outcome"], "failure");
    assert_eq!(result["error"]["code"], "not_found");
    assert_eq!(result["error"]["message"], "dashboard missing not found");
    assert_eq!(result["kibana"]["intent_event_id"], intent["event"]["id"]);
    assert_eq!(result["message"], "Failed attempt to delete dashboard [id=missing]");
    assert!(result["kibana"].get("diff").is_none(), "nothing was recorded: {result}");
}

#[test]
fn a_deletion_diffs_to_nothing_and_a_panic_is_a_failure_result() {
    let (ctx, memory, _) = capture();
    let db = db();
    ctx.in_scope(|| delete(&db, "d2")).unwrap();
    let result = &memory.json()[1];
    let removed: Vec<(&str, &Value)> = ops(result)
        .iter()
        .map(|op| {
            assert_eq!(op["op"], "remove", "{result}");
            (op["path"].as_str().unwrap(), &op["oldValue"])
        })
        .collect();
    assert!(removed.contains(&("/title", &"Ops".into())), "{result}");

    let (ctx, memory, _) = capture();
    let panicked = std::panic::catch_unwind(|| ctx.in_scope(|| create_panicking("d9")));
    assert!(panicked.is_err(), "the panic keeps unwinding");
    let [intent, result] = memory.json().try_into().unwrap();
    assert_eq!(result["event"]["outcome"], "failure");
    assert_eq!(result["error"]["type"], "panic");
    assert_eq!(result["kibana"]["intent_event_id"], intent["event"]["id"]);
    assert_eq!(op(&result, "/title")["value"], "half-made", "what the body recorded before it panicked");
}

#[test]
fn secrets_change_as_hmacs_and_masked_fields_are_redacted() {
    let (ctx, memory, _) = capture();
    let db = db();
    ctx.in_scope(|| rename(&db, "d1", "Sales", Some("hunter2"))).unwrap();
    let result = &memory.json()[1];
    let line = memory.lines()[1].clone();
    assert!(!line.contains("hunter2"), "the secret's clear text: {line}");
    let password = op(result, "/share_password");
    assert_eq!(password["value"], Concealer::new(KEY.to_vec()).hash("hunter2"), "matchable with `audit hash`");
    assert_eq!(password["oldValue"], Value::Null, "it had none");
    assert_eq!(op(result, "/api_token")["value"], "[redacted]", "an always-masked name not marked secret");
}

#[test]
fn a_bulk_write_has_one_result_per_resource_each_with_its_own_change() {
    let (ctx, memory, _) = capture();
    let db = db();
    let misuses = changes::misuses();
    assert_eq!(ctx.in_scope(|| bulk_delete(&db, &["d1", "d3", "nope"])).unwrap(), 2);
    let lines = memory.json();
    assert_eq!(lines.len(), 6, "three intents, three results");
    let (intents, results) = lines.split_at(3);
    for (intent, result) in intents.iter().zip(results) {
        assert_eq!(result["kibana"]["intent_event_id"], intent["event"]["id"]);
        assert_eq!(result["kibana"]["saved_object"]["id"], intent["kibana"]["saved_object"]["id"]);
        assert_eq!(result["trace"]["id"], lines[0]["trace"]["id"], "one trace for the bulk call");
    }
    assert_eq!(op(&results[0], "/title")["oldValue"], "Sales");
    assert_eq!(op(&results[1], "/title")["oldValue"], "HR");
    assert!(results[2]["kibana"].get("diff").is_none(), "nothing was deleted for `nope`");
    assert!(changes::misuses() > misuses, "the change of a resource the call does not name is counted");
}

#[test]
fn a_change_with_nowhere_to_go_is_counted_never_dropped_in_silence() {
    let before = changes::misuses();
    changes::update(&1, &2); // outside any audited call
    assert_eq!(changes::misuses(), before + 1);
    let (ctx, memory, _) = capture();
    ctx.in_scope(|| update_widget(7)).unwrap(); // its action carries no results
    assert_eq!(changes::misuses(), before + 2);
    assert_eq!(memory.json().len(), 1, "the intent alone");
}

#[test]
fn the_logger_turns_results_on_for_every_write_unless_the_attribute_opts_out() {
    let (ctx, memory, _) = capture_with(AuditLogger::builder().write_results(true));
    assert_eq!(ctx.in_scope(|| update_widget(7)).unwrap(), 7);
    let lines = memory.take();
    assert_eq!(lines.len(), 2, "intent and result");
    assert_eq!(ctx.in_scope(|| update_widget_quietly(8)).unwrap(), 8);
    assert_eq!(memory.json().len(), 1, "`results = false` keeps to the intent alone");
    // Without it, the default is Kibana's: the intent alone.
    let (ctx, memory, _) = capture();
    assert_eq!(kibana::SAVED_OBJECT_UPDATE.timing(), Timing::Before);
    ctx.in_scope(|| update_widget(7)).unwrap();
    assert_eq!(memory.json().len(), 1);
}

#[test]
fn async_writes_record_across_awaits_and_a_cancelled_one_is_unknown_with_a_reason() {
    let (ctx, memory, _) = capture();
    let db = db();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(ctx.scope(update_widget_async(3, &db))).unwrap();
    let [intent, result] = memory.json().try_into().unwrap();
    assert_eq!(result["kibana"]["intent_event_id"], intent["event"]["id"]);
    assert_eq!(op(&result, "/title")["value"], "after");

    let (ctx, memory, _) = capture();
    {
        let mut future = Box::pin(ctx.scope(update_widget_forever(4)));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(future.as_mut().poll(&mut context).is_pending());
    } // dropped mid-way
    let [intent, result] = memory.json().try_into().unwrap();
    assert_eq!(result["event"]["outcome"], "unknown");
    assert_eq!(result["event"]["reason"], "cancelled before completion");
    assert_eq!(result["kibana"]["intent_event_id"], intent["event"]["id"]);
}

/// A sink that records each event's durability, and refuses write results while told to.
#[derive(Clone, Default)]
struct Watching {
    lines: Arc<Mutex<Vec<(Value, Durability)>>>,
    refuse_results: Arc<AtomicBool>,
}

impl AuditSink for Watching {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        if self.refuse_results.load(Ordering::SeqCst) && record.event().intent_id().is_some() {
            return Err(FailurePolicy::FailClosed.failure(io::Error::other("disk full")));
        }
        let line = serde_json::from_str(record.line()).unwrap();
        self.lines.lock().unwrap().push((line, record.durability()));
        Ok(())
    }
    fn describe(&self) -> String {
        "watching".to_owned()
    }
}

#[test]
fn a_refused_result_never_fails_the_committed_write_and_the_trail_notes_the_gap() {
    let sink = Watching::default();
    let logger = AuditLogger::builder().sink(sink.clone()).build();
    let ctx = AuditContext::builder().user(User::named("alice")).logger(logger.clone()).build();
    let db = db();
    sink.refuse_results.store(true, Ordering::SeqCst);
    assert_eq!(ctx.in_scope(|| delete(&db, "d1")), Ok(()), "the write happened: its own result is returned");
    assert!(db.lock().unwrap().iter().all(|d| d.id != "d1"));
    assert_eq!(logger.stats().results_lost, 1);
    let intent_id = sink.lines.lock().unwrap()[0].0["event"]["id"].as_str().unwrap().to_owned();

    sink.refuse_results.store(false, Ordering::SeqCst);
    ctx.in_scope(|| delete(&db, "d2")).unwrap();
    let lines = sink.lines.lock().unwrap();
    let actions: Vec<&str> = lines.iter().map(|(l, _)| l["event"]["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["saved_object_delete", "saved_object_delete", "audit_results_lost", "saved_object_delete"]);
    let note = &lines[2].0;
    assert_eq!(note["labels"]["lost_results"], "1");
    assert_eq!(note["labels"]["intent_event_ids"], intent_id);
}

#[test]
fn a_durable_actions_result_is_as_durable_as_its_intent() {
    let sink = Watching::default();
    let logger = AuditLogger::builder().sink(sink.clone()).durable_intents().build();
    let ctx = AuditContext::builder().user(User::named("alice")).logger(logger).build();
    ctx.in_scope(|| delete(&db(), "d1")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(ctx.scope(update_widget_async(3, &db()))).unwrap();
    let durabilities: Vec<Durability> = sink.lines.lock().unwrap().iter().map(|(_, d)| *d).collect();
    assert_eq!(durabilities, [Durability::Durable; 4], "intents and results alike");
}

#[test]
fn the_loggers_diff_settings_choose_types_and_limit_values_and_operations() {
    let settings = DiffSettings::new().types(["space"]);
    let (ctx, memory, _) = capture_with(AuditLogger::builder().diffs(settings));
    ctx.in_scope(|| rename(&db(), "d1", "Sales 2026", None)).unwrap();
    assert!(memory.json()[1]["kibana"].get("diff").is_none(), "dashboards are not in the allow-list");

    let settings = DiffSettings::new().field_size_limit(20).max_ops(1).no_ops(true);
    let (ctx, memory, _) = capture_with(AuditLogger::builder().diffs(settings));
    ctx.in_scope(|| rename(&db(), "d1", "A title longer than twenty bytes", None)).unwrap();
    let diff = &memory.json()[1]["kibana"]["diff"];
    assert_eq!(diff["ops"].as_array().unwrap().len(), 1, "{diff}");
    assert_eq!(diff["omittedOps"], 1, "{diff}");
    assert_eq!(diff["ops"][0]["value"], "Value above fieldSizeLimit", "{diff}");
    assert!(diff["noOps"].as_array().unwrap().iter().any(|p| p["path"] == "/id"), "{diff}");
}

/// The checks every result line passes: ECS's allowed values, and `kibana.diff` exactly in
/// Kibana's shape.
#[test]
fn every_line_is_ecs_and_every_diff_is_kibanas_shape() {
    let allowed: Value = serde_json::from_str(include_str!("../audit-schema/data/ecs_event_allowed.json")).unwrap();
    let strings =
        |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect() };
    let (ctx, memory, _) = capture();
    let db = db();
    ctx.in_scope(|| {
        rename(&db, "d1", "Sales 2026", Some("pw")).unwrap();
        let _ = delete(&db, "missing");
        bulk_delete(&db, &["d2", "d3"]).unwrap();
    });
    let lines = memory.json();
    assert!(lines.len() >= 8);
    let mut diffs = 0;
    for line in &lines {
        for category in strings(&line["event"]["category"]) {
            for ty in strings(&line["event"]["type"]) {
                let expected = strings(&allowed["category"][category.as_str()]);
                let kibana_pair = category == "database" && (ty == "creation" || ty == "deletion");
                assert!(expected.contains(&ty) || kibana_pair, "{category}/{ty}: {line}");
            }
        }
        assert!(strings(&allowed["outcome"]).contains(&line["event"]["outcome"].as_str().unwrap().to_owned()));
        let Some(diff) = line["kibana"].get("diff") else { continue };
        diffs += 1;
        let keys: Vec<&String> = diff.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["format", "ops", "noOps"], "{diff}");
        assert_eq!(diff["format"], "json_patch_extended");
        for op in diff["ops"].as_array().unwrap() {
            let keys: Vec<&str> = op.as_object().unwrap().keys().map(String::as_str).collect();
            let want: &[&str] = match op["op"].as_str().unwrap() {
                "add" => &["op", "path", "value"],
                "remove" => &["op", "path", "oldValue"],
                _ => &["op", "path", "value", "oldValue"],
            };
            assert_eq!(keys, want, "{op}");
            assert!(op["path"].as_str().unwrap().starts_with('/'));
        }
    }
    assert_eq!(diffs, 3, "the rename and the two bulk deletions");
}
