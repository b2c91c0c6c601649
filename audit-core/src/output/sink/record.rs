//! [`Record`]: one event as handed to sinks, with its line formatted once, on first use.

use std::cell::OnceCell;
use std::fmt;
use std::sync::Arc;

use crate::model::AuditEvent;
use crate::output::format::EcsFormat;
use audit_schema::Durability;

/// One event as handed to sinks. Its ECS JSON line is formatted on first use and shared, so a
/// sink that formats elsewhere (the [`FileWriter`](crate::FileWriter)'s background thread) costs
/// the caller no formatting.
pub struct Record<'a> {
    event: &'a Arc<AuditEvent>,
    format: &'a Arc<EcsFormat>,
    durability: Durability,
    line: OnceCell<String>,
}

impl<'a> Record<'a> {
    /// A record of `event` in `format`, asking for `durability`.
    pub fn new(event: &'a Arc<AuditEvent>, format: &'a Arc<EcsFormat>, durability: Durability) -> Record<'a> {
        Record { event, format, durability, line: OnceCell::new() }
    }

    /// The event.
    pub fn event(&self) -> &'a AuditEvent {
        self.event
    }

    /// The event, shared: for sinks that keep it past `write` (a queue) without copying it.
    pub fn shared_event(&self) -> Arc<AuditEvent> {
        Arc::clone(self.event)
    }

    /// The logger's line format.
    pub fn format(&self) -> &'a Arc<EcsFormat> {
        self.format
    }

    /// The durability the event asks for (its action's, or the logger's for intents); sinks apply
    /// the stronger of this and their own.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The event's ECS JSON line, without the trailing newline.
    pub fn line(&self) -> &str {
        self.line.get_or_init(|| self.format.to_line(self.event))
    }

    /// The line, if a sink already had it formatted (see [`line`](Record::line)).
    pub fn formatted_line(&self) -> Option<&str> {
        self.line.get().map(String::as_str)
    }

    /// The line with its trailing newline, as bytes to write in one call.
    pub fn line_with_newline(&self) -> Vec<u8> {
        let line = self.line();
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        bytes
    }
}

impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record").field("action", &self.event.action).field("durability", &self.durability).finish()
    }
}
