use audit_core::audited;

// `#[track_caller]` keeps a write's body in place, where its result cannot be seen.
#[audited(action = "dashboard_update", category = "database", results)]
#[track_caller]
fn update(id: u32) -> u32 {
    id
}

fn main() {}
