//! The leaf layer: JSON line writing, RFC 3339 timestamps and W3C trace ids. Depends on nothing
//! of the crate (and, with `audit-schema`, forms the ground every other layer stands on).

pub(crate) mod json;
pub(crate) mod timestamp;
pub mod trace;
