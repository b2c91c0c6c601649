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

pub(crate) use report_failure as report_sink_failure;

use std::cell::OnceCell;
use std::fmt;
use std::io;
use std::sync::Arc;

use crate::event::AuditEvent;
use crate::format::EcsFormat;

/// How far an event must have gone before `write` returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Durability {
    /// Accepted into the sink; written within the flush interval.
    #[default]
    Buffered,
    /// Handed to the operating system (`write` returned): survives a crash of the process.
    Flushed,
    /// On disk (`fsync` returned): survives a crash of the machine.
    Durable,
}

impl Durability {
    /// Parses `buffered`, `flushed` or `durable`.
    pub fn parse(text: &str) -> Option<Durability> {
        match text {
            "buffered" => Some(Durability::Buffered),
            "flushed" => Some(Durability::Flushed),
            "durable" => Some(Durability::Durable),
            _ => None,
        }
    }
}

/// What a sink does when it cannot record an event, like auditd's `disk_full_action`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FailurePolicy {
    /// The service keeps running: the failure is reported through `tracing`, counted, and (for
    /// sinks that can) the event is kept and retried.
    #[default]
    FailOpen,
    /// Audited calls fail until the sink recovers: no operation runs unrecorded.
    FailClosed,
}

impl FailurePolicy {
    /// The error a sink with this policy returns for `error`.
    pub fn failure(self, error: io::Error) -> SinkError {
        match self {
            FailurePolicy::FailOpen => SinkError::Unconfirmed(error),
            FailurePolicy::FailClosed => SinkError::Refused(error),
        }
    }
}

/// Why a sink did not confirm an event.
#[derive(Debug)]
pub enum SinkError {
    /// The sink is failing closed: the audited operation must not run (or its result must not be
    /// returned).
    Refused(io::Error),
    /// The event is not (yet) recorded at the requested durability; the operation may go on. The
    /// sink has reported it and either keeps the event for a retry or has counted it as lost.
    Unconfirmed(io::Error),
}

impl SinkError {
    /// The underlying I/O error.
    pub fn io_error(&self) -> &io::Error {
        match self {
            SinkError::Refused(error) | SinkError::Unconfirmed(error) => error,
        }
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::Refused(error) => write!(f, "refused: {error}"),
            SinkError::Unconfirmed(error) => write!(f, "not confirmed: {error}"),
        }
    }
}

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

/// What [`AuditSink::submit`] returns: the event's fate now, or a future that completes when
/// the event reaches the durability asked for.
pub enum Submission {
    /// Recorded (or failed) already.
    Done(Result<(), SinkError>),
    /// Accepted; completes when recorded at the requested durability.
    Pending(std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SinkError>> + Send>>),
}

/// A destination for audit events.
pub trait AuditSink: Send + Sync + 'static {
    /// Records one event. `Ok` means it is recorded at (at least) the durability the record asks
    /// for; otherwise the [`SinkError`] says whether the operation must be refused.
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError>;

    /// Like [`write`](AuditSink::write), but for async callers: instead of blocking until the
    /// event is durable, return a future for it. The default writes synchronously.
    fn submit(&self, record: &Record<'_>) -> Submission {
        Submission::Done(self.write(record))
    }

    /// Whether the sink would accept an event now. A fail-closed sink that is failing says no,
    /// so that reads are refused *before* they run.
    fn is_accepting(&self) -> bool {
        true
    }

    /// Pushes everything accepted so far to its destination, durably where the sink can.
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    /// A short name for error reports, e.g. `file:/var/log/audit.log`.
    fn describe(&self) -> String;
}

impl<S: AuditSink + ?Sized> AuditSink for Arc<S> {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        (**self).write(record)
    }
    fn submit(&self, record: &Record<'_>) -> Submission {
        (**self).submit(record)
    }
    fn is_accepting(&self) -> bool {
        (**self).is_accepting()
    }
    fn flush(&self) -> io::Result<()> {
        (**self).flush()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Reports a sink failure through `tracing`, or on stderr when no subscriber is installed (an
/// audit failure must never go unseen). During an outage every event fails the same way: after
/// the first report, at most one a second goes out, saying how many were folded into it.
pub(crate) fn report_failure(sink: &str, error: &dyn fmt::Display) {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    static LAST: Mutex<(Option<Instant>, u64)> = Mutex::new((None, 0));
    let folded = {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        match last.0 {
            Some(at) if at.elapsed() < Duration::from_secs(1) => {
                last.1 += 1;
                return;
            }
            _ => {
                let folded = last.1;
                *last = (Some(Instant::now()), 0);
                folded
            }
        }
    };
    if tracing::dispatcher::has_been_set() {
        tracing::error!(target: "audit_core", sink, %error, similar_failures_folded = folded, "audit sink failure");
    } else if folded > 0 {
        eprintln!("audit_core: audit sink {sink} failure: {error} (and {folded} similar failures in the last second)");
    } else {
        eprintln!("audit_core: audit sink {sink} failure: {error}");
    }
}
