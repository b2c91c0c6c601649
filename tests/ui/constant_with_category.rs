use audit_core::{audited, kibana};

#[audited(action = kibana::SAVED_OBJECT_GET, category = "database")]
fn get(id: u32) -> u32 { id }

fn main() {}
