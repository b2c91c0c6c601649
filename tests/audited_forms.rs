//! Every form `#[audited]` must accept compiles and is audited with the right event.

use std::borrow::Cow;
use std::fmt;

use audit_core::{audited, kibana, AuditContext, AuditErrorCode, AuditLogger, MemorySink, User};
use serde_json::Value;

fn capture() -> (AuditContext, MemorySink) {
    let (logger, memory) = AuditLogger::capture();
    let ctx = AuditContext::builder()
        .user(User::named("alice").with_id("u-1").with_roles(["editor"]))
        .session_id("sess-1")
        .space_id("default")
        .client_ip("10.1.2.3".parse().unwrap())
        .trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
        .logger(logger)
        .build();
    (ctx, memory)
}

fn only(memory: &MemorySink) -> Value {
    let events = memory.json();
    assert_eq!(events.len(), 1, "expected one event, got {events:#?}");
    events.into_iter().next().unwrap()
}

#[derive(Debug, PartialEq)]
pub enum StoreError {
    NotFound(u64),
    Denied,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound(id) => write!(f, "dashboard {id} not found"),
            StoreError::Denied => f.write_str("not allowed"),
        }
    }
}

impl AuditErrorCode for StoreError {
    fn audit_error_code(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            StoreError::NotFound(_) => "not_found".into(),
            StoreError::Denied => "forbidden".into(),
        })
    }
}

#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = id))]
fn get(id: u64) -> Result<String, StoreError> {
    if id == 0 {
        return Err(StoreError::NotFound(id));
    }
    Ok(format!("dashboard {id}"))
}

#[test]
fn sync_read_success_and_failure() {
    let (ctx, memory) = capture();
    assert_eq!(ctx.in_scope(|| get(5)).unwrap(), "dashboard 5");
    let event = only(&memory);
    assert_eq!(event["event"]["action"], "dashboard_get");
    assert_eq!(event["event"]["category"], serde_json::json!(["database"]));
    assert_eq!(event["event"]["type"], serde_json::json!(["access"]));
    assert_eq!(event["event"]["outcome"], "success");
    assert!(event["event"]["duration"].as_u64().is_some());
    assert_eq!(event["message"], "User has accessed dashboard [id=5]");
    assert_eq!(event["user"], serde_json::json!({"id": "u-1", "name": "alice", "roles": ["editor"]}));
    assert_eq!(event["kibana"]["space_id"], "default");
    assert_eq!(event["kibana"]["session_id"], "sess-1");
    assert_eq!(event["kibana"]["saved_object"], serde_json::json!({"type": "dashboard", "id": "5"}));
    assert_eq!(event["client"]["ip"], "10.1.2.3");
    assert_eq!(event["trace"]["id"], "4bf92f3577b34da6a3ce929d0e0e4736");

    memory.take();
    assert_eq!(ctx.in_scope(|| get(0)), Err(StoreError::NotFound(0)));
    let event = only(&memory);
    assert_eq!(event["event"]["outcome"], "failure");
    assert_eq!(event["message"], "Failed attempt to access dashboard [id=0]");
    assert_eq!(event["error"]["message"], "dashboard 0 not found");
    assert_eq!(event["error"]["code"], "not_found");
    assert!(event["error"]["type"].as_str().unwrap().ends_with("StoreError"));
}

// The short form: type inferred from the verb, timing from the type.
#[audited(action = "dashboard_update", category = "database", resource(type = "dashboard", id = id))]
fn update(id: u64, title: &str, log: &mut Vec<String>) -> Result<(), StoreError> {
    log.push(format!("updated {id} to {title}"));
    Ok(())
}

#[test]
fn short_form_write_logs_unknown_before() {
    let (ctx, memory) = capture();
    let mut log = Vec::new();
    ctx.in_scope(|| update(7, "Sales", &mut log)).unwrap();
    let event = only(&memory);
    assert_eq!(event["event"]["type"], serde_json::json!(["change"]));
    assert_eq!(event["event"]["outcome"], "unknown");
    assert!(event["event"].get("duration").is_none(), "writes are logged before they run");
    assert_eq!(event["message"], "User is updating dashboard [id=7]");
    // Nothing from the arguments is logged unless named: the title is nowhere in the line.
    assert!(!memory.lines()[0].contains("Sales"));
    assert_eq!(log, ["updated 7 to Sales"]);
}

