//! [`AuditLayer`]: a `tower` layer that audits every HTTP request, as Kibana does, and makes the
//! request's [`AuditContext`] ambient for the handler, so every `#[audited]` call inside it carries
//! the user, session, space and `trace.id` without passing anything by hand.
//!
//! For each request it
//! 1. asks the application who is calling ([`AuditLayer::new`]'s identity function: user, roles,
//!    session, space), adds what the request says (method, path, query, user agent,
//!    `x-forwarded-for`, client IP) and a `trace.id` (from an incoming W3C `traceparent`, or new);
//! 2. logs one `http_request` event, outcome `unknown` ("User is requesting [/path] endpoint"),
//!    before the handler runs;
//! 3. runs the handler with the context ambient (and in the request's extensions, for extractors).
//!
//! Works with anything built on `tower`: axum, tonic, hyper. Behind the `http` feature.
//!
//! ```
//! use audit_core::http::AuditLayer;
//! use audit_core::{AuditContext, User};
//!
//! // Who is calling: here from a header; in a real service, from the session store.
//! let layer = AuditLayer::new(|request: &http::request::Parts| {
//!     let user = request.headers.get("x-user").and_then(|v| v.to_str().ok()).unwrap_or("anonymous");
//!     AuditContext::builder().user(User::named(user)).space_id("default")
//! });
//! # let _ = layer;
//! ```

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::request::Parts;
use http::{Request, Response};

use crate::leaf::trace::new_trace_id;
use crate::logging::AuditLogger;
use crate::model::{AuditContext, AuditContextBuilder};
use crate::model::{AuditEvent, HttpRequestInfo};
use audit_schema::{kibana, Outcome};

type Identity = dyn Fn(&Parts) -> AuditContextBuilder + Send + Sync;
type ClientIp = dyn Fn(&Parts) -> Option<IpAddr> + Send + Sync;
type Skip = dyn Fn(&Parts) -> bool + Send + Sync;

/// Audits every request; see the [module documentation](self).
#[derive(Clone)]
pub struct AuditLayer {
    identity: Arc<Identity>,
    client_ip: Arc<ClientIp>,
    skip: Option<Arc<Skip>>,
}

impl AuditLayer {
    /// A layer that learns who is calling from `identity`: a builder with the user, roles,
    /// session and space (and, if wanted, a logger of its own). The layer adds the HTTP details
    /// and the trace id.
    pub fn new(identity: impl Fn(&Parts) -> AuditContextBuilder + Send + Sync + 'static) -> AuditLayer {
        AuditLayer { identity: Arc::new(identity), client_ip: Arc::new(socket_addr_extension), skip: None }
    }

    /// Where the client's IP comes from (default: a `SocketAddr` in the request's extensions).
    /// With axum: `|r| r.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())`.
    pub fn client_ip(mut self, client_ip: impl Fn(&Parts) -> Option<IpAddr> + Send + Sync + 'static) -> AuditLayer {
        self.client_ip = Arc::new(client_ip);
        self
    }

    /// Requests not to log an `http_request` event for (health checks, static assets). Their
    /// handlers still run with the context ambient.
    pub fn skip_request_event(mut self, skip: impl Fn(&Parts) -> bool + Send + Sync + 'static) -> AuditLayer {
        self.skip = Some(Arc::new(skip));
        self
    }
}

impl std::fmt::Debug for AuditLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLayer").field("skips_some_requests", &self.skip.is_some()).finish_non_exhaustive()
    }
}

fn socket_addr_extension(request: &Parts) -> Option<IpAddr> {
    request.extensions.get::<SocketAddr>().map(SocketAddr::ip)
}

impl<S> tower_layer::Layer<S> for AuditLayer {
    type Service = AuditService<S>;

    fn layer(&self, inner: S) -> AuditService<S> {
        AuditService { inner, layer: self.clone() }
    }
}

/// The service [`AuditLayer`] wraps around an application.
#[derive(Clone)]
pub struct AuditService<S> {
    inner: S,
    layer: AuditLayer,
}

impl<S: std::fmt::Debug> std::fmt::Debug for AuditService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditService").field("inner", &self.inner).field("layer", &self.layer).finish()
    }
}

impl<S, B, R> tower_service::Service<Request<B>> for AuditService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let context = self.context_for(&parts);
        let event = match &self.layer.skip {
            Some(skip) if skip(&parts) => None,
            _ => Some(request_event(&parts, &context)),
        };
        parts.extensions.insert(context.clone());
        let response = context.scope(self.inner.call(Request::from_parts(parts, body)));
        Box::pin(async move {
            if let Some(event) = event {
                // An `unknown`-outcome event: logged before the handler runs, at the logger's
                // intent durability (awaited, not blocking). The logger reports its failures.
                if let Some(logger) = AuditLogger::resolve(Some(&context)) {
                    let durability = logger.intent_durability();
                    let _ = logger.log_with_durability_async(event, durability).await;
                } else {
                    crate::logging::dispatch::report_no_logger("http_request");
                }
            }
            response.await
        })
    }
}

impl<S> AuditService<S> {
    fn context_for(&self, request: &Parts) -> AuditContext {
        let mut builder = (self.layer.identity)(request);
        let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let forwarded_for = {
            let values: Vec<&str> =
                request.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        builder = builder.http(HttpRequestInfo {
            // Kibana writes the method in lower case.
            method: Some(request.method.as_str().to_ascii_lowercase()),
            path: Some(request.uri.path().to_owned()),
            query: request.uri.query().map(str::to_owned),
            domain: request.uri.host().map(str::to_owned).or_else(|| header("host").map(|h| strip_port(&h))),
            port: request.uri.port_u16(),
            scheme: request.uri.scheme_str().map(str::to_owned),
            user_agent: header("user-agent"),
            forwarded_for,
        });
        if let Some(ip) = (self.layer.client_ip)(request) {
            builder = builder.client_ip(ip);
        }
        let trace_id = header("traceparent").and_then(|value| trace_id_from_traceparent(&value)).map(Arc::<str>::from);
        builder.trace_id(trace_id.unwrap_or_else(new_trace_id)).build()
    }
}

/// `example.com:8080` → `example.com`, `[::1]:8080` → `::1`.
fn strip_port(host: &str) -> String {
    if let Some(bracketed) = host.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or_default().to_owned();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
        _ => host.to_owned(),
    }
}

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), if valid.
pub fn trace_id_from_traceparent(value: &str) -> Option<String> {
    let mut fields = value.trim().split('-');
    let (version, trace_id, parent_id, flags) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let valid = hex(version, 2)
        && version != "ff"
        && crate::leaf::trace::is_valid_trace_id(&trace_id.to_ascii_lowercase())
        && hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && hex(flags, 2)
        && (version != "00" || fields.next().is_none());
    valid.then(|| trace_id.to_ascii_lowercase())
}

/// Kibana's `http_request` event: "User is requesting [/path] endpoint", outcome `unknown`.
fn request_event(request: &Parts, context: &AuditContext) -> AuditEvent {
    AuditEvent::new(&kibana::HTTP_REQUEST)
        .with_outcome(Outcome::Unknown)
        .with_message(format!("User is requesting [{}] endpoint", request.uri.path()))
        .with_context(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_parsed_strictly() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(trace_id_from_traceparent(good).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            assert_eq!(trace_id_from_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn host_without_port() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:8080"), "::1");
    }
}
