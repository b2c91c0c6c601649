//! [`AuditSink`]: what a destination of audit events implements.

use std::io;
use std::sync::Arc;

use super::record::Record;
use super::SinkError;

/// What [`AuditSink::submit`] returns: the event's fate now, or a future that completes when
/// the event reaches the durability asked for.
pub enum Submission {
    /// Recorded (or failed) already.
    Done(Result<(), SinkError>),
    /// Accepted; completes when recorded at the requested durability.
    Pending(std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SinkError>> + Send>>),
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Submission::Done(result) => f.debug_tuple("Done").field(result).finish(),
            Submission::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// A destination for audit events.
///
/// A sink gets each event once, as a [`Record`]: the event, the line its logger's format makes
/// of it (formatted on first use and shared with the logger's other sinks) and the durability
/// the event asks for. `Ok` promises the event is recorded at least that far; an error says
/// whether the operation must be refused ([`SinkError::Refused`]) or may go on unconfirmed
/// ([`SinkError::Unconfirmed`]).
///
/// A sink that keeps lines in a `Vec` (for a real one: a socket, a queue, a database):
///
/// ```
/// use std::io;
/// use std::sync::Mutex;
/// use audit_core::sink::{FailurePolicy, Record, SinkError};
/// use audit_core::{kibana, AuditEvent, AuditLogger, AuditSink, Outcome};
///
/// #[derive(Default)]
/// struct Lines {
///     lines: Mutex<Vec<String>>,
///     capacity: usize,
/// }
///
/// impl AuditSink for Lines {
///     fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
///         let mut lines = self.lines.lock().unwrap();
///         if lines.len() >= self.capacity {
///             // Full: refuse the operation rather than let it run unrecorded.
///             return Err(FailurePolicy::FailClosed.failure(io::Error::other("full")));
///         }
///         // Kept in memory only: `record.durability()` is met once the line is pushed.
///         lines.push(record.line().to_owned());
///         Ok(())
///     }
///
///     fn describe(&self) -> String {
///         "lines".to_owned()
///     }
/// }
///
/// let logger = AuditLogger::builder().sink(Lines { capacity: 1, ..Lines::default() }).build();
/// let event = || AuditEvent::new(&kibana::SPACE_GET).with_outcome(Outcome::Success);
/// logger.log(event()).unwrap();
/// let refused = logger.log(event()).unwrap_err();
/// assert!(refused.is_refusal());
/// assert_eq!(logger.stats().refused, 1);
/// ```
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

    /// This sink as a [`WithDeadline`](crate::sink::WithDeadline), whose answer the logger can
    /// wait for beside other sinks' (a call waits for its quorum, not for every sink). Only
    /// `WithDeadline` (and what wraps one, like `Arc`) answers `Some`.
    #[doc(hidden)]
    fn with_deadline(&self) -> Option<&super::offload::WithDeadline> {
        None
    }

    /// Checks that the sink can work at all (its server reachable, its file writable), before
    /// the first event: [`AuditLoggerBuilder::build_checked`](crate::logger::AuditLoggerBuilder::build_checked)
    /// and [`AuditLogger::check`](crate::AuditLogger::check) call it. The default says yes; a sink
    /// that talks to a server connects here.
    fn check(&self) -> io::Result<()> {
        Ok(())
    }
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
    fn with_deadline(&self) -> Option<&super::offload::WithDeadline> {
        (**self).with_deadline()
    }
    fn check(&self) -> io::Result<()> {
        (**self).check()
    }
}
