use std::io::{self, Write};

use super::contract::AuditSink;
use super::{FailurePolicy, Record, SinkError};

/// Writes each event as one JSON line to stdout (default) or stderr.
///
/// Each line is written with a single `write_all` under the stream's lock, so lines from
/// concurrent threads never interleave.
/// A failed write (stdout closed, a full pipe's reader gone) is handled by the sink's
/// [`FailurePolicy`] (default fail-open: reported and counted by the logger, the service goes on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleSink {
    to_stderr: bool,
    on_error: FailurePolicy,
}

impl ConsoleSink {
    /// JSON lines on stdout.
    pub fn stdout() -> ConsoleSink {
        ConsoleSink { to_stderr: false, on_error: FailurePolicy::FailOpen }
    }

    /// JSON lines on stderr.
    pub fn stderr() -> ConsoleSink {
        ConsoleSink { to_stderr: true, on_error: FailurePolicy::FailOpen }
    }
}

impl ConsoleSink {
    /// What to do when the console cannot be written.
    pub fn on_error(mut self, policy: FailurePolicy) -> ConsoleSink {
        self.on_error = policy;
        self
    }
}

impl AuditSink for ConsoleSink {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        let line = record.line_with_newline();
        let result = if self.to_stderr {
            io::stderr().lock().write_all(&line)
        } else {
            let mut out = io::stdout().lock();
            out.write_all(&line).and_then(|()| out.flush())
        };
        result.map_err(|e| self.on_error.failure(e))
    }

    fn flush(&self) -> io::Result<()> {
        if self.to_stderr {
            io::stderr().flush()
        } else {
            io::stdout().flush()
        }
    }

    fn describe(&self) -> String {
        if self.to_stderr { "console:stderr" } else { "console:stdout" }.to_owned()
    }
}
