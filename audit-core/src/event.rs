//! [`AuditEvent`]: one audit record, "who did what to which resource, when, and was it allowed".
//!
//! Events are usually made by `#[audited]`; build one by hand for anything the attribute does not
//! cover (see [`AuditEvent::new`]). How an event becomes an ECS JSON line is [`crate::format`]'s job.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::context::AuditContext;
use crate::{Action, Category, EventType, Outcome};

/// The user an event is about: ECS `user.*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// `user.id`: a stable identifier (Kibana uses the profile uid).
    pub id: Option<String>,
    /// `user.name`: the login name.
    pub name: Option<String>,
    /// `user.roles`: the roles the user had when the event happened.
    pub roles: Vec<String>,
    /// `user.email`, when known.
    pub email: Option<String>,
    /// `user.full_name`, when known.
    pub full_name: Option<String>,
    /// `user.hash`: identifies the user in anonymized form (Kibana's `session_cleanup`).
    pub hash: Option<String>,
}

impl User {
    /// A user known by login name.
    pub fn named(name: impl Into<String>) -> User {
        User { name: Some(name.into()), ..User::default() }
    }

    /// Sets `user.id`.
    pub fn with_id(mut self, id: impl Into<String>) -> User {
        self.id = Some(id.into());
        self
    }

    /// Sets `user.roles`.
    pub fn with_roles<I, S>(mut self, roles: I) -> User
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `user.email`.
    pub fn with_email(mut self, email: impl Into<String>) -> User {
        self.email = Some(email.into());
        self
    }

    /// A user known only by an anonymizing hash (`user.hash`).
    pub fn hashed(hash: impl Into<String>) -> User {
        User { hash: Some(hash.into()), ..User::default() }
    }

    /// Sets `user.full_name`.
    pub fn with_full_name(mut self, full_name: impl Into<String>) -> User {
        self.full_name = Some(full_name.into());
        self
    }
}

/// The resource an event is about: Kibana's `kibana.saved_object.{type,id,name}`, under the
/// namespace the [`EcsFormat`](crate::EcsFormat) picks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The resource's type, e.g. `dashboard`.
    pub kind: Cow<'static, str>,
    /// Its identifier.
    pub id: Option<String>,
    /// Its human-readable name (dropped from the output when the logger is told not to include
    /// resource names, like Kibana's `include_saved_object_names: false`).
    pub name: Option<String>,
}

impl Resource {
    /// A resource of type `kind` with identifier `id`.
    pub fn new(kind: impl Into<Cow<'static, str>>, id: impl Into<String>) -> Resource {
        Resource { kind: kind.into(), id: Some(id.into()), name: None }
    }

    /// Sets the resource's name.
    pub fn with_name(mut self, name: impl Into<String>) -> Resource {
        self.name = Some(name.into());
        self
    }
}

/// What went wrong: ECS `error.*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorInfo {
    /// `error.code`, for errors that provide one (see [`AuditErrorCode`](crate::AuditErrorCode)).
    pub code: Option<String>,
    /// `error.message`: the error's `Display` (or `Debug` when it has no `Display`).
    pub message: Option<String>,
    /// `error.type`: the error's Rust type, or `panic` / `cancelled`.
    pub kind: Option<String>,
}

impl ErrorInfo {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> ErrorInfo {
        ErrorInfo { message: Some(message.into()), ..ErrorInfo::default() }
    }

    /// Sets `error.code`.
    pub fn with_code(mut self, code: impl Into<String>) -> ErrorInfo {
        self.code = Some(code.into());
        self
    }

    /// Sets `error.type`.
    pub fn with_kind(mut self, kind: impl Into<String>) -> ErrorInfo {
        self.kind = Some(kind.into());
        self
    }

    /// The record of any `std::error::Error`: its message, and its type as `error.type`.
    pub fn from_error<E: std::error::Error + ?Sized>(error: &E) -> ErrorInfo {
        ErrorInfo::new(error.to_string()).with_kind(std::any::type_name::<E>())
    }
}

