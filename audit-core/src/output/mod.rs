//! The output layer: how an event becomes an ECS JSON line ([`EcsFormat`](crate::EcsFormat)),
//! and where lines go ([`sink`]: the simple sinks and the [`AuditSink`](crate::AuditSink)
//! trait; [`writer`]: the background, durable [`FileWriter`](crate::FileWriter)). The writer
//! writes through the trail's room ([`trail`](crate::trail): file names, hardened files, the
//! chain, seals). Depends on the trail, policy, model and leaf layers.

pub(crate) mod format;
pub mod sink;
pub mod writer;
