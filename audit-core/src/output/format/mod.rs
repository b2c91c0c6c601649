//! [`EcsFormat`]: how an [`AuditEvent`] becomes one ECS JSON line.
//!
//! The default is field for field the shape of Kibana's audit lines (nested objects, the
//! application's own fields under `kibana.*`), so pipelines and dashboards built for Kibana's
//! audit log read it unchanged. Key order is fixed and readable: `@timestamp` first, then
//! `message`, then `event`, who, where, what, `trace`, `error`, and `log`/`ecs` last.

use std::borrow::Cow;
use std::net::IpAddr;
use std::ops::Range;

mod ocsf;

use crate::leaf::json::{key, JsonObject};
use crate::model::{AuditContext, AuditEvent, ErrorInfo, HttpRequestInfo, User};
use audit_schema::ECS_VERSION;

/// The schema of the lines: [ECS](https://www.elastic.co/guide/en/ecs/current/index.html), the
/// default (Kibana's shape), or [OCSF](https://schema.ocsf.io) (the schema of AWS Security Lake,
/// Splunk's and Datadog's security data models).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LineSchema {
    /// Elastic Common Schema: Kibana's audit lines.
    #[default]
    Ecs,
    /// Open Cybersecurity Schema Framework, version [`OCSF_VERSION`].
    Ocsf,
}

impl std::str::FromStr for LineSchema {
    type Err = String;

    fn from_str(text: &str) -> Result<LineSchema, String> {
        match text {
            "ecs" => Ok(LineSchema::Ecs),
            "ocsf" => Ok(LineSchema::Ocsf),
            other => Err(format!("unknown line schema `{other}` (expected `ecs` or `ocsf`)")),
        }
    }
}

pub use ocsf::OCSF_VERSION;

/// How events are written as JSON lines: ECS by default, or OCSF ([`EcsFormat::ocsf`]).
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
    /// The most bytes of any one string value; longer ones are cut with a visible marker.
    max_field_bytes: usize,
    /// The most bytes of a line; a longer one is written again with every field cut shorter.
    max_event_bytes: usize,
    /// The schema lines follow: ECS (default) or OCSF.
    schema: LineSchema,
    /// In OCSF lines: the end of `metadata`, the same on every line (`"log_name":…,"product":…,
    /// "version":…`), written once here.
    ocsf_metadata: Vec<u8>,
    /// `,"log":{…},"process":{…},"service":{…},"ecs":{…}}`: the same on every line, so it is
    /// written once here and copied (kept in step by every setter of its parts).
    tail: Vec<u8>,
    /// Identifies these settings, for the context's cache of its serialized fields: a context
    /// shared by loggers of different formats keeps one format's bytes, and the others write the
    /// fields themselves (see [`AuditContext`]'s render cache).
    key: u64,
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
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            schema: LineSchema::Ecs,
            ocsf_metadata: Vec::new(),
            tail: Vec::new(),
            key: 0,
        }
        .settled()
    }
}

