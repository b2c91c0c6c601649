//! [`AuditContext`]: who is acting and where — user, roles, session, space or tenant, source IP,
//! HTTP request and `trace.id` — the Rust counterpart of Kibana's `audit.asScoped(request)`.
//!
//! A context is passed explicitly (`#[audited(ctx = …)]` or a parameter of type `AuditContext`),
//! or made *ambient* for a thread ([`AuditContext::enter`], [`AuditContext::in_scope`]) or a future
//! ([`AuditContext::scope`], [`WithAuditContext`]), where nested calls find it with
//! [`AuditContext::current`]. A context may also carry its own [`AuditLogger`], overriding the
//! global one for everything audited inside it.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};

use super::origin::Origin;
use super::parts::{HttpRequestInfo, User};
use crate::leaf::trace::new_trace_id;
// The one loop by design (see the layer's documentation): a context carries a logger.
use crate::logging::AuditLogger;

/// Who is acting and where. Cheap to clone (one reference count).
///
/// ```
/// use audit_core::{AuditContext, User};
///
/// let ctx = AuditContext::builder()
///     .user(User::named("alice").with_roles(["editor"]))
///     .session_id("s-1")
///     .space_id("marketing")
///     .client_ip("10.0.0.7".parse().unwrap())
///     .new_trace_id()
///     .build();
///
/// ctx.in_scope(|| {
///     let current = AuditContext::current().unwrap();
///     assert_eq!(current.user().unwrap().name.as_deref(), Some("alice"));
/// });
/// assert!(AuditContext::current().is_none());
/// ```
#[derive(Clone, Default)]
pub struct AuditContext {
    inner: Arc<ContextInner>,
}

#[derive(Default)]
struct ContextInner {
    origin: Origin,
    logger: Option<AuditLogger>,
    rendered: RenderCache,
}

/// Where an output format keeps what it made of a context's fields (their serialized JSON), from
/// the second event of the context on: the later events of a request or a job copy it instead of
/// escaping the same strings again, and a context with a single event never pays for keeping it.
/// Keyed by the format that made it, so a context shared by loggers with different formats never
/// hands one format's bytes to another (the other format writes the fields itself).
#[derive(Default)]
pub(crate) struct RenderCache {
    asked: AtomicBool,
    slot: OnceLock<(u64, Box<dyn Any + Send + Sync>)>,
}

// Written once (`OnceLock`) and read only: a panic cannot leave it half made.
impl std::panic::UnwindSafe for RenderCache {}
impl std::panic::RefUnwindSafe for RenderCache {}

impl RenderCache {
    /// What format `key` made of this context: `None` the first time any format asks, and when
    /// another format keeps its rendering here; otherwise made by `render` once and kept.
    pub(crate) fn get_or_render<T: Any + Send + Sync>(&self, key: u64, render: impl FnOnce() -> T) -> Option<&T> {
        let (owner, rendering) = match self.slot.get() {
            Some(kept) => kept,
            None => {
                if !self.asked.swap(true, Ordering::Relaxed) {
                    return None;
                }
                self.slot.get_or_init(|| (key, Box::new(render())))
            }
        };
        if *owner == key {
            rendering.downcast_ref()
        } else {
            None
        }
    }
}

impl fmt::Debug for AuditContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Origin { user, session_id, space_id, client_ip, http, trace_id } = &self.inner.origin;
        f.debug_struct("AuditContext")
            .field("user", user)
            .field("session_id", session_id)
            .field("space_id", space_id)
            .field("client_ip", client_ip)
            .field("http", http)
            .field("trace_id", trace_id)
            .field("has_logger", &self.inner.logger.is_some())
            .finish()
    }
}

/// A context reads as its [`Origin`]: `ctx.user()`, `ctx.space_id()`, `ctx.trace_id()`, …
impl Deref for AuditContext {
    type Target = Origin;

    fn deref(&self) -> &Origin {
        &self.inner.origin
    }
}

impl AuditContext {
    /// An empty context: events carry no user, space or trace id of their own.
    pub fn new() -> AuditContext {
        AuditContext::default()
    }

    /// Starts building a context.
    pub fn builder() -> AuditContextBuilder {
        AuditContextBuilder { origin: Origin::default(), logger: None }
    }

    /// A builder holding this context's values, to derive a changed copy
    /// (e.g. a background task's context with its own trace id).
    pub fn to_builder(&self) -> AuditContextBuilder {
        AuditContextBuilder { origin: self.inner.origin.clone(), logger: self.inner.logger.clone() }
    }

    /// Who and where (also reachable directly: a context dereferences to its origin).
    pub fn origin(&self) -> &Origin {
        &self.inner.origin
    }

    /// The logger this context overrides the default with, if any.
    pub fn logger(&self) -> Option<&AuditLogger> {
        self.inner.logger.as_ref()
    }

    /// What a format made of this context, keyed by the format (see [`RenderCache`]).
    pub(crate) fn rendered<T: Any + Send + Sync>(&self, format_key: u64, render: impl FnOnce() -> T) -> Option<&T> {
        self.inner.rendered.get_or_render(format_key, render)
    }

    /// The ambient context of this thread (or of the future being polled on it), if any.
    pub fn current() -> Option<AuditContext> {
        CURRENT.with(|current| current.borrow().clone())
    }

    /// Runs `f` with a reference to the ambient context, without cloning it.
    pub fn with_current<R>(f: impl FnOnce(Option<&AuditContext>) -> R) -> R {
        CURRENT.with(|current| f(current.borrow().as_ref()))
    }

