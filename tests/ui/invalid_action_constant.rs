use audit_core::{audited, Action, Category, EventType};

const PAGE_CREATE: Action = Action::new("page_create", Category::Web, EventType::Creation);

#[audited(action = PAGE_CREATE)]
fn create(id: u32) -> u32 { id }

fn main() {}
