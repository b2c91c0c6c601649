use audit_core::audited;

#[audited(action = "dashboard_frobnicate")]
fn frob(id: u32) -> u32 { id }

#[audited(action = "saved_object_updte")]
fn update(id: u32) -> u32 { id }

fn main() {}
