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
    trust_traceparent: bool,
    /// Query parameters whose values are written as `[redacted]`.
    redacted_params: Arc<Vec<String>>,
}

impl AuditLayer {
    /// A layer that learns who is calling from `identity`: a builder with the user, roles,
    /// session and space (and, if wanted, a logger of its own). The layer adds the HTTP details
    /// and the trace id.
    pub fn new(identity: impl Fn(&Parts) -> AuditContextBuilder + Send + Sync + 'static) -> AuditLayer {
        AuditLayer {
            identity: Arc::new(identity),
            client_ip: Arc::new(socket_addr_extension),
            skip: None,
            trust_traceparent: true,
            redacted_params: Arc::new(REDACTED_QUERY_PARAMS.iter().map(|name| (*name).to_owned()).collect()),
        }
    }

    /// Where the client's IP comes from (default: a `SocketAddr` in the request's extensions).
    /// With axum: `|r| r.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())`.
    pub fn client_ip(mut self, client_ip: impl Fn(&Parts) -> Option<IpAddr> + Send + Sync + 'static) -> AuditLayer {
        self.client_ip = Arc::new(client_ip);
        self
    }

    /// The query parameters whose values `url.query` shows as `[redacted]` (default:
    /// [`REDACTED_QUERY_PARAMS`]). Matched without regard to case; a parameter whose name is
    /// always masked ([`is_masked_name`](crate::secret::is_masked_name): `password`, `…_token`,
    /// `api_key`, …) is redacted whatever this list says. Headers are never written but for the
    /// user agent and `x-forwarded-for`: `authorization` and cookies never reach the trail.
    pub fn redact_query_params<I, S>(mut self, names: I) -> AuditLayer
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redacted_params = Arc::new(names.into_iter().map(Into::into).collect());
        self
    }

    /// Whether a client's W3C `traceparent` header gives the request's `trace.id` (default
    /// true; a header that is malformed, or sent twice, starts a new trace anyway). Services
    /// facing untrusted clients can refuse it: a client could otherwise tie its requests to
    /// someone else's trace.
    pub fn trust_traceparent(mut self, trust: bool) -> AuditLayer {
        self.trust_traceparent = trust;
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
    S: tower_service::Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
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
        // The inner service is called only once the request is on record: a service may do its
        // work inside `call()` itself. The clone left behind takes the next request; the one made
        // ready by `poll_ready` serves this one (tower's pattern for calling later).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
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
            let response = context.in_scope(|| inner.call(Request::from_parts(parts, body)));
            context.scope(response).await
        })
    }
}

impl<S> AuditService<S> {
    fn context_for(&self, request: &Parts) -> AuditContext {
        let mut builder = (self.layer.identity)(request);
        // Header values may hold any byte: kept, with U+FFFD for what is not UTF-8.
        let text = |value: &http::HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned();
        let header = |name: &str| request.headers.get(name).map(text);
        let forwarded_for = {
            let values: Vec<String> = request.headers.get_all("x-forwarded-for").iter().map(text).collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        builder = builder.http(HttpRequestInfo {
            // Kibana writes the method in lower case.
            method: Some(request.method.as_str().to_ascii_lowercase()),
            path: Some(request.uri.path().to_owned()),
            query: request.uri.query().map(|query| redact_query(query, &self.layer.redacted_params)),
            domain: request.uri.host().map(str::to_owned).or_else(|| header("host").map(|h| strip_port(&h))),
            port: request.uri.port_u16(),
            scheme: request.uri.scheme_str().map(str::to_owned),
            user_agent: header("user-agent"),
            forwarded_for,
        });
        if let Some(ip) = (self.layer.client_ip)(request) {
            builder = builder.client_ip(ip);
        }
        // One valid header, if trusted; two headers, or a bad one, start a new trace (W3C).
        let mut traceparents = request.headers.get_all("traceparent").iter();
        let trace_id = match (traceparents.next(), traceparents.next()) {
            (Some(value), None) if self.layer.trust_traceparent => {
                value.to_str().ok().and_then(trace_id_from_traceparent).map(Arc::<str>::from)
            }
            _ => None,
        };
        builder.trace_id(trace_id.unwrap_or_else(new_trace_id)).build()
    }
}

/// The query parameters redacted by default: credentials that clients put in URLs.
pub const REDACTED_QUERY_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "key",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "code",
    "signature",
    "sig",
    "auth",
    "jwt",
    "session",
    "sessionid",
];

