//! Building a [`FileWriter`]: [`FileWriterBuilder`] (its policies and timings) and the
//! [`WriterGuard`] that owns the writer thread.

use std::io;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::file_writer::FileWriter;
use super::lock;
use super::notify::Notifier;
use super::policy::{Backpressure, Config};
use super::queue::CallerQueue;
use super::rolling::{Files, Rotation};
use super::shared::Shared;
use super::stats::Counters;
use super::worker::{self, AfterSync, Resumed};
use crate::output::sink::{report_sink_failure, FailurePolicy};
use crate::trail::chain::{ChainHash, LineChain, Link};
use crate::trail::read::last_link;
use crate::trail::storage::{FsStorage, Storage};
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
    chain: Option<ChainHash>,
    after_sync: Option<Box<dyn AfterSync>>,
    #[cfg(feature = "signing")]
    seals: Option<crate::trail::checkpoint::SigningKey>,
}

impl std::fmt::Debug for FileWriterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriterBuilder")
            .field("path", &self.path)
            .field("rotation", &self.rotation)
            .field("capacity", &self.capacity)
            .field("backpressure", &self.backpressure)
            .field("config", &self.config)
            .field("chain", &self.chain)
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
            chain: None,
            after_sync: None,
            #[cfg(feature = "signing")]
            seals: None,
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

    /// Writes lines in `format` rather than the logger's: an OCSF trail
    /// ([`EcsFormat::ocsf`](crate::output::format::EcsFormat::ocsf)) from a logger whose other sinks write ECS,
    /// say. A chained OCSF trail verifies and ships as an ECS one does.
    pub fn format(mut self, format: crate::output::format::EcsFormat) -> Self {
        self.config.format = Some(std::sync::Arc::new(format));
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

    /// Chains every line (see [`crate::chain`]): each carries `event.sequence` and an
    /// `event.hash` committing to the line before it, so that an edited, inserted, deleted or
    /// reordered line is found by [`verify`](crate::verify). SHA-256, or HMAC-SHA256 with a key
    /// (then only a holder of the key can recompute the chain). The chain goes on across
    /// rotation and restarts (from the trail's last whole line); computed on the writer's
    /// thread, it costs callers nothing.
    pub fn chain(mut self, hash: ChainHash) -> Self {
        self.chain = Some(hash);
        self
    }

    /// Writes signed checkpoints of the chained trail (see [`CheckpointPolicy`](super::CheckpointPolicy)).
    /// Needs [`chain`](FileWriterBuilder::chain); feature `signing`.
    #[cfg(feature = "signing")]
    pub fn checkpoints(mut self, policy: super::CheckpointPolicy) -> Self {
        self.after_sync = Some(policy.start());
        self
    }

    /// Seals every rotated file with `key` (see the `seals` of a chained trail: a signed note
    /// `<file>.seal` of its size, SHA-256 as stored, lines and sequences, chained seal to seal),
    /// written off the writer thread once the file is stored for good. Needs
    /// [`chain`](FileWriterBuilder::chain) and a [`rotation`](FileWriterBuilder::rotation);
    /// feature `signing`.
    #[cfg(feature = "signing")]
    pub fn seals(mut self, key: crate::trail::checkpoint::SigningKey) -> Self {
        self.seals = Some(key);
        self
    }

    /// The longest a call waits for room in the queue (under [`Backpressure::Block`]) or for its
    /// event to be written or synced (default 30 s). Past it, the call gets the failure policy's
    /// error: refused when failing closed, unconfirmed (and counted) when failing open. A disk
    /// that hangs then delays audited calls by at most this long; it never freezes them.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.config.max_wait = wait.max(Duration::from_millis(1));
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
        if self.after_sync.is_some() && self.chain.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "checkpoints need a chained trail: add `.chain(ChainHash::Sha256)` (or a keyed chain)",
            ));
        }
        #[cfg(feature = "signing")]
        if self.seals.is_some() && (self.chain.is_none() || self.rotation.is_none()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seals need a chained, rotating trail: add `.chain(…)` and `.rotation(…)`",
            ));
        }
        #[cfg_attr(not(feature = "signing"), allow(unused_mut))]
        let mut files = Files::open(self.storage, self.path.clone(), self.rotation)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open audit file {}: {e}", self.path.display())))?;
        #[cfg(feature = "signing")]
        if let Some(key) = self.seals {
            let sealer = std::sync::Arc::new(crate::trail::seals::Sealer::open(&self.path, key)?);
            files.seal_with(std::sync::Arc::new(move |stored: &std::path::Path, stats| {
                if let Err(error) = sealer.seal(stored, stats) {
                    report_sink_failure(
                        &format!("seal:{}", stored.display()),
                        &format_args!("cannot seal the rotated audit file: {error}"),
                    );
                }
            }))?;
        }
        let chain = match self.chain {
            Some(hash) => {
                let last = last_link(&self.path)
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("cannot resume the chain of {}: {e}", self.path.display()))
                    })?
                    .unwrap_or(Link::GENESIS);
                Some(Resumed { chain: LineChain::new(hash, last), torn: files.starts_after_torn_line() })
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            config: self.config,
            path: self.path,
            queue: CallerQueue::new(self.capacity, self.backpressure),
            notify: Notifier::default(),
            failing: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let after_sync = self.after_sync;
        let (stopped, stop_seen) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("audit-file-writer".to_owned()).spawn(move || {
            let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
                worker::run(Arc::clone(&thread_shared), files, chain, after_sync)
            }));
            if let Err(panic) = run {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let why = format!("the audit writer thread panicked: {what}");
                report_sink_failure(&thread_shared.describe(), &why);
                thread_shared.died(why);
            }
            let _ = stopped.send(());
        })?;
        spawn_watchdog(Arc::downgrade(&shared))?;
        let writer = FileWriter { shared };
        Ok((writer.clone(), WriterGuard { writer, thread: Some(thread), stop_seen, after_stop: AfterStop::default() }))
    }
}

