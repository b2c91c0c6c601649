use audit_core::audited;

#[audited(action = "dashboard_open", category = "database", type = "creaton")]
fn open(id: u32) -> u32 { id }

fn main() {}
