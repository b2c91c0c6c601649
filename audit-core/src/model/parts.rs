//! The values an event is made of: the user ([`User`]), the resource ([`Resource`]), the error
//! ([`ErrorInfo`]), the HTTP request ([`HttpRequestInfo`]) and how the user authenticated
//! ([`AuthenticationInfo`]). Plain data, each named after the ECS fields it fills.

use std::borrow::Cow;

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
