//! [`FileWriter`]: the audit file sink that takes I/O off the caller's thread without giving up
//! on durability.
//!
//! - The caller only enqueues the event into a bounded queue (no formatting, no I/O); a background
//!   thread formats whole batches and writes each with one `write` call. Under sustained load,
//!   once more than half the queue waits to be formatted, callers format their own line instead
//!   (time they would soon spend waiting for room), so the writer thread is left with copying and
//!   `write` calls and one file sink keeps up with well over a million events a second.
//! - [`Durability`] per writer, per action (`#[audited(durability = ...)]`) or for every write's
//!   intent ([`AuditLoggerBuilder::durable_intents`](crate::AuditLoggerBuilder::durable_intents)):
//!   `Buffered` returns at once; `Flushed` once the batch is written; `Durable` once it is
//!   `fsync`ed. Concurrent callers waiting for durability share one `fsync` (group commit).
//! - [`Backpressure`] when the queue is full: block (default), refuse the call, or drop and count
//!   (then write an event saying how many were lost).
//! - [`FailurePolicy`] on I/O errors (a full disk, EIO, permissions): fail open (keep serving; keep
//!   the events in memory up to the queue's capacity and retry, then count what is lost) or fail
//!   closed (refuse audited calls until a retry succeeds). Recovery is automatic.
//! - [`Rotation`] by size and/or time, a retention count, optional compression; an event is never
//!   split across files.

mod compress;
mod read;
mod rolling;
mod storage;
mod worker;

pub use read::{read_audit_trail, AuditTrail, TornLine};
pub use rolling::{rotated_files, Rotation};
pub use storage::{FsStorage, Storage, StorageFile};

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::event::AuditEvent;
use crate::format::EcsFormat;
use crate::sink::{AuditSink, Durability, FailurePolicy, Record, SinkError};

/// What a caller does when the writer's queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backpressure {
    /// Wait for room: never drop an event (default).
    #[default]
    Block,
    /// Refuse the audited call: it returns an error and its body does not run.
    FailClosed,
    /// Drop the event, count it, and later write an event saying how many were lost. Opt-in only.
    Drop,
}

/// Counters of a [`FileWriter`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Events accepted into the queue.
    pub accepted: u64,
    /// Events written to the file.
    pub written: u64,
    /// Events whose line their caller formatted, because the writer was more than half a queue
    /// behind (the writer formats the others).
    pub formatted_by_callers: u64,
    /// Events dropped (queue full with [`Backpressure::Drop`], or while failing open).
    pub dropped: u64,
    /// Events refused (failing closed).
    pub refused: u64,
    /// Failed writes or syncs.
    pub io_errors: u64,
    /// `write` batches.
    pub batches: u64,
    /// `fsync` calls.
    pub syncs: u64,
    /// Rotations.
    pub rotations: u64,
    /// Events waiting in the queue now.
    pub queued: u64,
}

struct Pending {
    seq: u64,
    body: Body,
    durability: Durability,
}

/// What the writer gets for one event.
enum Body {
    /// The event, for the writer to format: the caller pays only for queueing it.
    Event {
        event: Arc<AuditEvent>,
        /// The line format, when it differs from the previous event's: cloning the logger's
        /// shared format for every event would make every caller and the writer contend for its
        /// counter.
        format: Option<Arc<EcsFormat>>,
    },
    /// A line the caller formatted itself (with its newline), this many bytes at the front of
    /// the queue's `lines`: what callers do when the writer is far behind.
    Line { len: usize },
}

struct Queue {
    items: VecDeque<Pending>,
    /// The bytes of the [`Body::Line`] items, in queue order.
    lines: Vec<u8>,
    next_seq: u64,
    writer_idle: bool,
    shutdown: bool,
    /// Sequence number a `flush()` waits to see synced.
    flush_upto: u64,
    /// Events dropped and not yet reported by an event of their own.
    dropped_unreported: u64,
    /// `Durable` events in `items`.
    durable_items: usize,
    /// [`Body::Event`] items queued (for the writer to format).
    unformatted: usize,
    /// Events the writer has taken and not formatted yet (it updates this once per chunk).
    writer_unformatted: usize,
    /// Lines callers formatted themselves, since the start.
    formatted_by_callers: u64,
    /// The format of the last [`Body::Event`] queued.
    last_format: Option<Arc<EcsFormat>>,
    /// While the writer gathers a group commit: how many durable events it waits for (0: not
    /// gathering). Callers wake it only once that many are queued.
    gather_target: usize,
}

