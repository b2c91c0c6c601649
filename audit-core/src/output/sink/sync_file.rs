use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::contract::AuditSink;
use super::{FailurePolicy, Record, SinkError};
use crate::trail::storage::{FsStorage, Storage, StorageFile};
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
#[doc(alias = "FileSink")]
pub struct SyncFileSink {
    path: PathBuf,
    file: Mutex<Appender>,
    sync_every_event: bool,
    on_error: FailurePolicy,
}

/// The open file, and whether a failed write left it ending inside a line.
struct Appender {
    file: Box<dyn StorageFile>,
    /// A write failed partway: the file may end with a fragment, which the next line must not
    /// be glued onto (a newline ends the fragment first, and readers report it as torn).
    mid_line: bool,
}

impl std::fmt::Debug for SyncFileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncFileSink")
            .field("path", &self.path)
            .field("sync_every_event", &self.sync_every_event)
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

impl SyncFileSink {
    /// Opens (or creates) `path` for appending. Fails if it cannot be opened: a missing audit
    /// trail should stop start-up, not be discovered later.
    pub fn open(path: impl AsRef<Path>) -> io::Result<SyncFileSink> {
        SyncFileSink::open_with(path, &FsStorage)
    }

    /// [`open`](SyncFileSink::open) on another storage. For fault-injection tests.
    #[doc(hidden)]
    pub fn open_with(path: impl AsRef<Path>, storage: &dyn Storage) -> io::Result<SyncFileSink> {
        let path = path.as_ref().to_path_buf();
        let file = storage
            .open_append(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open audit file {}: {e}", path.display())))?;
        Ok(SyncFileSink {
            path,
            file: Mutex::new(Appender { file, mid_line: false }),
            sync_every_event: false,
            on_error: FailurePolicy::FailOpen,
        })
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

impl Appender {
    /// Appends one line (with its newline), after ending a fragment a failed write left.
    fn append(&mut self, line: &[u8], sync: bool) -> io::Result<()> {
        if self.mid_line {
            write_all(&mut *self.file, b"\n")?;
            self.mid_line = false;
        }
        if let Err(error) = write_all(&mut *self.file, line) {
            // Some of the line may be in the file: whatever follows starts on a line of its own.
            self.mid_line = true;
            return Err(error);
        }
        if sync {
            self.file.sync()?;
        }
        Ok(())
    }
}

/// Writes all of `bytes` with as many `write` calls as it takes.
fn write_all(file: &mut dyn StorageFile, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match file.write(bytes) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "the audit file accepted no bytes")),
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

impl AuditSink for SyncFileSink {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        let line = record.line_with_newline();
        // A poisoned lock only means another writer panicked; the file handle itself is fine.
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sync = self.sync_every_event || record.durability() == Durability::Durable;
        let result = file.append(&line, sync);
        result.map_err(|e| self.on_error.failure(e))
    }

    fn flush(&self) -> io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.file.sync()
    }

    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }
}
