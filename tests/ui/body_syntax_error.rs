use audit_core::audited;

// A syntax error inside the body is reported by the compiler at its token, as without the
// attribute, not as a problem of the attribute.
#[audited(action = "dashboard_get", category = "database")]
fn get(id: u32) -> u32 {
    let doubled = id * ;
    doubled
}

fn main() {}
