//! The output layer: how an event becomes an ECS JSON line ([`EcsFormat`](crate::EcsFormat)),
//! and where lines go ([`sink`]: the simple sinks and the [`AuditSink`](crate::AuditSink)
//! trait; [`writer`]: the background, durable [`FileWriter`](crate::FileWriter) and the reading
//! back of its files), and [`storage`](crate::writer::testing): where file sinks' bytes go, opened
//! hardened. Depends on the model and leaf layers.

pub(crate) mod format;
pub mod sink;
pub mod writer;