impl EcsFormat {
    /// The object that holds what ECS has no field for: space, session, resource, authentication
    /// details (default `kibana`, as Kibana does).
    ///
    /// # Panics
    ///
    /// If the name is one of the line's own top-level keys (`event`, `user`, …) or not a plain
    /// key (see [`EcsFormat::check_namespace`]): the line would hold a key twice.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        if let Err(problem) = EcsFormat::check_namespace(&namespace) {
            panic!("EcsFormat::with_namespace: {problem}");
        }
        self.namespace = namespace;
        self.settled()
    }

    /// Whether `name` can be the namespace: a plain key (letters, digits, `_`, `-`) that is not
    /// one of the line's own top-level keys.
    pub fn check_namespace(name: &str) -> Result<(), String> {
        check_key(name)?;
        if TOP_LEVEL_KEYS.contains(&name) {
            return Err(format!("`{name}` is an ECS field of its own; pick the application's name"));
        }
        Ok(())
    }

    /// Whether `key` can be the resource's key inside the namespace: a plain key that is not one
    /// of the namespace's other keys (`space_id`, `session_id`, …).
    pub fn check_resource_key(key: &str) -> Result<(), String> {
        check_key(key)?;
        if NAMESPACE_KEYS.contains(&key) {
            return Err(format!("`{key}` is already a key of the namespace object"));
        }
        Ok(())
    }

    /// The key of the resource inside the namespace (default `saved_object`, as Kibana does).
    ///
    /// # Panics
    ///
    /// If the key is already one of the namespace's (see [`EcsFormat::check_resource_key`]).
    pub fn with_resource_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        if let Err(problem) = EcsFormat::check_resource_key(&key) {
            panic!("EcsFormat::with_resource_key: {problem}");
        }
        self.resource_key = key;
        self.settled()
    }

    /// Whether resource names are written (default true, like Kibana's `include_saved_object_names`).
    pub fn with_resource_names(mut self, include: bool) -> Self {
        self.include_resource_names = include;
        self.settled()
    }

    /// `log.logger` (default `audit`).
    pub fn with_logger_name(mut self, name: impl Into<String>) -> Self {
        self.logger_name = name.into();
        self.settled()
    }

    /// `service.name` (default: not written).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self.settled()
    }

    /// Lines in OCSF (the Open Cybersecurity Schema Framework, version [`OCSF_VERSION`]) rather
    /// than ECS: each event in its OCSF class (API Activity, Authentication, Account Change,
    /// Entity Management, HTTP Activity, Event Log Activity), with what OCSF has no place for
    /// under `unmapped`. The README has the mapping, field by field.
    ///
    /// ```
    /// use audit_core::{kibana, AuditEvent, EcsFormat, Outcome, Resource};
    ///
    /// let format = EcsFormat::ocsf();
    /// let event = AuditEvent::new(&kibana::SAVED_OBJECT_DELETE)
    ///     .with_outcome(Outcome::Unknown)
    ///     .with_resource(Resource::new("order", "42"));
    /// let line: serde_json::Value = serde_json::from_str(&format.to_line(&event)).unwrap();
    /// assert_eq!(line["class_uid"], 6003); // API Activity
    /// assert_eq!(line["activity_id"], 4); // Delete
    /// assert_eq!(line["type_uid"], 600304);
    /// assert_eq!(line["resources"][0]["uid"], "42");
    /// assert_eq!(line["metadata"]["uid"], event.id.as_str());
    /// ```
    pub fn ocsf() -> EcsFormat {
        EcsFormat::default().with_schema(LineSchema::Ocsf)
    }

    /// The schema lines follow (default [`LineSchema::Ecs`]).
    pub fn with_schema(mut self, schema: LineSchema) -> Self {
        self.schema = schema;
        self.settled()
    }

    /// The schema lines follow.
    pub fn schema(&self) -> LineSchema {
        self.schema
    }

    /// `process.pid` (default: this process's id; `None` leaves it out).
    pub fn with_process_pid(mut self, pid: Option<u32>) -> Self {
        self.process_pid = pid;
        self.settled()
    }

    /// Recomputes what is derived from the settings: the constant tail and the settings' key.
    /// Every setter ends here.
    fn settled(mut self) -> Self {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let EcsFormat {
            namespace,
            resource_key,
            include_resource_names,
            logger_name,
            service_name,
            ecs_version,
            process_pid,
            max_field_bytes,
            max_event_bytes,
            schema,
            ocsf_metadata: _,
            tail: _,
            key: _,
        } = &self;
        (namespace, resource_key, include_resource_names, logger_name, service_name, ecs_version, process_pid)
            .hash(&mut hasher);
        schema.hash(&mut hasher);
        (max_field_bytes, max_event_bytes).hash(&mut hasher);
        self.key = hasher.finish();
        self.with_tail()
    }

    fn with_tail(mut self) -> Self {
        let mut out = Vec::with_capacity(128);
        let mut tail = JsonObject::begin(&mut out);
        let mut log = tail.object(key!("log"));
        log.str(key!("level"), "INFO");
        log.str(key!("logger"), &self.logger_name);
        log.end();
        if let Some(pid) = self.process_pid {
            let mut process = tail.object(key!("process"));
            process.u64(key!("pid"), u64::from(pid));
            process.end();
        }
        if let Some(service) = &self.service_name {
            tail.object(key!("service")).str_end(key!("name"), service);
        }
        tail.object(key!("ecs")).str_end(key!("version"), &self.ecs_version);
        tail.end();
        // `{…}` becomes `,…}`: fields that follow others and close the line.
        out[0] = b',';
        self.tail = out;
        self.ocsf_metadata = ocsf::constant_metadata(&self);
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
        let mut out = Vec::with_capacity(640);
        self.write_line(event, &mut out);
        String::from_utf8(out).expect("the writer writes UTF-8")
    }

    /// Cuts every string value at `bytes` (default 32 KiB), with a visible
    /// `…[truncated N bytes]` at its end: a huge value is never dropped and never split, and
    /// whoever reads it sees that it was cut.
    pub fn with_max_field_bytes(mut self, bytes: usize) -> Self {
        self.max_field_bytes = bytes.max(MIN_FIELD_BYTES);
        self.settled()
    }

    /// Keeps every line within `bytes` (default 256 KiB): a longer one is written again with
    /// its fields cut shorter, and its lists and labels capped (with `…[N more]`), until it fits.
    pub fn with_max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes.max(MIN_EVENT_BYTES);
        self.settled()
    }

    /// Appends the event as one JSON line, without the trailing newline, to `out`.
    pub fn write_line(&self, event: &AuditEvent, out: &mut Vec<u8>) {
        let start = out.len();
        self.write_within(event, out, self.max_field_bytes, usize::MAX);
        if out.len() - start <= self.max_event_bytes {
            return;
        }
        // Too long even with each field within its limit (many large fields): again, shorter,
        // until it fits; the last tries also cap lists and labels.
        let mut field = self.max_field_bytes;
        for items in [usize::MAX, usize::MAX, 64, 16, 4] {
            field = (field / 4).max(MIN_FIELD_BYTES);
            out.truncate(start);
            self.write_within(event, out, field, items);
            if out.len() - start <= self.max_event_bytes {
                return;
            }
        }
    }

    /// [`write_line`](EcsFormat::write_line) with string values cut at `field` bytes and lists
    /// at `items` values.
    fn write_within(&self, event: &AuditEvent, out: &mut Vec<u8>, field: usize, items: usize) {
        if self.schema == LineSchema::Ocsf {
            return ocsf::write(self, event, out, field, items);
        }
        let mut line = JsonObject::begin_limited(out, field).with_item_limit(items);
        line.ascii(key!("@timestamp"), &crate::leaf::timestamp::rfc3339_micros(event.timestamp));
        line.string_with(key!("message"), |text| event.write_message(|piece| text.push(piece)));
        write_event_fields(&mut line, event);
        // Who and where: copied from the context's cached JSON when the event overrides none of
        // it (and the line is written at the format's own limits, which the cache was made at).
        let cached = match event.context_alone() {
            Some(context) if field == self.max_field_bytes && items == usize::MAX => {
                context.rendered(self.key, || ContextJson::of(context, field))
            }
            _ => None,
        };
        match cached {
            Some(json) => line.fields(json.user()),
            None => {
                if let Some(user) = event.user() {
                    write_user(&mut line, user);
                }
            }
        }
        self.write_namespace(&mut line, event, cached, field, items);
        match cached {
            Some(json) => line.fields(json.request()),
            None => write_request(&mut line, event.client_ip(), event.http(), event.trace_id()),
        }
        if let Some(error) = &event.error {
            write_error(&mut line, error);
        }
        if !event.labels.is_empty() {
            write_labels(&mut line, &event.labels);
        }
        line.end_with(&self.tail);
    }

    fn write_namespace(
        &self,
        line: &mut JsonObject<'_>,
        event: &AuditEvent,
        cached: Option<&ContextJson>,
        field: usize,
        items: usize,
    ) {
        let (space_id, session_id) = (event.space_id(), event.session_id());
        if space_id.is_none() && session_id.is_none() && !has_namespace_fields(event) {
            return;
        }
        let mut namespace = line.dynamic_object(&self.namespace);
        match cached {
            Some(json) => namespace.fields(json.namespace()),
            None => write_space_and_session(&mut namespace, space_id, session_id),
        }
        self.write_namespace_fields(&mut namespace, event, field, items);
        namespace.end();
    }

    /// The namespace's fields after space and session, the same in ECS and OCSF lines: the
    /// resource, authentication details, spaces, the intent a result belongs to, the diff.
    fn write_namespace_fields(&self, namespace: &mut JsonObject<'_>, event: &AuditEvent, field: usize, items: usize) {
        if let Some(resource) = &event.resource {
            let mut object = namespace.dynamic_object(&self.resource_key);
            object.str(key!("type"), &resource.kind);
            object.opt_str(key!("id"), resource.id.as_deref());
            object.opt_str(key!("name"), resource.name.as_deref().filter(|_| self.include_resource_names));
            object.end();
        }
        if let Some(auth) = &event.authentication {
            namespace.opt_str(key!("authentication_provider"), auth.provider.as_deref());
            namespace.opt_str(key!("authentication_type"), auth.kind.as_deref());
            namespace.opt_str(key!("authentication_realm"), auth.realm.as_deref());
            namespace.opt_str(key!("lookup_realm"), auth.lookup_realm.as_deref());
        }
        if !event.add_to_spaces.is_empty() {
            namespace.strs(key!("add_to_spaces"), event.add_to_spaces.iter().map(String::as_str));
        }
        if !event.delete_from_spaces.is_empty() {
            namespace.strs(key!("delete_from_spaces"), event.delete_from_spaces.iter().map(String::as_str));
        }
        if let Some(intent) = event.intent_id() {
            namespace.ascii(key!("intent_event_id"), intent.as_str().as_bytes());
        }
        if let Some(diff) = event.diff() {
            // Its values are within the diff's own size limit; a line being fitted within its own
            // asks for less.
            let value_limit = if field == self.max_field_bytes { usize::MAX } else { field };
            namespace.raw_with(key!("diff"), |out| diff.write_json(out, items, value_limit));
        }
    }
}

