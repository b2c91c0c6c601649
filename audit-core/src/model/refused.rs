//! [`AuditRefused`]: an audited operation that did not run because its audit record could not be
//! written by a fail-closed sink.

use std::fmt;

/// An audited operation was refused: a sink that fails closed could not record its event.
///
/// `#[audited]` returns it as `Err(E::from(refused))` when the function's error type implements
/// `From<AuditRefused>`; a function that cannot return such an error panics instead (it must not
/// run unrecorded). Implement the conversion for your service's error type:
///
/// ```
/// use audit_core::AuditRefused;
///
/// #[derive(Debug)]
/// enum ServiceError { Unavailable(String) }
///
/// impl From<AuditRefused> for ServiceError {
///     fn from(refused: AuditRefused) -> Self {
///         ServiceError::Unavailable(refused.to_string()) // e.g. HTTP 503
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRefused {
    action: String,
    reason: String,
}

impl AuditRefused {
    pub(crate) fn new(action: &str, reason: impl fmt::Display) -> AuditRefused {
        AuditRefused { action: action.to_owned(), reason: reason.to_string() }
    }

    /// The refused action.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// Why the audit trail could not take the event.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for AuditRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` refused: the audit trail cannot record it ({})", self.action, self.reason)
    }
}

impl std::error::Error for AuditRefused {}