/// The HTTP request an event happened in: ECS `http.request.method`, `url.*`, `user_agent.original`
/// and the `x-forwarded-for` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequestInfo {
    /// `http.request.method`, as Kibana writes it (lower case).
    pub method: Option<String>,
    /// `url.path`.
    pub path: Option<String>,
    /// `url.query`.
    pub query: Option<String>,
    /// `url.domain`.
    pub domain: Option<String>,
    /// `url.port`.
    pub port: Option<u16>,
    /// `url.scheme`.
    pub scheme: Option<String>,
    /// `user_agent.original`.
    pub user_agent: Option<String>,
    /// `http.request.headers.x-forwarded-for`, values joined with ", ".
    pub forwarded_for: Option<String>,
}

/// How the user authenticated: Kibana's `authentication_provider`, `authentication_type`,
/// `authentication_realm` and `lookup_realm`, under the format's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthenticationInfo {
    /// Provider name, e.g. `my-saml-provider`.
    pub provider: Option<String>,
    /// Provider type, e.g. `saml`, `basic`.
    pub kind: Option<String>,
    /// The realm that authenticated the user.
    pub realm: Option<String>,
    /// The realm the user was looked up in.
    pub lookup_realm: Option<String>,
}

/// One audit event. Serialized by [`EcsFormat`](crate::EcsFormat) to one ECS JSON line.
///
/// ```
/// use audit_core::{kibana, AuditEvent, Outcome, Resource};
///
/// let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
///     .with_outcome(Outcome::Success)
///     .with_resource(Resource::new("dashboard", "123"));
/// assert_eq!(event.action, "saved_object_get");
/// assert_eq!(event.default_message(), "User has accessed dashboard [id=123]");
/// ```
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// `@timestamp`.
    pub timestamp: SystemTime,
    /// `message`. Empty means "the default message of the action" ([`AuditEvent::default_message`]).
    pub message: String,
    /// `event.action`.
    pub action: Cow<'static, str>,
    /// `event.category`.
    pub categories: Cow<'static, [Category]>,
    /// `event.type` (omitted from the line when empty, as Kibana does for authentication events).
    pub types: Cow<'static, [EventType]>,
    /// `event.outcome`.
    pub outcome: Option<Outcome>,
    /// `event.duration`, for events logged after the operation completed.
    pub duration: Option<Duration>,
    /// `event.reason`.
    pub reason: Option<String>,
    /// Who and where, unless the fields below say otherwise: `user.*`, the session and space,
    /// `client.ip`, the HTTP request and `trace.id` come from here. Held whole (one reference
    /// count) rather than copied field by field, which keeps a hot path cheap.
    pub context: Option<AuditContext>,
    /// `user.*`, overriding the context's.
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
    /// `<namespace>.saved_object.*` (Kibana's name for the resource).
    pub resource: Option<Resource>,
    /// `<namespace>.authentication_*` (boxed: rarely set, and events are moved by value).
    pub authentication: Option<Box<AuthenticationInfo>>,
    /// `<namespace>.add_to_spaces`: spaces a resource is being shared to.
    pub add_to_spaces: Vec<String>,
    /// `<namespace>.delete_from_spaces`: spaces a resource is being removed from.
    pub delete_from_spaces: Vec<String>,
    /// `error.*` (boxed: rarely set, and events are moved by value).
    pub error: Option<Box<ErrorInfo>>,
    /// `labels`: extra named values (`#[audited(fields(...))]`), ECS's place for custom keywords.
    pub labels: Vec<(Cow<'static, str>, String)>,
    /// The action's verbs and object, for the default message.
    pub(crate) grammar: Option<&'static Action>,
}

impl AuditEvent {
    /// An event for `action`, stamped now, with no outcome yet and no context.
    pub fn new(action: &'static Action) -> AuditEvent {
        AuditEvent::at(action, SystemTime::now())
    }

