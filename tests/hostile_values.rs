//! Any string in any field of an event: one valid JSON line whose values read back as given,
//! through a real file and the trail reader.

mod common;

use audit_core::event::{ErrorInfo, HttpRequestInfo};
use audit_core::sink::SyncFileSink;
use audit_core::trail::read_audit_trail;
use audit_core::{kibana, AuditContext, AuditEvent, AuditLogger, Outcome, Resource, User};
use common::TempDir;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\"\\\\\u{85}\u{2028}\u{2029}\u{feff}a-zé日🦀 ]{0,24}",
        Just(String::new()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_field_round_trips_through_a_file(
        user in text(), role in text(), session in text(), space in text(), message in text(),
        kind in text(), id in text(), name in text(), error in text(), agent in text(), query in text(),
        label_key in text(), label_value in text(),
    ) {
        let dir = TempDir::new("hostile");
        let path = dir.path("audit.log");
        let logger = AuditLogger::builder().sink(SyncFileSink::open(&path).unwrap()).build();
        let ctx = AuditContext::builder()
            .user(User::named(user.clone()).with_roles([role.clone()]))
            .session_id(session.as_str())
            .space_id(space.as_str())
            .http(HttpRequestInfo { user_agent: Some(agent.clone()), query: Some(query.clone()), ..HttpRequestInfo::default() })
            .build();
        let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
            .with_outcome(Outcome::Success)
            .with_message(message.clone())
            .with_resource(Resource::new(kind.clone(), id.clone()).with_name(name.clone()))
            .with_error(ErrorInfo::new(error.clone()))
            .with_label(format!("k{label_key}"), label_value.clone())
            .with_context(&ctx);
        logger.log(event).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(text.matches('\n').count(), 1, "one line");
        let breaks = ['\r', '\u{85}', '\u{2028}', '\u{2029}'];
        prop_assert!(!text.trim_end().contains(breaks), "a line break in {:?}", text);
        let trail = read_audit_trail(&path).unwrap();
        prop_assert!(trail.torn.is_empty());
        let e = &trail.events[0];
        // The default message comes from the grammar when none is given.
        if !message.is_empty() {
            prop_assert_eq!(e["message"].as_str(), Some(message.as_str()));
        }
        prop_assert_eq!(e["user"]["name"].as_str(), Some(user.as_str()));
        prop_assert_eq!(e["user"]["roles"][0].as_str(), Some(role.as_str()));
        prop_assert_eq!(e["kibana"]["session_id"].as_str(), Some(session.as_str()));
        prop_assert_eq!(e["kibana"]["space_id"].as_str(), Some(space.as_str()));
        prop_assert_eq!(e["kibana"]["saved_object"]["type"].as_str(), Some(kind.as_str()));
        prop_assert_eq!(e["kibana"]["saved_object"]["id"].as_str(), Some(id.as_str()));
        prop_assert_eq!(e["kibana"]["saved_object"]["name"].as_str(), Some(name.as_str()));
        prop_assert_eq!(e["error"]["message"].as_str(), Some(error.as_str()));
        prop_assert_eq!(e["user_agent"]["original"].as_str(), Some(agent.as_str()));
        prop_assert_eq!(e["url"]["query"].as_str(), Some(query.as_str()));
        let labels = e["labels"].as_object().unwrap();
        prop_assert_eq!(labels.len(), 1);
        prop_assert_eq!(labels.values().next().and_then(|v| v.as_str()), Some(label_value.as_str()));
    }
}
