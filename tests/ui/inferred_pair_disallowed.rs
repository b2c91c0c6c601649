use audit_core::audited;

// `_create` implies `creation`, which ECS does not expect with `web`.
#[audited(action = "page_create", category = "web")]
fn create(id: u32) -> u32 { id }

fn main() {}
