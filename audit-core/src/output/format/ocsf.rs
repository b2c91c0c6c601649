//! OCSF lines: an [`AuditEvent`] in its class of the Open Cybersecurity Schema Framework.
//!
//! | event | OCSF class | activity |
//! | --- | --- | --- |
//! | `authentication` category (login, logout) | Authentication (3002) | Logon 1, Logoff 2, Other 99 |
//! | `iam` category, type `user` | Account Change (3001) | Create 1, Delete 6, Other 99 |
//! | `iam` category, other types (roles, groups) | Entity Management (3004) | Create 1, Read 2, Update 3, Delete 4 |
//! | an HTTP request (`http_request`, `web` with a method) | HTTP Activity (4002) | from the method: Get 3, Post 6, … |
//! | the toolkit's own events (`process` category) | Event Log Activity (1008) | Other 99 |
//! | everything else: reads and writes of resources | API Activity (6003) | Create 1, Read 2, Update 3, Delete 4 |
//!
//! Every line has the base fields every class requires (`activity_id`, `category_uid`,
//! `class_uid`, `severity_id`, `time`, `type_uid`, `metadata`), `metadata.uid` = the event id,
//! `metadata.correlation_uid` = the trace id, and what OCSF has no place for under `unmapped`:
//! the ECS `event` object (where a chained trail's `sequence` and `hash` go), the namespace's
//! fields (space, resource, diff, intent) and the labels.

use audit_schema::Outcome;

use super::{has_namespace_fields, write_error, write_event_fields, write_labels, EcsFormat};
use crate::leaf::json::{key, JsonObject};
use crate::model::{AuditEvent, HttpRequestInfo, User};

/// The OCSF version the lines follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.5.0";

/// An OCSF class.
struct Class {
    uid: u32,
    name: &'static str,
    category_uid: u32,
    category_name: &'static str,
}

const API_ACTIVITY: Class =
    Class { uid: 6003, name: "API Activity", category_uid: 6, category_name: "Application Activity" };
const AUTHENTICATION: Class =
    Class { uid: 3002, name: "Authentication", category_uid: 3, category_name: "Identity & Access Management" };
const ACCOUNT_CHANGE: Class =
    Class { uid: 3001, name: "Account Change", category_uid: 3, category_name: "Identity & Access Management" };
const ENTITY_MANAGEMENT: Class =
    Class { uid: 3004, name: "Entity Management", category_uid: 3, category_name: "Identity & Access Management" };
const HTTP_ACTIVITY: Class =
    Class { uid: 4002, name: "HTTP Activity", category_uid: 4, category_name: "Network Activity" };
const EVENT_LOG_ACTIVITY: Class =
    Class { uid: 1008, name: "Event Log Activity", category_uid: 1, category_name: "System Activity" };

/// What an event is in OCSF: its class and activity.
#[derive(Clone, Copy)]
struct Mapped {
    class: &'static Class,
    activity_id: u32,
    activity_name: &'static str,
}