// Catalog constant: nothing more needed.
#[audited(action = kibana::SAVED_OBJECT_DELETE, resource(type = "dashboard", id = id))]
fn delete(id: &str) -> Result<(), StoreError> {
    let _ = id;
    Ok(())
}

// Catalog name as a string.
#[audited(action = "saved_object_create", resource(type = "dashboard", id = id))]
fn create(id: &str) -> Result<(), StoreError> {
    let _ = id;
    Ok(())
}

#[test]
fn catalog_actions_by_constant_and_by_name() {
    let (ctx, memory) = capture();
    ctx.in_scope(|| delete("d-1")).unwrap();
    ctx.in_scope(|| create("d-2")).unwrap();
    let events = memory.json();
    assert_eq!(events[0]["event"]["action"], "saved_object_delete");
    assert_eq!(events[0]["event"]["type"], serde_json::json!(["deletion"]));
    assert_eq!(events[0]["event"]["outcome"], "unknown");
    assert_eq!(events[0]["message"], "User is deleting dashboard [id=d-1]");
    assert_eq!(events[1]["message"], "User is creating dashboard [id=d-2]");
}

/// A user-declared action constant.
const DASHBOARD_EXPORT: audit_core::Action =
    audit_core::Action::new("dashboard_export", audit_core::Category::Database, audit_core::EventType::Access)
        .with_verbs("export", "exporting", "exported");

#[audited(action = DASHBOARD_EXPORT, resource(type = "dashboard", id = id), fields(format = format))]
fn export(id: u32, format: &str) -> Vec<u8> {
    format!("{id}:{format}").into_bytes()
}

#[test]
fn declared_constant_and_fields() {
    let (ctx, memory) = capture();
    assert_eq!(ctx.in_scope(|| export(3, "pdf")), b"3:pdf");
    let event = only(&memory);
    assert_eq!(event["event"]["outcome"], "success", "a non-Result return succeeds");
    assert_eq!(event["message"], "User has exported dashboard [id=3]");
    assert_eq!(event["labels"], serde_json::json!({"format": "pdf"}));
}

#[audited(
    action = "report_generate",
    category = "database",
    type = "creation",
    timing = "after",
    verbs("generate", "generating", "generated"),
    message = "User generated report {name} for {quarter}",
    failure_message = "Report {name} could not be generated",
    fields(quarter = format!("Q{}", q)),
)]
fn generate(name: &str, q: u8) -> Result<u32, StoreError> {
    if q > 4 {
        Err(StoreError::Denied)?;
    }
    Ok(42)
}

#[test]
fn explicit_type_timing_messages_and_question_mark() {
    let (ctx, memory) = capture();
    assert_eq!(ctx.in_scope(|| generate("sales", 2)), Ok(42));
    assert_eq!(ctx.in_scope(|| generate("sales", 9)), Err(StoreError::Denied));
    let events = memory.json();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["message"], "User generated report sales for Q2");
    assert_eq!(events[0]["event"]["outcome"], "success");
    assert_eq!(events[1]["message"], "Report sales could not be generated");
    assert_eq!(events[1]["event"]["outcome"], "failure");
    assert_eq!(events[1]["error"]["code"], "forbidden");
}

pub struct Store {
    items: Vec<(u64, String)>,
    ctx: AuditContext,
}

impl Store {
    #[audited(action = "item_get", category = "database", ctx = self.ctx, resource(type = "item", id = id))]
    pub fn get(&self, id: u64) -> Option<&String> {
        self.items.iter().find(|(i, _)| *i == id).map(|(_, v)| v)
    }

    #[audited(action = "item_create", category = "database", ctx = self.ctx, resource(type = "item", id = id))]
    pub fn insert(&mut self, id: u64, value: String) -> &mut Self {
        self.items.push((id, value));
        self
    }

    #[audited(action = "store_delete", category = "database", ctx = self.ctx.clone())]
    pub fn into_items(self) -> Vec<(u64, String)> {
        self.items
    }

    #[audited(action = "item_find", category = "database", ctx = self.ctx)]
    pub fn find<P>(&self, predicate: P) -> impl Iterator<Item = &(u64, String)> + '_
    where
        P: Fn(&str) -> bool + 'static,
    {
        self.items.iter().filter(move |(_, v)| predicate(v))
    }

