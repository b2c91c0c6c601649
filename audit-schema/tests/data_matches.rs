//! The typed vocabulary must say exactly what the reference data says.

use audit_schema::{kibana, Category, EventType, Outcome, Timing};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("valid JSON")
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[test]
fn enums_match_ecs_allowed_values() {
    let data = load("ecs_event_allowed.json");
    let types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(types, strings(&data["type"]));
    let outcomes: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    let mut expected = strings(&data["outcome"]);
    expected.sort();
    let mut outcomes_sorted = outcomes.clone();
    outcomes_sorted.sort();
    assert_eq!(outcomes_sorted, expected);

    let categories = data["category"].as_object().unwrap();
    let ours: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let theirs: Vec<&String> = categories.keys().collect();
    assert_eq!(ours.len(), theirs.len());
    for (name, expected_types) in categories {
        let category = Category::parse(name).unwrap_or_else(|| panic!("missing category {name}"));
        let ours: Vec<&str> = category.expected_types().iter().map(|t| t.as_str()).collect();
        assert_eq!(ours, strings(expected_types), "expected types of {name}");
    }
    assert_eq!(audit_schema::ECS_VERSION, data["ecs_version"].as_str().unwrap());
}

#[test]
fn catalog_matches_kibana_reference() {
    let data = load("kibana_audit_events.json");
    let events = data.as_array().unwrap();
    assert_eq!(events.len(), kibana::ALL.len());
    for (event, action) in events.iter().zip(kibana::ALL) {
        let name = event["action"].as_str().unwrap();
        assert_eq!(action.name(), name);
        let categories: Vec<&str> = action.categories().iter().map(|c| c.as_str()).collect();
        assert_eq!(categories, strings(&event["category"]), "{name}");
        let types: Vec<&str> = action.types().iter().map(|t| t.as_str()).collect();
        assert_eq!(types, strings(&event["type"]), "{name}");
        // Kibana logs an action with outcome `unknown` only when it logs it before the operation.
        let logs_unknown = event["outcomes"].as_object().unwrap().contains_key("unknown");
        let expected = if logs_unknown { Timing::Before } else { Timing::After };
        assert_eq!(action.timing(), expected, "{name}");
        assert!(action.declared_verbs().is_some() && action.declared_object().is_some(), "{name}");
    }
}

#[test]
fn kibana_message_grammar_verbs() {
    let verbs = kibana::SAVED_OBJECT_UPDATE.verbs();
    assert_eq!((verbs.present, verbs.progressive, verbs.past), ("update", "updating", "updated"));
    assert_eq!(kibana::SAVED_OBJECT_GET.verbs().past, "accessed");
    assert_eq!(kibana::SAVED_OBJECT_FIND.object(), "saved objects");
}
