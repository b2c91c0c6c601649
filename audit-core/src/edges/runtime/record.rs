//! Where a change recorded inside an audited body goes: the body of every audited call runs with
//! its call's [`Slot`] current on its thread (a sync body) or on whichever thread polls it (an
//! async body, through [`Recording`]); [`crate::changes`] records into the slot.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde_json::Value;

/// What a write that logs results keeps from its intent to its result (one allocation, only for
/// such writes): the intents' ids, the secret fields of its diffs, and the changes its body
/// recorded, per resource: the first state before and the last state after (a body that
/// writes twice records one change, from where it started to where it ended).
#[derive(Debug)]
pub(crate) struct Recorder {
    changes: Mutex<Vec<Recorded>>,
    /// The `event.id`s of the intent events, by target.
    pub(crate) intents: std::sync::OnceLock<Vec<crate::leaf::event_id::EventId>>,
    /// The fields of recorded changes written as HMACs.
    pub(crate) secret_fields: &'static [&'static str],
}

impl Recorder {
    /// A recorder for one call (out of line: only writes that log results make one).
    #[cold]
    #[inline(never)]
    pub(crate) fn shared(secret_fields: &'static [&'static str]) -> Arc<Recorder> {
        Arc::new(Recorder { changes: Mutex::default(), intents: std::sync::OnceLock::new(), secret_fields })
    }

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

/// One resource's change.
#[derive(Debug)]
pub(crate) struct Recorded {
    /// The resource's id, as given to `changes::of`; `None` for the call's one resource.
    pub(crate) resource: Option<String>,
    pub(crate) before: Option<Value>,
    pub(crate) after: Option<Value>,
}

/// What a change recorded now goes to: copied into the thread's slot at every entry, so that a
/// call that takes no changes costs one `Cell` swap and no allocation.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Slot {
    /// An audited call that takes no changes: recording one is a misuse, for this reason.
    Refusing { action: &'static str, why: &'static str },
    /// An audited write that logs a result event, known by its recorder's address (the recorder
    /// itself is in [`RECORDERS`] while it is current).
    Recording(usize),
}

/// Where a call's body records: what [`Slot`] is made from.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Refusing { action: &'static str, why: &'static str },
    Recording(Arc<Recorder>),
}

thread_local! {
    static CURRENT: Cell<Option<Slot>> = const { Cell::new(None) };
    /// The recorders of the recording calls current on this thread, innermost last.
    static RECORDERS: RefCell<Vec<Arc<Recorder>>> = const { RefCell::new(Vec::new()) };
}

fn address(recorder: &Arc<Recorder>) -> usize {
    Arc::as_ptr(recorder) as usize
}

/// `target` is current until this is dropped: then the slot before it is back (even when the
/// body panics), and its recorder leaves the thread's list.
struct Entered {
    previous: Option<Slot>,
    recorder: Option<usize>,
}

impl Entered {
    #[inline]
    fn enter(target: &Target) -> Entered {
        let (slot, recorder) = match target {
            Target::Refusing { action, why } => (Slot::Refusing { action, why }, None),
            Target::Recording(recorder) => (Slot::Recording(enter_recorder(recorder)), Some(address(recorder))),
        };
        Entered { previous: CURRENT.with(|current| current.replace(Some(slot))), recorder }
    }
}

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.set(self.previous));
        if let Some(address_of) = self.recorder {
            leave_recorder(address_of);
        }
    }
}

/// Puts a recorder on the thread's list; its address.
#[cold]
#[inline(never)]
fn enter_recorder(recorder: &Arc<Recorder>) -> usize {
    RECORDERS.with(|recorders| recorders.borrow_mut().push(Arc::clone(recorder)));
    address(recorder)
}

/// Takes a recorder off the thread's list (out of line: only writes that log results have one).
#[cold]
#[inline(never)]
fn leave_recorder(address_of: usize) {
    let _ = RECORDERS.try_with(|recorders| {
        let mut recorders = recorders.borrow_mut();
        if let Some(at) = recorders.iter().rposition(|r| address(r) == address_of) {
            recorders.remove(at);
        }
    });
}

/// Runs `body` with `target` current.
#[inline]
pub(crate) fn run_in<R>(target: &Target, body: impl FnOnce() -> R) -> R {
    let _entered = Entered::enter(target);
    body()
}

pin_project_lite::pin_project! {
    /// An async body with its call's slot current while it is polled, on whichever thread.
    pub struct Recording<F> {
        target: Target,
        #[pin]
        future: F,
    }
}

impl<F> Recording<F> {
    pub(crate) fn new(target: Target, future: F) -> Recording<F> {
        Recording { target, future }
    }
}

impl<F: Future> Future for Recording<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = Entered::enter(this.target);
        this.future.poll(cx)
    }
}

/// The recorder of the slot current on this thread, or why there is none.
fn current() -> Result<Arc<Recorder>, (Option<&'static str>, &'static str)> {
    match CURRENT.with(Cell::get) {
        None => Err((None, "no audited call is running on this thread or task")),
        Some(Slot::Refusing { action, why }) => Err((Some(action), why)),
        Some(Slot::Recording(address_of)) => RECORDERS
            .with(|recorders| recorders.borrow().iter().rev().find(|r| address(r) == address_of).cloned())
            .ok_or((None, "the call that was recording has ended")),
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
    let recorder = match current() {
        Ok(recorder) => recorder,
        Err((action, why)) => return report_misuse(action, &why),
    };
    let serialized = (before.map(serde_json::to_value).transpose(), after.map(serde_json::to_value).transpose());
    match serialized {
        (Ok(before), Ok(after)) => recorder.record(resource, before, after),
        (Err(error), _) | (_, Err(error)) => {
            report_misuse(None, &format_args!("the value does not serialize as JSON: {error}"))
        }
    }
}
