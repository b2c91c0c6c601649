//! [`Destination`]: where a shipper delivers the trail (a NATS JetStream stream, a PostgreSQL
//! table, a syslog server, or your own), and [`DeliveryError`].

use std::fmt;

use crate::trail::record::ShipRecord;

/// Somewhere a shipper delivers batches of the trail to.
///
/// `deliver` returns `Ok` only once the destination has acknowledged every record of the batch
/// (a publish acknowledgement, a committed transaction, …): the shipper then moves its cursor
/// past them, and never before. A batch may be delivered again (after an error, a timeout or a
/// restart of the shipper), so a destination keeps one copy per [`ShipRecord::id`].
///
/// ```
/// use audit_core::ship::{DeliveryError, Destination, ShipRecord};
///
/// /// Counts what it is given: a destination for tests and dry runs.
/// #[derive(Debug, Default)]
/// struct Counting(std::collections::BTreeSet<String>);
///
/// impl Destination for Counting {
///     fn name(&self) -> String {
///         "counting".into()
///     }
///     fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
///         // Idempotent on the id: a batch delivered twice is kept once.
///         self.0.extend(batch.iter().map(|record| record.id.clone()));
///         Ok(())
///     }
/// }
/// ```
pub trait Destination: Send + 'static {
    /// Its name in stats, reports and errors (`nats://host:4222 stream AUDIT`, …).
    fn name(&self) -> String;

    /// Everything that decides what is delivered where (a table, a stream and its subject, the
    /// servers as a set, …), by default its [`name`](Destination::name). A shipper's cursor
    /// belongs to one identity: a destination whose identity changed gets a cursor of its own
    /// and receives the trail from its start, and a cursor file made for another identity is
    /// refused.
    fn identity(&self) -> String {
        self.name()
    }

    /// Checks that the destination can work (reachable, its schema or stream in place, allowed
    /// to write), before the first batch; a shipper refuses to start when this fails.
    fn check(&mut self) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// Delivers `batch` (in trail order) and waits for the destination's acknowledgement of all
    /// of it.
    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError>;
}

/// A delivery that did not complete: the batch will be delivered again, after a back-off.
#[derive(Debug)]
#[non_exhaustive]
pub struct DeliveryError {
    /// What went wrong, for people (with its cause's text, when it has one).
    pub message: String,
    /// The error it came from (a socket's, a database client's, a parser's), for
    /// [`source`](std::error::Error::source).
    pub cause: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl DeliveryError {
    /// An error saying `message`.
    pub fn new(message: impl fmt::Display) -> DeliveryError {
        DeliveryError { message: message.to_string(), cause: None }
    }

    /// The same error, keeping `cause` as its source (its text is already in the message).
    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> DeliveryError {
        self.cause = Some(Box::new(cause));
        self
    }

    /// An error saying `context: cause`, keeping `cause` as its source.
    pub fn caused_by(
        context: impl fmt::Display,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> DeliveryError {
        DeliveryError { message: format!("{context}: {cause}"), cause: Some(Box::new(cause)) }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeliveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for DeliveryError {
    fn from(error: std::io::Error) -> Self {
        DeliveryError { message: error.to_string(), cause: Some(Box::new(error)) }
    }
}
