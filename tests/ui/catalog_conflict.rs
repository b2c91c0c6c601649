use audit_core::audited;

#[audited(action = "saved_object_get", type = "change")]
fn get(id: u32) -> u32 { id }

fn main() {}
