//! Kibana's message grammar: "User is updating dashboard \[id=1\]", "User has accessed
//! dashboards", "Failed attempt to delete dashboard \[id=2\]". An event's explicit message wins;
//! otherwise the message is made from its action's verbs, its outcome and its resource.

use std::borrow::Cow;

use super::event::AuditEvent;
use super::parts::Resource;
use audit_schema::Outcome;

impl AuditEvent {
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
