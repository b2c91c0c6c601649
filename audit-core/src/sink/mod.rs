//! Where events go. A sink receives each event once, already formatted as an ECS JSON line.
//!
//! - [`ConsoleSink`]: JSON lines on stdout (or stderr).
//! - [`FileSink`]: an append-only file.
//! - [`TracingSink`]: re-emits each event as a `tracing` event on target `audit`, so an
//!   application's existing subscriber sees the trail.
//! - [`MemorySink`]: keeps events in memory, for tests that assert on the audit trail.
//!
//! Implement [`AuditSink`] for anything else.

mod console;
mod file;
mod memory;
mod tracing_sink;

pub use console::ConsoleSink;
pub use file::FileSink;
pub use memory::{CapturedEvent, MemorySink};
pub use tracing_sink::TracingSink;

use std::io;

use crate::event::AuditEvent;

/// One event as handed to sinks: the event, and its ECS JSON line (no trailing newline).
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The event.
    pub event: &'a AuditEvent,
    /// Its ECS JSON line, without the trailing newline.
    pub line: &'a str,
}

/// A destination for audit events.
///
/// A sink reports failure with an `io::Error`; the logger reports it through `tracing`, counts it
/// and returns it to the caller, never hides it.
pub trait AuditSink: Send + Sync + 'static {
    /// Writes one event. When this returns `Ok`, the event must be in the sink (at least handed to
    /// the operating system for files).
    fn write(&self, record: &Record<'_>) -> io::Result<()>;

    /// Pushes anything buffered to its destination.
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    /// A short name for error reports, e.g. `file:/var/log/audit.log`.
    fn describe(&self) -> String;
}

impl<S: AuditSink + ?Sized> AuditSink for std::sync::Arc<S> {
    fn write(&self, record: &Record<'_>) -> io::Result<()> {
        (**self).write(record)
    }
    fn flush(&self) -> io::Result<()> {
        (**self).flush()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}
