use audit_core::audited;

#[audited(action = "dashboard_get", category = "database", message = "User read {}")]
fn get(dashboard: u32) -> u32 { dashboard }

fn main() {}
