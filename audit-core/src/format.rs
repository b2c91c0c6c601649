//! [`EcsFormat`]: how an [`AuditEvent`] becomes one ECS JSON line.
//!
//! The default is field for field the shape of Kibana's audit lines (nested objects, the
//! application's own fields under `kibana.*`), so pipelines and dashboards built for Kibana's
//! audit log read it unchanged. Key order is fixed and readable: `@timestamp` first, then
//! `message`, then `event`, who, where, what, `trace`, `error`, and `log`/`ecs` last.

use std::fmt::Write as _;
use std::io;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::event::{AuditEvent, ErrorInfo, HttpRequestInfo, User};
use crate::ECS_VERSION;

/// How events are written as ECS JSON lines.
///
/// ```
/// use audit_core::{kibana, AuditEvent, EcsFormat, Outcome, Resource};
///
/// let format = EcsFormat::default().with_namespace("shop").with_resource_key("resource");
/// let event = AuditEvent::new(&kibana::SAVED_OBJECT_DELETE)
///     .with_outcome(Outcome::Unknown)
///     .with_resource(Resource::new("order", "42"));
/// let line = format.to_line(&event);
/// let json: serde_json::Value = serde_json::from_str(&line).unwrap();
/// assert_eq!(json["shop"]["resource"]["id"], "42");
/// assert_eq!(json["message"], "User is deleting order [id=42]");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcsFormat {
    namespace: String,
    resource_key: String,
    include_resource_names: bool,
    logger_name: String,
    service_name: Option<String>,
    ecs_version: String,
    process_pid: Option<u32>,
}

impl Default for EcsFormat {
    /// Kibana's shape: application fields under `kibana`, the resource under `saved_object`.
    fn default() -> Self {
        EcsFormat {
            namespace: "kibana".to_owned(),
            resource_key: "saved_object".to_owned(),
            include_resource_names: true,
            logger_name: "audit".to_owned(),
            service_name: None,
            ecs_version: ECS_VERSION.to_owned(),
            process_pid: Some(std::process::id()),
        }
    }
}

impl EcsFormat {
    /// The object that holds what ECS has no field for: space, session, resource, authentication
    /// details (default `kibana`, as Kibana does).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The key of the resource inside the namespace (default `saved_object`, as Kibana does).
    pub fn with_resource_key(mut self, key: impl Into<String>) -> Self {
        self.resource_key = key.into();
        self
    }

    /// Whether resource names are written (default true, like Kibana's `include_saved_object_names`).
    pub fn with_resource_names(mut self, include: bool) -> Self {
        self.include_resource_names = include;
        self
    }

    /// `log.logger` (default `audit`).
    pub fn with_logger_name(mut self, name: impl Into<String>) -> Self {
        self.logger_name = name.into();
        self
    }

    /// `service.name` (default: not written).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// `process.pid` (default: this process's id; `None` leaves it out).
    pub fn with_process_pid(mut self, pid: Option<u32>) -> Self {
        self.process_pid = pid;
        self
    }

    /// The namespace in use.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether resource names are written.
    pub fn includes_resource_names(&self) -> bool {
        self.include_resource_names
    }

    /// The event as one JSON line, without the trailing newline.
    pub fn to_line(&self, event: &AuditEvent) -> String {
        let mut out = Vec::with_capacity(512);
        self.write_line(event, &mut out).expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// Appends the event as one JSON line, without the trailing newline, to `out`.
    pub fn write_line(&self, event: &AuditEvent, out: &mut Vec<u8>) -> io::Result<()> {
        let mut serializer = serde_json::Serializer::new(out);
        EcsLine { format: self, event }.serialize(&mut serializer).map_err(io::Error::from)
    }
}

/// An event paired with its format: what is serialized.
struct EcsLine<'a> {
    format: &'a EcsFormat,
    event: &'a AuditEvent,
}

