//! Message templates: `message = "User is exporting dashboard {id}"`, where each `{name}` (or
//! `{name:spec}`) names a parameter or a `fields(...)` entry and is formatted with `Display`.

/// The names a template's placeholders refer to, in order, or what is wrong with it.
pub(crate) fn placeholder_names(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut chars = template.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|&(_, next)| next) == Some('{') => {
                chars.next();
            }
            '{' => {
                let mut inside = String::new();
                loop {
                    match chars.next() {
                        Some((_, '}')) => break,
                        Some((_, c)) => inside.push(c),
                        None => return Err("unclosed `{` in message; write `{{` for a literal brace".to_owned()),
                    }
                }
                let name = inside.split(':').next().unwrap_or_default().trim();
                let is_identifier = name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_alphanumeric() || c == '_');
                if !is_identifier {
                    return Err(format!(
                        "message placeholders name a parameter or field, e.g. `{{id}}`; `{{{inside}}}` names none"
                    ));
                }
                names.push(name.to_owned());
            }
            '}' if chars.peek().map(|&(_, next)| next) == Some('}') => {
                chars.next();
            }
            '}' => return Err("unmatched `}` in message; write `}}` for a literal brace".to_owned()),
            _ => {}
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_names_and_escapes() {
        assert_eq!(placeholder_names("User {user} exported {id:>4} {{literal}}").unwrap(), ["user", "id"]);
        assert!(placeholder_names("{}").is_err());
        assert!(placeholder_names("{0}").is_err());
        assert!(placeholder_names("{id").is_err());
        assert!(placeholder_names("id}").is_err());
    }
}
