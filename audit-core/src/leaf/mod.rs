//! The leaf layer: JSON line writing, RFC 3339 timestamps, W3C trace ids and the hashing of
//! secrets. Depends on nothing
//! of the crate (and, with `audit-schema`, forms the ground every other layer stands on).

pub(crate) mod event_id;
pub(crate) mod json;
pub(crate) mod patch;
pub mod secret;
pub(crate) mod timestamp;
pub mod trace;