struct Progress {
    written: u64,
    synced: u64,
    /// The writer's current I/O failure, cleared when a write succeeds again.
    failure: Option<(io::ErrorKind, String)>,
    stopped: bool,
    /// Callers waiting for their event to be written or synced.
    waiters: Vec<Arc<Waiter>>,
}

/// A caller parked until its event is written (or synced, when `durable`). Each is woken only
/// when its own event gets there: with many concurrent durable callers, waking all of them at
/// every batch would make them fight for the lock instead of letting the writer go on.
struct Waiter {
    seq: u64,
    durable: bool,
    wakeup: Wakeup,
    /// Set by the waker: `WOKEN_DONE` (the event got there) or `WOKEN_CHECK` (failure or stop).
    woken: std::sync::atomic::AtomicU8,
}

/// How a waiter is woken: a blocked thread is unparked, an async task's waker is called.
enum Wakeup {
    Thread(std::thread::Thread),
    Task(Mutex<std::task::Waker>),
}

const WOKEN_DONE: u8 = 1;
const WOKEN_CHECK: u8 = 2;

impl Progress {
    /// Takes the waiters whose events got far enough (all of them if the writer failed or
    /// stopped), each marked with why it is woken.
    fn take_ready(&mut self) -> Vec<Arc<Waiter>> {
        let everyone = self.failure.is_some() || self.stopped;
        let (written, synced) = (self.written, self.synced);
        let mut ready = Vec::new();
        self.waiters.retain(|waiter| {
            let reached = waiter.seq <= if waiter.durable { synced } else { written };
            if reached || everyone {
                waiter.woken.store(if reached { WOKEN_DONE } else { WOKEN_CHECK }, Ordering::Relaxed);
                ready.push(Arc::clone(waiter));
            }
            !(reached || everyone)
        });
        ready
    }
}

/// Waiters to unpark. Waking is a fan-out: whoever wakes (the writer, then each woken waiter)
/// unparks two more, so the writer pays for two syscalls rather than one per waiter and can
/// start on the next batch while the rest wake each other.
#[derive(Default)]
struct WakeQueue(Mutex<Vec<Arc<Waiter>>>);

impl WakeQueue {
    fn add(&self, ready: Vec<Arc<Waiter>>) {
        let mut threads = Vec::new();
        for waiter in ready {
            match &waiter.wakeup {
                // Waking a task only schedules it: cheap enough for the writer to do itself.
                Wakeup::Task(waker) => lock(waker).wake_by_ref(),
                Wakeup::Thread(_) => threads.push(waiter),
            }
        }
        if !threads.is_empty() {
            lock(&self.0).extend(threads);
            self.wake_some();
        }
    }

    fn wake_some(&self) {
        let next: Vec<Arc<Waiter>> = {
            let mut queue = lock(&self.0);
            let keep = queue.len().saturating_sub(2);
            queue.split_off(keep)
        };
        for waiter in next {
            if let Wakeup::Thread(thread) = &waiter.wakeup {
                thread.unpark();
            }
        }
    }
}

#[derive(Clone)]
struct Config {
    durability: Durability,
    capacity: usize,
    backpressure: Backpressure,
    on_io_error: FailurePolicy,
    flush_interval: Duration,
    retry_max: Duration,
    shutdown_grace: Duration,
}

impl Config {
    /// Callers format their own line once this many queued events wait for the writer to
    /// format them: half the queue. Below that the queue absorbs bursts and callers pay only for
    /// queueing; above it they would soon wait for room, and formatting is better use of that time.
    fn callers_format_from(&self) -> usize {
        (self.capacity / 2).max(1)
    }
}

struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    refused: AtomicU64,
    io_errors: AtomicU64,
    batches: AtomicU64,
    syncs: AtomicU64,
    rotations: AtomicU64,
}

