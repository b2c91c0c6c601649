use audit_core::{audited, AuditContext};

fn is_editor(_: &AuditContext) -> bool {
    true
}

#[audited(action = "dashboard_update", category = "database", authorize = is_editor)]
fn update(id: u32) -> Result<(), String> {
    let _ = id;
    Ok(())
}

fn main() {}
