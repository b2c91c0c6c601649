use std::future::Future;

use audit_core::audited;

#[audited(action = "dashboard_get", category = "database")]
fn get(id: u32) -> impl Future<Output = Result<u32, String>> {
    async move { Ok(id) }
}

fn main() {}
