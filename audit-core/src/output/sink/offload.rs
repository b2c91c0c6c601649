//! Sinks that run on a thread of their own, so that a slow or hung destination cannot freeze
//! audited calls: [`BestEffort`] (never waited for: an event it cannot take is dropped, counted
//! and reported) and [`WithDeadline`] (waited for at most a deadline: past it, the event counts
//! as failed by the sink's [`FailurePolicy`]). Vault's rule for audit devices, without its hang.

use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::contract::{AuditSink, Submission};
use super::record::Record;
use super::{report_failure, FailurePolicy, SinkError};
use crate::model::AuditEvent;
use crate::output::format::EcsFormat;
use audit_schema::Durability;

/// Where a sink's answer to one event goes, once its thread has it.
pub(crate) type Reply = Box<dyn FnOnce(Result<(), SinkError>) + Send>;

/// What the sink's thread is given.
enum Job {
    /// One event, and where to answer (when someone waits).
    Write { event: Arc<AuditEvent>, format: Arc<EcsFormat>, durability: Durability, reply: Option<Reply> },
    /// Answered once everything queued before it is written and flushed.
    Flush(SyncSender<io::Result<()>>),
    /// Answered with the sink's [`AuditSink::check`].
    Check(SyncSender<io::Result<()>>),
}

/// The thread that feeds one sink.
struct Offloaded {
    name: String,
    queue: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Events the sink failed or panicked on, with no one waiting for the answer.
    failed: Arc<AtomicU64>,
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// `f`, with a panic of the sink's code turned into an error that names the sink: the sink
/// failed that one call, and is asked again for the next.
pub(crate) fn guarded<T>(name: &dyn std::fmt::Display, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|payload| Err(io::Error::other(format!("{name} panicked: {}", panic_text(&*payload)))))
}

/// A sink's write with a panic turned into a failure by `policy`.
#[inline]
pub(crate) fn guarded_write(sink: &dyn AuditSink, record: &Record<'_>, policy: FailurePolicy) -> Result<(), SinkError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| sink.write(record)))
        .unwrap_or_else(|payload| Err(panicked(sink, &*payload, policy)))
}

/// A sink's `submit` with a panic turned into a failure by `policy`.
pub(crate) fn guarded_submit(sink: &dyn AuditSink, record: &Record<'_>, policy: FailurePolicy) -> Submission {
    std::panic::catch_unwind(AssertUnwindSafe(|| sink.submit(record)))
        .unwrap_or_else(|payload| Submission::Done(Err(panicked(sink, &*payload, policy))))
}

/// The failure, by `policy`, of the sink whose code panicked with `payload`.
fn panicked(sink: &dyn AuditSink, payload: &(dyn std::any::Any + Send), policy: FailurePolicy) -> SinkError {
    policy.failure(io::Error::other(format!("{} panicked: {}", sink.describe(), panic_text(payload))))
}

impl Offloaded {
    /// `sink` on a thread of its own behind a queue of `capacity`; a panic of its code fails
    /// that event by `policy`, and the thread goes on with the next.
    fn start<S: AuditSink>(sink: S, capacity: usize, policy: FailurePolicy) -> io::Result<Offloaded> {
        let name = sink.describe();
        let failed = Arc::<AtomicU64>::default();
        let (queue, jobs): (SyncSender<Job>, Receiver<Job>) = mpsc::sync_channel(capacity.max(1));
        let thread_failed = Arc::clone(&failed);
        let thread = std::thread::Builder::new().name("audit-sink".to_owned()).spawn(move || {
            let name = sink.describe();
            for job in jobs {
                match job {
                    Job::Write { event, format, durability, reply } => {
                        let result = guarded_write(&sink, &Record::new(&event, &format, durability), policy);
                        match reply {
                            Some(reply) => reply(result),
                            None => {
                                if let Err(error) = result {
                                    thread_failed.fetch_add(1, Ordering::Relaxed);
                                    report_failure(&name, &error);
                                }
                            }
                        }
                    }
                    Job::Flush(reply) => drop(reply.send(guarded(&name, || sink.flush()))),
                    Job::Check(reply) => drop(reply.send(guarded(&name, || sink.check()))),
                }
            }
        })?;
        Ok(Offloaded { name, queue: Some(queue), thread: Some(thread), failed })
    }

