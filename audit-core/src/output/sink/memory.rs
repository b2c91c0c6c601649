use std::sync::{Arc, Mutex, MutexGuard};

use super::contract::AuditSink;
use super::{Record, SinkError};
use crate::model::AuditEvent;

/// One event kept by a [`MemorySink`]: the event and the exact line a file would have received.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CapturedEvent {
    /// The event.
    pub event: AuditEvent,
    /// Its ECS JSON line.
    pub line: String,
}

impl CapturedEvent {
    /// The line parsed as JSON, for assertions on field names and shapes.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.line).expect("audit lines are valid JSON")
    }
}

/// Keeps every event in memory: the sink for tests of an application's audit trail.
/// Clones share the same storage.
///
/// ```
/// use audit_core::{audited, AuditContext, AuditLogger, User};
///
/// #[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = id))]
/// fn get_dashboard(id: u32) -> Result<String, String> {
///     Ok(format!("dashboard {id}"))
/// }
///
/// let (logger, capture) = AuditLogger::capture();
/// let ctx = AuditContext::builder().user(User::named("alice")).logger(logger).build();
/// ctx.in_scope(|| get_dashboard(7)).unwrap();
///
/// let events = capture.events();
/// assert_eq!(events.len(), 1);
/// assert_eq!(events[0].json()["event"]["outcome"], "success");
/// assert_eq!(events[0].json()["message"], "User has accessed dashboard [id=7]");
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<CapturedEvent>> {
        self.events.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of every event so far, in the order they were written.
    pub fn events(&self) -> Vec<CapturedEvent> {
        self.lock().clone()
    }

    /// Every line so far, parsed as JSON.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.lock().iter().map(CapturedEvent::json).collect()
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lock().iter().map(|e| e.line.clone()).collect()
    }

    /// The `event.action` of every event so far.
    pub fn actions(&self) -> Vec<String> {
        self.lock().iter().map(|e| e.event.action.to_string()).collect()
    }

    /// How many events were written.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no event was written.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Removes and returns every event so far.
    pub fn take(&self) -> Vec<CapturedEvent> {
        std::mem::take(&mut *self.lock())
    }
}

impl AuditSink for MemorySink {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        let captured = CapturedEvent { event: record.event().clone(), line: record.line().to_owned() };
        self.lock().push(captured);
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}
