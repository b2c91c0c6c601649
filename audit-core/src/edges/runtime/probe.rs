//! Autoref specialization: picks, at the call site where the types are concrete, the best way to
//! describe a value. For `#[audited]`'s result: is it a `Result`, and does its error have
//! `AuditErrorCode`, `Display`, `Debug`, or nothing? Method resolution tries the impl on the type
//! with the most `&`s first, so the most capable impl wins and the others are fallbacks.

use std::fmt::{Debug, Display};

use crate::model::{AuditErrorCode, ErrorInfo};
use audit_schema::Outcome;

/// How an audited call ended.
#[derive(Debug)]
pub struct Completion {
    /// `success` or `failure`.
    pub outcome: Outcome,
    /// The error, for `failure`.
    pub error: Option<ErrorInfo>,
}

fn with_code<E: AuditErrorCode + Display + ?Sized>(error: &E) -> ErrorInfo {
    let info = with_display(error);
    match described(|| error.audit_error_code().map(std::borrow::Cow::into_owned)) {
        Ok(Some(code)) => info.with_code(code),
        _ => info,
    }
}

fn with_display<E: Display + ?Sized>(error: &E) -> ErrorInfo {
    message_of::<E>(|| error.to_string(), "Display")
}

fn with_debug<E: Debug + ?Sized>(error: &E) -> ErrorInfo {
    message_of::<E>(|| format!("{error:?}"), "Debug")
}

/// The error's description by `describe`, as `error.message`, and its type as `error.type`.
/// Only the audit asks an error to describe itself: if that panics, the panic stays here (the
/// call returns as it would without the attribute) and the record says so.
fn message_of<E: ?Sized>(describe: impl FnOnce() -> String, how: &str) -> ErrorInfo {
    let message =
        described(describe).unwrap_or_else(|()| format!("(the error's {how} implementation panicked; no message)"));
    ErrorInfo::new(message).with_kind(std::any::type_name::<E>())
}

/// Runs `describe`, catching a panic in the error's own formatting code.
fn described<T>(describe: impl FnOnce() -> T) -> Result<T, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(describe)).map_err(|_| ())
}

fn opaque<E: ?Sized>(_: &E) -> ErrorInfo {
    ErrorInfo { code: None, message: None, kind: Some(std::any::type_name::<E>().to_owned()) }
}

/// Wraps an error to describe it: `(&&&&ErrorProbe(&e)).audit_error_info()`.
pub struct ErrorProbe<'a, E: ?Sized>(pub &'a E);

/// Wraps a return value to judge it: `(&&&&&OutcomeProbe(&ret)).audit_completion()`.
pub struct OutcomeProbe<'a, T: ?Sized>(pub &'a T);

macro_rules! levels {
    ($($error_trait:ident, $outcome_trait:ident, [$($refs:tt)*], [$($bounds:tt)*], $describe:ident;)*) => {$(
        #[doc(hidden)]
        pub trait $error_trait {
            fn audit_error_info(&self) -> ErrorInfo;
        }

        impl<E: ?Sized $($bounds)*> $error_trait for $($refs)* ErrorProbe<'_, E> {
            fn audit_error_info(&self) -> ErrorInfo {
                $describe(self.0)
            }
        }

        #[doc(hidden)]
        pub trait $outcome_trait {
            fn audit_completion(&self) -> Completion;
        }

        impl<T, E: Sized $($bounds)*> $outcome_trait for & $($refs)* OutcomeProbe<'_, Result<T, E>> {
            fn audit_completion(&self) -> Completion {
                match self.0 {
                    Ok(_) => Completion { outcome: Outcome::Success, error: None },
                    Err(error) => Completion { outcome: Outcome::Failure, error: Some($describe(error)) },
                }
            }
        }
    )*};
}

levels! {
    AuditErrorWithCode, AuditResultWithCode, [&&&], [+ AuditErrorCode + Display], with_code;
    AuditErrorDisplay, AuditResultDisplay, [&&], [+ Display], with_display;
    AuditErrorDebug, AuditResultDebug, [&], [+ Debug], with_debug;
    AuditErrorOpaque, AuditResultOpaque, [], [], opaque;
}

/// Anything that is not a `Result` succeeds (unless the call panics, which the guard records).
#[doc(hidden)]
pub trait AuditPlainValue {
    fn audit_completion(&self) -> Completion;
}

impl<T: ?Sized> AuditPlainValue for OutcomeProbe<'_, T> {
    fn audit_completion(&self) -> Completion {
        Completion { outcome: Outcome::Success, error: None }
    }
}

/// Wraps a `fields(...)` value to turn it into text: `(&&FieldProbe(&v)).audit_field(&call)`.
/// A [`Secret`](crate::secret::Secret) becomes its HMAC; anything else its `Display`.
pub struct FieldProbe<'a, T: ?Sized>(pub &'a T);

