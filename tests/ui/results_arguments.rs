use audit_core::audited;

#[audited(action = "dashboard_update", category = "database", results(secret = ["api/key", "", "/a~2b"]))]
fn update(id: u32) -> u32 {
    id
}

#[audited(action = "dashboard_update", category = "database", results(secrets = ["password"]))]
fn misspelt(id: u32) -> u32 {
    id
}

#[audited(action = "dashboard_update", category = "database", results = "yes")]
fn not_a_bool(id: u32) -> u32 {
    id
}

fn main() {}
