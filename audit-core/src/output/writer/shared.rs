//! What callers and the writer thread share: the settings, the queue, the progress callers wait
//! on, the failing flag and the counters.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use super::lock;
use super::notify::{Notifier, Progress, Standing, Waited};
use super::policy::Config;
use super::queue::{CallerQueue, Outage};
use super::stats::Counters;
use crate::output::sink::{FailurePolicy, SinkError};

pub(super) struct Shared {
    pub(super) config: Config,
    pub(super) path: PathBuf,
    pub(super) queue: CallerQueue,
    pub(super) notify: Notifier,
    pub(super) failing: AtomicBool,
    pub(super) counters: Counters,
}

impl Shared {
    /// The sink's name in reports.
    pub(super) fn describe(&self) -> String {
        format!("file-writer:{}", self.path.display())
    }

    /// What callers need to know of a failing file when the queue is full.
    pub(super) fn outage(&self) -> Outage<'_> {
        Outage {
            failing: &self.failing,
            on_io_error: self.config.on_io_error,
            counters: &self.counters,
            max_wait: self.config.max_wait,
        }
    }

    /// Whether event `seq` got as far as it must (`Some(Ok)`), never will for now (`Some(Err)`:
    /// the writer is failing or stopped), or is still on its way (`None`).
    pub(super) fn check(&self, progress: &Progress, seq: u64, durable: bool) -> Option<Result<(), SinkError>> {
        Some(match progress.standing(seq, durable)? {
            Standing::Reached => Ok(()),
            Standing::Failing(kind, message) => {
                let error = io::Error::new(kind, format!("not yet recorded: {message}"));
                Err(match self.config.on_io_error {
                    FailurePolicy::FailClosed => {
                        self.counters.refused.fetch_add(1, Ordering::Relaxed);
                        SinkError::Refused(error)
                    }
                    FailurePolicy::FailOpen => SinkError::Unconfirmed(error),
                })
            }
            Standing::Stopped => {
                Err(self.config.on_io_error.failure(io::Error::other("the audit file writer has shut down")))
            }
        })
    }

    /// Whether the writer stopped while failing, as the guard reports it.
    pub(super) fn stopped_failing(&self) -> io::Result<()> {
        match &lock(&self.notify.progress).failure {
            Some((kind, message)) => {
                Err(io::Error::new(*kind, format!("audit writer stopped while failing: {message}")))
            }
            None => Ok(()),
        }
    }

    /// What a caller's wait for its event comes to: `Ok` once it got there; the writer's error;
    /// or, past [`max_wait`](super::FileWriterBuilder::max_wait), the failure policy's error.
    pub(super) fn settle(&self, waited: Waited<Result<(), SinkError>>) -> Result<(), SinkError> {
        match waited {
            Waited::Reached => Ok(()),
            Waited::Checked(result) => result,
            Waited::TimedOut => Err(self.timed_out("its event was not written")),
        }
    }

    /// The failure policy's error for a wait cut short by `max_wait`.
    pub(super) fn timed_out(&self, what: &str) -> SinkError {
        let error = io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what} within {:?}: the audit file is not answering", self.config.max_wait),
        );
        if self.config.on_io_error == FailurePolicy::FailClosed {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
        }
        self.config.on_io_error.failure(error)
    }

    /// The writer thread died (a panic in the storage, say): no event will be written any more.
    /// Every caller waiting is woken with that error, and later calls are refused or reported.
    pub(super) fn died(&self, why: String) {
        self.failing.store(true, Ordering::Release);
        {
            let mut queue = self.queue.lock();
            queue.shutdown = true;
            self.queue.room.notify_all();
        }
        self.notify.publish(|progress| {
            progress.failure = Some((io::ErrorKind::Other, why));
            progress.stopped = true;
        });
    }

    /// The writer's current failure, as an error.
    pub(super) fn failure_error(&self) -> io::Error {
        match &lock(&self.notify.progress).failure {
            Some((kind, message)) => io::Error::new(*kind, message.clone()),
            None => io::Error::other("the audit file is failing"),
        }
    }
}
