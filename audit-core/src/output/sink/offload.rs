//! Sinks that run on a thread of their own, so that a slow or hung destination cannot freeze
//! audited calls: [`BestEffort`] (never waited for: an event it cannot take is dropped, counted
//! and reported) and [`WithDeadline`] (waited for at most a deadline: past it, the event counts
//! as failed by the sink's [`FailurePolicy`]). Vault's rule for audit devices, without its hang.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::contract::AuditSink;
use super::record::Record;
use super::{report_failure, FailurePolicy, SinkError};
use crate::model::AuditEvent;
use crate::output::format::EcsFormat;
use audit_schema::Durability;

/// What the sink's thread is given.
enum Job {
    /// One event, and where to answer (when someone waits).
    Write {
        event: Arc<AuditEvent>,
        format: Arc<EcsFormat>,
        durability: Durability,
        reply: Option<SyncSender<Result<(), SinkError>>>,
    },
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
}

impl Offloaded {
    fn start<S: AuditSink>(sink: S, capacity: usize) -> io::Result<Offloaded> {
        let name = sink.describe();
        let (queue, jobs): (SyncSender<Job>, Receiver<Job>) = mpsc::sync_channel(capacity.max(1));
        let thread = std::thread::Builder::new().name("audit-sink".to_owned()).spawn(move || {
            for job in jobs {
                match job {
                    Job::Write { event, format, durability, reply } => {
                        let result = sink.write(&Record::new(&event, &format, durability));
                        match reply {
                            Some(reply) => drop(reply.send(result)),
                            None => {
                                if let Err(error) = result {
                                    report_failure(&sink.describe(), &error);
                                }
                            }
                        }
                    }
                    Job::Flush(reply) => drop(reply.send(sink.flush())),
                    Job::Check(reply) => drop(reply.send(sink.check())),
                }
            }
        })?;
        Ok(Offloaded { name, queue: Some(queue), thread: Some(thread) })
    }

    fn send(
        &self,
        record: &Record<'_>,
        reply: Option<SyncSender<Result<(), SinkError>>>,
    ) -> Result<(), TrySendError<Job>> {
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

    /// Queues the job `job` makes with a reply channel, and waits at most `limit` for the answer;
    /// `doing` says what was not done in time.
    fn ask(&self, job: fn(SyncSender<io::Result<()>>) -> Job, limit: Duration, doing: &str) -> io::Result<()> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue.as_ref().expect("open until dropped").send_timeout_compat(job(reply), limit)?;
        answer.recv_timeout(limit).map_err(|_| {
            io::Error::new(io::ErrorKind::TimedOut, format!("{} did not {doing} within {limit:?}", self.name))
        })?
    }
}

/// `SyncSender` has no timed send: try, then wait a little, until `limit`.
trait SendTimeout {
    fn send_timeout_compat(&self, job: Job, limit: Duration) -> io::Result<()>;
}

impl SendTimeout for SyncSender<Job> {
    fn send_timeout_compat(&self, mut job: Job, limit: Duration) -> io::Result<()> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            match self.try_send(job) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(io::Error::other("the sink's thread has stopped")),
                Err(TrySendError::Full(back)) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "the sink's queue stayed full"));
                    }
                    job = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
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

/// A sink that is never waited for: each event is handed to its own thread through a bounded
/// queue, and when the queue is full (the sink fell behind, or hangs) the event is dropped for
/// this sink, counted ([`BestEffort::dropped`]) and reported. What the sink itself fails to
/// write is reported by its thread. For [`AuditLoggerBuilder::best_effort_sink`](crate::logger::AuditLoggerBuilder::best_effort_sink).
pub struct BestEffort {
    offloaded: Offloaded,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for BestEffort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BestEffort").field("sink", &self.offloaded.name).field("dropped", &self.dropped()).finish()
    }
}

impl BestEffort {
    /// `sink` behind a queue of `capacity` events and a thread of its own.
    pub fn new(sink: impl AuditSink, capacity: usize) -> io::Result<BestEffort> {
        Ok(BestEffort { offloaded: Offloaded::start(sink, capacity)?, dropped: Arc::default() })
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
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
        self.offloaded.flush(Duration::from_secs(10))
    }

    fn describe(&self) -> String {
        format!("best-effort:{}", self.offloaded.name)
    }

    fn check(&self) -> io::Result<()> {
        self.offloaded.check(Duration::from_secs(10))
    }
}

/// A sink waited for at most `deadline`: its writes run on a thread of its own, and a write that
/// has not answered by then fails by the sink's [`FailurePolicy`] (refused when failing closed),
/// so a hung destination delays an audited call by at most the deadline and never freezes it.
/// While the sink is still busy with earlier events beyond its queue, a write fails at once.
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
        Ok(WithDeadline { offloaded: Offloaded::start(sink, 64)?, deadline, policy })
    }
}

impl AuditSink for WithDeadline {
    fn write(&self, record: &Record<'_>) -> Result<(), SinkError> {
        let (reply, answer) = mpsc::sync_channel(1);
        if self.offloaded.send(record, Some(reply)).is_err() {
            let error = io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is still busy with earlier events", self.offloaded.name),
            );
            return Err(self.policy.failure(error));
        }
        match answer.recv_timeout(self.deadline) {
            Ok(result) => result,
            Err(_) => {
                let error = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} did not answer within {:?}", self.offloaded.name, self.deadline),
                );
                report_failure(&self.describe(), &error);
                Err(self.policy.failure(error))
            }
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
}
