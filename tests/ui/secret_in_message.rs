use audit_core::audited;

#[audited(action = "user_invite", category = "iam", type = "creation",
          message = "Inviting {email}", fields(email_hash = secret(email)))]
fn invite(email: &str) -> Result<(), String> {
    let _ = email;
    Ok(())
}

fn main() {}
