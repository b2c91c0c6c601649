//! [`AuditEvent`]: one audit record, "who did what to which resource, when, and was it allowed".
//!
//! Events are usually made by `#[audited]`; build one by hand for anything the attribute does not
//! cover (see [`AuditEvent::new`]). Its message follows Kibana's grammar ([`AuditEvent::default_message`]); how
//! it becomes an ECS JSON line is the output layer's job ([`EcsFormat`](crate::EcsFormat)).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::context::AuditContext;
use super::origin::Origin;
use super::parts::{AuthenticationInfo, ErrorInfo, HttpRequestInfo, Resource, User};
use crate::leaf::event_id::EventId;
use crate::leaf::patch::Diff;
use audit_schema::{Action, Category, EventType, Outcome};

/// What a write's result event carries beyond an ordinary event (see
/// [`Action::with_results`] and [`changes`](crate::changes)).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct WriteResult {
    /// `<namespace>.intent_event_id`: the `event.id` of the intent event logged before the
    /// write ran.
    pub intent_id: Option<EventId>,
    /// `<namespace>.diff`: what the write changed, in Kibana's `json_patch_extended` shape.
    pub diff: Option<Arc<Diff>>,
}

impl WriteResult {
    /// The result of the write whose intent had `intent_id`, with what it changed.
    pub fn new(intent_id: Option<EventId>, diff: Option<Arc<Diff>>) -> WriteResult {
        WriteResult { intent_id, diff }
    }
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
    /// `event.id`: unique to this event, made with it, and the same in every copy of it (every
    /// sink, every destination a shipper delivers to), so duplicates can be recognized.
    pub id: EventId,
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
    /// Who and where, unless [`origin`](AuditEvent::origin) says otherwise: the user, session,
    /// space, client, HTTP request and trace id of the context the event happened in. Held whole
    /// (one reference count) rather than copied field by field, which keeps a hot path cheap.
    pub context: Option<AuditContext>,
    /// Who and where, set on the event itself: each field set here wins over the context's.
    pub origin: Origin,
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
    /// On a write's result event: its intent's id and what the write changed (boxed: only
    /// result events have it, and events are moved by value).
    pub result: Option<Box<WriteResult>>,
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
        AuditEvent::blank(
            timestamp,
            Cow::Borrowed(action.name()),
            Cow::Borrowed(action.categories()),
            Cow::Borrowed(action.types()),
            Some(action),
        )
    }

    /// An event with nothing set but what it is.
    fn blank(
        timestamp: SystemTime,
        action: Cow<'static, str>,
        categories: Cow<'static, [Category]>,
        types: Cow<'static, [EventType]>,
        grammar: Option<&'static Action>,
    ) -> AuditEvent {
        AuditEvent {
            id: EventId::new(),
            timestamp,
            message: String::new(),
            action,
            categories,
            types,
            outcome: None,
            duration: None,
            reason: None,
            context: None,
            origin: Origin::default(),
            resource: None,
            authentication: None,
            add_to_spaces: Vec::new(),
            delete_from_spaces: Vec::new(),
            error: None,
            labels: Vec::new(),
            result: None,
            grammar,
        }
    }

    /// An event for an action known only at run time. Its default message conjugates the verb
    /// its name ends in (`…_export`), or reads "performed \[action\] on …" when there is none.
    pub fn custom(
        action: impl Into<Cow<'static, str>>,
        categories: impl Into<Cow<'static, [Category]>>,
        types: impl Into<Cow<'static, [EventType]>>,
    ) -> AuditEvent {
        AuditEvent::blank(SystemTime::now(), action.into(), categories.into(), types.into(), None)
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
        self.origin.user = Some(Arc::new(user));
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
        self.origin.trace_id = Some(trace_id.into());
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

    /// Sets `<namespace>.intent_event_id`: this event is the result of the write whose intent
    /// event had `intent`.
    pub fn with_intent(mut self, intent: EventId) -> AuditEvent {
        self.result.get_or_insert_with(Box::default).intent_id = Some(intent);
        self
    }

    /// Sets `<namespace>.diff`.
    pub fn with_diff(mut self, diff: Diff) -> AuditEvent {
        self.result.get_or_insert_with(Box::default).diff = Some(Arc::new(diff));
        self
    }

    /// `<namespace>.intent_event_id`: on a write's result event, its intent's `event.id`.
    pub fn intent_id(&self) -> Option<EventId> {
        self.result.as_ref().and_then(|result| result.intent_id)
    }

    /// `<namespace>.diff`: on a write's result event, what the write changed.
    pub fn diff(&self) -> Option<&Diff> {
        self.result.as_ref().and_then(|result| result.diff.as_deref())
    }

    /// `user.name`, if known.
    pub fn user_name(&self) -> Option<&str> {
        self.user().and_then(|user| user.name.as_deref())
    }

    /// A field of who and where: the event's own, else its context's.
    fn pick<'a, T: 'a>(&'a self, field: impl Fn(&'a Origin) -> Option<T>) -> Option<T> {
        field(&self.origin).or_else(|| self.context.as_deref().and_then(field))
    }

    /// The user: the event's own, else its context's.
    pub fn user(&self) -> Option<&User> {
        self.pick(Origin::user)
    }

    /// The session id: the event's own, else its context's.
    pub fn session_id(&self) -> Option<&str> {
        self.pick(Origin::session_id)
    }

    /// The space or tenant: the event's own, else its context's.
    pub fn space_id(&self) -> Option<&str> {
        self.pick(Origin::space_id)
    }

    /// The client's IP address: the event's own, else its context's.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.pick(Origin::client_ip)
    }

    /// The HTTP request: the event's own, else its context's.
    pub fn http(&self) -> Option<&HttpRequestInfo> {
        self.pick(Origin::http)
    }

    /// `trace.id`: the event's own, else its context's.
    pub fn trace_id(&self) -> Option<&str> {
        self.pick(Origin::trace_id)
    }

    /// The event's context, if the event sets none of who and where itself (then the context's
    /// serialized fields can stand for them).
    pub(crate) fn context_alone(&self) -> Option<&AuditContext> {
        if self.origin.is_empty() {
            self.context.as_ref()
        } else {
            None
        }
    }
}