/// Whether the event has any of the namespace's fields besides space and session (which ECS
/// and OCSF place differently): a resource, authentication details, spaces, a result.
fn has_namespace_fields(event: &AuditEvent) -> bool {
    event.resource.is_some()
        || event.authentication.is_some()
        || !event.add_to_spaces.is_empty()
        || !event.delete_from_spaces.is_empty()
        || event.result.is_some()
}

/// `error`: code, message and type.
fn write_error(line: &mut JsonObject<'_>, error: &ErrorInfo) {
    let mut object = line.object(key!("error"));
    object.opt_str(key!("code"), error.code.as_deref());
    object.opt_str(key!("message"), error.message.as_deref());
    object.opt_str(key!("type"), error.kind.as_deref());
    object.end();
}

/// `labels`: each key as ECS allows it, and unique. Keys that are the same once sanitized (`a.b`
/// and `a_b`), or given twice, would be duplicate keys: each later one gets the first free `_2`,
/// `_3`, … suffix. Past the object's item limit, one `labels_truncated` says how many are left out.
fn write_labels(line: &mut JsonObject<'_>, labels: &[(Cow<'static, str>, String)]) {
    let mut object = line.object(key!("labels"));
    let cap = object.item_limit();
    if let [(key, value)] = labels {
        object.dynamic_str(&label_key(key), value);
    } else {
        let mut written: std::collections::HashSet<Cow<'_, str>> =
            std::collections::HashSet::with_capacity(labels.len().min(cap));
        for (key, value) in labels.iter().take(cap) {
            let mut name = label_key(key);
            let mut n = 2;
            while written.contains(&name) {
                name = Cow::Owned(format!("{}_{n}", label_key(key)));
                n += 1;
            }
            object.dynamic_str(&name, value);
            written.insert(name);
        }
        if labels.len() > cap {
            let mut name = Cow::Borrowed("labels_truncated");
            while written.contains(&name) {
                name = Cow::Owned(format!("{name}_"));
            }
            object.dynamic_str(&name, &format!("{} more labels", labels.len() - cap));
        }
    }
    object.end();
}

