use super::contract::AuditSink;
use super::{Record, SinkError};

/// Re-emits each audit event as a `tracing` event at level INFO on target `audit`, so an
/// application's existing subscriber (and its filters: `RUST_LOG=audit=info`) sees the trail.
///
/// The event's message is the `tracing` message; `action`, `outcome`, `user` (name) and
/// `trace_id` are fields, and `json` holds the whole ECS line.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

impl TracingSink {
    /// A sink emitting on target `audit`.
    pub fn new() -> TracingSink {
        TracingSink
    }

    /// The target the events are emitted on.
    pub const TARGET: &'static str = "audit";
}

impl AuditSink for TracingSink {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        let event = record.event();
        tracing::info!(
            target: "audit",
            action = %event.action,
            outcome = event.outcome.map(|o| o.as_str()),
            user = event.user_name(),
            trace_id = event.trace_id(),
            json = record.line(),
            "{}",
            event.message_display()
        );
        Ok(())
    }

    fn describe(&self) -> String {
        "tracing:audit".to_owned()
    }
}
