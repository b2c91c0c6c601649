//! The model: what an audit event is, and the context it happens in. Depends only on the leaf
//! layer and `audit-schema`, with one loop by design: an [`AuditContext`] may carry its own
//! [`AuditLogger`](crate::AuditLogger) (the logger layer, above), so that everything audited
//! inside the context goes to it. The context only holds and hands out the logger; it never
//! calls it.
//!
//! - `parts`: the values an event is made of (user, resource, error, HTTP request, authentication);
//! - `origin`: who and where, one struct shared by contexts and events;
//! - `event`: [`AuditEvent`];
//! - `message`: Kibana's message grammar;
//! - `context`: [`AuditContext`], ambient per thread or per future;
//! - `error_code` and `refused`: how errors meet the trail.

pub(crate) mod catalog;
pub(crate) mod context;
pub(crate) mod error_code;
pub(crate) mod event;
pub(crate) mod message;
pub(crate) mod origin;
pub(crate) mod parts;
pub(crate) mod refused;

pub use context::{AuditContext, AuditContextBuilder, ContextGuard, Scoped, WithAuditContext};
pub use error_code::AuditErrorCode;
pub use event::{AuditEvent, WriteResult};
pub use origin::Origin;
pub use parts::{AuthenticationInfo, ErrorInfo, HttpRequestInfo, Resource, User};
pub use refused::AuditRefused;
