use audit_core::audited;

trait Store {
    #[audited(action = "dashboard_get", category = "database")]
    fn get(&self, id: u32) -> u32;
}

fn main() {}