    fn send(&self, record: &Record<'_>, reply: Option<Reply>) -> Result<(), TrySendError<Job>> {
        let job = Job::Write {
            event: record.shared_event(),
            format: Arc::clone(record.format()),
            durability: record.durability(),
            reply,
        };
        self.queue.as_ref().expect("open until dropped").try_send(job)
    }

    /// Waits, at most `limit`, until the thread wrote and flushed everything queued so far.
    fn flush(&self, limit: Duration) -> io::Result<()> {
        self.ask(Job::Flush, limit, "flush")
    }

    /// The sink's check, run on its thread and waited for at most `limit`.
    fn check(&self, limit: Duration) -> io::Result<()> {
        self.ask(Job::Check, limit, "answer its check")
    }

    /// Queues the job `job` makes with a reply channel, and waits for the answer: getting into
    /// the queue and the answer together take at most `limit`. `doing` says what was not done.
    fn ask(&self, job: fn(SyncSender<io::Result<()>>) -> Job, limit: Duration, doing: &str) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        let (reply, answer) = mpsc::sync_channel(1);
        let queue = self.queue.as_ref().expect("open until dropped");
        let too_late =
            || io::Error::new(io::ErrorKind::TimedOut, format!("{} did not {doing} within {limit:?}", self.name));
        let mut job = job(reply);
        loop {
            match queue.try_send(job) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return Err(io::Error::other("the sink's thread has stopped")),
                Err(TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return Err(too_late());
                    }
                    job = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        answer.recv_timeout(deadline.saturating_duration_since(Instant::now())).map_err(|_| too_late())?
    }
}

impl Drop for Offloaded {
    fn drop(&mut self) {
        // The thread writes what is queued, then ends; it is not waited for (a hung sink must
        // not hang whoever drops the logger): flush first to be sure.
        drop(self.queue.take());
        drop(self.thread.take());
    }
}

/// The limits of a [`BestEffort`] sink: its queue (default 1,024 events) and how long a flush or
/// a check waits for it (default 10 s).
///
/// ```
/// use audit_core::sink::BestEffortLimits;
/// use std::time::Duration;
///
/// let limits = BestEffortLimits::new().queue(4096).wait(Duration::from_secs(2));
/// assert_eq!(limits.wait_limit(), Duration::from_secs(2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BestEffortLimits {
    queue: usize,
    wait: Duration,
}

impl Default for BestEffortLimits {
    fn default() -> Self {
        BestEffortLimits { queue: 1024, wait: Duration::from_secs(10) }
    }
}

impl BestEffortLimits {
    /// The defaults: a queue of 1,024 events, 10 s for a flush or a check.
    pub fn new() -> BestEffortLimits {
        BestEffortLimits::default()
    }

    /// How many events may wait for the sink; past it, an event is dropped for this sink
    /// (counted and reported).
    pub fn queue(mut self, events: usize) -> BestEffortLimits {
        self.queue = events.max(1);
        self
    }

    /// How long a flush or a check waits for the sink (getting into its queue included).
    pub fn wait(mut self, wait: Duration) -> BestEffortLimits {
        self.wait = wait;
        self
    }

    /// The queue's size.
    pub fn queue_size(&self) -> usize {
        self.queue
    }

    /// How long a flush or a check waits.
    pub fn wait_limit(&self) -> Duration {
        self.wait
    }
}

/// A sink that is never waited for: each event is handed to its own thread through a bounded
/// queue, and when the queue is full (the sink fell behind, or hangs) the event is dropped for
/// this sink, counted ([`BestEffort::dropped`]) and reported. What the sink itself fails to
/// write, or panics on, is counted ([`BestEffort::failed`]) and reported by its thread, which
/// goes on with the next event. For [`AuditLoggerBuilder::best_effort_sink`](crate::logger::AuditLoggerBuilder::best_effort_sink).
pub struct BestEffort {
    offloaded: Offloaded,
    dropped: Arc<AtomicU64>,
    wait: Duration,
}