/// Every class and activity an event can be mapped to.
const MAPPED: &[Mapped] = &[
    Mapped { class: &API_ACTIVITY, activity_id: 1, activity_name: "Create" },
    Mapped { class: &API_ACTIVITY, activity_id: 2, activity_name: "Read" },
    Mapped { class: &API_ACTIVITY, activity_id: 3, activity_name: "Update" },
    Mapped { class: &API_ACTIVITY, activity_id: 4, activity_name: "Delete" },
    Mapped { class: &API_ACTIVITY, activity_id: 99, activity_name: "Other" },
    Mapped { class: &AUTHENTICATION, activity_id: 1, activity_name: "Logon" },
    Mapped { class: &AUTHENTICATION, activity_id: 2, activity_name: "Logoff" },
    Mapped { class: &AUTHENTICATION, activity_id: 99, activity_name: "Other" },
    Mapped { class: &ACCOUNT_CHANGE, activity_id: 1, activity_name: "Create" },
    Mapped { class: &ACCOUNT_CHANGE, activity_id: 6, activity_name: "Delete" },
    Mapped { class: &ACCOUNT_CHANGE, activity_id: 99, activity_name: "Other" },
    Mapped { class: &ENTITY_MANAGEMENT, activity_id: 1, activity_name: "Create" },
    Mapped { class: &ENTITY_MANAGEMENT, activity_id: 2, activity_name: "Read" },
    Mapped { class: &ENTITY_MANAGEMENT, activity_id: 3, activity_name: "Update" },
    Mapped { class: &ENTITY_MANAGEMENT, activity_id: 4, activity_name: "Delete" },
    Mapped { class: &ENTITY_MANAGEMENT, activity_id: 99, activity_name: "Other" },
    Mapped { class: &HTTP_ACTIVITY, activity_id: 1, activity_name: "Connect" },
    Mapped { class: &HTTP_ACTIVITY, activity_id: 2, activity_name: "Delete" },
    Mapped { class: &HTTP_ACTIVITY, activity_id: 3, activity_name: "Get" },
    Mapped { class: &HTTP_ACTIVITY, activity_id: 4, activity_name: "Head" },
    Mapped { class: &HTTP_ACTIVITY, activity_id: 5, activity_name: "Options" },
    Mapped { class: &HTTP_ACTIVITY, activity_id: 6, activity_name: "Post" },
    Mapped { class: &HTTP_ACTIVITY, activity_id: 7, activity_name: "Put" },
    Mapped { class: &HTTP_ACTIVITY, activity_id: 8, activity_name: "Trace" },
    Mapped { class: &HTTP_ACTIVITY, activity_id: 99, activity_name: "Other" },
    Mapped { class: &EVENT_LOG_ACTIVITY, activity_id: 99, activity_name: "Other" },
];

/// The fields that name a class and activity (`"activity_id":1,…,"type_name":"API Activity:
/// Create"`), the same on every line of that pair: written once, copied after.
fn header(mapped: Mapped) -> &'static [u8] {
    static HEADERS: std::sync::OnceLock<Vec<Box<[u8]>>> = std::sync::OnceLock::new();
    let headers = HEADERS.get_or_init(|| {
        MAPPED
            .iter()
            .map(|mapped| {
                let mut out = Vec::with_capacity(256);
                let mut fields = JsonObject::begin(&mut out);
                let class = mapped.class;
                fields.u64(key!("activity_id"), u64::from(mapped.activity_id));
                fields.str(key!("activity_name"), mapped.activity_name);
                fields.u64(key!("category_uid"), u64::from(class.category_uid));
                fields.str(key!("category_name"), class.category_name);
                fields.u64(key!("class_uid"), u64::from(class.uid));
                fields.str(key!("class_name"), class.name);
                fields.u64(key!("type_uid"), u64::from(class.uid) * 100 + u64::from(mapped.activity_id));
                fields.str(key!("type_name"), &format!("{}: {}", class.name, mapped.activity_name));
                fields.end();
                // Without the braces: fields to copy into a line.
                out[1..out.len() - 1].to_vec().into_boxed_slice()
            })
            .collect()
    });
    let index = MAPPED
        .iter()
        .position(|m| std::ptr::eq(m.class, mapped.class) && m.activity_id == mapped.activity_id)
        .expect("every mapping is in MAPPED");
    &headers[index]
}

/// The end of `metadata`, the same on every line of `format`: `"log_name":…,"log_provider":…,
/// "product":{…},"version":"1.5.0"`.
pub(super) fn constant_metadata(format: &EcsFormat) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    let mut metadata = JsonObject::begin(&mut out);
    metadata.str(key!("log_name"), &format.namespace);
    metadata.str(key!("log_provider"), "audit-core");
    let mut product = metadata.object(key!("product"));
    product.str(key!("name"), format.service_name.as_deref().unwrap_or("audit-core"));
    let mut feature = product.object(key!("feature"));
    feature.str(key!("name"), "audit-core");
    feature.str(key!("version"), env!("CARGO_PKG_VERSION"));
    feature.end();
    product.end();
    metadata.str(key!("version"), OCSF_VERSION);
    metadata.end();
    out[1..out.len() - 1].to_vec()
}

