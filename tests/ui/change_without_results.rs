use audit_core::{audited, changes};

// A write that logs no result has nowhere to put the change.
#[audited(action = "dashboard_update", category = "database", resource(type = "dashboard", id = id))]
fn update(id: u32, title: &str) -> u32 {
    changes::update("old", title);
    id
}

// A read changes nothing.
#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = id))]
fn get(id: u32) -> u32 {
    audit_core::changes::of(id).delete(&"x");
    id
}

fn main() {}