#[doc(hidden)]
pub trait AuditSecretField {
    fn audit_field(&self, call: &crate::edges::runtime::Call) -> String;
}

impl<T: Display> AuditSecretField for &FieldProbe<'_, crate::leaf::secret::Secret<T>> {
    fn audit_field(&self, call: &crate::edges::runtime::Call) -> String {
        call.conceal(self.0.expose())
    }
}

#[doc(hidden)]
pub trait AuditPlainField {
    fn audit_field(&self, call: &crate::edges::runtime::Call) -> String;
}

impl<T: Display + ?Sized> AuditPlainField for FieldProbe<'_, T> {
    fn audit_field(&self, _: &crate::edges::runtime::Call) -> String {
        self.0.to_string()
    }
}

/// Turns a refusal into the function's return value: `Err(E::from(refused))` when the function
/// returns `Result<_, E>` with `E: From<AuditRefused>`, else a panic (the body must not run
/// unrecorded). Call as `(&&Refusal::<R>::new(refused)).audit_refuse()`.
pub struct Refusal<R>(crate::model::AuditRefused, std::marker::PhantomData<R>);

impl<R> Refusal<R> {
    /// Wraps a refusal for a function returning `R`.
    pub fn new(refused: crate::model::AuditRefused) -> Refusal<R> {
        Refusal(refused, std::marker::PhantomData)
    }
}

#[doc(hidden)]
pub trait AuditRefuseAsError<R> {
    fn audit_refuse(self) -> R;
}

impl<T, E: From<crate::model::AuditRefused>> AuditRefuseAsError<Result<T, E>> for &&Refusal<Result<T, E>> {
    fn audit_refuse(self) -> Result<T, E> {
        Err(E::from(self.0.clone()))
    }
}

#[doc(hidden)]
pub trait AuditRefuseByPanic<R> {
    fn audit_refuse(self) -> R;
}

impl<R> AuditRefuseByPanic<R> for &Refusal<R> {
    fn audit_refuse(self) -> R {
        refuse_by_panic(self.0.clone())
    }
}

/// The refusal of a function that cannot return `AuditRefused` as an error.
pub fn refuse_by_panic(refused: crate::model::AuditRefused) -> ! {
    panic!("{refused}; this function cannot return it as an error: implement From<AuditRefused> for its error type")
}

#[cfg(test)]
// The extra `&`s are the mechanism under test, not needless.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[derive(Debug)]
    struct Coded;
    impl Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("coded failure")
        }
    }
    impl AuditErrorCode for Coded {
        fn audit_error_code(&self) -> Option<Cow<'_, str>> {
            Some("E42".into())
        }
    }
    struct DebugOnly(u8);
    impl std::fmt::Debug for DebugOnly {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "DebugOnly({})", self.0)
        }
    }
    struct Nothing;

    #[test]
    fn picks_the_most_capable_description() {
        let coded: Result<(), Coded> = Err(Coded);
        let c = (&&&&&OutcomeProbe(&coded)).audit_completion();
        assert_eq!(c.outcome, Outcome::Failure);
        let e = c.error.unwrap();
        assert_eq!((e.code.as_deref(), e.message.as_deref()), (Some("E42"), Some("coded failure")));

        let display: Result<u8, String> = Err("plain".into());
        let e = (&&&&&OutcomeProbe(&display)).audit_completion().error.unwrap();
        assert_eq!(
            (e.code, e.message.as_deref(), e.kind.as_deref()),
            (None, Some("plain"), Some("alloc::string::String"))
        );

        let debug: Result<u8, DebugOnly> = Err(DebugOnly(7));
        let e = (&&&&&OutcomeProbe(&debug)).audit_completion().error.unwrap();
        assert_eq!(e.message.as_deref(), Some("DebugOnly(7)"));

        let nothing: Result<u8, Nothing> = Err(Nothing);
        let e = (&&&&&OutcomeProbe(&nothing)).audit_completion().error.unwrap();
        assert_eq!(e.message, None);
        assert!(e.kind.unwrap().ends_with("Nothing"));

        let ok: Result<u8, Nothing> = Ok(1);
        assert_eq!((&&&&&OutcomeProbe(&ok)).audit_completion().outcome, Outcome::Success);
        assert_eq!((&&&&&OutcomeProbe(&5_u32)).audit_completion().outcome, Outcome::Success);

        let e = (&&&&ErrorProbe(&Coded)).audit_error_info();
        assert_eq!(e.code.as_deref(), Some("E42"));
        let e = (&&&&ErrorProbe(&DebugOnly(1))).audit_error_info();
        assert_eq!(e.message.as_deref(), Some("DebugOnly(1)"));
    }
}
