//! What a [`FileWriter`](crate::FileWriter) promises and does under pressure: the least
//! durability of its events, what callers do when its queue is full ([`Backpressure`]), what it
//! does when the file fails, and its timings. Set through
//! [`FileWriterBuilder`](super::FileWriterBuilder).

use std::time::Duration;

use crate::output::sink::FailurePolicy;
use audit_schema::Durability;

/// What a caller does when the writer's queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Backpressure {
    /// Wait for room: never drop an event (default).
    #[default]
    Block,
    /// Refuse the audited call: it returns an error and its body does not run.
    FailClosed,
    /// Drop the event, count it, and later write an event saying how many were lost. Opt-in only.
    Drop,
}

/// The writer's settings that the writer thread and callers both read.
#[derive(Clone, Debug)]
pub(super) struct Config {
    pub(super) durability: Durability,
    pub(super) on_io_error: FailurePolicy,
    pub(super) flush_interval: Duration,
    pub(super) retry_max: Duration,
    pub(super) shutdown_grace: Duration,
    /// The longest a call waits for room in the queue or for its event's durability.
    pub(super) max_wait: Duration,
    /// The writer's own line format, instead of the logger's (an OCSF file beside an ECS
    /// console, say).
    pub(super) format: Option<std::sync::Arc<crate::output::format::EcsFormat>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            durability: Durability::Buffered,
            on_io_error: FailurePolicy::FailOpen,
            flush_interval: Duration::from_millis(100),
            retry_max: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            max_wait: Duration::from_secs(30),
            format: None,
        }
    }
}