struct Shared {
    config: Config,
    path: PathBuf,
    queue: Mutex<Queue>,
    /// The writer waits here for work.
    work: Condvar,
    /// Blocked callers wait here for room.
    room: Condvar,
    progress: Mutex<Progress>,
    to_wake: WakeQueue,
    failing: AtomicBool,
    /// Whether callers format their own lines: more than half a queue of events waits for the
    /// writer to format them. Written only when that changes (under the queue's lock), read by
    /// every call: a flag rather than a counter every call would update, which would bounce its
    /// cache line between the callers' and the writer's cores.
    callers_format: AtomicBool,
    counters: Counters,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state stays consistent across a panic (every update is a single assignment).
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Sets [`Shared::callers_format`] from the queue's counts (called with the queue locked).
    fn update_callers_format(&self, queue: &Queue) {
        let behind = queue.unformatted + queue.writer_unformatted >= self.config.callers_format_from();
        if self.callers_format.load(Ordering::Relaxed) != behind {
            self.callers_format.store(behind, Ordering::Relaxed);
        }
    }

    /// Whether event `seq` got as far as it must (`Some(Ok)`), never will for now (`Some(Err)`:
    /// the writer is failing or stopped), or is still on its way (`None`).
    fn check(&self, progress: &Progress, seq: u64, durable: bool) -> Option<Result<(), SinkError>> {
        if (if durable { progress.synced } else { progress.written }) >= seq {
            return Some(Ok(()));
        }
        if let Some((kind, message)) = &progress.failure {
            let error = io::Error::new(*kind, format!("not yet recorded: {message}"));
            return Some(Err(match self.config.on_io_error {
                FailurePolicy::FailClosed => {
                    self.counters.refused.fetch_add(1, Ordering::Relaxed);
                    SinkError::Refused(error)
                }
                FailurePolicy::FailOpen => SinkError::Unconfirmed(error),
            }));
        }
        if progress.stopped {
            return Some(Err(self.config.on_io_error.failure(io::Error::other("the audit file writer has shut down"))));
        }
        None
    }

    fn failure_error(&self) -> io::Error {
        match &lock(&self.progress).failure {
            Some((kind, message)) => io::Error::new(*kind, message.clone()),
            None => io::Error::other("the audit file is failing"),
        }
    }
}