    /// An event for `action` stamped `timestamp` (events of one operation share one clock read).
    pub(crate) fn at(action: &'static Action, timestamp: SystemTime) -> AuditEvent {
        AuditEvent {
            timestamp,
            message: String::new(),
            action: Cow::Borrowed(action.name()),
            categories: Cow::Borrowed(action.categories()),
            types: Cow::Borrowed(action.types()),
            outcome: None,
            duration: None,
            reason: None,
            context: None,
            user: None,
            session_id: None,
            space_id: None,
            client_ip: None,
            http: None,
            trace_id: None,
            resource: None,
            authentication: None,
            add_to_spaces: Vec::new(),
            delete_from_spaces: Vec::new(),
            error: None,
            labels: Vec::new(),
            grammar: Some(action),
        }
    }

    /// An event for an action known only at run time. Its default message conjugates the verb
    /// its name ends in (`…_export`), or reads "performed \[action\] on …" when there is none.
    pub fn custom(
        action: impl Into<Cow<'static, str>>,
        categories: impl Into<Cow<'static, [Category]>>,
        types: impl Into<Cow<'static, [EventType]>>,
    ) -> AuditEvent {
        AuditEvent {
            timestamp: SystemTime::now(),
            message: String::new(),
            action: action.into(),
            categories: categories.into(),
            types: types.into(),
            outcome: None,
            duration: None,
            reason: None,
            user: None,
            session_id: None,
            space_id: None,
            client_ip: None,
            http: None,
            trace_id: None,
            resource: None,
            authentication: None,
            add_to_spaces: Vec::new(),
            delete_from_spaces: Vec::new(),
            error: None,
            labels: Vec::new(),
            context: None,
            grammar: None,
        }
    }

    /// Takes who and where from `context`: user, session, space, source IP, HTTP request and
    /// trace id. Values set on the event itself win over the context's.
    pub fn with_context(mut self, context: &AuditContext) -> AuditEvent {
        self.context = Some(context.clone());
        self
    }

    /// Sets `event.outcome`.
    pub fn with_outcome(mut self, outcome: Outcome) -> AuditEvent {
        self.outcome = Some(outcome);
        self
    }

    /// Sets `message`.
    pub fn with_message(mut self, message: impl Into<String>) -> AuditEvent {
        self.message = message.into();
        self
    }

    /// Sets the resource.
    pub fn with_resource(mut self, resource: Resource) -> AuditEvent {
        self.resource = Some(resource);
        self
    }

    /// Sets `user.*`.
    pub fn with_user(mut self, user: User) -> AuditEvent {
        self.user = Some(Arc::new(user));
        self
    }

    /// Sets `error.*`, and the outcome to `failure`.
    pub fn with_error(mut self, error: ErrorInfo) -> AuditEvent {
        self.error = Some(Box::new(error));
        self.outcome = Some(Outcome::Failure);
        self
    }

    /// Sets `trace.id`.
    pub fn with_trace_id(mut self, trace_id: impl Into<Arc<str>>) -> AuditEvent {
        self.trace_id = Some(trace_id.into());
        self
    }

    /// Sets `event.duration`.
    pub fn with_duration(mut self, duration: Duration) -> AuditEvent {
        self.duration = Some(duration);
        self
    }

    /// Sets `event.reason`.
    pub fn with_reason(mut self, reason: impl Into<String>) -> AuditEvent {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the authentication details.
    pub fn with_authentication(mut self, authentication: AuthenticationInfo) -> AuditEvent {
        self.authentication = Some(Box::new(authentication));
        self
    }

    /// Adds a label (`labels.<key>`). ECS label keys may not contain `.`, `*` or `\`; those are
    /// replaced by `_` when the line is written.
    pub fn with_label(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) -> AuditEvent {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// The message as it will be written: [`AuditEvent::message`] if set, else Kibana's grammar:
    /// `Failed attempt to {present} {doc}` with an error or outcome `failure`,
    /// `User is {progressive} {doc}` for outcome `unknown`, `User has {past} {doc}` otherwise,
    /// where `doc` is `{type} [id={id}]` for a resource and the action's object otherwise.
    pub fn default_message(&self) -> String {
        DefaultMessage(self).to_string()
    }

    /// The message to write: the explicit one, or the default.
    pub fn rendered_message(&self) -> Cow<'_, str> {
        if self.message.is_empty() {
            Cow::Owned(self.default_message())
        } else {
            Cow::Borrowed(&self.message)
        }
    }

    /// The message to write, as a `Display` that writes it without allocating.
    pub fn message_display(&self) -> impl std::fmt::Display + '_ {
        MessageDisplay(self)
    }

