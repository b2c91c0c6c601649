//! [`ShipRecord`]: one line of the trail as a destination receives it, with the fields a
//! destination needs read out of it once (its id, time and place in the chain).

use std::borrow::Cow;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::leaf::event_id::EventId;

/// One event of the trail on its way to a destination: the line exactly as the trail holds it,
/// and what was read out of it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShipRecord {
    /// Its `event.id` (in an OCSF line, `unmapped.event.id`, the same as `metadata.uid`): what a
    /// destination deduplicates on. A line without one (a trail written
    /// before ids, or by another format) gets the first 32 hex digits of its bytes' SHA-256, so
    /// the same line always gets the same id.
    pub id: String,
    /// Its `@timestamp`, as written (RFC 3339), if it has one (an OCSF line's `time`, in RFC
    /// 3339).
    pub timestamp: Option<String>,
    /// Its `event.sequence` in a chained trail.
    pub sequence: Option<u64>,
    /// Its `event.action`.
    pub action: Option<String>,
    /// Its `event.outcome`.
    pub outcome: Option<String>,
    /// The line, without its newline: valid JSON, one object.
    pub line: String,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "@timestamp", borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    event: Option<EventHead<'a>>,
    /// An OCSF line: its time (milliseconds since the epoch) and, under `unmapped`, the ECS
    /// `event` object (see [`EcsFormat::ocsf`](crate::EcsFormat::ocsf)).
    #[serde(default)]
    time: Option<u64>,
    #[serde(borrow, default)]
    unmapped: Option<Unmapped<'a>>,
}

#[derive(Deserialize)]
struct Unmapped<'a> {
    #[serde(borrow, default)]
    event: Option<EventHead<'a>>,
}

#[derive(Deserialize)]
struct EventHead<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    sequence: Option<u64>,
    #[serde(borrow, default)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    outcome: Option<Cow<'a, str>>,
}

impl ShipRecord {
    /// The record of a line of the trail (without its newline); `None` when the line is not a
    /// JSON object (a torn line: the verifier reports it, nobody ships it).
    pub fn parse(line: &[u8]) -> Option<ShipRecord> {
        let text = std::str::from_utf8(line).ok()?;
        if !text.starts_with('{') {
            return None;
        }
        let head: Head<'_> = serde_json::from_str(text).ok()?;
        let event = head.event.or_else(|| head.unmapped.and_then(|unmapped| unmapped.event));
        let written_id = event.as_ref().and_then(|e| e.id.as_deref()).and_then(EventId::parse);
        let id = match written_id {
            Some(id) => id.to_string(),
            None => derived_id(line),
        };
        Some(ShipRecord {
            id,
            timestamp: head.timestamp.map(Cow::into_owned).or_else(|| head.time.map(rfc3339_of_millis)),
            sequence: event.as_ref().and_then(|e| e.sequence),
            action: event.as_ref().and_then(|e| e.action.as_deref().map(str::to_owned)),
            outcome: event.and_then(|e| e.outcome.map(Cow::into_owned)),
            line: text.to_owned(),
        })
    }
}

/// An OCSF `time` as RFC 3339.
fn rfc3339_of_millis(millis: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    String::from_utf8_lossy(&crate::leaf::timestamp::rfc3339_micros(time)).into_owned()
}

fn derived_id(line: &[u8]) -> String {
    let mut id = super::chain::hex(&Sha256::digest(line).into());
    id.truncate(32);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_and_missing_ids_derived_stably() {
        let line = br#"{"@timestamp":"2026-12-01T10:00:00.000Z","event":{"sequence":7,"id":"0123456789abcdef0123456789abcdef","action":"space_get"}}"#;
        let record = ShipRecord::parse(line).unwrap();
        assert_eq!(record.id, "0123456789abcdef0123456789abcdef");
        assert_eq!(record.sequence, Some(7));
        assert_eq!(record.action.as_deref(), Some("space_get"));
        assert_eq!(record.timestamp.as_deref(), Some("2026-12-01T10:00:00.000Z"));

        let plain = br#"{"message":"no id"}"#;
        let (a, b) = (ShipRecord::parse(plain).unwrap(), ShipRecord::parse(plain).unwrap());
        assert_eq!(a.id, b.id);
        assert!(EventId::parse(&a.id).is_some(), "{}", a.id);
        assert_ne!(a.id, ShipRecord::parse(br#"{"message":"other"}"#).unwrap().id);
    }

    #[test]
    fn torn_lines_are_not_records() {
        assert!(ShipRecord::parse(br#"{"@timestamp":"2026-12-01T10:0"#).is_none());
        assert!(ShipRecord::parse(b"").is_none());
        assert!(ShipRecord::parse(b"[1,2]").is_none());
        assert!(ShipRecord::parse(&[0xff, b'{']).is_none());
    }
}
