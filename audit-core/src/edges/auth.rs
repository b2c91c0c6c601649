//! Authentication events, shaped like Kibana's `user_login`, `user_logout` and `session_cleanup`
//! (same actions, categories, outcomes, messages and `<namespace>.authentication_*` fields), so
//! that a trail reads the same whoever logged the user in.
//!
//! ```
//! use audit_core::{auth, AuditLogger, User};
//!
//! let (logger, trail) = AuditLogger::capture();
//! let provider = auth::Provider::new("basic", "basic1").with_realm("native1");
//! logger.log(auth::login_success(User::named("alice").with_roles(["editor"]), &provider, "session-1")).unwrap();
//! logger.log(auth::login_failure(Some("mallory"), &provider, "invalid credentials")).unwrap();
//! let events = trail.json();
//! assert_eq!(events[0]["message"], "User [alice] has logged in using basic provider [name=basic1]");
//! assert_eq!(events[1]["event"]["outcome"], "failure");
//! assert_eq!(events[1]["error"]["message"], "invalid credentials");
//! ```

use std::sync::Arc;

use crate::model::{AuditEvent, AuthenticationInfo, ErrorInfo, User};
use audit_schema::{kibana, Outcome};

/// How a user authenticates: Kibana's provider type and name, and the realm that vouched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// The provider's type, e.g. `basic`, `saml`, `oidc`, `token`.
    pub kind: String,
    /// The provider's configured name, e.g. `basic1`, `my-saml-provider`.
    pub name: String,
    /// The realm that authenticated the user.
    pub realm: Option<String>,
}

impl Provider {
    /// A provider of type `kind` named `name`.
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Provider {
        Provider { kind: kind.into(), name: name.into(), realm: None }
    }

    /// Sets the realm.
    pub fn with_realm(mut self, realm: impl Into<String>) -> Provider {
        self.realm = Some(realm.into());
        self
    }

    fn info(&self) -> AuthenticationInfo {
        AuthenticationInfo {
            provider: Some(self.name.clone()),
            kind: Some(self.kind.clone()),
            realm: self.realm.clone(),
            lookup_realm: None,
        }
    }
}

/// `user_login`, outcome `success`: "User \[alice\] has logged in using basic provider \[name=basic1\]".
/// Carries the new session's id (Kibana once forgot it; its users asked for it).
pub fn login_success(user: User, provider: &Provider, session_id: &str) -> AuditEvent {
    session_event(&kibana::USER_LOGIN, Outcome::Success, "has logged in", user, provider, session_id)
}

/// `user_login`, outcome `failure`, with the reason in `error.message`: "Failed attempt to login
/// using basic provider [name=basic1]". The attempted user name, when known, goes in `user.name`.
pub fn login_failure(attempted_user: Option<&str>, provider: &Provider, reason: &str) -> AuditEvent {
    let mut event = AuditEvent::new(&kibana::USER_LOGIN)
        .with_message(format!("Failed attempt to login using {} provider [name={}]", provider.kind, provider.name))
        .with_authentication(provider.info())
        .with_error(ErrorInfo::new(reason).with_code("authentication_failed"));
    event.origin.user = attempted_user.map(|name| Arc::new(User::named(name)));
    event
}

/// `user_logout`, outcome `unknown` (logged before the session is invalidated):
/// "User \[alice\] is logging out using basic provider \[name=basic1\]".
pub fn logout(user: User, provider: &Provider, session_id: &str) -> AuditEvent {
    session_event(&kibana::USER_LOGOUT, Outcome::Unknown, "is logging out", user, provider, session_id)
}

/// "User [name] {what} using {type} provider [name={name}]", about `user` and their session.
fn session_event(
    action: &'static audit_schema::Action,
    outcome: Outcome,
    what: &str,
    user: User,
    provider: &Provider,
    session_id: &str,
) -> AuditEvent {
    let name = user.name.as_deref().unwrap_or_default();
    let message = format!("User [{name}] {what} using {} provider [name={}]", provider.kind, provider.name);
    let mut event =
        AuditEvent::new(action).with_outcome(outcome).with_message(message).with_authentication(provider.info());
    event.origin.user = Some(Arc::new(user));
    event.origin.session_id = Some(session_id.into());
    event
}

/// Why a session ends without the user logging out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// Idle or lifespan timeout.
    Expired,
    /// The user opened more sessions than allowed; the oldest is invalidated.
    ConcurrentLimit,
    /// Invalid (unknown, tampered or for a removed provider).
    Invalid,
}

/// `session_cleanup`, outcome `unknown`: a session removed by the system. Like Kibana, the user
/// is identified by a hash (`user.hash`), not by name.
pub fn session_cleanup(user_hash: &str, session_id: &str, provider: &Provider, why: SessionEnd) -> AuditEvent {
    let reason = match why {
        SessionEnd::Expired => "expired",
        SessionEnd::ConcurrentLimit => "concurrent sessions limit reached",
        SessionEnd::Invalid => "invalid",
    };
    let mut event = AuditEvent::new(&kibana::SESSION_CLEANUP)
        .with_outcome(Outcome::Unknown)
        .with_message(format!("Removing {reason} session [id={session_id}]"))
        .with_reason(reason)
        .with_authentication(provider.info())
        .with_user(User::hashed(user_hash));
    event.origin.session_id = Some(session_id.into());
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::format::EcsFormat;

    #[test]
    fn events_have_kibanas_shape() {
        let provider = Provider::new("saml", "my-saml-provider").with_realm("saml1");
        let line = |event: &AuditEvent| -> serde_json::Value {
            serde_json::from_str(&EcsFormat::default().to_line(event)).unwrap()
        };
        let ok = line(&login_success(User::named("alice"), &provider, "s-1"));
        assert_eq!(ok["event"]["action"], "user_login");
        assert_eq!(ok["event"]["category"], serde_json::json!(["authentication"]));
        assert!(ok["event"].get("type").is_none(), "Kibana's authentication events have no type");
        assert_eq!(ok["kibana"]["authentication_provider"], "my-saml-provider");
        assert_eq!(ok["kibana"]["authentication_type"], "saml");
        assert_eq!(ok["kibana"]["authentication_realm"], "saml1");
        assert_eq!(ok["kibana"]["session_id"], "s-1");

        let out = line(&logout(User::named("alice"), &provider, "s-1"));
        assert_eq!(
            (out["event"]["action"].as_str(), out["event"]["outcome"].as_str()),
            (Some("user_logout"), Some("unknown"))
        );

        let gone = line(&session_cleanup("a1b2", "s-2", &provider, SessionEnd::ConcurrentLimit));
        assert_eq!(gone["event"]["action"], "session_cleanup");
        assert_eq!(gone["event"]["reason"], "concurrent sessions limit reached");
        assert_eq!(gone["user"], serde_json::json!({"hash": "a1b2"}));
    }
}
