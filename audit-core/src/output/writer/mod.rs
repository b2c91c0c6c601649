//! [`FileWriter`]: the audit file sink that takes I/O off the caller's thread without giving up
//! on durability.
//!
//! - The caller only enqueues the event into a bounded queue (no formatting, no I/O); a background
//!   thread formats whole batches and writes each with one `write` call. Under sustained load,
//!   once more than half the queue waits to be formatted, callers format their own line instead
//!   (time they would soon spend waiting for room), so the writer thread is left with copying and
//!   `write` calls and one file sink keeps up with well over a million events a second.
//! - [`Durability`](crate::Durability) per writer, per action (`#[audited(durability = ...)]`) or for every write's
//!   intent ([`AuditLoggerBuilder::durable_intents`](crate::logger::AuditLoggerBuilder::durable_intents)):
//!   `Buffered` returns at once; `Flushed` once the batch is written; `Durable` once it is
//!   `fsync`ed. Concurrent callers waiting for durability share one `fsync` (group commit).
//! - [`Backpressure`] when the queue is full: block (default), refuse the call, or drop and count
//!   (then write an event saying how many were lost).
//! - [`FailurePolicy`](crate::sink::FailurePolicy) on I/O errors (a full disk, EIO, permissions): fail open (keep serving; keep
//!   the events in memory up to the queue's capacity and retry, then count what is lost) or fail
//!   closed (refuse audited calls until a retry succeeds). Recovery is automatic.
//! - [`Rotation`] by size and/or time, a retention count, optional compression; an event is never
//!   split across files.

//!
//! Inside, one file a job: [`builder`](FileWriterBuilder) (the public builder and the guard),
//! `policy` (durability, backpressure and failure settings), `queue` (the callers' side, with
//! backpressure), `notify` (waking callers whose event got far enough), `worker` (the writer
//! thread), `chunk` (a chunk of lines on its way, and the thread that chains chunks), `rolling`
//! and `compress` (rotation), `read` (reading a trail back).

mod builder;
#[cfg(feature = "signing")]
mod checkpoints;
mod chunk;
mod compress;
mod file_writer;
mod notify;
mod policy;
mod queue;
pub(crate) mod rolling;
mod shared;
mod stats;
mod worker;

#[cfg(feature = "signing")]
pub use crate::model::catalog::AUDIT_CHECKPOINT;
pub use crate::model::catalog::{AUDIT_EVENTS_DROPPED, AUDIT_TRAIL_RESUMED};
pub use builder::{FileWriterBuilder, WriterGuard};
#[cfg(feature = "signing")]
pub use checkpoints::CheckpointPolicy;
pub use file_writer::{Acknowledgement, FileWriter};
pub use policy::Backpressure;
pub use rolling::Rotation;
pub use stats::WriterStats;

/// Fault injection: where a writer's bytes go. Not a stable API; for the toolkit's own tests.
#[doc(hidden)]
pub mod testing {
    pub use crate::trail::storage::{FileIdentity, FsStorage, Storage, StorageFile};
}

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering it from a panic: the writer's state stays consistent across one
/// (every update is a single assignment).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