    #[audited(action = "item_list", category = "database", ctx = self.ctx)]
    pub fn ids<T: From<u64>>(&self) -> Result<impl Iterator<Item = T> + '_, StoreError> {
        Ok(self.items.iter().map(|(id, _)| T::from(*id)))
    }
}

#[test]
fn methods_generics_and_impl_trait() {
    let (ctx, memory) = capture();
    let mut store = Store { items: vec![(1, "one".into())], ctx };
    assert_eq!(store.get(1).map(String::as_str), Some("one"));
    store.insert(2, "two".into()).insert(3, "three".into());
    assert_eq!(store.find(|v| v.starts_with('t')).count(), 2);
    assert_eq!(store.ids::<u128>().unwrap().sum::<u128>(), 6);
    assert_eq!(store.into_items().len(), 3);
    assert_eq!(memory.actions(), ["item_get", "item_create", "item_create", "item_find", "item_list", "store_delete"]);
    let events = memory.json();
    assert_eq!(events[1]["event"]["outcome"], "unknown");
    assert_eq!(events[5]["event"]["type"], serde_json::json!(["deletion"]));
    assert_eq!(events[5]["message"], "User is deleting stores");
}

#[audited(action = "widget_get", category = "database")]
fn with_param_context(ctx: &AuditContext, n: u8) -> u8 {
    let _ = ctx;
    n * 2
}

#[test]
fn a_context_parameter_is_used() {
    let (ctx, memory) = capture();
    // Not in scope: the parameter is what carries the context.
    assert_eq!(with_param_context(&ctx, 4), 8);
    assert_eq!(only(&memory)["user"]["name"], "alice");
}

#[audited(action = "widget_get", category = "database")]
fn early_return(flag: bool) -> &'static str {
    if flag {
        return "early";
    }
    "late"
}

#[test]
fn early_return_is_audited() {
    let (ctx, memory) = capture();
    assert_eq!(ctx.in_scope(|| early_return(true)), "early");
    assert_eq!(ctx.in_scope(|| early_return(false)), "late");
    assert_eq!(memory.len(), 2);
}

#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = id))]
async fn get_async(id: u64) -> Result<u64, StoreError> {
    tokio::task::yield_now().await;
    if id == 0 {
        Err(StoreError::NotFound(0))?
    }
    Ok(id)
}

#[audited(action = "dashboard_delete", category = "database", resource(type = "dashboard", id = id))]
async fn delete_async(id: u64, done: &std::sync::Mutex<Vec<u64>>) -> Result<(), StoreError> {
    tokio::task::yield_now().await;
    done.lock().unwrap().push(id);
    Ok(())
}

