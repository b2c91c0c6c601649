use audit_core::audited;

// A read is logged once, after it runs: it has no separate result.
#[audited(action = "dashboard_get", category = "database", results)]
fn get(id: u32) -> u32 {
    id
}

fn main() {}