/// The default of [`EcsFormat::with_max_field_bytes`]: 32 KiB.
pub(crate) const DEFAULT_MAX_FIELD_BYTES: usize = 32 << 10;
/// The default of [`EcsFormat::with_max_event_bytes`]: 256 KiB.
pub(crate) const DEFAULT_MAX_EVENT_BYTES: usize = 256 << 10;
/// The smallest field limit: enough for ids, names and the truncation marker.
const MIN_FIELD_BYTES: usize = 64;
/// The smallest event limit: a line with every fixed field and short values.
const MIN_EVENT_BYTES: usize = 4096;

/// A label's key as ECS allows it: `.`, `*` and `\` replaced by `_`.
fn label_key(key: &str) -> Cow<'_, str> {
    if key.contains(['.', '*', '\\']) {
        Cow::Owned(key.replace(['.', '*', '\\'], "_"))
    } else {
        Cow::Borrowed(key)
    }
}

/// The top-level keys of a line: the namespace may not be one of them.
const TOP_LEVEL_KEYS: &[&str] = &[
    "@timestamp",
    "message",
    "event",
    "user",
    "client",
    "source",
    "http",
    "url",
    "user_agent",
    "trace",
    "error",
    "labels",
    "log",
    "process",
    "service",
    "ecs",
];

