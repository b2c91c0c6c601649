//! Reading a trail back: every rotated file in the order written, then the active file, with
//! lines torn by a crash reported rather than failing the read; whole ([`read_audit_trail`]) or
//! streamed, one file open at a time ([`TrailReader`]).
//!
//! Inside, this module is the trail on disk, one room: everything that names, lists, opens, reads, follows, chains,
//! seals or checks the files of a trail is here, and every other part of the toolkit goes
//! through it. The writer writes through it (file names, hardened files, the chain, seals); the
//! reader, the shipper and verify read through it.
//!
//! - `names`: file names and their order (rotated files, `.gz`, seals, locks, cursors);
//! - `storage`: files opened hardened (private, never through a link), synced, renamed;
//! - `open`: opening a listed file (or its `.gz`), plain or decompressed, for every reader;
//! - `read`: streaming the trail back with one file open at a time ([`TrailReader`]);
//! - `follow`: following a live trail line by line across rotation and compression, with a
//!   listing kept incrementally (the shipper's reading);
//! - `record` and `cursor`: a line read with its position and `event.id`, and a shipper's
//!   position in the trail, tied to its destination's identity;
//! - `chain`, `checkpoint`, `seals`: what makes the trail prove itself;
//! - `verify`: checking all of that.
//!
//! Depends on the leaf and model layers only.

pub mod chain;
#[cfg(feature = "signing")]
pub mod checkpoint;
pub(crate) mod cursor;
pub(crate) mod follow;
pub(crate) mod names;
pub(crate) mod open;
pub(crate) mod read;
pub(crate) mod record;
#[cfg(feature = "signing")]
pub(crate) mod seals;
pub(crate) mod storage;
pub(crate) mod verify;

pub use names::rotated_files;
pub use read::{read_audit_trail, AuditTrail, TornLine, TrailItem, TrailReader};
