use audit_core::audited;

#[audited(actoin = "dashboard_get", category = "database")]
fn get(id: u32) -> u32 { id }

#[audited(action = "dashboard_get", category = "database", level = "info")]
fn get2(id: u32) -> u32 { id }

fn main() {}
