//! Building a [`FileWriter`]: [`FileWriterBuilder`] (its policies and timings) and the
//! [`WriterGuard`] that owns the writer thread.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::file_writer::FileWriter;
use super::notify::Notifier;
use super::policy::{Backpressure, Config};
use super::queue::CallerQueue;
use super::rolling::{Files, Rotation};
use super::shared::Shared;
use super::stats::Counters;
use super::storage::{FsStorage, Storage};
use super::worker;
use crate::output::sink::{report_sink_failure, FailurePolicy};
use audit_schema::Durability;

impl FileWriter {
    /// A writer appending to `path`.
    pub fn builder(path: impl AsRef<std::path::Path>) -> FileWriterBuilder {
        FileWriterBuilder::new(path.as_ref().to_path_buf())
    }
}

/// Builds a [`FileWriter`]; start with [`FileWriter::builder`].
pub struct FileWriterBuilder {
    path: PathBuf,
    rotation: Option<Rotation>,
    storage: Arc<dyn Storage>,
    capacity: usize,
    backpressure: Backpressure,
    config: Config,
}

impl std::fmt::Debug for FileWriterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriterBuilder")
            .field("path", &self.path)
            .field("rotation", &self.rotation)
            .field("capacity", &self.capacity)
            .field("backpressure", &self.backpressure)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FileWriterBuilder {
    fn new(path: PathBuf) -> FileWriterBuilder {
        FileWriterBuilder {
            path,
            rotation: None,
            storage: Arc::new(FsStorage),
            capacity: 65_536,
            backpressure: Backpressure::Block,
            config: Config::default(),
        }
    }

    /// Rotates the file (default: never).
    pub fn rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = Some(rotation);
        self
    }

    /// The least durability every event gets before `write` returns (default `Buffered`).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.config.durability = durability;
        self
    }

    /// How many events the queue holds (default 65,536). Once half of it waits for the writer
    /// to format, callers format their own lines.
    pub fn queue_capacity(mut self, events: usize) -> Self {
        self.capacity = events.max(1);
        self
    }

    /// What callers do when the queue is full (default `Block`).
    pub fn when_full(mut self, backpressure: Backpressure) -> Self {
        self.backpressure = backpressure;
        self
    }

    /// What happens when the file cannot be written (default `FailOpen`).
    pub fn on_io_error(mut self, policy: FailurePolicy) -> Self {
        self.config.on_io_error = policy;
        self
    }

    /// How often buffered events are written and synced when nobody asks (default 100 ms).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.config.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The longest wait between retries of a failing file (default 1 s; retries start at 10 ms).
    pub fn max_retry_interval(mut self, interval: Duration) -> Self {
        self.config.retry_max = interval.max(Duration::from_millis(1));
        self
    }

    /// How long shutdown keeps retrying a failing file before giving up (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Where the bytes go (default: the real file system). For fault-injection tests.
    #[doc(hidden)]
    pub fn storage(mut self, storage: impl Storage) -> Self {
        self.storage = Arc::new(storage);
        self
    }

    /// Opens the file (failing now if it cannot be opened) and starts the writer thread.
    pub fn build(self) -> io::Result<(FileWriter, WriterGuard)> {
        let files = Files::open(self.storage, self.path.clone(), self.rotation)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open audit file {}: {e}", self.path.display())))?;
        let shared = Arc::new(Shared {
            config: self.config,
            path: self.path,
            queue: CallerQueue::new(self.capacity, self.backpressure),
            notify: Notifier::default(),
            failing: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("audit-file-writer".to_owned())
            .spawn(move || worker::run(thread_shared, files))?;
        let writer = FileWriter { shared };
        Ok((writer.clone(), WriterGuard { writer, thread: Some(thread) }))
    }
}

/// Stops the writer when dropped, after writing and syncing everything accepted: keep it alive
/// for as long as events may be logged (typically, until the end of `main`).
#[must_use = "dropping the guard stops the writer"]
#[derive(Debug)]
pub struct WriterGuard {
    writer: FileWriter,
    thread: Option<JoinHandle<()>>,
}

impl WriterGuard {
    /// Writes out everything accepted, then stops the writer. Events enqueued later are refused
    /// or reported as unconfirmed, per the failure policy.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.take() else { return Ok(()) };
        let shared = &self.writer.shared;
        {
            let mut queue = shared.queue.lock();
            queue.shutdown = true;
            shared.queue.work.notify_one();
            shared.queue.room.notify_all();
        }
        thread.join().map_err(|_| io::Error::other("the audit writer thread panicked"))?;
        shared.stopped_failing()
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            report_sink_failure(&self.writer.shared.describe(), &error);
        }
    }
}
