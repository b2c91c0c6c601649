use audit_core::audited;

#[audited(action = "dashboard_get", category = "database")]
fn get(id: u32) -> Result<String, std::io::Error> {
    if id == 0 {
        return Ok(id);
    }
    Ok(String::new())
}

fn main() {}