/// The class and activity of `event`, from its ECS categories and types (and its HTTP method).
fn classify(event: &AuditEvent) -> Mapped {
    let has_category = |name: &str| event.categories.iter().any(|c| c.as_str() == name);
    let has_type = |name: &str| event.types.iter().any(|t| t.as_str() == name);
    let crud = |class: &'static Class| {
        let (activity_id, activity_name) = if has_type("creation") {
            (1, "Create")
        } else if has_type("deletion") {
            (4, "Delete")
        } else if has_type("change") {
            (3, "Update")
        } else if has_type("access") {
            (2, "Read")
        } else {
            (99, "Other")
        };
        Mapped { class, activity_id, activity_name }
    };
    if has_category("authentication") {
        let action = event.action.as_ref();
        let (activity_id, activity_name) = if action.contains("logout") || has_type("end") {
            (2, "Logoff")
        } else if action.contains("login") || has_type("start") {
            (1, "Logon")
        } else {
            (99, "Other")
        };
        return Mapped { class: &AUTHENTICATION, activity_id, activity_name };
    }
    if has_category("iam") {
        if has_type("user") {
            let (activity_id, activity_name) = if has_type("creation") {
                (1, "Create")
            } else if has_type("deletion") {
                (6, "Delete")
            } else {
                (99, "Other")
            };
            return Mapped { class: &ACCOUNT_CHANGE, activity_id, activity_name };
        }
        return crud(&ENTITY_MANAGEMENT);
    }
    if has_category("process") && event.action.starts_with("audit_") {
        return Mapped { class: &EVENT_LOG_ACTIVITY, activity_id: 99, activity_name: "Other" };
    }
    if has_category("web") || event.action == "http_request" {
        if let Some((activity_id, activity_name)) = event.http().and_then(|http| http_activity(http.method.as_deref()?))
        {
            return Mapped { class: &HTTP_ACTIVITY, activity_id, activity_name };
        }
    }
    crud(&API_ACTIVITY)
}

/// HTTP Activity's activity for a method.
fn http_activity(method: &str) -> Option<(u32, &'static str)> {
    Some(match method.to_ascii_uppercase().as_str() {
        "CONNECT" => (1, "Connect"),
        "DELETE" => (2, "Delete"),
        "GET" => (3, "Get"),
        "HEAD" => (4, "Head"),
        "OPTIONS" => (5, "Options"),
        "POST" => (6, "Post"),
        "PUT" => (7, "Put"),
        "TRACE" => (8, "Trace"),
        _ => (99, "Other"),
    })
}

/// `severity_id`, `severity`, `status_id`, `status` from the outcome.
fn status(outcome: Option<Outcome>) -> &'static [u8] {
    match outcome {
        Some(Outcome::Success) => br#""severity_id":1,"severity":"Informational","status_id":1,"status":"Success""#,
        Some(Outcome::Failure) => br#""severity_id":3,"severity":"Medium","status_id":2,"status":"Failure""#,
        _ => br#""severity_id":1,"severity":"Informational","status_id":0,"status":"Unknown""#,
    }
}

/// The parts of a line that come from an [`AuditContext`](crate::AuditContext) alone, each
/// serialized once per context (`"key":{…}`, or empty when the context has none): the events of
/// a request share them, as ECS lines share theirs.
struct ContextParts {
    actor: Box<[u8]>,
    user: Box<[u8]>,
    session: Box<[u8]>,
    src_endpoint: Box<[u8]>,
    http_request: Box<[u8]>,
}