impl Serialize for EcsLine<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (format, event) = (self.format, self.event);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("@timestamp", &Timestamp(event.timestamp))?;
        map.serialize_entry("message", &event.rendered_message())?;
        map.serialize_entry("event", &EventFields(event))?;
        if let Some(user) = &event.user {
            map.serialize_entry("user", &UserFields(user))?;
        }
        let namespace = NamespaceFields { format, event };
        if !namespace.is_empty() {
            map.serialize_entry(&format.namespace, &namespace)?;
        }
        if let Some(ip) = &event.client_ip {
            map.serialize_entry("client", &Single("ip", ip))?;
        }
        if let Some(http) = &event.http {
            write_http(&mut map, http)?;
        }
        if let Some(trace_id) = &event.trace_id {
            map.serialize_entry("trace", &Single("id", &**trace_id))?;
        }
        if let Some(error) = &event.error {
            map.serialize_entry("error", &ErrorFields(error))?;
        }
        if !event.labels.is_empty() {
            map.serialize_entry("labels", &Labels(&event.labels))?;
        }
        map.serialize_entry("log", &LogFields(&format.logger_name))?;
        if let Some(pid) = format.process_pid {
            map.serialize_entry("process", &Single("pid", &pid))?;
        }
        if let Some(service) = &format.service_name {
            map.serialize_entry("service", &Single("name", service))?;
        }
        map.serialize_entry("ecs", &Single("version", &format.ecs_version))?;
        map.end()
    }
}

/// `{"<key>": value}`.
struct Single<'a, T: ?Sized>(&'static str, &'a T);

impl<T: Serialize + ?Sized> Serialize for Single<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.0, self.1)?;
        map.end()
    }
}

/// RFC 3339 in UTC with a `Z`, microsecond precision.
struct Timestamp(std::time::SystemTime);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = String::with_capacity(27);
        write!(text, "{}", humantime::format_rfc3339_micros(self.0)).expect("writing to a String cannot fail");
        serializer.serialize_str(&text)
    }
}

struct EventFields<'a>(&'a AuditEvent);

impl Serialize for EventFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("action", &event.action)?;
        map.serialize_entry("category", &AsStrs(event.categories.iter().map(|c| c.as_str())))?;
        if !event.types.is_empty() {
            map.serialize_entry("type", &AsStrs(event.types.iter().map(|t| t.as_str())))?;
        }
        if let Some(outcome) = event.outcome {
            map.serialize_entry("outcome", outcome.as_str())?;
        }
        if let Some(duration) = event.duration {
            // ECS `event.duration` is a long in nanoseconds.
            let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
            map.serialize_entry("duration", &nanos)?;
        }
        if let Some(reason) = &event.reason {
            map.serialize_entry("reason", reason)?;
        }
        map.end()
    }
}

/// A JSON array of strings from an iterator (cloned, so it can be walked once per serialization).
struct AsStrs<I>(I);

impl<'a, I: Iterator<Item = &'a str> + Clone> Serialize for AsStrs<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

struct UserFields<'a>(&'a User);

impl Serialize for UserFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let user = self.0;
        let mut map = serializer.serialize_map(None)?;
        if let Some(id) = &user.id {
            map.serialize_entry("id", id)?;
        }
        if let Some(name) = &user.name {
            map.serialize_entry("name", name)?;
        }
        if let Some(email) = &user.email {
            map.serialize_entry("email", email)?;
        }
        if let Some(full_name) = &user.full_name {
            map.serialize_entry("full_name", full_name)?;
        }
        if !user.roles.is_empty() {
            map.serialize_entry("roles", &user.roles)?;
        }
        map.end()
    }
}

struct NamespaceFields<'a> {
    format: &'a EcsFormat,
    event: &'a AuditEvent,
}

impl NamespaceFields<'_> {
    fn is_empty(&self) -> bool {
        let e = self.event;
        e.space_id.is_none()
            && e.session_id.is_none()
            && e.resource.is_none()
            && e.authentication.is_none()
            && e.add_to_spaces.is_empty()
            && e.delete_from_spaces.is_empty()
    }
}

