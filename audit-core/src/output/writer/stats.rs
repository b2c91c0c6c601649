//! What a [`FileWriter`](crate::FileWriter) counts: [`WriterStats`], and the counters the writer
//! thread and callers update.

use std::sync::atomic::AtomicU64;

/// Counters of a [`FileWriter`](crate::FileWriter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Events accepted into the queue.
    pub accepted: u64,
    /// Lines written to the file: the events accepted, and the writer's own reports.
    pub written: u64,
    /// The writer's own events among them (`audit_events_dropped`: how many events were lost).
    pub reports: u64,
    /// Events whose line their caller formatted, because the writer was more than half a queue
    /// behind (the writer formats the others).
    pub formatted_by_callers: u64,
    /// Events dropped (queue full with [`Backpressure::Drop`](super::Backpressure::Drop), or
    /// while failing open).
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

/// The counters behind [`WriterStats`] that are not kept under the queue's lock.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) written: AtomicU64,
    pub(super) reports: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) io_errors: AtomicU64,
    pub(super) batches: AtomicU64,
    pub(super) syncs: AtomicU64,
    pub(super) rotations: AtomicU64,
}