impl ContextParts {
    /// The parts of `event`, which sets none of who and where itself (its context does).
    fn of(event: &AuditEvent, app: &str, field: usize) -> ContextParts {
        let part = |write: &dyn Fn(&mut JsonObject<'_>)| {
            let mut out = Vec::new();
            let mut object = JsonObject::begin_limited(&mut out, field);
            write(&mut object);
            object.end();
            out[1..out.len() - 1].to_vec().into_boxed_slice()
        };
        ContextParts {
            actor: part(&|line| write_actor(line, event, app)),
            user: part(&|line| write_named_user(line, event)),
            session: part(&|line| write_session(line, event)),
            src_endpoint: part(&|line| write_src_endpoint(line, event, app)),
            http_request: part(&|line| write_http_request(line, event.http())),
        }
    }
}

/// Who and where: from the context's cached parts, or written from the event.
struct Origin<'a> {
    cached: Option<&'a ContextParts>,
    event: &'a AuditEvent,
    app: &'a str,
}

impl Origin<'_> {
    /// The cached part `cached`, or the part written by `write` from the event.
    fn part(
        &self,
        line: &mut JsonObject<'_>,
        cached: impl FnOnce(&ContextParts) -> &[u8],
        write: impl FnOnce(&mut JsonObject<'_>),
    ) {
        match self.cached {
            Some(parts) => line.fields(cached(parts)),
            None => write(line),
        }
    }

    fn actor(&self, line: &mut JsonObject<'_>) {
        self.part(line, |parts| &parts.actor, |line| write_actor(line, self.event, self.app));
    }

    fn user(&self, line: &mut JsonObject<'_>) {
        self.part(line, |parts| &parts.user, |line| write_named_user(line, self.event));
    }

    fn session(&self, line: &mut JsonObject<'_>) {
        self.part(line, |parts| &parts.session, |line| write_session(line, self.event));
    }

    fn src_endpoint(&self, line: &mut JsonObject<'_>) {
        self.part(line, |parts| &parts.src_endpoint, |line| write_src_endpoint(line, self.event, self.app));
    }

    fn http_request(&self, line: &mut JsonObject<'_>) {
        self.part(line, |parts| &parts.http_request, |line| write_http_request(line, self.event.http()));
    }
}

