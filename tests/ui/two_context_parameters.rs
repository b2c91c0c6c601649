use audit_core::{audited, AuditContext};

#[audited(action = "dashboard_get", category = "database")]
fn get(a: &AuditContext, b: &AuditContext) -> u32 { 1 }

fn main() {}