    /// `user.name`, if known.
    pub fn user_name(&self) -> Option<&str> {
        self.user().and_then(|user| user.name.as_deref())
    }

    /// The user: the event's own, else its context's.
    pub fn user(&self) -> Option<&User> {
        self.user.as_deref().or_else(|| self.context.as_ref().and_then(AuditContext::user))
    }

    /// The event's context, if the event overrides none of the context's fields (then the
    /// context's serialized JSON can stand for them).
    pub(crate) fn context_alone(&self) -> Option<&AuditContext> {
        let overrides = self.user.is_some()
            || self.session_id.is_some()
            || self.space_id.is_some()
            || self.client_ip.is_some()
            || self.http.is_some()
            || self.trace_id.is_some();
        if overrides {
            None
        } else {
            self.context.as_ref()
        }
    }

    /// The session id: the event's own, else its context's.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref().or_else(|| self.context.as_ref().and_then(AuditContext::session_id))
    }

    /// The space or tenant: the event's own, else its context's.
    pub fn space_id(&self) -> Option<&str> {
        self.space_id.as_deref().or_else(|| self.context.as_ref().and_then(AuditContext::space_id))
    }

    /// The client's IP address: the event's own, else its context's.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip.or_else(|| self.context.as_ref().and_then(AuditContext::client_ip))
    }

    /// The HTTP request: the event's own, else its context's.
    pub fn http(&self) -> Option<&HttpRequestInfo> {
        self.http.as_deref().or_else(|| self.context.as_ref().and_then(AuditContext::http))
    }

    /// `trace.id`: the event's own, else its context's.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref().or_else(|| self.context.as_ref().and_then(AuditContext::trace_id))
    }
}

/// The explicit message, or the default one.
struct MessageDisplay<'a>(&'a AuditEvent);

impl std::fmt::Display for MessageDisplay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut result = Ok(());
        self.0.write_message(|piece| {
            if result.is_ok() {
                result = f.write_str(piece);
            }
        });
        result
    }
}

/// Kibana's message grammar (see [`AuditEvent::default_message`]).
struct DefaultMessage<'a>(&'a AuditEvent);

impl std::fmt::Display for DefaultMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut result = Ok(());
        self.0.write_default_message(&mut |piece: &str| {
            if result.is_ok() {
                result = f.write_str(piece);
            }
        });
        result
    }
}

impl AuditEvent {
    /// Hands the message to `piece`, piece by piece, without allocating: the explicit message,
    /// or Kibana's grammar.
    pub(crate) fn write_message(&self, mut piece: impl FnMut(&str)) {
        if self.message.is_empty() {
            self.write_default_message(&mut piece);
        } else {
            piece(&self.message);
        }
    }

    fn write_default_message(&self, piece: &mut dyn FnMut(&str)) {
        let verbs = match self.grammar {
            Some(action) => action.verbs(),
            None => audit_schema::verbs::infer(&self.action)
                .map(|found| found.verbs)
                .unwrap_or(audit_schema::Verbs::new("perform", "performing", "performed")),
        };
        if self.error.is_some() || self.outcome == Some(Outcome::Failure) {
            piece("Failed attempt to ");
            piece(verbs.present);
        } else if self.outcome == Some(Outcome::Unknown) {
            piece("User is ");
            piece(verbs.progressive);
        } else {
            piece("User has ");
            piece(verbs.past);
        }
        piece(" ");
        if verbs.present == "perform" {
            piece("[");
            piece(&self.action);
            piece("] on ");
        }
        match &self.resource {
            Some(Resource { kind, id: Some(id), .. }) => {
                piece(kind);
                piece(" [id=");
                piece(id);
                piece("]");
            }
            Some(Resource { kind, id: None, .. }) => piece(kind),
            None => match self.grammar {
                Some(action) => piece(&action.object()),
                None => piece(&audit_schema::verbs::object_of(&self.action)),
            },
        }
    }
}
