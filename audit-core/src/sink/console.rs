use std::io::{self, Write};

use super::{AuditSink, Record};

/// Writes each event as one JSON line to stdout (default) or stderr.
///
/// Each line is written with a single `write_all` under the stream's lock, so lines from
/// concurrent threads never interleave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleSink {
    to_stderr: bool,
}

impl ConsoleSink {
    /// JSON lines on stdout.
    pub fn stdout() -> ConsoleSink {
        ConsoleSink { to_stderr: false }
    }

    /// JSON lines on stderr.
    pub fn stderr() -> ConsoleSink {
        ConsoleSink { to_stderr: true }
    }
}

impl AuditSink for ConsoleSink {
    fn write(&self, record: &Record<'_>) -> io::Result<()> {
        let mut line = Vec::with_capacity(record.line.len() + 1);
        line.extend_from_slice(record.line.as_bytes());
        line.push(b'\n');
        if self.to_stderr {
            io::stderr().lock().write_all(&line)
        } else {
            let mut out = io::stdout().lock();
            out.write_all(&line)?;
            out.flush()
        }
    }

    fn flush(&self) -> io::Result<()> {
        if self.to_stderr {
            io::stderr().flush()
        } else {
            io::stdout().flush()
        }
    }

    fn describe(&self) -> String {
        if self.to_stderr {
            "console:stderr"
        } else {
            "console:stdout"
        }
        .to_owned()
    }
}