#[tokio::test]
async fn async_functions() {
    let (ctx, memory) = capture();
    let done = std::sync::Mutex::new(Vec::new());
    ctx.scope(async {
        assert_eq!(get_async(4).await, Ok(4));
        assert!(get_async(0).await.is_err());
        delete_async(9, &done).await.unwrap();
    })
    .await;
    let events = memory.json();
    let outcomes: Vec<&str> = events.iter().map(|e| e["event"]["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["success", "failure", "unknown"]);
    assert_eq!(*done.lock().unwrap(), [9]);
}

#[async_trait::async_trait]
pub trait Repository {
    async fn fetch(&self, id: u64) -> Result<String, StoreError>;
    async fn remove(&self, id: u64) -> Result<(), StoreError>;
}

pub struct Repo;

// A parameter named only by the attribute (`remove`'s `id`) is used: builds that deny warnings
// keep building.
#[deny(unused_variables)]
#[async_trait::async_trait]
impl Repository for Repo {
    #[audited(action = "record_get", category = "database", resource(type = "record", id = id))]
    async fn fetch(&self, id: u64) -> Result<String, StoreError> {
        tokio::task::yield_now().await;
        if id == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(format!("record {id}"))
    }

    #[audited(action = "record_delete", category = "database", resource(type = "record", id = id))]
    async fn remove(&self, id: u64) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test]
async fn async_trait_methods() {
    let (ctx, memory) = capture();
    let repo: Box<dyn Repository + Send + Sync> = Box::new(Repo);
    ctx.scope(async {
        assert_eq!(repo.fetch(1).await.unwrap(), "record 1");
        assert!(repo.fetch(0).await.is_err());
        repo.remove(2).await.unwrap();
    })
    .await;
    let events = memory.json();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["event"]["outcome"], "success");
    assert_eq!(events[1]["event"]["outcome"], "failure");
    assert_eq!(events[1]["error"]["code"], "not_found");
    assert_eq!(events[2]["event"]["outcome"], "unknown");
    assert_eq!(events[2]["message"], "User is deleting record [id=2]");
}

#[test]
fn no_context_still_audits_with_a_trace_id_of_its_own() {
    let (logger, memory) = AuditLogger::capture();
    let _default = logger.set_thread_default();
    get(1).unwrap();
    get(2).unwrap();
    let events = memory.json();
    assert!(events[0].get("user").is_none());
    let (a, b) = (events[0]["trace"]["id"].as_str().unwrap(), events[1]["trace"]["id"].as_str().unwrap());
    assert!(audit_core::trace::is_valid_trace_id(a));
    assert_ne!(a, b, "separate calls are separate traces");
}

// `crate = ...` lets generated code find the library under another name.
mod renamed {
    use audit_core as my_audit;

    #[my_audit::audited(crate = my_audit, action = "thing_get", category = "database")]
    pub fn thing() -> u8 {
        1
    }
}

#[test]
fn renamed_crate_path() {
    let (ctx, memory) = capture();
    assert_eq!(ctx.in_scope(renamed::thing), 1);
    assert_eq!(memory.actions(), ["thing_get"]);
}

// A generic error type: the probe uses the bounds the function declares.
#[audited(action = "thing_get", category = "database")]
fn generic_error<E: std::fmt::Display>(fail: Option<E>) -> Result<u8, E> {
    match fail {
        Some(error) => Err(error),
        None => Ok(1),
    }
}

#[test]
fn generic_errors_are_described_through_their_bounds() {
    let (ctx, memory) = capture();
    assert!(ctx.in_scope(|| generic_error(Some("went wrong"))).is_err());
    let event = only(&memory);
    assert_eq!(event["error"]["message"], "went wrong");
    assert_eq!(event["error"]["type"], "&str");
}

// ---------------------------------------------------------------------------------------------
// Forms a new user tries: a read-through cache, attributes generated by `macro_rules!`.

struct ReadThroughCache {
    entries: std::collections::HashMap<u32, String>,
}

impl ReadThroughCache {
    /// A read that fills the cache through `&mut self` and returns a shared borrow of it.
    #[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = id))]
    fn get(&mut self, id: u32) -> &String {
        self.entries.entry(id).or_insert_with(|| format!("dashboard {id}"))
    }
}

#[test]
fn a_read_may_return_a_borrow_of_mut_self() {
    let (logger, memory) = AuditLogger::capture();
    let _default = logger.set_thread_default();
    let mut cache = ReadThroughCache { entries: Default::default() };
    assert_eq!(cache.get(4), "dashboard 4");
    assert_eq!(memory.actions(), ["dashboard_get"]);
    assert_eq!(memory.json()[0]["event"]["outcome"], "success");
}

macro_rules! audited_getter {
    ($name:ident, $action:literal, $category:expr, $resource:literal) => {
        #[audited(action = $action, category = $category, resource(type = $resource, id = id))]
        fn $name(id: u32) -> u32 {
            id
        }
    };
}

macro_rules! audited_constant {
    ($name:ident, $action:path) => {
        #[audited(action = $action)]
        fn $name(id: u32) -> u32 {
            id
        }
    };
}

audited_getter!(generated_get, "widget_get", "database", "widget");
audited_constant!(generated_space_get, kibana::SPACE_GET);

#[test]
fn attributes_generated_by_macro_rules_take_literal_expr_and_path_fragments() {
    let (logger, memory) = AuditLogger::capture();
    let _default = logger.set_thread_default();
    assert_eq!(generated_get(3), 3);
    assert_eq!(generated_space_get(5), 5);
    assert_eq!(memory.actions(), ["widget_get", "space_get"]);
    assert_eq!(memory.json()[0]["kibana"]["saved_object"]["type"], "widget");
}
