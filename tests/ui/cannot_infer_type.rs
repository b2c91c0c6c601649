use audit_core::audited;

#[audited(action = "widget_frobnicate", category = "database")]
fn frob(id: u32) -> u32 { id }

fn main() {}
