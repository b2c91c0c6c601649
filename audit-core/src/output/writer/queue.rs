//! The callers' side of a [`FileWriter`](crate::FileWriter): a bounded queue of events, and what
//! a caller does when it is full ([`Backpressure`]). The caller only enqueues its event (no
//! formatting, no I/O) unless the writer is more than half a queue behind; then it formats its
//! own line (see [`CallerQueue::callers_format`]).

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::lock;
use super::policy::Backpressure;
use super::stats::Counters;
use crate::model::AuditEvent;
use crate::output::format::EcsFormat;
use crate::output::sink::{FailurePolicy, SinkError};
use audit_schema::Durability;

/// One queued event.
pub(super) struct Pending {
    pub(super) seq: u64,
    pub(super) body: Body,
    pub(super) durability: Durability,
}

/// What the writer gets for one event.
pub(super) enum Body {
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

/// The queue's state, under its lock.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) items: VecDeque<Pending>,
    /// The bytes of the [`Body::Line`] items, in queue order.
    pub(super) lines: Vec<u8>,
    pub(super) next_seq: u64,
    pub(super) writer_idle: bool,
    pub(super) shutdown: bool,
    /// Sequence number a `flush()` waits to see synced.
    pub(super) flush_upto: u64,
    /// Events dropped and not yet reported by an event of their own.
    pub(super) dropped_unreported: u64,
    /// `Durable` events in `items`.
    pub(super) durable_items: usize,
    /// [`Body::Event`] items queued (for the writer to format).
    pub(super) unformatted: usize,
    /// Events the writer has taken and not formatted yet (it updates this once per chunk).
    pub(super) writer_unformatted: usize,
    /// Lines callers formatted themselves, since the start.
    pub(super) formatted_by_callers: u64,
    /// The format of the last [`Body::Event`] queued.
    pub(super) last_format: Option<Arc<EcsFormat>>,
    /// While the writer gathers a group commit: how many durable events it waits for (0: not
    /// gathering). Callers wake it only once that many are queued.
    pub(super) gather_target: usize,
}

/// The bounded queue between callers and the writer thread.
pub(super) struct CallerQueue {
    state: Mutex<Queue>,
    /// The writer waits here for work.
    pub(super) work: Condvar,
    /// Blocked callers wait here for room.
    pub(super) room: Condvar,
    capacity: usize,
    backpressure: Backpressure,
    /// Whether callers format their own lines: more than half a queue of events waits for the
    /// writer to format them. Written only when that changes (under the queue's lock), read by
    /// every call: a flag rather than a counter every call would update, which would bounce its
    /// cache line between the callers' and the writer's cores.
    callers_format: AtomicBool,
}

/// Why the writer cannot take events now, as callers see it.
pub(super) struct Outage<'a> {
    /// The file is failing.
    pub(super) failing: &'a AtomicBool,
    /// What the writer does then.
    pub(super) on_io_error: FailurePolicy,
    pub(super) counters: &'a Counters,
    /// The longest a caller waits for room.
    pub(super) max_wait: Duration,
}

impl CallerQueue {
    pub(super) fn new(capacity: usize, backpressure: Backpressure) -> CallerQueue {
        CallerQueue {
            state: Mutex::new(Queue::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            capacity,
            backpressure,
            callers_format: AtomicBool::new(false),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Queue> {
        lock(&self.state)
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(super) fn backpressure(&self) -> Backpressure {
        self.backpressure
    }

    /// Whether the queue is full now.
    pub(super) fn is_full(&self) -> bool {
        self.lock().items.len() >= self.capacity
    }

    /// Whether callers format their own line (see [`CallerQueue::callers_format`]).
    pub(super) fn callers_format(&self) -> bool {
        self.callers_format.load(Ordering::Relaxed)
    }

    /// Callers format their own line once this many queued events wait for the writer to
    /// format them: half the queue. Below that the queue absorbs bursts and callers pay only for
    /// queueing; above it they would soon wait for room, and formatting is better use of that time.
    fn callers_format_from(&self) -> usize {
        (self.capacity / 2).max(1)
    }

    /// Sets whether callers format, from the queue's counts (called with the queue locked).
    pub(super) fn update_callers_format(&self, queue: &Queue) {
        let behind = queue.unformatted + queue.writer_unformatted >= self.callers_format_from();
        if self.callers_format.load(Ordering::Relaxed) != behind {
            self.callers_format.store(behind, Ordering::Relaxed);
        }
    }

    /// Waits for room (per the backpressure policy), then queues the body `make` returns;
    /// returns the event's sequence number.
    pub(super) fn push(
        &self,
        durability: Durability,
        outage: &Outage<'_>,
        make: impl FnOnce(&mut Queue) -> Body,
    ) -> Result<u64, SinkError> {
        let mut queue = self.lock();
        let mut deadline = None;
        while queue.items.len() >= self.capacity && !queue.shutdown {
            if outage.failing.load(Ordering::Acquire) && outage.on_io_error == FailurePolicy::FailOpen {
                // Failing open: the service keeps running, it does not wait on a broken disk.
                return Err(drop_event(&mut queue, outage.counters, "queue full while the audit file is failing"));
            }
            match self.backpressure {
                Backpressure::Block => {
                    let deadline: Instant = *deadline.get_or_insert_with(|| Instant::now() + outage.max_wait);
                    if Instant::now() >= deadline {
                        // The writer is stuck (a disk that does not answer): no call waits longer.
                        let error = io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no room in the audit queue within {:?}", outage.max_wait),
                        );
                        return Err(match outage.on_io_error {
                            FailurePolicy::FailClosed => {
                                outage.counters.refused.fetch_add(1, Ordering::Relaxed);
                                SinkError::Refused(error)
                            }
                            FailurePolicy::FailOpen => drop_event(&mut queue, outage.counters, "no room in time"),
                        });
                    }
                    // Timed, so a change to the failing state is noticed without a wake-up.
                    queue =
                        self.room.wait_timeout(queue, Duration::from_millis(50)).unwrap_or_else(|p| p.into_inner()).0;
                }
                Backpressure::FailClosed => {
                    drop(queue);
                    outage.counters.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(SinkError::Refused(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "the audit queue is full",
                    )));
                }
                Backpressure::Drop => return Err(drop_event(&mut queue, outage.counters, "the audit queue is full")),
            }
        }
        if queue.shutdown {
            return Err(outage.on_io_error.failure(io::Error::other("the audit file writer has shut down")));
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
            self.work.notify_one();
        }
        self.update_callers_format(&queue);
        Ok(seq)
    }
}

fn drop_event(queue: &mut Queue, counters: &Counters, why: &str) -> SinkError {
    queue.dropped_unreported += 1;
    counters.dropped.fetch_add(1, Ordering::Relaxed);
    SinkError::Unconfirmed(io::Error::other(format!("event dropped ({why}); the loss will be recorded")))
}
