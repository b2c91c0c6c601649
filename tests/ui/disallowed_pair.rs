use audit_core::audited;

#[audited(action = "page_render", category = "web", type = "creation")]
fn render(id: u32) -> u32 { id }

fn main() {}
