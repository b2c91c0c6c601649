//! [`Origin`]: who acted and where. An [`AuditContext`](crate::AuditContext) holds one for all
//! the events of a request or a job; an [`AuditEvent`](crate::AuditEvent) may set any field
//! itself, and its own fields win. Declared once: a new "who or where" field is a field here,
//! an accessor here and on the event, a builder method, and its place in the line.

use std::net::IpAddr;
use std::sync::Arc;

use super::parts::{HttpRequestInfo, User};

/// Who acted and where: `user.*`, the session and space, `client.ip`, the HTTP request and
/// `trace.id`. Every field is optional; shared parts are reference-counted, so cloning is cheap.
///
/// ```
/// use audit_core::{kibana, AuditContext, AuditEvent, User};
///
/// let ctx = AuditContext::builder().user(User::named("alice")).space_id("default").build();
/// let mut event = AuditEvent::new(&kibana::SPACE_GET).with_context(&ctx);
/// event.origin.space_id = Some("marketing".into()); // the event's own value wins
/// assert_eq!(event.space_id(), Some("marketing"));
/// assert_eq!(event.user().and_then(|u| u.name.as_deref()), Some("alice"));
/// assert_eq!(ctx.space_id(), Some("default")); // a context reads as its origin
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Origin {
    /// `user.*`: the acting user.
    pub user: Option<Arc<User>>,
    /// `<namespace>.session_id`.
    pub session_id: Option<Arc<str>>,
    /// `<namespace>.space_id`: the space or tenant.
    pub space_id: Option<Arc<str>>,
    /// `client.ip`.
    pub client_ip: Option<IpAddr>,
    /// `http.*`, `url.*`, `user_agent.*`.
    pub http: Option<Arc<HttpRequestInfo>>,
    /// `trace.id`: ties the events of one request or operation together.
    pub trace_id: Option<Arc<str>>,
}

impl Origin {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        let Origin { user, session_id, space_id, client_ip, http, trace_id } = self;
        user.is_none()
            && session_id.is_none()
            && space_id.is_none()
            && client_ip.is_none()
            && http.is_none()
            && trace_id.is_none()
    }

    /// The acting user.
    pub fn user(&self) -> Option<&User> {
        self.user.as_deref()
    }

    /// The session id.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The space or tenant.
    pub fn space_id(&self) -> Option<&str> {
        self.space_id.as_deref()
    }

    /// The client's IP address.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// The HTTP request.
    pub fn http(&self) -> Option<&HttpRequestInfo> {
        self.http.as_deref()
    }

    /// The trace id.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }
}
