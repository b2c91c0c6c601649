//! [`AuditErrorCode`]: how an error type gives its audit events an `error.code`.

use std::borrow::Cow;

/// Gives an error's audit events an `error.code` (Kibana writes the error's name there).
///
/// Optional: `#[audited]` records any error's `Display` as `error.message` and its type as
/// `error.type`; errors that implement this trait (and `Display`) also get `error.code`.
///
/// ```
/// use std::borrow::Cow;
/// use audit_core::AuditErrorCode;
///
/// #[derive(Debug)]
/// enum DashboardError { NotFound, Forbidden }
///
/// impl std::fmt::Display for DashboardError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str(match self { Self::NotFound => "no such dashboard", Self::Forbidden => "forbidden" })
///     }
/// }
///
/// impl AuditErrorCode for DashboardError {
///     fn audit_error_code(&self) -> Option<Cow<'_, str>> {
///         Some(match self { Self::NotFound => "not_found", Self::Forbidden => "forbidden" }.into())
///     }
/// }
/// ```
pub trait AuditErrorCode {
    /// The code for `error.code`, if this error has one.
    fn audit_error_code(&self) -> Option<Cow<'_, str>>;
}

impl<E: AuditErrorCode + ?Sized> AuditErrorCode for Box<E> {
    fn audit_error_code(&self) -> Option<Cow<'_, str>> {
        (**self).audit_error_code()
    }
}

impl AuditErrorCode for std::io::Error {
    /// The `ErrorKind`, e.g. `NotFound`, `PermissionDenied`.
    fn audit_error_code(&self) -> Option<Cow<'_, str>> {
        Some(format!("{:?}", self.kind()).into())
    }
}
