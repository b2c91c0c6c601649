use audit_core::audited;

#[audited(action = "dashboard_get", category = "database")]
struct Dashboard;

fn main() {}
