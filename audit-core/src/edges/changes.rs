//! What a write changed: recorded from inside its body, written as a field-level diff on its
//! result event.
//!
//! An audited write whose action carries results (`#[audited(…, results)]`, an [`Action`](crate::Action)
//! declared [`with_results`](crate::Action::with_results), or every write with
//! [`AuditLoggerBuilder::write_results`](crate::logger::AuditLoggerBuilder::write_results)) logs
//! two events per resource: its **intent** before the body runs (outcome `unknown`, as always),
//! and its **result** after the body returned: `success`; `failure` with `error.*` from the
//! `Err`; `failure` with `error.type = "panic"`; or `unknown` with `event.reason` for an async
//! write cancelled mid-way. The result carries the intent's `event.id` in
//! `<namespace>.intent_event_id` and the call's `trace.id`.
//!
//! Inside the body, one call records what changed, as a before/after pair of any `Serialize`
//! value; the result event carries it as `<namespace>.diff` in Kibana's `json_patch_extended`
//! shape (RFC 6902 operations with their old values, RFC 6901 paths):
//!
//! ```
//! use audit_core::{audited, changes, kibana, AuditContext, AuditLogger, User};
//! use serde::Serialize;
//!
//! #[derive(Clone, Serialize)]
//! struct Dashboard { title: String, password: String }
//!
//! #[audited(action = kibana::SAVED_OBJECT_UPDATE, results(secret = ["password"]),
//!           resource(type = "dashboard", id = id))]
//! fn rename(id: &str, stored: &mut Dashboard, title: &str) -> Result<(), String> {
//!     let before = stored.clone();
//!     stored.title = title.to_owned();
//!     stored.password = "n3w".to_owned();
//!     changes::update(&before, &*stored);   // one call: old and new state
//!     Ok(())
//! }
//!
//! let (logger, capture) = AuditLogger::capture();
//! let ctx = AuditContext::builder().user(User::named("alice")).logger(logger).build();
//! let mut stored = Dashboard { title: "Sales".into(), password: "old".into() };
//! ctx.in_scope(|| rename("d1", &mut stored, "Sales 2026")).unwrap();
//!
//! let [intent, result] = capture.json().try_into().unwrap();
//! assert_eq!((intent["event"]["outcome"].as_str(), result["event"]["outcome"].as_str()), (Some("unknown"), Some("success")));
//! assert_eq!(result["kibana"]["intent_event_id"], intent["event"]["id"]);
//! let diff = &result["kibana"]["diff"];
//! assert_eq!(diff["format"], "json_patch_extended");
//! let title = diff["ops"].as_array().unwrap().iter().find(|op| op["path"] == "/title").unwrap();
//! assert_eq!((title["op"].as_str(), title["oldValue"].as_str(), title["value"].as_str()),
//!            (Some("replace"), Some("Sales"), Some("Sales 2026")));
//! // The secret is there as its HMAC, old and new: changed, never readable.
//! assert!(!result.to_string().contains("n3w") && result.to_string().contains("hmac-sha256:"));
//! ```
//!
//! Creations diff from nothing ([`create`]), deletions to nothing ([`delete`]); in a bulk call,
//! [`of`] names the resource (`changes::of(&id).update(&old, &new)`). A body that records twice
//! for one resource records one change, from the first state before to the last state after.
//!
//! Recording a change where no result can carry it (outside an audited call, in a read, in a
//! write whose action carries no results, for a resource the call does not name) is a misuse:
//! `#[audited]` refuses it at compile time when it sees the call in the body, and otherwise it
//! is counted ([`misuses`]) and reported through `tracing` (target `audit_core`), never dropped
//! in silence.
//!
//! Which diffs are written, and their limits, are the logger's [`DiffSettings`]: a resource
//! type allow-list, a size limit per value (48 KiB, as Kibana's `fieldSizeLimit`; larger values
//! are written as `"Value above fieldSizeLimit"`), a cap on operations per event (100, the rest
//! counted in `omittedOps`), and whether `noOps` lists the unchanged fields. Fields the action
//! marks secret are written as their HMAC under the logger's key (`audit hash` gives the HMAC of
//! a known value); fields whose names are always masked (`password`, `token`, …) that are not
//! marked are written `[redacted]`.

use serde::Serialize;

use super::runtime::record;

pub use crate::leaf::patch::{Diff, OpKind, PatchOp, VALUE_ABOVE_LIMIT};
pub use crate::policy::diffs::DiffSettings;

/// Records that the call's resource went from `before` to `after`.
pub fn update<T: Serialize + ?Sized>(before: &T, after: &T) {
    record::record(None, Some(before), Some(after));
}

/// Records that the call created its resource as `after` (a diff from nothing).
pub fn create<T: Serialize + ?Sized>(after: &T) {
    record::record(None, None, Some(after));
}

/// Records that the call deleted its resource, which was `before` (a diff to nothing).
pub fn delete<T: Serialize + ?Sized>(before: &T) {
    record::record(None, Some(before), None);
}

/// The change of one resource of a bulk call, named by its id as the attribute's `resource(…)`
/// gives it (`changes::of(&id).update(&old, &new)`).
pub fn of(resource_id: impl ToString) -> ResourceChange {
    ResourceChange { id: resource_id.to_string() }
}

/// One resource's change, in a call with several (see [`of`]).
#[derive(Debug)]
#[must_use = "say what changed: .update(&before, &after), .create(&after) or .delete(&before)"]
pub struct ResourceChange {
    id: String,
}

impl ResourceChange {
    /// This resource went from `before` to `after`.
    pub fn update<T: Serialize + ?Sized>(self, before: &T, after: &T) {
        record::record(Some(self.id), Some(before), Some(after));
    }

    /// This resource was created as `after`.
    pub fn create<T: Serialize + ?Sized>(self, after: &T) {
        record::record(Some(self.id), None, Some(after));
    }

    /// This resource, which was `before`, was deleted.
    pub fn delete<T: Serialize + ?Sized>(self, before: &T) {
        record::record(Some(self.id), Some(before), None);
    }
}

/// The diff from `before` to `after` (`None`: nothing, as for a creation or a deletion), within
/// `settings`' limits: for an event made by hand ([`AuditEvent::with_diff`](crate::AuditEvent::with_diff)).
/// Always-masked field names (`password`, `token`, …) are written `[redacted]`; secrets that
/// must stay comparable are for `#[audited(results(secret = […]))]`, which hashes them.
///
/// ```
/// use audit_core::changes::{self, DiffSettings, OpKind};
/// use serde_json::json;
///
/// let diff = changes::diff(Some(&json!({"title": "Sales"})), Some(&json!({"title": "Sales 2026"})), &DiffSettings::new());
/// assert_eq!(diff.ops[0].op, OpKind::Replace);
/// assert_eq!(diff.ops[0].old_value, Some(json!("Sales")));
/// ```
pub fn diff(before: Option<&serde_json::Value>, after: Option<&serde_json::Value>, settings: &DiffSettings) -> Diff {
    let plain = |text: &str| text.to_owned();
    let concealment = crate::leaf::patch::Concealment { secret: &[], hash: &plain };
    crate::leaf::patch::diff(before, after, settings.limits(), &concealment)
}

/// How many recorded changes could not go on a result event in this process (each one was
/// also reported through `tracing`).
pub fn misuses() -> u64 {
    record::misuses()
}
