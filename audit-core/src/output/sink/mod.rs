//! Where events go. A sink receives each event once, as a [`Record`] whose ECS JSON line is
//! formatted on first use and shared by every sink of the logger.
//!
//! - [`ConsoleSink`](crate::ConsoleSink): JSON lines on stdout (or stderr).
//! - [`SyncFileSink`]: an append-only file, written on the caller's thread (for production,
//!   the background [`FileWriter`](crate::FileWriter)).
//! - [`TracingSink`]: re-emits each event as a `tracing` event on target `audit`, so an
//!   application's existing subscriber sees the trail.
//! - [`MemorySink`](crate::MemorySink): keeps events in memory, for tests that assert on the
//!   audit trail.
//!
//! Implement [`AuditSink`](crate::AuditSink) for anything else; a sink that cannot record an
//! event says so with a [`SinkError`], whose kind its [`FailurePolicy`] decides.

pub(crate) mod console;
pub(crate) mod contract;
pub(crate) mod memory;
pub(crate) mod offload;
pub(crate) mod record;
pub(crate) mod sync_file;
pub(crate) mod tracing_sink;

pub(crate) use console::ConsoleSink;
pub use contract::AuditSink;
pub use contract::Submission;
pub use memory::CapturedEvent;
pub(crate) use memory::MemorySink;
pub(crate) use offload::{guarded, guarded_submit, guarded_write};
pub use offload::{BestEffort, BestEffortLimits, WithDeadline};
pub use record::Record;
pub use sync_file::SyncFileSink;
pub use tracing_sink::TracingSink;

pub(crate) use report_failure as report_sink_failure;

use std::fmt;
use std::io;

/// What a sink does when it cannot record an event, like auditd's `disk_full_action`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
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
#[non_exhaustive]
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

impl std::error::Error for SinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.io_error())
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
