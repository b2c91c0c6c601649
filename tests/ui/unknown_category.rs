use audit_core::audited;

#[audited(action = "dashboard_get", category = "databse")]
fn get(id: u32) -> u32 { id }

fn main() {}