thread_local! {
    /// Where a caller formats its own line (see [`FileWriter::enqueue`]), reused call after call.
    static CALLER_LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The non-blocking, durable audit file sink. Cheap to clone; build it with [`FileWriter::builder`].
///
/// ```no_run
/// use audit_core::{AuditLogger, Backpressure, Durability, FailurePolicy, FileWriter, Rotation};
///
/// let (writer, _guard) = FileWriter::builder("/var/log/myapp/audit.log")
///     .rotation(Rotation::daily().max_bytes(100 << 20).keep(10))
///     .durability(Durability::Flushed)
///     .when_full(Backpressure::Block)
///     .on_io_error(FailurePolicy::FailClosed)
///     .build()?;
/// AuditLogger::builder().sink(writer).durable_intents().build().install().unwrap();
/// // Keep `_guard` alive until the end of `main`: dropping it writes out everything queued.
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct FileWriter {
    shared: Arc<Shared>,
}

impl FileWriter {
    /// A writer appending to `path`.
    pub fn builder(path: impl AsRef<Path>) -> FileWriterBuilder {
        FileWriterBuilder {
            path: path.as_ref().to_path_buf(),
            rotation: None,
            storage: Arc::new(FsStorage),
            config: Config {
                durability: Durability::Buffered,
                capacity: 65_536,
                backpressure: Backpressure::Block,
                on_io_error: FailurePolicy::FailOpen,
                flush_interval: Duration::from_millis(100),
                retry_max: Duration::from_secs(1),
                shutdown_grace: Duration::from_secs(10),
            },
        }
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> WriterStats {
        let c = &self.shared.counters;
        // Counted under the queue's lock, which callers hold anyway: no atomic per event.
        let (accepted, formatted_by_callers, queued) = {
            let queue = lock(&self.shared.queue);
            (queue.next_seq, queue.formatted_by_callers, queue.items.len() as u64)
        };
        WriterStats {
            accepted,
            written: c.written.load(Ordering::Relaxed),
            formatted_by_callers,
            dropped: c.dropped.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            io_errors: c.io_errors.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            rotations: c.rotations.load(Ordering::Relaxed),
            queued,
        }
    }

    /// Whether the file is currently failing (writes or syncs returning errors).
    pub fn is_failing(&self) -> bool {
        self.shared.failing.load(Ordering::Acquire)
    }

    /// The active file's path.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Waits until everything accepted so far is written and `fsync`ed.
    pub fn flush(&self) -> io::Result<()> {
        let target = {
            let mut queue = lock(&self.shared.queue);
            queue.flush_upto = queue.flush_upto.max(queue.next_seq);
            self.shared.work.notify_one();
            queue.next_seq
        };
        self.wait_for(target, Durability::Durable).map_err(|e| io::Error::new(e.io_error().kind(), e.to_string()))
    }

    fn refuse(&self, error: io::Error) -> SinkError {
        self.shared.counters.refused.fetch_add(1, Ordering::Relaxed);
        SinkError::Refused(error)
    }

    fn drop_event(&self, queue: &mut Queue, why: &str) -> SinkError {
        queue.dropped_unreported += 1;
        self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
        SinkError::Unconfirmed(io::Error::other(format!("event dropped ({why}); the loss will be recorded")))
    }

    /// Enqueues an event; returns its sequence number.
    fn enqueue(&self, record: &Record<'_>, durability: Durability) -> Result<u64, SinkError> {
        let shared = &self.shared;
        let config = &shared.config;
        if config.on_io_error == FailurePolicy::FailClosed && shared.failing.load(Ordering::Acquire) {
            return Err(self.refuse(shared.failure_error()));
        }
        if shared.callers_format.load(Ordering::Relaxed) {
            // The writer is far behind: this caller would soon wait for room anyway, so it
            // formats its own line (with the event still in its cache, and freed on its own
            // thread), and the writer only copies the bytes out.
            let queued = CALLER_LINE.with(|line| {
                let mut line = line.try_borrow_mut().ok()?;
                line.clear();
                match record.formatted_line() {
                    // Another sink of the logger (the console, say) formatted it already.
                    Some(formatted) => line.extend_from_slice(formatted.as_bytes()),
                    None => record.format().write_line(record.event(), &mut line),
                }
                line.push(b'\n');
                let queued = self.enqueue_body(durability, |queue| {
                    queue.lines.extend_from_slice(&line);
                    queue.formatted_by_callers += 1;
                    Body::Line { len: line.len() }
                });
                // One huge event (large labels, say) must not pin its size to the thread.
                if line.capacity() > 64 * 1024 {
                    *line = Vec::new();
                }
                Some(queued)
            });
            if let Some(queued) = queued {
                return queued;
            }
        }
        self.enqueue_body(durability, |queue| {
            queue.unformatted += 1;
            let format = match &queue.last_format {
                Some(last) if Arc::ptr_eq(last, record.format()) => None,
                _ => {
                    queue.last_format = Some(Arc::clone(record.format()));
                    queue.last_format.clone()
                }
            };
            Body::Event { event: record.shared_event(), format }
        })
    }

    /// Waits for room (per the backpressure policy), then queues the body `make` returns.
    fn enqueue_body(&self, durability: Durability, make: impl FnOnce(&mut Queue) -> Body) -> Result<u64, SinkError> {
        let shared = &self.shared;
        let config = &shared.config;
        let mut queue = lock(&shared.queue);
        while queue.items.len() >= config.capacity && !queue.shutdown {
            if shared.failing.load(Ordering::Acquire) && config.on_io_error == FailurePolicy::FailOpen {
                // Failing open: the service keeps running, it does not wait on a broken disk.
                return Err(self.drop_event(&mut queue, "queue full while the audit file is failing"));
            }
            match config.backpressure {
                Backpressure::Block => {
                    // Timed, so a change to the failing state is noticed without a wake-up.
                    queue =
                        shared.room.wait_timeout(queue, Duration::from_millis(50)).unwrap_or_else(|p| p.into_inner()).0;
                }
                Backpressure::FailClosed => {
                    drop(queue);
                    return Err(self.refuse(io::Error::new(io::ErrorKind::WouldBlock, "the audit queue is full")));
                }
                Backpressure::Drop => return Err(self.drop_event(&mut queue, "the audit queue is full")),
            }
        }
        if queue.shutdown {
            return Err(config.on_io_error.failure(io::Error::other("the audit file writer has shut down")));
        }
        queue.next_seq += 1;
        let seq = queue.next_seq;
        let body = make(&mut queue);
        queue.items.push_back(Pending { seq, body, durability });
        if durability == Durability::Durable {
            queue.durable_items += 1;
        }
        // Waking the writer costs a syscall: only when it sleeps (and, while it gathers a group
        // commit, once the group is complete). A busy writer takes the queue after its batch.
        let group_complete = queue.gather_target == 0 || queue.durable_items >= queue.gather_target;
        if queue.writer_idle && group_complete {
            queue.writer_idle = false;
            shared.work.notify_one();
        }
        shared.update_callers_format(&queue);
        Ok(seq)
    }

    /// Waits until `seq` is written (`Flushed`) or synced (`Durable`), or the writer fails,
    /// blocking the calling thread.
    fn wait_for(&self, seq: u64, durability: Durability) -> Result<(), SinkError> {
        let shared = &self.shared;
        let durable = durability == Durability::Durable;
        let waiter = Arc::new(Waiter {
            seq,
            durable,
            wakeup: Wakeup::Thread(std::thread::current()),
            woken: std::sync::atomic::AtomicU8::new(0),
        });
        loop {
            {
                let mut progress = lock(&shared.progress);
                if let Some(result) = shared.check(&progress, seq, durable) {
                    return result;
                }
                progress.waiters.push(Arc::clone(&waiter));
            }
            // `park` may return spuriously: only the waker sets `woken`.
            let why = loop {
                match waiter.woken.swap(0, Ordering::Acquire) {
                    0 => std::thread::park(),
                    why => break why,
                }
            };
            shared.to_wake.wake_some();
            if why == WOKEN_DONE {
                return Ok(());
            }
        }
    }

    /// Enqueues the record's event and returns an [`Acknowledgement`] that completes when the
    /// event reaches the durability asked for (at once for `Buffered`): the way for async code
    /// to wait for `Durable` without blocking its executor thread.
    pub fn submit(&self, record: &Record<'_>) -> Result<Acknowledgement, SinkError> {
        let durability = record.durability().max(self.shared.config.durability);
        let seq = self.enqueue(record, durability)?;
        Ok(Acknowledgement {
            shared: Arc::clone(&self.shared),
            seq,
            durable: durability == Durability::Durable,
            needed: durability > Durability::Buffered,
            waiter: None,
        })
    }
}

/// Completes when an event handed to [`FileWriter::submit`] is written (`Flushed`) or synced
/// (`Durable`), or with the writer's error.
#[must_use = "an acknowledgement does nothing unless awaited"]
pub struct Acknowledgement {
    shared: Arc<Shared>,
    seq: u64,
    durable: bool,
    needed: bool,
    waiter: Option<Arc<Waiter>>,
}

impl std::future::Future for Acknowledgement {
    type Output = Result<(), SinkError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        if !self.needed || self.waiter.as_ref().is_some_and(|w| w.woken.load(Ordering::Acquire) == WOKEN_DONE) {
            return Poll::Ready(Ok(()));
        }
        let shared = Arc::clone(&self.shared);
        let mut progress = lock(&shared.progress);
        if let Some(result) = shared.check(&progress, self.seq, self.durable) {
            return Poll::Ready(result);
        }
        match &self.waiter {
            // Still registered: keep its waker current.
            Some(waiter) if waiter.woken.load(Ordering::Acquire) == 0 => {
                if let Wakeup::Task(waker) = &waiter.wakeup {
                    let mut waker = lock(waker);
                    if !waker.will_wake(cx.waker()) {
                        *waker = cx.waker().clone();
                    }
                }
            }
            // Not registered yet, or woken to check again: register anew.
            _ => {
                let waiter = Arc::new(Waiter {
                    seq: self.seq,
                    durable: self.durable,
                    wakeup: Wakeup::Task(Mutex::new(cx.waker().clone())),
                    woken: std::sync::atomic::AtomicU8::new(0),
                });
                progress.waiters.push(Arc::clone(&waiter));
                drop(progress);
                self.waiter = Some(waiter);
            }
        }
        Poll::Pending
    }
}

impl AuditSink for FileWriter {
    fn submit(&self, record: &Record<'_>) -> crate::sink::Submission {
        match FileWriter::submit(self, record) {
            Ok(ack) if ack.needed => crate::sink::Submission::Pending(Box::pin(ack)),
            Ok(_) => crate::sink::Submission::Done(Ok(())),
            Err(error) => crate::sink::Submission::Done(Err(error)),
        }
    }

    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        let durability = record.durability().max(self.shared.config.durability);
        let seq = self.enqueue(record, durability)?;
        match durability {
            Durability::Buffered => Ok(()),
            level => self.wait_for(seq, level),
        }
    }

    fn is_accepting(&self) -> bool {
        let shared = &self.shared;
        let failing_closed =
            shared.config.on_io_error == FailurePolicy::FailClosed && shared.failing.load(Ordering::Acquire);
        let full_closed = shared.config.backpressure == Backpressure::FailClosed
            && lock(&shared.queue).items.len() >= shared.config.capacity;
        !(failing_closed || full_closed)
    }

    fn flush(&self) -> io::Result<()> {
        FileWriter::flush(self)
    }

    fn describe(&self) -> String {
        format!("file-writer:{}", self.shared.path.display())
    }
}