/// `a=1&token=xyz` → `a=1&token=[redacted]`: every parameter named in `names` (or always
/// masked) keeps its name and loses its value.
fn redact_query(query: &str, names: &[String]) -> String {
    query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = name.replace("%5F", "_").replace("%5f", "_");
            let secret =
                names.iter().any(|n| n.eq_ignore_ascii_case(&decoded)) || crate::leaf::secret::is_masked_name(&decoded);
            if secret && !value.is_empty() {
                format!("{name}={}", crate::leaf::secret::REDACTED)
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
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

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), if valid by the
/// W3C rules: lower-case hex only, version `ff` invalid, ids not all zeros, and version `00`
/// with exactly four fields (a later version may add some).
pub fn trace_id_from_traceparent(value: &str) -> Option<String> {
    let mut fields = value.trim().split('-');
    let (version, trace_id, parent_id, flags) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let valid = hex(version, 2)
        && version != "ff"
        && crate::leaf::trace::is_valid_trace_id(trace_id)
        && hex(parent_id, 16)
        && parent_id.bytes().any(|b| b != b'0')
        && hex(flags, 2)
        && (version != "00" || fields.next().is_none());
    valid.then(|| trace_id.to_owned())
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
    fn traceparent_follows_the_w3c_rules() {
        // Upper-case hex is invalid (W3C: lower case only); so is version `ff` in any case.
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "FF-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_id_from_traceparent(bad), None, "{bad}");
        }
        // A later version may add fields.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
        assert_eq!(trace_id_from_traceparent(future).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    }

    /// A service that does its work inside `call()`, before its future is polled: what it sees
    /// in the trail at that moment.
    #[derive(Clone)]
    struct WorksInCall {
        memory: crate::MemorySink,
        seen: Arc<std::sync::Mutex<Vec<usize>>>,
    }

    impl tower_service::Service<Request<()>> for WorksInCall {
        type Response = Response<()>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Response<()>, std::convert::Infallible>>;

        fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            self.seen.lock().unwrap().push(self.memory.len());
            std::future::ready(Ok(Response::new(())))
        }
    }

    fn layer_for(logger: AuditLogger) -> AuditLayer {
        AuditLayer::new(move |_| AuditContext::builder().logger(logger.clone()))
    }

    fn run<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    #[test]
    fn the_request_is_on_record_before_the_inner_service_is_called() {
        use tower_layer::Layer;
        use tower_service::Service;
        let (logger, memory) = AuditLogger::capture();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut service = layer_for(logger).layer(WorksInCall { memory: memory.clone(), seen: Arc::clone(&seen) });
        let request = Request::builder().uri("/api/dashboards").body(()).unwrap();
        run(async {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await.unwrap();
            service.call(request).await.unwrap();
        });
        assert_eq!(*seen.lock().unwrap(), [1], "the http_request event was written before call() ran");
        assert_eq!(memory.actions(), ["http_request"]);
    }

    fn context_of_request(layer: AuditLayer, request: Request<()>) -> AuditContext {
        let (parts, ()) = request.into_parts();
        AuditService { inner: (), layer }.context_for(&parts)
    }

    #[test]
    fn client_trace_ids_are_trusted_only_when_valid_single_and_wanted() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let request = |values: &[&str]| {
            let mut builder = Request::builder().uri("/");
            for value in values {
                builder = builder.header("traceparent", *value);
            }
            builder.body(()).unwrap()
        };
        let (logger, _) = AuditLogger::capture();
        let trusted = context_of_request(layer_for(logger.clone()), request(&[good]));
        assert_eq!(trusted.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        let doubled = context_of_request(layer_for(logger.clone()), request(&[good, good]));
        assert_ne!(doubled.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"), "two headers: a new trace");
        let distrusting = layer_for(logger).trust_traceparent(false);
        let own = context_of_request(distrusting, request(&[good]));
        assert_ne!(own.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"), "not trusted: a new trace");
        assert!(own.trace_id().is_some_and(crate::leaf::trace::is_valid_trace_id));
    }

    #[test]
    fn headers_with_non_ascii_bytes_are_kept_with_replacements() {
        let (logger, _) = AuditLogger::capture();
        let mut request = Request::builder().uri("/").body(()).unwrap();
        let agent = http::HeaderValue::from_bytes("Mozilla/5.0 (Résumé)".as_bytes()).unwrap();
        request.headers_mut().insert("user-agent", agent);
        request.headers_mut().insert("x-forwarded-for", http::HeaderValue::from_bytes(b"10.0.0.1 \xff").unwrap());
        let context = context_of_request(layer_for(logger), request);
        let http = context.http().unwrap();
        assert_eq!(http.user_agent.as_deref(), Some("Mozilla/5.0 (Résumé)"));
        assert_eq!(http.forwarded_for.as_deref(), Some("10.0.0.1 \u{fffd}"));
    }

    #[test]
    fn secrets_in_the_query_are_redacted() {
        let names: Vec<String> = REDACTED_QUERY_PARAMS.iter().map(|n| (*n).to_owned()).collect();
        assert_eq!(
            redact_query("page=2&access_token=abc.def&API_KEY=k1&user_password=hunter2&q=dash", &names),
            "page=2&access_token=[redacted]&API_KEY=[redacted]&user_password=[redacted]&q=dash"
        );
        assert_eq!(redact_query("flag&token=", &names), "flag&token=");
        let custom = vec!["tenant_secret_ref".to_owned()];
        assert_eq!(
            redact_query("tenant_secret_ref=x&token=y", &custom),
            "tenant_secret_ref=[redacted]&token=[redacted]"
        );
    }

    #[test]
    fn host_without_port() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:8080"), "::1");
    }
}
