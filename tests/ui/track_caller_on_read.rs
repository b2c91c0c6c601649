use audit_core::audited;

#[audited(action = "dashboard_get", category = "database")]
#[track_caller]
fn get(id: u32) -> u32 {
    id
}

fn main() {}
