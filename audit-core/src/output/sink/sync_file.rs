use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::contract::AuditSink;
use super::{FailurePolicy, Record, SinkError};
use audit_schema::Durability;

/// Appends each event as one JSON line to a file, synchronously: the caller's thread writes.
///
/// The file is opened in append mode (created with mode `0600` on Unix, since audit trails hold
/// personal data), and each line goes out in one `write` call on the caller's thread, so lines
/// from concurrent threads and processes never interleave. When `write` returns, the line is in
/// the operating system's hands; with [`SyncFileSink::sync_every_event`], or for events that ask for
/// [`Durability::Durable`], it is also on disk (`fsync`).
///
/// This is the simple, synchronous sink. [`FileWriter`](crate::FileWriter) takes the I/O off the
/// caller's thread, batches, shares `fsync`s between concurrent callers and rotates files.
///
/// ```no_run
/// use audit_core::AuditLogger;
/// use audit_core::sink::SyncFileSink;
/// let logger = AuditLogger::builder().sink(SyncFileSink::open("audit.log")?).build();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
#[doc(alias = "FileSink")]
pub struct SyncFileSink {
    path: PathBuf,
    file: Mutex<File>,
    sync_every_event: bool,
    on_error: FailurePolicy,
}

impl SyncFileSink {
    /// Opens (or creates) `path` for appending. Fails if it cannot be opened: a missing audit
    /// trail should stop start-up, not be discovered later.
    pub fn open(path: impl AsRef<Path>) -> io::Result<SyncFileSink> {
        let path = path.as_ref().to_path_buf();
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open audit file {}: {e}", path.display())))?;
        Ok(SyncFileSink { path, file: Mutex::new(file), sync_every_event: false, on_error: FailurePolicy::FailOpen })
    }

    /// `fsync`s after every event, so that an event reported written survives a crash of the
    /// machine, at the price of one disk flush per event.
    pub fn sync_every_event(mut self, sync: bool) -> SyncFileSink {
        self.sync_every_event = sync;
        self
    }

    /// What to do when a write fails (default: fail open).
    pub fn on_error(mut self, policy: FailurePolicy) -> SyncFileSink {
        self.on_error = policy;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AuditSink for SyncFileSink {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        let line = record.line_with_newline();
        // A poisoned lock only means another writer panicked; the file handle itself is fine.
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sync = self.sync_every_event || record.durability() == Durability::Durable;
        let result = file.write_all(&line).and_then(|()| if sync { file.sync_data() } else { Ok(()) });
        result.map_err(|e| self.on_error.failure(e))
    }

    fn flush(&self) -> io::Result<()> {
        let file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.sync_data()
    }

    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }
}
