use audit_core::audited;

#[audited(action = "dashboard_update", category = "database", durability = "fsync")]
fn update(id: u32) -> u32 { id }

fn main() {}