impl std::fmt::Debug for BestEffort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BestEffort")
            .field("sink", &self.offloaded.name)
            .field("dropped", &self.dropped())
            .field("failed", &self.failed())
            .finish()
    }
}

impl BestEffort {
    /// `sink` behind a queue of `capacity` events and a thread of its own.
    pub fn new(sink: impl AuditSink, capacity: usize) -> io::Result<BestEffort> {
        BestEffort::with_limits(sink, BestEffortLimits::new().queue(capacity))
    }

    /// `sink` within `limits`, on a thread of its own.
    pub fn with_limits(sink: impl AuditSink, limits: BestEffortLimits) -> io::Result<BestEffort> {
        Ok(BestEffort {
            offloaded: Offloaded::start(sink, limits.queue, FailurePolicy::FailOpen)?,
            dropped: Arc::default(),
            wait: limits.wait,
        })
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events the sink failed to write, or panicked on.
    pub fn failed(&self) -> u64 {
        self.offloaded.failed.load(Ordering::Relaxed)
    }
}

impl AuditSink for BestEffort {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        match self.offloaded.send(record, None) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Err(SinkError::Unconfirmed(io::Error::other(format!(
                    "{} is behind: event dropped for this best-effort sink",
                    self.offloaded.name
                ))))
            }
        }
    }

    fn flush(&self) -> io::Result<()> {
        self.offloaded.flush(self.wait)
    }

    fn describe(&self) -> String {
        format!("best-effort:{}", self.offloaded.name)
    }

    fn check(&self) -> io::Result<()> {
        self.offloaded.check(self.wait)
    }
}

/// A sink waited for at most `deadline`: its writes run on a thread of its own, and a write that
/// has not answered by then fails by the sink's [`FailurePolicy`] (refused when failing closed),
/// so a hung destination delays an audited call by at most the deadline and never freezes it.
/// While the sink is still busy with earlier events beyond its queue, a write fails at once. A
/// panic of the sink's code fails that event by the policy; the sink is asked again for the next.
pub struct WithDeadline {
    offloaded: Offloaded,
    deadline: Duration,
    policy: FailurePolicy,
}

impl std::fmt::Debug for WithDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithDeadline")
            .field("sink", &self.offloaded.name)
            .field("deadline", &self.deadline)
            .field("policy", &self.policy)
            .finish()
    }
}

impl WithDeadline {
    /// `sink`, waited for at most `deadline`, failing by `policy` past it.
    pub fn new(sink: impl AuditSink, deadline: Duration, policy: FailurePolicy) -> io::Result<WithDeadline> {
        Ok(WithDeadline { offloaded: Offloaded::start(sink, 64, policy)?, deadline, policy })
    }

    /// Hands the event to the sink's thread; the answer goes to `reply` (when it comes), and is
    /// due by the returned instant. An error when the sink is still busy with earlier events.
    pub(crate) fn start(&self, record: &Record<'_>, reply: Reply) -> Result<Instant, SinkError> {
        let due = Instant::now() + self.deadline;
        if self.offloaded.send(record, Some(reply)).is_err() {
            let error = io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is still busy with earlier events", self.offloaded.name),
            );
            return Err(self.policy.failure(error));
        }
        Ok(due)
    }

    /// The failure of an event whose answer did not come by its deadline (reported).
    pub(crate) fn too_late(&self) -> SinkError {
        let error = io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{} did not answer within {:?}", self.offloaded.name, self.deadline),
        );
        report_failure(&self.describe(), &error);
        self.policy.failure(error)
    }
}

impl AuditSink for WithDeadline {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let due = self.start(record, Box::new(move |result| drop(reply.send(result))))?;
        match answer.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(_) => Err(self.too_late()),
        }
    }

    fn flush(&self) -> io::Result<()> {
        self.offloaded.flush(self.deadline)
    }

    fn describe(&self) -> String {
        format!("deadline:{}", self.offloaded.name)
    }

    fn check(&self) -> io::Result<()> {
        self.offloaded.check(self.deadline)
    }

    fn with_deadline(&self) -> Option<&WithDeadline> {
        Some(self)
    }
}
