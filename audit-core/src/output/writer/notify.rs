//! Telling callers that their event got far enough: how far the file got ([`Progress`]), the
//! callers parked until their own event is written or synced ([`Waiter`]), and how they are
//! woken, a blocked thread or an async task ([`Notifier`]). Every wait has a deadline: a
//! watchdog wakes callers whose writer is stuck (a `write` that never returns).
//!
//! Each waiter is woken only when its own event gets there: with many concurrent durable
//! callers, waking all of them at every batch would make them fight for the lock instead of
//! letting the writer go on.

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::lock;

/// How far the file got, and who waits for it.
#[derive(Default)]
pub(super) struct Progress {
    /// The sequence number of the last event written.
    pub(super) written: u64,
    /// The sequence number of the last event synced.
    pub(super) synced: u64,
    /// The writer's current I/O failure, cleared when a write succeeds again.
    pub(super) failure: Option<(io::ErrorKind, String)>,
    /// The writer has stopped.
    pub(super) stopped: bool,
    /// Callers waiting for their event to be written or synced.
    waiters: Vec<Arc<Waiter>>,
}

/// Where an event stands, for its caller.
pub(super) enum Standing<'a> {
    /// Written (or synced, when it had to be).
    Reached,
    /// Not there, and the writer is failing with this error.
    Failing(io::ErrorKind, &'a str),
    /// Not there, and the writer has stopped.
    Stopped,
}

impl Progress {
    /// Where event `seq` stands; `None` while it is still on its way.
    pub(super) fn standing(&self, seq: u64, durable: bool) -> Option<Standing<'_>> {
        if (if durable { self.synced } else { self.written }) >= seq {
            Some(Standing::Reached)
        } else if let Some((kind, message)) = &self.failure {
            Some(Standing::Failing(*kind, message))
        } else if self.stopped {
            Some(Standing::Stopped)
        } else {
            None
        }
    }

    /// Takes the waiters whose events got far enough (all of them if the writer failed or
    /// stopped), each marked with why it is woken.
    pub(super) fn take_ready(&mut self) -> Vec<Arc<Waiter>> {
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

/// A caller parked until its event is written (or synced, when `durable`), or its deadline.
pub(super) struct Waiter {
    seq: u64,
    pub(super) durable: bool,
    deadline: Instant,
    wakeup: Wakeup,
    /// Set by the waker: `WOKEN_DONE` (the event got there), `WOKEN_CHECK` (failure or stop) or
    /// `WOKEN_LATE` (the deadline passed).
    woken: AtomicU8,
}

/// How a wait ended.
pub(super) enum Waited<R> {
    /// The event got as far as it had to.
    Reached,
    /// The check said so (a failure, or the writer stopped; or reached, seen by the check).
    Checked(R),
    /// The deadline passed first.
    TimedOut,
}

/// How a waiter is woken: a blocked thread is unparked, an async task's waker is called.
enum Wakeup {
    Thread(std::thread::Thread),
    Task(Mutex<Waker>),
}

const WOKEN_DONE: u8 = 1;
const WOKEN_CHECK: u8 = 2;
const WOKEN_LATE: u8 = 3;

/// The progress callers wait on, and the waiters to wake.
#[derive(Default)]
pub(super) struct Notifier {
    pub(super) progress: Mutex<Progress>,
    to_wake: WakeQueue,
}

impl Notifier {
    /// Publishes how far the file got (with `update`) and wakes whoever that concerns; returns
    /// how many durable waiters were woken (the size of the group commit they formed).
    pub(super) fn publish(&self, update: impl FnOnce(&mut Progress)) -> usize {
        let ready = {
            let mut progress = lock(&self.progress);
            update(&mut progress);
            progress.take_ready()
        };
        let durable = ready.iter().filter(|waiter| waiter.durable).count();
        self.to_wake.add(ready);
        durable
    }

    /// Wakes the waiters whose deadline has passed (the writer may be stuck in a `write` that
    /// never returns: a watchdog calls this). Whether any waiter is still registered.
    pub(super) fn expire(&self, now: Instant) -> bool {
        let (late, left) = {
            let mut progress = lock(&self.progress);
            let mut late = Vec::new();
            progress.waiters.retain(|waiter| {
                let expired = waiter.deadline <= now;
                if expired {
                    waiter.woken.store(WOKEN_LATE, Ordering::Relaxed);
                    late.push(Arc::clone(waiter));
                }
                !expired
            });
            (late, !progress.waiters.is_empty())
        };
        self.to_wake.add(late);
        left
    }

    /// Blocks the calling thread until `check` says something of event `seq` (it is asked with
    /// the progress locked, first at once, then each time the waiter is woken to check), or
    /// until `deadline`.
    pub(super) fn wait<R>(
        &self,
        seq: u64,
        durable: bool,
        deadline: Instant,
        check: impl Fn(&Progress) -> Option<R>,
    ) -> Waited<R> {
        let waiter = Arc::new(Waiter {
            seq,
            durable,
            deadline,
            wakeup: Wakeup::Thread(std::thread::current()),
            woken: AtomicU8::new(0),
        });
        loop {
            {
                let mut progress = lock(&self.progress);
                if let Some(result) = check(&progress) {
                    return Waited::Checked(result);
                }
                if Instant::now() >= deadline {
                    return Waited::TimedOut;
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
            self.to_wake.wake_some();
            match why {
                WOKEN_DONE => return Waited::Reached,
                WOKEN_LATE => return Waited::TimedOut,
                _ => {}
            }
        }
    }

    /// The async form of [`wait`](Notifier::wait): registers (or refreshes) the task's waker in
    /// `registered` while the event is on its way.
    pub(super) fn poll<R>(
        &self,
        registered: &mut Option<Arc<Waiter>>,
        seq: u64,
        durable: bool,
        deadline: Instant,
        cx: &mut Context<'_>,
        check: impl Fn(&Progress) -> Option<R>,
    ) -> Poll<Waited<R>> {
        match registered.as_ref().map(|w| w.woken.load(Ordering::Acquire)) {
            Some(WOKEN_DONE) => return Poll::Ready(Waited::Reached),
            Some(WOKEN_LATE) => return Poll::Ready(Waited::TimedOut),
            _ => {}
        }
        let mut progress = lock(&self.progress);
        if let Some(result) = check(&progress) {
            return Poll::Ready(Waited::Checked(result));
        }
        if Instant::now() >= deadline {
            return Poll::Ready(Waited::TimedOut);
        }
        match registered {
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
                    seq,
                    durable,
                    deadline,
                    wakeup: Wakeup::Task(Mutex::new(cx.waker().clone())),
                    woken: AtomicU8::new(0),
                });
                progress.waiters.push(Arc::clone(&waiter));
                drop(progress);
                *registered = Some(waiter);
            }
        }
        Poll::Pending
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
