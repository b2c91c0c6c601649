use audit_core::audited;

#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", idd = id))]
fn get(id: u32) -> u32 { id }

#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", each = ids, id = ids))]
fn bulk(ids: Vec<u32>) -> usize { ids.len() }

fn main() {}