/// The keys of the namespace object besides the resource's.
const NAMESPACE_KEYS: &[&str] = &[
    "space_id",
    "session_id",
    "authentication_provider",
    "authentication_type",
    "authentication_realm",
    "lookup_realm",
    "add_to_spaces",
    "delete_from_spaces",
    "intent_event_id",
    "diff",
];

/// A key written as given: letters, digits, `_` and `-`, so it needs no escaping and no ECS
/// tool reads it as a path.
fn check_key(key: &str) -> Result<(), String> {
    let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        Ok(())
    } else {
        Err(format!("`{key}` is not a usable JSON key (letters, digits, `_` and `-`)"))
    }
}

/// The part of a line that comes from an [`AuditContext`] alone, serialized once per context:
/// the events of a request or a job share it, and it holds most of a line's strings (user,
/// roles, session, space, client, HTTP request, trace id). Written by the same functions as
/// an event's own fields, so a line is the same bytes either way.
pub(crate) struct ContextJson {
    bytes: Box<[u8]>,
    /// `"user":{…}`.
    user: Range<usize>,
    /// `"space_id":…,"session_id":…`, inside the namespace object.
    namespace: Range<usize>,
    /// `"client":{…}`, `"http":{…}`, `"url":{…}`, `"user_agent":{…}`, `"trace":{…}`.
    request: Range<usize>,
}

impl ContextJson {
    pub(crate) fn of(ctx: &AuditContext, field_limit: usize) -> ContextJson {
        let mut bytes = Vec::with_capacity(512);
        // Each part is written as an object, whose braces are then left out of its range.
        let mut part = |write: &dyn Fn(&mut JsonObject<'_>)| {
            let start = bytes.len();
            let mut object = JsonObject::begin_limited(&mut bytes, field_limit);
            write(&mut object);
            object.end();
            start + 1..bytes.len() - 1
        };
        let user = part(&|object| {
            if let Some(user) = ctx.user() {
                write_user(object, user);
            }
        });
        let namespace = part(&|object| write_space_and_session(object, ctx.space_id(), ctx.session_id()));
        let request = part(&|object| write_request(object, ctx.client_ip(), ctx.http(), ctx.trace_id()));
        ContextJson { bytes: bytes.into_boxed_slice(), user, namespace, request }
    }

    fn user(&self) -> &[u8] {
        &self.bytes[self.user.clone()]
    }

    fn namespace(&self) -> &[u8] {
        &self.bytes[self.namespace.clone()]
    }

    fn request(&self) -> &[u8] {
        &self.bytes[self.request.clone()]
    }
}

fn write_space_and_session(namespace: &mut JsonObject<'_>, space_id: Option<&str>, session_id: Option<&str>) {
    namespace.opt_str(key!("space_id"), space_id);
    namespace.opt_str(key!("session_id"), session_id);
}