impl Serialize for NamespaceFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.event;
        let mut map = serializer.serialize_map(None)?;
        if let Some(space) = &event.space_id {
            map.serialize_entry("space_id", &**space)?;
        }
        if let Some(session) = &event.session_id {
            map.serialize_entry("session_id", &**session)?;
        }
        if let Some(resource) = &event.resource {
            let name = resource.name.as_deref().filter(|_| self.format.include_resource_names);
            map.serialize_entry(
                &self.format.resource_key,
                &ResourceFields { kind: &resource.kind, id: resource.id.as_deref(), name },
            )?;
        }
        if let Some(auth) = &event.authentication {
            let fields = [
                ("authentication_provider", &auth.provider),
                ("authentication_type", &auth.kind),
                ("authentication_realm", &auth.realm),
                ("lookup_realm", &auth.lookup_realm),
            ];
            for (key, value) in fields {
                if let Some(value) = value {
                    map.serialize_entry(key, value)?;
                }
            }
        }
        if !event.add_to_spaces.is_empty() {
            map.serialize_entry("add_to_spaces", &event.add_to_spaces)?;
        }
        if !event.delete_from_spaces.is_empty() {
            map.serialize_entry("delete_from_spaces", &event.delete_from_spaces)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct ResourceFields<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

fn write_http<M: SerializeMap>(map: &mut M, http: &HttpRequestInfo) -> Result<(), M::Error> {
    if http.method.is_some() || http.forwarded_for.is_some() {
        map.serialize_entry("http", &HttpFields(http))?;
    }
    let has_url = http.path.is_some()
        || http.query.is_some()
        || http.domain.is_some()
        || http.port.is_some()
        || http.scheme.is_some();
    if has_url {
        map.serialize_entry("url", &UrlFields(http))?;
    }
    if let Some(agent) = &http.user_agent {
        map.serialize_entry("user_agent", &Single("original", agent))?;
    }
    Ok(())
}

struct HttpFields<'a>(&'a HttpRequestInfo);

impl Serialize for HttpFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Request<'a>(&'a HttpRequestInfo);
        impl Serialize for Request<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(None)?;
                if let Some(method) = &self.0.method {
                    map.serialize_entry("method", method)?;
                }
                if let Some(forwarded) = &self.0.forwarded_for {
                    map.serialize_entry("headers", &Single("x-forwarded-for", forwarded))?;
                }
                map.end()
            }
        }
        Single("request", &Request(self.0)).serialize(serializer)
    }
}

struct UrlFields<'a>(&'a HttpRequestInfo);

impl Serialize for UrlFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let http = self.0;
        let mut map = serializer.serialize_map(None)?;
        if let Some(domain) = &http.domain {
            map.serialize_entry("domain", domain)?;
        }
        if let Some(path) = &http.path {
            map.serialize_entry("path", path)?;
        }
        if let Some(port) = http.port {
            map.serialize_entry("port", &port)?;
        }
        if let Some(query) = &http.query {
            map.serialize_entry("query", query)?;
        }
        if let Some(scheme) = &http.scheme {
            map.serialize_entry("scheme", scheme)?;
        }
        map.end()
    }
}

struct ErrorFields<'a>(&'a ErrorInfo);

impl Serialize for ErrorFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let error = self.0;
        let mut map = serializer.serialize_map(None)?;
        if let Some(code) = &error.code {
            map.serialize_entry("code", code)?;
        }
        if let Some(message) = &error.message {
            map.serialize_entry("message", message)?;
        }
        if let Some(kind) = &error.kind {
            map.serialize_entry("type", kind)?;
        }
        map.end()
    }
}

/// ECS `labels`: a flat keyword map whose keys have `.`, `*` and `\` replaced by `_`.
struct Labels<'a>(&'a [(std::borrow::Cow<'static, str>, String)]);

impl Serialize for Labels<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            if key.contains(['.', '*', '\\']) {
                map.serialize_entry(&key.replace(['.', '*', '\\'], "_"), value)?;
            } else {
                map.serialize_entry(key.as_ref(), value)?;
            }
        }
        map.end()
    }
}

struct LogFields<'a>(&'a str);

impl Serialize for LogFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("level", "INFO")?;
        map.serialize_entry("logger", self.0)?;
        map.end()
    }
}