/// Wakes callers whose wait is past its deadline, whatever the writer thread is doing (it may be
/// stuck in a `write` that never returns). Ends with the writer.
fn spawn_watchdog(shared: Weak<Shared>) -> io::Result<()> {
    let tick = match shared.upgrade() {
        Some(shared) => (shared.config.max_wait / 8).clamp(Duration::from_millis(1), Duration::from_millis(250)),
        None => return Ok(()),
    };
    std::thread::Builder::new().name("audit-writer-watchdog".to_owned()).spawn(move || loop {
        std::thread::sleep(tick);
        let Some(shared) = shared.upgrade() else { return };
        let waiting = shared.notify.expire(Instant::now());
        if !waiting && lock(&shared.notify.progress).stopped {
            return;
        }
    })?;
    Ok(())
}

/// Stops the writer when dropped, after writing and syncing everything accepted: keep it alive
/// for as long as events may be logged (typically, until the end of `main`).
#[must_use = "dropping the guard stops the writer"]
#[derive(Debug)]
pub struct WriterGuard {
    writer: FileWriter,
    thread: Option<JoinHandle<()>>,
    /// Told when the writer thread ends, to stop waiting for it past the deadline.
    stop_seen: mpsc::Receiver<()>,
    /// What stops with the writer, after it (a shipper of its trail).
    after_stop: AfterStop,
}

/// Work to run once the writer has stopped, in the order given.
#[derive(Default)]
struct AfterStop(Vec<Box<dyn FnOnce() + Send>>);

impl std::fmt::Debug for AfterStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AfterStop({})", self.0.len())
    }
}

impl WriterGuard {
    /// Writes out everything accepted, then stops the writer. Events enqueued later are refused
    /// or reported as unconfirmed, per the failure policy. Waits at most the writer's
    /// [`shutdown_grace`](FileWriterBuilder::shutdown_grace) and one more second: a writer stuck
    /// in a `write` that never returns is left behind with an error, not waited for forever.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop()
    }

    /// The writer this guard stops.
    pub(crate) fn writer(&self) -> &FileWriter {
        &self.writer
    }

    /// Runs `work` once the writer has stopped (at [`shutdown`](Self::shutdown) or drop): how a
    /// [shipper](crate::ship::ShipperBuilder::spawn_with) of the trail stops after it.
    pub(crate) fn after_stop(&mut self, work: Box<dyn FnOnce() + Send>) {
        self.after_stop.0.push(work);
    }

    fn stop(&mut self) -> io::Result<()> {
        let result = self.stop_writer();
        for work in std::mem::take(&mut self.after_stop.0) {
            work();
        }
        result
    }

    fn stop_writer(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.take() else { return Ok(()) };
        let shared = &self.writer.shared;
        {
            let mut queue = shared.queue.lock();
            queue.shutdown = true;
            shared.queue.work.notify_one();
            shared.queue.room.notify_all();
        }
        let limit = shared.config.shutdown_grace + Duration::from_secs(1);
        if self.stop_seen.recv_timeout(limit).is_err() {
            let queued = shared.queue.lock().items.len();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the audit writer did not stop within {limit:?} (its file does not answer); \
                     {queued} queued events and any being written may be lost"
                ),
            ));
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
