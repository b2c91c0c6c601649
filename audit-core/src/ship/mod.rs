//! Shipping the local trail to central destinations, at least once, never losing what the trail
//! holds and never doubling it downstream.
//!
//! The local trail (the [`FileWriter`](crate::FileWriter)'s files) is the system of record. A
//! [`Shipper`] follows it from a [`Cursor`] that it keeps in a file of its own, delivers batches
//! to a [`Destination`], and moves the cursor only after the destination acknowledged a batch.
//! A shipper killed at any instant (SIGKILL included) resumes from its cursor and delivers at
//! most the unacknowledged batch again; every line carries its `event.id`, on which the
//! destinations deduplicate, so a batch delivered twice is kept once.
//!
//! ```no_run
//! use audit_core::ship::{Destination, DeliveryError, ShipRecord, Shipper};
//! # #[derive(Debug)] struct Central;
//! # impl Destination for Central {
//! #     fn name(&self) -> String { "central".into() }
//! #     fn deliver(&mut self, _: &[ShipRecord]) -> Result<(), DeliveryError> { Ok(()) }
//! # }
//!
//! let (writer, mut guard) = audit_core::FileWriter::builder("/var/log/myapp/audit.log").build()?;
//! // In the same process as the writer, owned by it (or as `audit ship --config …`, a process of
//! // its own; or `spawn()` for a guard of its own).
//! let shipper = Shipper::builder("/var/log/myapp/audit.log", Central)
//!     // Falling behind (and catching up again) is written to the trail itself.
//!     .reports_to(writer.clone())
//!     .spawn_with(&mut guard)?;
//! // …
//! println!("{:?}", shipper.stats());
//! guard.shutdown()?; // the writer stops, then the shipper delivers what is left (5 s at most)
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! What is shipped: every whole event line, in trail order, across rotation and compression.
//! Torn lines (a crash in the middle of a write) are skipped and reported, as `audit verify`
//! reports them. Memory stays bounded by one batch whatever the backlog.

mod destination;
#[cfg(any(feature = "postgres", feature = "nats", feature = "syslog", feature = "otlp"))]
mod host;
#[cfg(feature = "tls")]
mod tls;
mod worker;

#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "syslog")]
pub mod syslog;

pub use crate::model::catalog::{AUDIT_SHIP_BEHIND, AUDIT_SHIP_CAUGHT_UP, AUDIT_SHIP_SKIPPED};
pub use crate::trail::cursor::Cursor;
pub use crate::trail::record::ShipRecord;
pub use destination::{DeliveryError, Destination};
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
pub use worker::{Shipper, ShipperBuilder, ShipperGuard, ShipperMonitor, ShipperStats};
