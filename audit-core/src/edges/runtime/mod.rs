//! What `#[audited]` expands to calls. Not a public API: it may change in any release, and is
//! reached through a path that carries the crate's version (see the crate root).
// Hidden and versioned: documented where it is used, in the macro's expansion.
#![allow(missing_docs, missing_debug_implementations)]

mod call;
pub mod probe;
pub(crate) mod record;

pub use call::{Authorizing, Call, Guard, ResultsArg, Targets};
pub use record::Recording;

/// Makes `#[audited(ctx = …)]` accept an `AuditContext`, a reference to one, or an `Option` of one.
pub trait ContextArgument {
    fn audit_context(&self) -> Option<&AuditContext>;
}

impl ContextArgument for AuditContext {
    fn audit_context(&self) -> Option<&AuditContext> {
        Some(self)
    }
}

impl ContextArgument for Option<AuditContext> {
    fn audit_context(&self) -> Option<&AuditContext> {
        self.as_ref()
    }
}

impl<T: ContextArgument + ?Sized> ContextArgument for &T {
    fn audit_context(&self) -> Option<&AuditContext> {
        (**self).audit_context()
    }
}

impl<T: ContextArgument + ?Sized> ContextArgument for &mut T {
    fn audit_context(&self) -> Option<&AuditContext> {
        (**self).audit_context()
    }
}

impl<T: ContextArgument + ?Sized> ContextArgument for std::sync::Arc<T> {
    fn audit_context(&self) -> Option<&AuditContext> {
        (**self).audit_context()
    }
}

#[inline]
pub fn context_of<T: ContextArgument + ?Sized>(value: &T) -> Option<&AuditContext> {
    value.audit_context()
}

/// What `#[audited(authorize = …)]` accepts: a `Result`, whose `Err` denies the call.
#[diagnostic::on_unimplemented(
    message = "`authorize` must return `Result<_, E>`, not `{Self}`",
    label = "this returns `{Self}`",
    note = "return `Ok(())` to let the call run and `Err(error)` to deny it: the error is logged in `error.*` \
            and the call returns it (through `From`)"
)]
pub trait AuthorizeResult {
    type Ok;
    type Err;
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<T, E> AuthorizeResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline(always)]
    fn into_result(self) -> Result<T, E> {
        self
    }
}

/// Calls `f` on `item`; the closure's parameter type is inferred from `item` (an immediately
/// called closure literal would not infer it).
#[inline]
pub fn apply<T, R>(item: T, f: impl FnOnce(T) -> R) -> R {
    f(item)
}

pub use crate::model::AuditContext;
pub use audit_schema::{Action, Category, Durability, EventType};
pub use audit_schema::{Timing, Verbs};
pub use std::{
    borrow::Cow,
    convert::From,
    format,
    iter::IntoIterator,
    option::Option,
    result::Result,
    string::{String, ToString},
};
