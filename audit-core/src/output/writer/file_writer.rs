//! [`FileWriter`]: the handle callers hold. It queues events, waits for their durability (a
//! blocked thread, or an [`Acknowledgement`] for async code) and is the [`AuditSink`].

use std::cell::RefCell;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::notify::Waiter;
use super::policy::Backpressure;
use super::queue::Body;
use super::shared::Shared;
use super::stats::WriterStats;
use crate::output::sink::{AuditSink, FailurePolicy, Record, SinkError, Submission};
use audit_schema::Durability;

thread_local! {
    /// Where a caller formats its own line (see [`FileWriter::enqueue`]), reused call after call.
    static CALLER_LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The non-blocking, durable audit file sink: a background thread writes, batches, shares each
/// `fsync` between concurrent callers and rotates files. Cheap to clone; build it with
/// [`FileWriter::builder`]. (For a sink that writes on the caller's thread, see
/// [`SyncFileSink`](crate::sink::SyncFileSink).)
///
/// ```no_run
/// use audit_core::{AuditLogger, Durability, FileWriter};
/// use audit_core::sink::FailurePolicy;
/// use audit_core::writer::{Backpressure, Rotation};
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
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriter").field("path", &self.shared.path).field("stats", &self.stats()).finish()
    }
}

impl FileWriter {
    /// What the writer has done so far.
    pub fn stats(&self) -> WriterStats {
        let c = &self.shared.counters;
        // Counted under the queue's lock, which callers hold anyway: no atomic per event.
        let (accepted, formatted_by_callers, queued) = {
            let queue = self.shared.queue.lock();
            (queue.next_seq, queue.formatted_by_callers, queue.items.len() as u64)
        };
        WriterStats {
            accepted,
            written: c.written.load(Ordering::Relaxed),
            reports: c.reports.load(Ordering::Relaxed),
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
            let mut queue = self.shared.queue.lock();
            queue.flush_upto = queue.flush_upto.max(queue.next_seq);
            self.shared.queue.work.notify_one();
            queue.next_seq
        };
        self.wait_for(target, Durability::Durable).map_err(|e| io::Error::new(e.io_error().kind(), e.to_string()))
    }

    /// Enqueues an event; returns its sequence number.
    fn enqueue(&self, record: &Record<'_>, durability: Durability) -> Result<u64, SinkError> {
        let shared = &self.shared;
        if shared.config.on_io_error == FailurePolicy::FailClosed && shared.failing.load(Ordering::Acquire) {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(SinkError::Refused(shared.failure_error()));
        }
        let outage = shared.outage();
        // The writer's own format, or the logger's.
        let format = shared.config.format.as_ref().unwrap_or(record.format());
        if shared.queue.callers_format() {
            // The writer is far behind: this caller would soon wait for room anyway, so it
            // formats its own line (with the event still in its cache, and freed on its own
            // thread), and the writer only copies the bytes out.
            let queued = CALLER_LINE.with(|line| {
                let mut line = line.try_borrow_mut().ok()?;
                line.clear();
                match record.formatted_line().filter(|_| shared.config.format.is_none()) {
                    // Another sink of the logger (the console, say) formatted it already.
                    Some(formatted) => line.extend_from_slice(formatted.as_bytes()),
                    None => format.write_line(record.event(), &mut line),
                }
                line.push(b'\n');
                let queued = shared.queue.push(durability, &outage, |queue| {
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
        shared.queue.push(durability, &outage, |queue| {
            queue.unformatted += 1;
            let format = match &queue.last_format {
                Some(last) if Arc::ptr_eq(last, format) => None,
                _ => {
                    queue.last_format = Some(Arc::clone(format));
                    queue.last_format.clone()
                }
            };
            Body::Event { event: record.shared_event(), format }
        })
    }

    /// Waits until `seq` is written (`Flushed`) or synced (`Durable`), or the writer fails,
    /// blocking the calling thread.
    fn wait_for(&self, seq: u64, durability: Durability) -> Result<(), SinkError> {
        let shared = &self.shared;
        let durable = durability == Durability::Durable;
        let deadline = Instant::now() + shared.config.max_wait;
        shared.settle(shared.notify.wait(seq, durable, deadline, |progress| shared.check(progress, seq, durable)))
    }

    /// Waits until an event after the `seen`-th is written to the file, or for `timeout` (about:
    /// the writer's watchdog ends the wait), and returns the number of the last event written;
    /// `None` once the writer has stopped. How a [shipper](crate::ship) in the same process
    /// knows when to read on, rather than polling.
    pub(crate) fn wait_written_after(&self, seen: u64, timeout: Duration) -> Option<u64> {
        let notify = &self.shared.notify;
        let deadline = Instant::now() + timeout;
        let check = |progress: &super::notify::Progress| {
            (progress.written > seen || progress.stopped).then_some((progress.written, progress.stopped))
        };
        let (written, stopped) = match notify.wait(seen + 1, false, deadline, check) {
            super::notify::Waited::Checked(answer) => answer,
            _ => {
                let progress = super::lock(&notify.progress);
                (progress.written, progress.stopped)
            }
        };
        (!stopped).then_some(written)
    }

    /// Enqueues the record's event and returns an [`Acknowledgement`] that completes when the
    /// event reaches the durability asked for (at once for `Buffered`): the way for async code
    /// to wait for `Durable` without blocking its executor thread.
    pub fn submit(&self, record: &Record<'_>) -> Result<Acknowledgement, SinkError> {
        let durability = record.durability().max(self.shared.config.durability);
        let seq = self.enqueue(record, durability)?;
        Ok(Acknowledgement {
            deadline: Instant::now() + self.shared.config.max_wait,
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
    deadline: Instant,
    seq: u64,
    durable: bool,
    needed: bool,
    waiter: Option<Arc<Waiter>>,
}

impl std::fmt::Debug for Acknowledgement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acknowledgement").field("seq", &self.seq).field("durable", &self.durable).finish()
    }
}

impl std::future::Future for Acknowledgement {
    type Output = Result<(), SinkError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.needed {
            return Poll::Ready(Ok(()));
        }
        let this = &mut *self;
        let (shared, seq, durable, deadline) = (&this.shared, this.seq, this.durable, this.deadline);
        shared
            .notify
            .poll(&mut this.waiter, seq, durable, deadline, cx, |progress| shared.check(progress, seq, durable))
            .map(|waited| shared.settle(waited))
    }
}

impl AuditSink for FileWriter {
    fn submit(&self, record: &Record<'_>) -> Submission {
        match FileWriter::submit(self, record) {
            Ok(ack) if ack.needed => Submission::Pending(Box::pin(ack)),
            Ok(_) => Submission::Done(Ok(())),
            Err(error) => Submission::Done(Err(error)),
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
        let full_closed = shared.queue.backpressure() == Backpressure::FailClosed && shared.queue.is_full();
        !(failing_closed || full_closed)
    }

    fn flush(&self) -> io::Result<()> {
        FileWriter::flush(self)
    }

    fn check(&self) -> io::Result<()> {
        if self.is_failing() {
            return Err(io::Error::other(format!("{} is failing to write", self.path().display())));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.shared.describe()
    }
}