/// Writes `event` as one OCSF line of `format`'s settings: strings cut at `field` bytes, lists
/// at `items` values.
pub(super) fn write(format: &EcsFormat, event: &AuditEvent, out: &mut Vec<u8>, field: usize, items: usize) {
    let mapped = classify(event);
    let class = mapped.class;
    let mut line = JsonObject::begin_limited(out, field).with_item_limit(items);
    line.fields(header(mapped));
    let millis = event.timestamp.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    line.u64(key!("time"), u64::try_from(millis).unwrap_or(u64::MAX));
    line.string_with(key!("message"), |text| event.write_message(|piece| text.push(piece)));
    line.fields(status(event.outcome));
    if let Some(error) = &event.error {
        line.opt_str(key!("status_code"), error.code.as_deref().or(error.kind.as_deref()));
    }
    match (&event.error, &event.reason) {
        (Some(error), _) if error.message.is_some() => line.opt_str(key!("status_detail"), error.message.as_deref()),
        (_, Some(reason)) => line.str(key!("status_detail"), reason),
        _ => {}
    }
    if let Some(duration) = event.duration {
        line.u64(key!("duration"), u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
    }
    write_metadata(format, &mut line, event);
    // Before anything else that is an object of its own: the ECS `event` object under
    // `unmapped` is the first `"event":{` of the line, where a chained trail's link goes.
    write_unmapped(format, &mut line, event, field, items);
    let app = format.service_name.as_deref().unwrap_or("audit-core");
    // Who and where: copied from the context's cached parts when the event overrides none of it
    // (and the line is written at the format's own limits, which the cache was made at).
    let cached = match event.context_alone() {
        Some(context) if field == format.max_field_bytes && items == usize::MAX => {
            context.rendered(format.key, || ContextParts::of(event, app, field))
        }
        _ => None,
    };
    let origin = Origin { cached, event, app };
    match class.uid {
        6003 => {
            origin.actor(&mut line);
            let mut api = line.object(key!("api"));
            api.str(key!("operation"), &event.action);
            api.object(key!("service")).str_end(key!("name"), app);
            if let Some(error) = &event.error {
                let mut response = api.object(key!("response"));
                response.opt_str(key!("error"), error.code.as_deref().or(error.kind.as_deref()));
                response.opt_str(key!("error_message"), error.message.as_deref());
                response.end();
            }
            api.end();
            write_resources(format, &mut line, event);
            origin.src_endpoint(&mut line);
            origin.http_request(&mut line);
        }
        3002 => {
            origin.actor(&mut line);
            origin.user(&mut line);
            origin.session(&mut line);
            line.object(key!("service")).str_end(key!("name"), app);
            origin.src_endpoint(&mut line);
            origin.http_request(&mut line);
        }
        3001 => {
            origin.actor(&mut line);
            // The account changed: the resource the event names, else the user acting.
            let target =
                event.resource.as_ref().and_then(|resource| resource.id.as_deref().or(resource.name.as_deref()));
            match (target, event.user()) {
                (Some(target), _) => line.object(key!("user")).str_end(key!("name"), target),
                (None, Some(user)) if named(user) => write_user(&mut line, key!("user"), user),
                _ => line.object(key!("user")).str_end(key!("name"), "unknown"),
            }
            origin.src_endpoint(&mut line);
            origin.http_request(&mut line);
        }
        3004 => {
            origin.actor(&mut line);
            let mut entity = line.object(key!("entity"));
            match &event.resource {
                Some(resource) => {
                    entity.str(key!("type"), &resource.kind);
                    match (&resource.id, &resource.name) {
                        (None, None) => entity.str(key!("name"), &resource.kind),
                        (id, name) => {
                            entity.opt_str(key!("uid"), id.as_deref());
                            entity.opt_str(key!("name"), name.as_deref().filter(|_| format.include_resource_names));
                            if id.is_none() && !format.include_resource_names {
                                entity.str(key!("name"), &resource.kind);
                            }
                        }
                    }
                }
                None => entity.str(key!("name"), &event.action),
            }
            entity.end();
            origin.src_endpoint(&mut line);
            origin.http_request(&mut line);
        }
        4002 => {
            origin.src_endpoint(&mut line);
            origin.http_request(&mut line);
        }
        _ => {
            // Event Log Activity: the trail itself.
            origin.actor(&mut line);
            line.str(key!("log_name"), &format.namespace);
            line.str(key!("log_provider"), "audit-core");
        }
    }
    line.end();
}

fn write_metadata(format: &EcsFormat, line: &mut JsonObject<'_>, event: &AuditEvent) {
    let mut metadata = line.object(key!("metadata"));
    metadata.str(key!("uid"), event.id.as_str());
    metadata.opt_str(key!("correlation_uid"), event.trace_id());
    metadata.str(key!("event_code"), &event.action);
    metadata.fields(&format.ocsf_metadata);
    metadata.end();
}

/// `unmapped`: the ECS `event` object, the namespace's fields, the labels.
fn write_unmapped(format: &EcsFormat, line: &mut JsonObject<'_>, event: &AuditEvent, field: usize, items: usize) {
    let mut unmapped = line.object(key!("unmapped"));
    write_event_fields(&mut unmapped, event);
    if event.space_id().is_some() || has_namespace_fields(event) {
        write_namespace(format, &mut unmapped, event, field, items);
    }
    if let Some(error) = &event.error {
        write_error(&mut unmapped, error);
    }
    if !event.labels.is_empty() {
        write_labels(&mut unmapped, &event.labels);
    }
    unmapped.end();
}

/// The namespace's fields (space, resource, authentication, spaces, intent, diff), as in ECS.
fn write_namespace(format: &EcsFormat, unmapped: &mut JsonObject<'_>, event: &AuditEvent, field: usize, items: usize) {
    let mut namespace = unmapped.dynamic_object(&format.namespace);
    namespace.opt_str(key!("space_id"), event.space_id());
    format.write_namespace_fields(&mut namespace, event, field, items);
    namespace.end();
}

/// Whether OCSF can name `user` (it needs a name or an id).
fn named(user: &User) -> bool {
    user.name.is_some() || user.id.is_some()
}

fn write_user(line: &mut JsonObject<'_>, key: crate::leaf::json::Key, user: &User) {
    let mut object = line.object(key);
    object.opt_str(key!("uid"), user.id.as_deref());
    object.opt_str(key!("name"), user.name.as_deref());
    object.opt_str(key!("email_addr"), user.email.as_deref());
    object.opt_str(key!("full_name"), user.full_name.as_deref());
    if !user.roles.is_empty() {
        // Roles are groups the user is in, as OCSF has them.
        object.raw_with(key!("groups"), |out| {
            out.push(b'[');
            for (index, role) in user.roles.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                let mut group = JsonObject::begin(out);
                group.str(key!("name"), role);
                group.end();
            }
            out.push(b']');
        });
    }
    object.end();
}

