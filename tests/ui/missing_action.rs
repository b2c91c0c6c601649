use audit_core::audited;

#[audited(category = "database")]
fn get(id: u32) -> u32 { id }

fn main() {}
