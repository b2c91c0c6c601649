//! Where a change recorded inside an audited body goes: the body of every audited call runs with
//! its call's [`Slot`] current on its thread (a sync body) or on whichever thread polls it (an
//! async body, through [`Recording`]); [`crate::changes`] records into the slot.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde_json::Value;

/// The changes one call's body recorded, per resource: the first state before and the last
/// state after (a body that writes twice records one change, from where it started to where it
/// ended).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    changes: Mutex<Vec<Recorded>>,
}

/// One resource's change.
#[derive(Debug)]
pub(crate) struct Recorded {
    /// The resource's id, as given to `changes::of`; `None` for the call's one resource.
    pub(crate) resource: Option<String>,
    pub(crate) before: Option<Value>,
    pub(crate) after: Option<Value>,
}

impl Recorder {
    fn record(&self, resource: Option<String>, before: Option<Value>, after: Option<Value>) {
        let mut changes = self.changes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match changes.iter_mut().find(|change| change.resource == resource) {
            Some(change) => change.after = after,
            None => changes.push(Recorded { resource, before, after }),
        }
    }

    /// Everything recorded, taken out.
    pub(crate) fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// What a change recorded now goes to.
#[derive(Clone, Debug)]
pub(crate) enum Slot {
    /// An audited call that takes no changes: recording one is a misuse, for this reason.
    Refusing { action: &'static str, why: &'static str },
    /// An audited write that logs a result event: the change goes on it.
    Recording(Arc<Recorder>),
}

thread_local! {
    static CURRENT: RefCell<Option<Slot>> = const { RefCell::new(None) };
}

/// Puts back the slot that was current before, even when the body panics (unless disarmed:
/// taken out as `None`).
struct Restore(Option<Option<Slot>>);

impl Restore {
    /// Makes `slot` current until this is dropped or disarmed.
    fn enter(slot: Option<Slot>) -> Restore {
        Restore(Some(CURRENT.with(|current| current.replace(slot))))
    }

    /// Puts the previous slot back now and returns the one that was current.
    fn leave(mut self) -> Option<Slot> {
        let previous = self.0.take().flatten();
        CURRENT.with(|current| current.replace(previous))
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
        }
    }
}

/// Runs `body` with `slot` current.
#[inline]
pub(crate) fn run_in<R>(slot: Slot, body: impl FnOnce() -> R) -> R {
    let _restore = Restore::enter(Some(slot));
    body()
}

pin_project_lite::pin_project! {
    /// An async body with its call's slot current while it is polled, on whichever thread.
    pub struct Recording<F> {
        slot: Option<Slot>,
        #[pin]
        future: F,
    }
}

impl<F> Recording<F> {
    pub(crate) fn new(slot: Slot, future: F) -> Recording<F> {
        Recording { slot: Some(slot), future }
    }
}

impl<F: Future> Future for Recording<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let restore = Restore::enter(this.slot.take());
        let polled = this.future.poll(cx);
        // Take our slot back, leaving the one that was there before.
        *this.slot = restore.leave();
        polled
    }
}

/// Changes recorded where nothing could take them (see [`crate::changes::misuses`]).
static MISUSES: AtomicU64 = AtomicU64::new(0);

/// How many changes were recorded where they could not go: outside an audited call, in a call
/// that carries no results, or for a resource the call does not name.
pub(crate) fn misuses() -> u64 {
    MISUSES.load(Ordering::Relaxed)
}

/// Counts and reports a change that cannot go on any result event.
pub(crate) fn report_misuse(action: Option<&str>, why: &dyn std::fmt::Display) {
    MISUSES.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(
        target: "audit_core",
        action = action.unwrap_or("(none)"),
        "a recorded change is not in the audit trail: {why} (counted in audit_core::changes::misuses())"
    );
}

/// Records a change into the current call: serialized now (the values may be gone by the time
/// the result is logged). Anything that cannot take it is counted and reported.
pub(crate) fn record<T: serde::Serialize + ?Sized>(resource: Option<String>, before: Option<&T>, after: Option<&T>) {
    let slot = CURRENT.with(|current| current.borrow().clone());
    match slot {
        None => report_misuse(None, &"no audited call is running on this thread or task"),
        Some(Slot::Refusing { action, why }) => report_misuse(Some(action), &why),
        Some(Slot::Recording(recorder)) => {
            let serialized =
                (before.map(serde_json::to_value).transpose(), after.map(serde_json::to_value).transpose());
            match serialized {
                (Ok(before), Ok(after)) => recorder.record(resource, before, after),
                (Err(error), _) | (_, Err(error)) => {
                    report_misuse(None, &format_args!("the value does not serialize as JSON: {error}"))
                }
            }
        }
    }
}
