//! The toolkit's own events, declared once: what the logger, the writer and the shipper write
//! into the trail about themselves (dropped events, a resumed chain, a checkpoint, lost write
//! results, a shipper behind, caught up or skipping lines).
//!
//! Each has its [`Action`] (all in the `process` category, type `info`, named `audit_…`) and a
//! constructor that gives the event its outcome, its labels and a message that reads as a
//! sentence about the trail, not through the grammar of users' actions ("User is …ing …").
//! Filter on `event.action` starting with `audit_` to find them.

use audit_schema::{Action, Category, EventType, Outcome};

use super::event::AuditEvent;

/// Events were dropped (the queue was full with `drop`, or the file was failing and the
/// events kept in memory overflowed): `labels.dropped` says how many.
pub const AUDIT_EVENTS_DROPPED: Action = Action::new("audit_events_dropped", Category::Process, EventType::Info)
    .with_verbs("drop", "dropping", "dropped")
    .with_object("audit events");

/// A chained trail resumes after a torn line (a crash mid-write): a verifier then reports the
/// torn line as a crash, not as tampering.
pub const AUDIT_TRAIL_RESUMED: Action = Action::new("audit_trail_resumed", Category::Process, EventType::Info)
    .with_verbs("resume", "resuming", "resumed")
    .with_object("audit trail");

/// A checkpoint travelling in the trail or to an [`AuditSink`](crate::AuditSink):
/// `labels.checkpoint` holds the signed note, `labels.size` and `labels.head` what it says.
pub const AUDIT_CHECKPOINT: Action = Action::new("audit_checkpoint", Category::Process, EventType::Info)
    .with_verbs("checkpoint", "checkpointing", "checkpointed")
    .with_object("audit trail");

/// Write results the logger's required sinks refused: their writes happened, and the trail says
/// so, naming the intent events whose results are missing. Logged with the next event the sinks
/// accept.
pub const AUDIT_RESULTS_LOST: Action = Action::new("audit_results_lost", Category::Process, EventType::Info)
    .with_verbs("lose", "losing", "lost")
    .with_object("write results");

/// A shipper has been behind for longer than its threshold.
pub const AUDIT_SHIP_BEHIND: Action = Action::new("audit_ship_behind", Category::Process, EventType::Info)
    .with_verbs("fall behind", "falling behind", "fell behind")
    .with_object("audit trail shipping");

/// A shipper that was reported behind has caught up.
pub const AUDIT_SHIP_CAUGHT_UP: Action = Action::new("audit_ship_caught_up", Category::Process, EventType::Info)
    .with_verbs("catch up", "catching up", "caught up")
    .with_object("audit trail shipping");

/// A shipper skipped a torn line, or could not find where its cursor pointed and started a file
/// over.
pub const AUDIT_SHIP_SKIPPED: Action = Action::new("audit_ship_skipped", Category::Process, EventType::Info)
    .with_verbs("skip", "skipping", "skipped")
    .with_object("audit trail lines");

/// Every action of the catalog.
pub const OWN_ACTIONS: [&Action; 7] = [
    &AUDIT_EVENTS_DROPPED,
    &AUDIT_TRAIL_RESUMED,
    &AUDIT_CHECKPOINT,
    &AUDIT_RESULTS_LOST,
    &AUDIT_SHIP_BEHIND,
    &AUDIT_SHIP_CAUGHT_UP,
    &AUDIT_SHIP_SKIPPED,
];

/// [`AUDIT_EVENTS_DROPPED`]: `dropped` events lost.
pub(crate) fn events_dropped(dropped: u64) -> AuditEvent {
    AuditEvent::new(&AUDIT_EVENTS_DROPPED)
        .with_outcome(Outcome::Failure)
        .with_message(format!(
            "{dropped} audit events were lost: the audit queue was full or the audit file was failing"
        ))
        .with_reason("audit queue full or audit file failing")
        .with_label("dropped", dropped.to_string())
}

/// [`AUDIT_TRAIL_RESUMED`]: the chain goes on after `sequence`, the last whole line's.
pub(crate) fn trail_resumed(sequence: u64) -> AuditEvent {
    AuditEvent::new(&AUDIT_TRAIL_RESUMED)
        .with_outcome(Outcome::Unknown)
        .with_message(format!(
            "The audit trail was resumed after a torn line (a crash mid-write); the chain goes on from event.sequence \
             {sequence}"
        ))
        .with_reason("torn line at the end of the trail")
        .with_label("resumed_after_sequence", sequence.to_string())
}