/// `client`, `http`, `url`, `user_agent` and `trace`: where the request came from.
fn write_request(
    line: &mut JsonObject<'_>,
    ip: Option<IpAddr>,
    http: Option<&HttpRequestInfo>,
    trace_id: Option<&str>,
) {
    if let Some(ip) = ip {
        let mut client = line.object(key!("client"));
        match ip {
            IpAddr::V4(v4) => {
                let mut text = [0u8; 15];
                let len = write_ipv4(&mut text, v4.octets());
                client.ascii(key!("ip"), &text[..len]);
            }
            IpAddr::V6(v6) => client.display(key!("ip"), v6),
        }
        client.end();
    }
    if let Some(http) = http {
        write_http(line, http);
    }
    if let Some(trace_id) = trace_id {
        line.object(key!("trace")).str_end(key!("id"), trace_id);
    }
}

fn write_event_fields(line: &mut JsonObject<'_>, event: &AuditEvent) {
    let mut object = line.object(key!("event"));
    object.str(key!("id"), event.id.as_str());
    object.str(key!("action"), &event.action);
    object.strs(key!("category"), event.categories.iter().map(|c| c.as_str()));
    if !event.types.is_empty() {
        object.strs(key!("type"), event.types.iter().map(|t| t.as_str()));
    }
    object.opt_str(key!("outcome"), event.outcome.map(|o| o.as_str()));
    if let Some(duration) = event.duration {
        // ECS `event.duration` is a long in nanoseconds.
        object.u64(key!("duration"), u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }
    object.opt_str(key!("reason"), event.reason.as_deref());
    object.end();
}

fn write_user(line: &mut JsonObject<'_>, user: &User) {
    let mut object = line.object(key!("user"));
    object.opt_str(key!("id"), user.id.as_deref());
    object.opt_str(key!("name"), user.name.as_deref());
    object.opt_str(key!("email"), user.email.as_deref());
    object.opt_str(key!("full_name"), user.full_name.as_deref());
    object.opt_str(key!("hash"), user.hash.as_deref());
    if !user.roles.is_empty() {
        object.strs(key!("roles"), user.roles.iter().map(String::as_str));
    }
    object.end();
}

fn write_http(line: &mut JsonObject<'_>, http: &HttpRequestInfo) {
    if http.method.is_some() || http.forwarded_for.is_some() {
        let mut object = line.object(key!("http"));
        let mut request = object.object(key!("request"));
        request.opt_str(key!("method"), http.method.as_deref());
        if let Some(forwarded) = &http.forwarded_for {
            request.object(key!("headers")).str_end(key!("x-forwarded-for"), forwarded);
        }
        request.end();
        object.end();
    }
    let has_url = http.path.is_some()
        || http.query.is_some()
        || http.domain.is_some()
        || http.port.is_some()
        || http.scheme.is_some();
    if has_url {
        let mut url = line.object(key!("url"));
        url.opt_str(key!("domain"), http.domain.as_deref());
        url.opt_str(key!("path"), http.path.as_deref());
        if let Some(port) = http.port {
            url.u64(key!("port"), u64::from(port));
        }
        url.opt_str(key!("query"), http.query.as_deref());
        url.opt_str(key!("scheme"), http.scheme.as_deref());
        url.end();
    }
    if let Some(agent) = &http.user_agent {
        line.object(key!("user_agent")).str_end(key!("original"), agent);
    }
}

/// Dotted decimal into `out`; returns the length.
fn write_ipv4(out: &mut [u8; 15], octets: [u8; 4]) -> usize {
    let mut len = 0;
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            out[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            out[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            out[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        out[len] = b'0' + octet % 10;
        len += 1;
    }
    len
}

impl JsonObject<'_> {
    /// A one-field object: `{"key":"value"}`, closed.
    fn str_end(mut self, key: crate::leaf::json::Key, value: &str) {
        self.str(key, value);
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Resource;
    use audit_schema::{kibana, Outcome};

    /// The line written from a context's cached JSON, and the one written field by field (the
    /// event carrying the same values itself), must be the same bytes.
    fn assert_cached_line_is_exact(ctx: &AuditContext) {
        let format = EcsFormat::default();
        let base = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
            .with_outcome(Outcome::Success)
            .with_resource(Resource::new("dashboard", "d\"1"));
        let cached = base.clone().with_context(ctx);
        assert!(cached.context_alone().is_some());
        let mut field_by_field = base.clone();
        field_by_field.origin = ctx.origin().clone();
        assert!(field_by_field.context_alone().is_none());
        field_by_field.timestamp = cached.timestamp;
        let line = format.to_line(&cached);
        assert_eq!(line, format.to_line(&field_by_field));
        // Again, now from the cache the second line fills, and from the cache.
        assert_eq!(format.to_line(&cached), line);
        assert!(ctx.rendered(format.key, || ContextJson::of(ctx, DEFAULT_MAX_FIELD_BYTES)).is_some());
        assert_eq!(format.to_line(&cached), line);
        serde_json::from_str::<serde_json::Value>(&line).expect("valid JSON");
    }

    #[test]
    fn huge_values_are_cut_visibly_and_huge_events_fit_their_limit() {
        let format = EcsFormat::default().with_max_field_bytes(1024).with_max_event_bytes(8192);
        let huge = "x".repeat(100_000);
        let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
            .with_outcome(Outcome::Success)
            .with_message(huge.clone())
            .with_resource(Resource::new("dashboard", "1").with_name(huge.clone()))
            .with_label("note", huge.clone());
        let line = format.to_line(&event);
        assert!(line.len() <= 8192, "{} bytes", line.len());
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        let message = json["message"].as_str().unwrap();
        assert!(message.starts_with("xxx") && message.contains("…[truncated "), "{message}");
        assert!(json["labels"]["note"].as_str().unwrap().ends_with(" bytes]"));
        assert_eq!(json["kibana"]["saved_object"]["id"], "1", "short values are whole");

        // Many labels: still one line within the limit, with the rest counted.
        let mut many = AuditEvent::new(&kibana::SAVED_OBJECT_GET).with_outcome(Outcome::Success);
        for i in 0..5000 {
            many = many.with_label(format!("k{i}"), "v".repeat(40));
        }
        let line = format.to_line(&many);
        assert!(line.len() <= 8192, "{} bytes", line.len());
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(json["labels"]["labels_truncated"].as_str().unwrap().ends_with("more labels"), "{line}");
        // A small event is untouched by the limits.
        let small = AuditEvent::new(&kibana::SPACE_GET).with_outcome(Outcome::Success).with_label("a", "b");
        assert_eq!(format.to_line(&small), EcsFormat::default().to_line(&small));
    }

    #[test]
    fn label_keys_stay_distinct_after_sanitizing() {
        let event = AuditEvent::new(&kibana::SPACE_GET)
            .with_outcome(Outcome::Success)
            .with_label("a.b", "dotted")
            .with_label("a_b", "plain")
            .with_label("a*b", "starred")
            .with_label("a_b_2", "taken")
            .with_label("a_b", "again");
        let line = EcsFormat::default().to_line(&event);
        let keys: Vec<String> = {
            // Counting raw keys: serde_json would silently keep one of two duplicates.
            let labels = &line[line.find("\"labels\":{").unwrap()..];
            let labels = &labels[..labels.find('}').unwrap()];
            labels.split("\":\"").filter_map(|part| part.rsplit('"').next()).map(str::to_owned).collect()
        };
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        let labels = json["labels"].as_object().unwrap();
        assert_eq!(labels.len(), 5, "{line}");
        assert_eq!(keys.len(), 5 + 1, "{keys:?}"); // the last piece is the last value
        assert_eq!(labels["a_b"], "dotted");
        assert_eq!(labels["a_b_2"], "plain", "{line}");
        let values: std::collections::BTreeSet<&str> = labels.values().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(values.len(), 5, "no value lost: {line}");
    }

    #[test]
    fn reserved_namespaces_and_colliding_resource_keys_are_refused() {
        for name in ["event", "user", "labels", "@timestamp", "a.b", ""] {
            assert!(EcsFormat::check_namespace(name).is_err(), "{name}");
        }
        assert!(EcsFormat::check_namespace("shop").is_ok());
        assert!(EcsFormat::check_resource_key("space_id").is_err());
        assert!(EcsFormat::check_resource_key("resource").is_ok());
        let refused = std::panic::catch_unwind(|| EcsFormat::default().with_namespace("event"));
        assert!(refused.is_err(), "a second `event` key would be written");
        // Every top-level key a line can have is one the namespace may not take.
        let ctx = AuditContext::builder()
            .user(User::named("u"))
            .client_ip("10.0.0.1".parse().unwrap())
            .http(HttpRequestInfo { method: Some("get".into()), ..HttpRequestInfo::default() })
            .new_trace_id()
            .build();
        let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
            .with_resource(Resource::new("dashboard", "1"))
            .with_error(crate::model::ErrorInfo::new("x"))
            .with_label("k", "v")
            .with_duration(std::time::Duration::from_millis(1))
            .with_context(&ctx);
        let json: serde_json::Value =
            serde_json::from_str(&EcsFormat::default().with_service_name("s").to_line(&event)).unwrap();
        for key in json.as_object().unwrap().keys().filter(|k| *k != "kibana") {
            assert!(TOP_LEVEL_KEYS.contains(&key.as_str()), "{key} is not declared as a top-level key");
        }
    }

    /// One context shared by two loggers whose formats differ: each line is its own format's,
    /// whichever format serialized the context first.
    #[test]
    fn a_context_shared_by_two_formats_gives_each_its_own_lines() {
        let kibana_format = EcsFormat::default();
        let shop_format = EcsFormat::default().with_namespace("shop").with_resource_key("resource");
        assert_ne!(kibana_format.key, shop_format.key);
        let ctx = AuditContext::builder().user(User::named("alice")).space_id("s1").session_id("x").build();
        let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
            .with_outcome(Outcome::Success)
            .with_resource(Resource::new("dashboard", "1"))
            .with_context(&ctx);
        for _ in 0..3 {
            for (format, namespace, resource) in
                [(&kibana_format, "kibana", "saved_object"), (&shop_format, "shop", "resource")]
            {
                let line: serde_json::Value = serde_json::from_str(&format.to_line(&event)).unwrap();
                assert_eq!(line[namespace]["space_id"], "s1", "{line}");
                assert_eq!(line[namespace]["session_id"], "x", "{line}");
                assert_eq!(line[namespace][resource]["id"], "1", "{line}");
                assert_eq!(line["user"]["name"], "alice");
                let other = if namespace == "kibana" { "shop" } else { "kibana" };
                assert!(line.get(other).is_none(), "{line}");
            }
        }
        // The cache keeps one format's rendering and hands it to no other.
        let kept = [&kibana_format, &shop_format]
            .map(|f| ctx.rendered(f.key, || ContextJson::of(&ctx, DEFAULT_MAX_FIELD_BYTES)).is_some());
        assert_eq!(kept.iter().filter(|k| **k).count(), 1, "{kept:?}");
    }

    #[test]
    fn a_context_serialized_once_gives_the_same_lines() {
        assert_cached_line_is_exact(&AuditContext::new());
        assert_cached_line_is_exact(
            &AuditContext::builder()
                .user(User::named("al\"ice").with_id("u1").with_roles(["editor", "viewer\n"]))
                .session_id("s-1")
                .space_id("marketing")
                .client_ip("10.0.0.7".parse().unwrap())
                .new_trace_id()
                .build(),
        );
        assert_cached_line_is_exact(
            &AuditContext::builder()
                .space_id("only-space")
                .client_ip("2001:db8::1".parse().unwrap())
                .http(HttpRequestInfo {
                    method: Some("POST".into()),
                    path: Some("/api/dashboards".into()),
                    query: Some("a=1&b=\"2\"".into()),
                    user_agent: Some("curl/8".into()),
                    forwarded_for: Some("1.2.3.4".into()),
                    ..HttpRequestInfo::default()
                })
                .build(),
        );
    }
}