/// Stops the writer when dropped, after writing and syncing everything accepted: keep it alive
/// for as long as events may be logged (typically, until the end of `main`).
#[must_use = "dropping the guard stops the writer"]
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
        {
            let mut queue = lock(&self.writer.shared.queue);
            queue.shutdown = true;
            self.writer.shared.work.notify_one();
            self.writer.shared.room.notify_all();
        }
        thread.join().map_err(|_| io::Error::other("the audit writer thread panicked"))?;
        let progress = lock(&self.writer.shared.progress);
        match &progress.failure {
            Some((kind, message)) => {
                Err(io::Error::new(*kind, format!("audit writer stopped while failing: {message}")))
            }
            None => Ok(()),
        }
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            crate::sink::report_sink_failure(&self.writer.describe(), &error);
        }
    }
}

/// Builds a [`FileWriter`].
pub struct FileWriterBuilder {
    path: PathBuf,
    rotation: Option<Rotation>,
    storage: Arc<dyn Storage>,
    config: Config,
}

impl FileWriterBuilder {
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
        self.config.capacity = events.max(1);
        self
    }

    /// What callers do when the queue is full (default `Block`).
    pub fn when_full(mut self, backpressure: Backpressure) -> Self {
        self.config.backpressure = backpressure;
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
    pub fn storage(mut self, storage: impl Storage) -> Self {
        self.storage = Arc::new(storage);
        self
    }

    /// Opens the file (failing now if it cannot be opened) and starts the writer thread.
    pub fn build(self) -> io::Result<(FileWriter, WriterGuard)> {
        let files = rolling::Files::open(self.storage, self.path.clone(), self.rotation)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open audit file {}: {e}", self.path.display())))?;
        let shared = Arc::new(Shared {
            config: self.config,
            path: self.path,
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                lines: Vec::new(),
                unformatted: 0,
                writer_unformatted: 0,
                formatted_by_callers: 0,
                next_seq: 0,
                writer_idle: false,
                shutdown: false,
                flush_upto: 0,
                dropped_unreported: 0,
                durable_items: 0,
                last_format: None,
                gather_target: 0,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            progress: Mutex::new(Progress {
                written: 0,
                synced: 0,
                failure: None,
                stopped: false,
                waiters: Vec::new(),
            }),
            to_wake: WakeQueue::default(),
            failing: AtomicBool::new(false),
            callers_format: AtomicBool::new(false),
            counters: Counters {
                written: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                refused: AtomicU64::new(0),
                io_errors: AtomicU64::new(0),
                batches: AtomicU64::new(0),
                syncs: AtomicU64::new(0),
                rotations: AtomicU64::new(0),
            },
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("audit-file-writer".to_owned())
            .spawn(move || worker::run(thread_shared, files))?;
        let writer = FileWriter { shared };
        Ok((writer.clone(), WriterGuard { writer, thread: Some(thread) }))
    }
}
