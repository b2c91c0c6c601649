//! What `#[audited]` expands to calls. Not a public API: it may change in any release.

mod call;
pub mod probe;

pub use call::{Call, Guard, Targets};

pub use crate::{Action, AuditContext, Category, EventType, Timing, Verbs};
pub use std::{
    borrow::Cow,
    convert::From,
    format,
    iter::IntoIterator,
    option::Option,
    result::Result,
    string::{String, ToString},
};
