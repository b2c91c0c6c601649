use audit_core::audited;

const NOT_AN_ACTION: &str = "dashboard_get";

#[audited(action = NOT_AN_ACTION)]
fn get(id: u32) -> u32 { id }

fn main() {}