    /// Makes this context ambient on this thread until the guard is dropped; the previous one is
    /// restored then. Nested scopes stack.
    pub fn enter(&self) -> ContextGuard {
        let previous = CURRENT.with(|current| current.replace(Some(self.clone())));
        ContextGuard { previous, not_send: PhantomData }
    }

    /// Runs `f` with this context ambient.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.enter();
        f()
    }

    /// Wraps `future` so that this context is ambient whenever it is polled, on whatever thread:
    /// the way to hand a context to a spawned task.
    ///
    /// ```
    /// # use audit_core::AuditContext;
    /// let ctx = AuditContext::builder().space_id("ops").build();
    /// let task = ctx.scope(async { AuditContext::current().unwrap().space_id().map(str::to_owned) });
    /// # let space = futures_lite_block_on(task);
    /// # assert_eq!(space.as_deref(), Some("ops"));
    /// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// ```
    pub fn scope<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped { context: self.clone(), future }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<AuditContext>> = const { RefCell::new(None) };
}

/// Restores the previous ambient context when dropped. Not `Send`: a scope belongs to its thread.
#[must_use = "the context is ambient only while the guard lives"]
#[derive(Debug)]
pub struct ContextGuard {
    previous: Option<AuditContext>,
    not_send: PhantomData<*const ()>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // `try_with`: during thread teardown the slot may already be gone; nothing to restore then.
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

pin_project_lite::pin_project! {
    /// A future with an ambient [`AuditContext`] (see [`AuditContext::scope`]).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        context: AuditContext,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = this.context.enter();
        this.future.poll(cx)
    }
}

/// Extension methods to carry an [`AuditContext`] into a future, for spawning.
///
/// ```
/// use audit_core::AuditContext;
/// use audit_core::context::WithAuditContext;
/// # async fn background_work() {}
/// let ctx = AuditContext::builder().space_id("ops").build();
/// let _guard = ctx.enter();
/// // Inside `spawn(...)`, the task would see the context that was ambient here.
/// let task = background_work().in_current_audit_context();
/// # drop(task);
/// ```
pub trait WithAuditContext: Future + Sized {
    /// Makes `context` ambient while this future runs.
    fn with_audit_context(self, context: AuditContext) -> Scoped<Self> {
        Scoped { context, future: self }
    }

    /// Makes the context ambient *now* (if any) ambient while this future runs.
    fn in_current_audit_context(self) -> Scoped<Self> {
        Scoped { context: AuditContext::current().unwrap_or_default(), future: self }
    }
}

impl<F: Future> WithAuditContext for F {}

/// Builds an [`AuditContext`].
#[derive(Clone, Debug)]
pub struct AuditContextBuilder {
    origin: Origin,
    logger: Option<AuditLogger>,
}

impl AuditContextBuilder {
    /// The acting user (`user.*`).
    pub fn user(mut self, user: User) -> Self {
        self.origin.user = Some(Arc::new(user));
        self
    }

    /// The session id (`<namespace>.session_id`).
    pub fn session_id(mut self, session_id: impl Into<Arc<str>>) -> Self {
        self.origin.session_id = Some(session_id.into());
        self
    }

    /// The space or tenant (`<namespace>.space_id`).
    pub fn space_id(mut self, space_id: impl Into<Arc<str>>) -> Self {
        self.origin.space_id = Some(space_id.into());
        self
    }

    /// The client's IP address (`client.ip`).
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.origin.client_ip = Some(ip);
        self
    }

    /// The HTTP request (`http.*`, `url.*`, `user_agent.*`).
    pub fn http(mut self, http: HttpRequestInfo) -> Self {
        self.origin.http = Some(Arc::new(http));
        self
    }

    /// The trace id shared by this context's events (`trace.id`).
    pub fn trace_id(mut self, trace_id: impl Into<Arc<str>>) -> Self {
        self.origin.trace_id = Some(trace_id.into());
        self
    }

    /// A fresh random trace id.
    pub fn new_trace_id(mut self) -> Self {
        self.origin.trace_id = Some(new_trace_id());
        self
    }

    /// A logger that overrides the default for everything audited with this context.
    pub fn logger(mut self, logger: AuditLogger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// The context.
    pub fn build(self) -> AuditContext {
        AuditContext {
            inner: Arc::new(ContextInner {
                origin: self.origin,
                logger: self.logger,
                rendered: RenderCache::default(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_restore() {
        let outer = AuditContext::builder().space_id("outer").build();
        let inner = AuditContext::builder().space_id("inner").build();
        assert!(AuditContext::current().is_none());
        {
            let _a = outer.enter();
            assert_eq!(AuditContext::current().unwrap().space_id(), Some("outer"));
            inner.in_scope(|| assert_eq!(AuditContext::current().unwrap().space_id(), Some("inner")));
            assert_eq!(AuditContext::current().unwrap().space_id(), Some("outer"));
        }
        assert!(AuditContext::current().is_none());
    }

    #[test]
    fn scoped_future_sees_its_context_on_another_thread() {
        let ctx = AuditContext::builder().space_id("tasks").build();
        let future = ctx.scope(async { AuditContext::current().and_then(|c| c.space_id().map(str::to_owned)) });
        let seen = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(future)
        })
        .join()
        .unwrap();
        assert_eq!(seen.as_deref(), Some("tasks"));
        assert!(AuditContext::current().is_none());
    }
}
