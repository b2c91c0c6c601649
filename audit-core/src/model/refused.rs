//! [`AuditRefused`]: an audited operation that did not run because its audit record could not be
//! written by a fail-closed sink.

use std::fmt;
use std::io;
use std::sync::Arc;

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
#[derive(Clone, Debug)]
pub struct AuditRefused {
    action: String,
    reason: String,
    /// The first refusing sink's error.
    source: Option<Arc<io::Error>>,
}

impl AuditRefused {
    pub(crate) fn new(action: &str, reason: impl fmt::Display) -> AuditRefused {
        AuditRefused { action: action.to_owned(), reason: reason.to_string(), source: None }
    }

    /// Refused because of `source` (the first refusing sink's error).
    pub(crate) fn caused_by(mut self, source: io::Error) -> AuditRefused {
        self.source = Some(Arc::new(source));
        self
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

/// Equal when the action and the reason are (the cause is not compared).
impl PartialEq for AuditRefused {
    fn eq(&self, other: &AuditRefused) -> bool {
        self.action == other.action && self.reason == other.reason
    }
}

impl Eq for AuditRefused {}

impl std::error::Error for AuditRefused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|error| error as &(dyn std::error::Error + 'static))
    }
}
