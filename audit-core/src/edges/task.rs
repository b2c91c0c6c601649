//! [`spawn`]: a tokio task that carries the audit context of the code that spawned it, so a
//! background task's events have the same user, space and `trace.id` as the request that
//! scheduled it (Kibana's "one event at creation, one at execution", linked by `trace.id`).

use std::future::Future;

use crate::model::{AuditContext, WithAuditContext};

/// Spawns `future` on the current tokio runtime with the current audit context ambient in it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use audit_core::AuditContext;
/// let ctx = AuditContext::builder().space_id("ops").new_trace_id().build();
/// let trace = ctx.trace_id().map(str::to_owned);
/// let seen = ctx.scope(async { audit_core::task::spawn(async { AuditContext::current() }).await.unwrap() }).await;
/// assert_eq!(seen.unwrap().trace_id().map(str::to_owned), trace);
/// # }
/// ```
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let context = AuditContext::current().unwrap_or_default();
    tokio::spawn(future.with_audit_context(context))
}
