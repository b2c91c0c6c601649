use audit_core::audited;
use audit_core::kibana::*;

#[audited(action = SAVED_OBJECT_UPDTE)]
fn update(id: u32) -> u32 { id }

fn main() {}