/// [`AUDIT_CHECKPOINT`]: the trail `origin` at `size` lines, its head `head` (hex), signed in
/// `note`.
#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) fn checkpoint(origin: &str, size: u64, head: String, note: String) -> AuditEvent {
    AuditEvent::new(&AUDIT_CHECKPOINT)
        .with_outcome(Outcome::Success)
        .with_message(format!("Checkpoint of audit trail [{origin}] at event.sequence {size}"))
        .with_label("origin", origin.to_owned())
        .with_label("size", size.to_string())
        .with_label("head", head)
        .with_label("checkpoint", note)
}

/// [`AUDIT_RESULTS_LOST`]: `count` results lost, their intents' ids listed in `intent_ids`.
pub(crate) fn results_lost(count: u64, intent_ids: String) -> AuditEvent {
    AuditEvent::new(&AUDIT_RESULTS_LOST)
        .with_outcome(Outcome::Unknown)
        .with_message(format!(
            "{count} write result(s) could not be written after their writes happened; their intent events are on record"
        ))
        .with_label("lost_results", count.to_string())
        .with_label("intent_event_ids", intent_ids)
}

/// [`AUDIT_SHIP_BEHIND`]: shipping to `destination` is `seconds` behind (`events` events, when
/// the trail is chained), its last delivery error `last_error`.
pub(crate) fn ship_behind(
    destination: &str,
    events: Option<u64>,
    seconds: f64,
    last_error: Option<&str>,
) -> AuditEvent {
    let events = events.map(|n| format!("{n} events, ")).unwrap_or_default();
    let error = last_error.map(|e| format!("; last error: {e}")).unwrap_or_default();
    AuditEvent::new(&AUDIT_SHIP_BEHIND)
        .with_outcome(Outcome::Failure)
        .with_message(format!("Audit trail shipping to {destination} is behind: {events}{seconds:.0} s{error}"))
        .with_reason(format!("{events}{seconds:.0} s behind {destination}{error}"))
        .with_label("destination", destination.to_owned())
}

/// [`AUDIT_SHIP_CAUGHT_UP`]: shipping to `destination` has caught up.
pub(crate) fn ship_caught_up(destination: &str) -> AuditEvent {
    AuditEvent::new(&AUDIT_SHIP_CAUGHT_UP)
        .with_outcome(Outcome::Success)
        .with_message(format!("Audit trail shipping to {destination} has caught up with the trail"))
        .with_reason(format!("delivered to {destination} up to the end of the trail"))
        .with_label("destination", destination.to_owned())
}

/// [`AUDIT_SHIP_SKIPPED`]: shipping to `destination` skipped lines of `file`, for `reason`.
pub(crate) fn ship_skipped(destination: &str, file: &str, reason: String) -> AuditEvent {
    AuditEvent::new(&AUDIT_SHIP_SKIPPED)
        .with_outcome(Outcome::Unknown)
        .with_message(format!("Audit trail shipping to {destination} skipped lines: {reason}"))
        .with_reason(reason)
        .with_label("destination", destination.to_owned())
        .with_label("file", file.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_own_event_is_named_audit_and_says_a_sentence() {
        let events = [
            events_dropped(3),
            trail_resumed(7),
            checkpoint("trail", 10, "ab".into(), "note".into()),
            results_lost(2, "a,b".into()),
            ship_behind("pg", Some(5), 12.0, Some("refused")),
            ship_caught_up("pg"),
            ship_skipped("pg", "audit.log", "a torn line".into()),
        ];
        let mut names: Vec<&str> = OWN_ACTIONS.iter().map(|action| action.name()).collect();
        for event in &events {
            let action = event.action.as_ref();
            assert!(action.starts_with("audit_"), "{action}");
            names.retain(|name| *name != action);
            let message = event.rendered_message();
            assert!(message.starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit()), "{message}");
            assert!(!message.starts_with("User ") && !message.starts_with("Failed attempt"), "{message}");
            assert_eq!(&*event.categories, &[Category::Process]);
        }
        assert!(names.is_empty(), "every action of the catalog has its constructor: {names:?} have none");
    }
}
