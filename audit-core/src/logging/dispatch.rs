//! Dispatch: which logger an event goes to, kept apart from what a logger does with it.
//!
//! The logger an event goes to is the one its [`AuditContext`] carries, else the thread's default
//! ([`AuditLogger::set_thread_default`], for tests), else the global one
//! ([`AuditLogger::install`], once per process). [`log`] sends an event to the logger of the
//! ambient context; events emitted while no logger is installed anywhere are counted
//! ([`unlogged_events`]) and reported once.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use super::{AuditLogger, LogError};
use crate::model::{AuditContext, AuditEvent};

/// [`AuditLogger::install`] was called after a global logger was already installed.
#[derive(Debug)]
pub struct AlreadyInstalled(pub AuditLogger);

impl fmt::Display for AlreadyInstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a global audit logger is already installed")
    }
}

impl std::error::Error for AlreadyInstalled {}

static GLOBAL: OnceLock<AuditLogger> = OnceLock::new();
static UNLOGGED: AtomicU64 = AtomicU64::new(0);
static WARNED_NO_LOGGER: AtomicBool = AtomicBool::new(false);

thread_local! {
    static THREAD_DEFAULT: RefCell<Option<AuditLogger>> = const { RefCell::new(None) };
}

impl AuditLogger {
    /// Makes this the process-wide default. Only the first call succeeds, so that no library can
    /// silently redirect an application's audit trail.
    pub fn install(self) -> Result<(), AlreadyInstalled> {
        let mut candidate = Some(self);
        GLOBAL.get_or_init(|| candidate.take().expect("taken once"));
        match candidate {
            None => Ok(()),
            Some(rejected) => Err(AlreadyInstalled(rejected)),
        }
    }

    /// The process-wide default, if installed.
    pub fn global() -> Option<&'static AuditLogger> {
        GLOBAL.get()
    }

    /// Makes this logger the default of the current thread until the guard is dropped (it wins
    /// over the global one, not over a context's own logger). Meant for tests.
    pub fn set_thread_default(&self) -> ThreadDefaultGuard {
        let previous = THREAD_DEFAULT.with(|slot| slot.replace(Some(self.clone())));
        ThreadDefaultGuard { previous, not_send: PhantomData }
    }

    /// The logger an event in `context` goes to (see the module documentation).
    pub fn resolve(context: Option<&AuditContext>) -> Option<AuditLogger> {
        if let Some(logger) = context.and_then(AuditContext::logger) {
            return Some(logger.clone());
        }
        THREAD_DEFAULT.with(|slot| slot.borrow().clone()).or_else(|| GLOBAL.get().cloned())
    }

    /// Runs `f` with the logger an event in `context` goes to, without cloning it (the hot path
    /// of calls that a filter drops).
    pub(crate) fn with_resolved<R>(context: Option<&AuditContext>, f: impl FnOnce(Option<&AuditLogger>) -> R) -> R {
        if let Some(logger) = context.and_then(AuditContext::logger) {
            return f(Some(logger));
        }
        let mut f = Some(f);
        let from_thread = THREAD_DEFAULT.with(|slot| {
            let slot = slot.borrow();
            slot.as_ref().map(|logger| (f.take().expect("called once"))(Some(logger)))
        });
        match from_thread {
            Some(result) => result,
            None => (f.take().expect("called once"))(GLOBAL.get()),
        }
    }

    /// The logger for the ambient context.
    pub fn current() -> Option<AuditLogger> {
        AuditContext::with_current(AuditLogger::resolve)
    }
}

/// Logs `event` with the logger of the ambient context (or the thread's or global default),
/// filling in the ambient context's who and where first.
///
/// With no logger installed anywhere, the event cannot be written: this is counted
/// ([`unlogged_events`]), reported once through `tracing`, and returned as [`LogError::NoLogger`].
pub fn log(event: AuditEvent) -> Result<(), LogError> {
    let (logger, event) = AuditContext::with_current(|context| {
        let event = match context {
            Some(context) => event.with_context(context),
            None => event,
        };
        (AuditLogger::resolve(context), event)
    });
    match logger {
        Some(logger) => logger.log(event),
        None => {
            report_no_logger(&event.action);
            Err(LogError::NoLogger)
        }
    }
}

/// How many events were emitted while no logger was installed.
pub fn unlogged_events() -> u64 {
    UNLOGGED.load(Ordering::Relaxed)
}

pub(crate) fn report_no_logger(action: &str) {
    UNLOGGED.fetch_add(1, Ordering::Relaxed);
    if !WARNED_NO_LOGGER.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            target: "audit_core",
            action,
            "audit event emitted but no audit logger is installed; install one with AuditLogger::install \
             (further events are counted in audit_core::dispatch::unlogged_events())"
        );
    }
}

/// Restores the previous thread default logger when dropped.
#[derive(Debug)]
#[must_use = "the logger is the thread's default only while the guard lives"]
pub struct ThreadDefaultGuard {
    previous: Option<AuditLogger>,
    not_send: PhantomData<*const ()>,
}

impl Drop for ThreadDefaultGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = THREAD_DEFAULT.try_with(|slot| *slot.borrow_mut() = previous);
    }
}
