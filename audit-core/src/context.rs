//! [`AuditContext`]: who is acting and where — user, roles, session, space or tenant, source IP,
//! HTTP request and `trace.id` — the Rust counterpart of Kibana's `audit.asScoped(request)`.
//!
//! A context is passed explicitly (`#[audited(ctx = …)]` or a parameter of type `AuditContext`),
//! or made *ambient* for a thread ([`AuditContext::enter`], [`AuditContext::in_scope`]) or a future
//! ([`AuditContext::scope`], [`WithAuditContext`]), where nested calls find it with
//! [`AuditContext::current`]. A context may also carry its own [`AuditLogger`], overriding the
//! global one for everything audited inside it.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};

use crate::event::{HttpRequestInfo, User};
use crate::format::ContextJson;
use crate::logger::AuditLogger;
use crate::trace::new_trace_id;

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
    fields: ContextFields,
    /// The context's part of an ECS line, serialized when a second event of the context is
    /// formatted: the later events of a request or a job copy it instead of escaping the same
    /// strings again, and a context with a single event never pays for keeping it.
    json: OnceLock<ContextJson>,
    formatted_once: AtomicBool,
}

#[derive(Clone, Default)]
struct ContextFields {
    user: Option<Arc<User>>,
    session_id: Option<Arc<str>>,
    space_id: Option<Arc<str>>,
    client_ip: Option<IpAddr>,
    http: Option<Arc<HttpRequestInfo>>,
    trace_id: Option<Arc<str>>,
    logger: Option<AuditLogger>,
}

impl fmt::Debug for AuditContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = &self.inner.fields;
        f.debug_struct("AuditContext")
            .field("user", &fields.user)
            .field("session_id", &fields.session_id)
            .field("space_id", &fields.space_id)
            .field("client_ip", &fields.client_ip)
            .field("http", &fields.http)
            .field("trace_id", &fields.trace_id)
            .field("has_logger", &fields.logger.is_some())
            .finish()
    }
}

impl AuditContext {
    /// An empty context: events carry no user, space or trace id of their own.
    pub fn new() -> AuditContext {
        AuditContext::default()
    }

    /// Starts building a context.
    pub fn builder() -> AuditContextBuilder {
        AuditContextBuilder { fields: ContextFields::default() }
    }

    /// A builder holding this context's values, to derive a changed copy
    /// (e.g. a background task's context with its own trace id).
    pub fn to_builder(&self) -> AuditContextBuilder {
        AuditContextBuilder { fields: self.inner.fields.clone() }
    }

    /// The acting user.
    pub fn user(&self) -> Option<&User> {
        self.inner.fields.user.as_deref()
    }

    /// The session id.
    pub fn session_id(&self) -> Option<&str> {
        self.inner.fields.session_id.as_deref()
    }

    /// The space or tenant.
    pub fn space_id(&self) -> Option<&str> {
        self.inner.fields.space_id.as_deref()
    }

    /// The client's IP address.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.inner.fields.client_ip
    }

    /// The HTTP request the context belongs to.
    pub fn http(&self) -> Option<&HttpRequestInfo> {
        self.inner.fields.http.as_deref()
    }

    /// The trace id shared by the events of this context.
    pub fn trace_id(&self) -> Option<&str> {
        self.inner.fields.trace_id.as_deref()
    }

    /// The logger this context overrides the default with, if any.
    pub fn logger(&self) -> Option<&AuditLogger> {
        self.inner.fields.logger.as_ref()
    }

    /// This context's fields as ECS JSON (see [`ContextJson`]), from the second time it is
    /// asked for (`None` the first time: the caller writes the fields itself).
    pub(crate) fn json(&self) -> Option<&ContextJson> {
        if let Some(json) = self.inner.json.get() {
            return Some(json);
        }
        if !self.inner.formatted_once.swap(true, Ordering::Relaxed) {
            return None;
        }
        Some(self.inner.json.get_or_init(|| ContextJson::of(self)))
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
/// use audit_core::{AuditContext, WithAuditContext};
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
#[derive(Clone)]
pub struct AuditContextBuilder {
    fields: ContextFields,
}

impl AuditContextBuilder {
    /// The acting user (`user.*`).
    pub fn user(mut self, user: User) -> Self {
        self.fields.user = Some(Arc::new(user));
        self
    }

    /// The session id (`<namespace>.session_id`).
    pub fn session_id(mut self, session_id: impl Into<Arc<str>>) -> Self {
        self.fields.session_id = Some(session_id.into());
        self
    }

    /// The space or tenant (`<namespace>.space_id`).
    pub fn space_id(mut self, space_id: impl Into<Arc<str>>) -> Self {
        self.fields.space_id = Some(space_id.into());
        self
    }

    /// The client's IP address (`client.ip`).
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.fields.client_ip = Some(ip);
        self
    }

    /// The HTTP request (`http.*`, `url.*`, `user_agent.*`).
    pub fn http(mut self, http: HttpRequestInfo) -> Self {
        self.fields.http = Some(Arc::new(http));
        self
    }

    /// The trace id shared by this context's events (`trace.id`).
    pub fn trace_id(mut self, trace_id: impl Into<Arc<str>>) -> Self {
        self.fields.trace_id = Some(trace_id.into());
        self
    }

    /// A fresh random trace id.
    pub fn new_trace_id(mut self) -> Self {
        self.fields.trace_id = Some(new_trace_id());
        self
    }

    /// A logger that overrides the default for everything audited with this context.
    pub fn logger(mut self, logger: AuditLogger) -> Self {
        self.fields.logger = Some(logger);
        self
    }

    /// The context.
    pub fn build(self) -> AuditContext {
        AuditContext { inner: Arc::new(ContextInner { fields: self.fields, ..ContextInner::default() }) }
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