/// `user`, when OCSF can name the event's user.
fn write_named_user(line: &mut JsonObject<'_>, event: &AuditEvent) {
    if let Some(user) = event.user().filter(|user| named(user)) {
        write_user(line, key!("user"), user);
    }
}

/// `session`, when the event has one.
fn write_session(line: &mut JsonObject<'_>, event: &AuditEvent) {
    if let Some(session) = event.session_id() {
        line.object(key!("session")).str_end(key!("uid"), session);
    }
}

/// `actor`: the user (when named), the session, and the application.
fn write_actor(line: &mut JsonObject<'_>, event: &AuditEvent, app: &str) {
    let mut actor = line.object(key!("actor"));
    write_named_user(&mut actor, event);
    write_session(&mut actor, event);
    actor.str(key!("app_name"), app);
    actor.end();
}

/// `src_endpoint`: the client's address; without one (a call from within the service), the
/// service itself.
fn write_src_endpoint(line: &mut JsonObject<'_>, event: &AuditEvent, app: &str) {
    let mut endpoint = line.object(key!("src_endpoint"));
    match event.client_ip() {
        Some(ip) => endpoint.display(key!("ip"), ip),
        None => endpoint.str(key!("svc_name"), app),
    }
    endpoint.end();
}

/// `resources`: the resource the event names.
fn write_resources(format: &EcsFormat, line: &mut JsonObject<'_>, event: &AuditEvent) {
    let Some(resource) = &event.resource else { return };
    let name = resource.name.as_deref().filter(|_| format.include_resource_names);
    line.raw_with(key!("resources"), |out| {
        out.push(b'[');
        let mut object = JsonObject::begin(out);
        object.str(key!("type"), &resource.kind);
        match (&resource.id, name) {
            (None, None) => object.str(key!("name"), &resource.kind),
            (id, name) => {
                object.opt_str(key!("uid"), id.as_deref());
                object.opt_str(key!("name"), name);
            }
        }
        object.end();
        out.push(b']');
    });
}

/// `http_request`: method, URL, user agent, forwarded addresses.
fn write_http_request(line: &mut JsonObject<'_>, http: Option<&HttpRequestInfo>) {
    let Some(http) = http else { return };
    let mut request = line.object(key!("http_request"));
    request.opt_str(key!("http_method"), http.method.as_deref());
    if let Some(path) = &http.path {
        let mut url = request.object(key!("url"));
        url.str(key!("path"), path);
        url.opt_str(key!("query_string"), http.query.as_deref());
        url.opt_str(key!("hostname"), http.domain.as_deref());
        if let Some(port) = http.port {
            url.u64(key!("port"), u64::from(port));
        }
        url.opt_str(key!("scheme"), http.scheme.as_deref());
        url.end();
    }
    request.opt_str(key!("user_agent"), http.user_agent.as_deref());
    if let Some(forwarded) = &http.forwarded_for {
        request.strs(key!("x_forwarded_for"), forwarded.split(',').map(str::trim).filter(|s| !s.is_empty()));
    }
    request.end();
}
