//! [`Action`]: one auditable operation, declared once (usually as a `const`) with everything its
//! events need: the ECS categorization, when it is logged, and how its default message reads.

use crate::ecs::{Category, EventType};
use crate::timing::Timing;
use crate::verbs::{self, Verbs};

/// An auditable action: `event.action` plus its ECS category and type, its timing and its verbs.
///
/// Declare actions once as constants; `#[audited(action = DASHBOARD_EXPORT)]` then needs nothing
/// more, and a misspelt constant is a compile error. Invalid declarations fail at compile time too,
/// because the constructors are `const fn`s that panic during constant evaluation:
///
/// ```
/// use audit_schema::{Action, Category, EventType};
///
/// pub const DASHBOARD_EXPORT: Action = Action::new("dashboard_export", Category::Database, EventType::Access)
///     .with_verbs("export", "exporting", "exported")
///     .with_object("dashboards");
///
/// assert_eq!(DASHBOARD_EXPORT.name(), "dashboard_export");
/// assert_eq!(DASHBOARD_EXPORT.timing(), audit_schema::Timing::After);
/// ```
///
/// ```compile_fail
/// use audit_schema::{Action, Category, EventType};
/// // ECS does not expect `creation` with `web`: this constant does not compile.
/// const BAD: Action = Action::new("page_create", Category::Web, EventType::Creation);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Action {
    name: &'static str,
    categories: &'static [Category],
    types: &'static [EventType],
    timing: Timing,
    verbs: Option<Verbs>,
    object: Option<&'static str>,
    results: bool,
    secret_fields: &'static [&'static str],
}

impl Action {
    /// An action of one category and one type. Its timing follows from the type (see [`Timing`]).
    ///
    /// Panics (a compile error in a `const`) when `name` is not snake_case or ECS does not allow
    /// `ty` with `category`.
    pub const fn new(name: &'static str, category: Category, ty: EventType) -> Action {
        // `const` promotion needs the slices to be built from the enum values themselves.
        Action::with_categories(name, category.as_slice(), ty.as_slice())
    }

    /// An action with several categories and types (ECS fields are arrays), or with no type at
    /// all (Kibana's authentication events). Every type must be allowed by one of the categories.
    pub const fn with_categories(
        name: &'static str,
        categories: &'static [Category],
        types: &'static [EventType],
    ) -> Action {
        if let Err(problem) = check_name(name) {
            panic!("{}", problem);
        }
        if categories.is_empty() {
            panic!("an audit action needs at least one ECS category");
        }
        let mut i = 0;
        while i < types.len() {
            let mut allowed = false;
            let mut j = 0;
            while j < categories.len() {
                allowed |= categories[j].allows(types[i]);
                j += 1;
            }
            if !allowed {
                panic!("ECS does not expect this event type with this action's categories");
            }
            i += 1;
        }
        Action {
            name,
            categories,
            types,
            timing: Timing::implied_by(types),
            verbs: None,
            object: None,
            results: false,
            secret_fields: &[],
        }
    }

    /// Overrides the timing the type implies.
    pub const fn with_timing(mut self, timing: Timing) -> Action {
        self.timing = timing;
        self
    }

    /// Sets the verb triple of the default messages. Without it, the verbs are inferred from
    /// the action's name (`…_update` reads "update / updating / updated").
    pub const fn with_verbs(mut self, present: &'static str, progressive: &'static str, past: &'static str) -> Action {
        self.verbs = Some(Verbs::new(present, progressive, past));
        self
    }

    /// Sets what the action acts on, used in messages of events that name no resource
    /// ("User has accessed dashboards"). Without it, it is derived from the action's name.
    pub const fn with_object(mut self, object: &'static str) -> Action {
        self.object = Some(object);
        self
    }

    /// A write of this action is followed, once its body has returned, by a **result event** per
    /// target: `success`, or `failure` with `error.*`, linked to its intent event by the intent's
    /// `event.id`, and carrying the field-level diff the body recorded (if any). Without it (the
    /// default, as in Kibana) a write is its intent event alone. Has no effect on reads, whose
    /// one event is already logged after they run.
    ///
    /// ```
    /// use audit_schema::kibana;
    /// const DASHBOARD_UPDATE: audit_schema::Action = kibana::SAVED_OBJECT_UPDATE.with_results();
    /// assert!(DASHBOARD_UPDATE.results() && !kibana::SAVED_OBJECT_UPDATE.results());
    /// ```
    pub const fn with_results(mut self) -> Action {
        self.results = true;
        self
    }

    /// Fields of the values a diff records that are secrets: written, old and new, as their HMAC
    /// under the logger's key, never in clear. Each is a top-level field name (`"password"`) or
    /// a JSON Pointer (`"/credentials/api_key"`); everything below a secret path is secret too.
    /// Implies [`with_results`](Action::with_results).
    ///
    /// Panics (a compile error in a `const`) when a path is empty or a pointer is malformed.
    pub const fn with_secret_fields(mut self, fields: &'static [&'static str]) -> Action {
        let mut i = 0;
        while i < fields.len() {
            if let Err(problem) = check_field_path(fields[i]) {
                panic!("{}", problem);
            }
            i += 1;
        }
        self.results = true;
        self.secret_fields = fields;
        self
    }

    /// Whether a write of this action logs a result event after its body (see
    /// [`with_results`](Action::with_results)).
    pub const fn results(&self) -> bool {
        self.results
    }

    /// The fields a diff of this action writes as HMACs (see
    /// [`with_secret_fields`](Action::with_secret_fields)).
    pub const fn secret_fields(&self) -> &'static [&'static str] {
        self.secret_fields
    }

    /// `event.action`.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// `event.category`.
    pub const fn categories(&self) -> &'static [Category] {
        self.categories
    }

    /// `event.type` (may be empty, as for Kibana's authentication events).
    pub const fn types(&self) -> &'static [EventType] {
        self.types
    }

    /// When the action is logged.
    pub const fn timing(&self) -> Timing {
        self.timing
    }

    /// The verbs of the default message: declared, else inferred from the name, else a neutral
    /// "perform \[action\] on".
    pub fn verbs(&self) -> Verbs {
        self.verbs.or_else(|| verbs::infer(self.name).map(|found| found.verbs)).unwrap_or(Verbs::new(
            "perform",
            "performing",
            "performed",
        ))
    }

    /// The verbs as declared, without inference.
    pub const fn declared_verbs(&self) -> Option<Verbs> {
        self.verbs
    }

    /// What the action acts on when an event names no resource: declared, else derived from the
    /// name ("saved_object_find" acts on "saved objects").
    pub fn object(&self) -> std::borrow::Cow<'static, str> {
        match self.object {
            Some(object) => object.into(),
            None => verbs::object_of(self.name).into(),
        }
    }

    /// The object as declared, without derivation.
    pub const fn declared_object(&self) -> Option<&'static str> {
        self.object
    }
}

/// Checks that an action name is snake_case: lowercase ASCII letters and digits in words joined
/// by single underscores, starting with a letter. These names are `event.action` keywords that
/// filters, dashboards and SIEM rules match exactly, so one spelling is enforced.
pub const fn check_name(name: &str) -> Result<(), &'static str> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err("an audit action name cannot be empty");
    }
    if bytes.len() > 128 {
        return Err("an audit action name is at most 128 characters");
    }
    if !bytes[0].is_ascii_lowercase() {
        return Err("an audit action name starts with a lowercase ASCII letter (snake_case, e.g. `dashboard_export`)");
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let ok = b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
        if !ok {
            return Err("an audit action name is snake_case: lowercase ASCII letters, digits and underscores (e.g. `dashboard_export`)");
        }
        if b == b'_' && (i + 1 == bytes.len() || bytes[i + 1] == b'_') {
            return Err("an audit action name joins its words with single underscores and does not end with one");
        }
        i += 1;
    }
    Ok(())
}

/// Checks a secret field's path: a top-level field name (`password`), or a JSON Pointer (RFC 6901)
/// starting with `/` whose segments are not empty and whose `~` escapes are `~0` or `~1`.
pub const fn check_field_path(path: &str) -> Result<(), &'static str> {
    let bytes = path.as_bytes();
    if bytes.is_empty() || (bytes.len() == 1 && bytes[0] == b'/') {
        return Err("a secret field is a field name (`password`) or a JSON Pointer (`/credentials/key`), not empty");
    }
    let pointer = bytes[0] == b'/';
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'/' && !pointer {
            return Err("a secret field with `/` is a JSON Pointer and starts with `/` (`/credentials/key`)");
        }
        if b == b'/' && (i + 1 == bytes.len() || bytes[i + 1] == b'/') {
            return Err("a JSON Pointer's segments are not empty (`/credentials/key`, not `/credentials//key`)");
        }
        if b == b'~' && !(i + 1 < bytes.len() && (bytes[i + 1] == b'0' || bytes[i + 1] == b'1')) {
            return Err("in a JSON Pointer `~` is written `~0` and `/` is written `~1`");
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_snake_case() {
        assert!(check_name("saved_object_update").is_ok());
        assert!(check_name("v2_export").is_ok());
        for bad in ["", "Saved", "saved-object", "a__b", "trailing_", "_lead", "1abc", "sp ace"] {
            assert!(check_name(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn timing_follows_the_type() {
        let update = Action::new("dashboard_update", Category::Database, EventType::Change);
        assert_eq!(update.timing(), Timing::Before);
        let get = Action::new("dashboard_get", Category::Database, EventType::Access);
        assert_eq!(get.timing(), Timing::After);
        assert_eq!(get.with_timing(Timing::Before).timing(), Timing::Before);
    }

    #[test]
    fn verbs_and_object_are_declared_or_inferred() {
        let get = Action::new("dashboard_get", Category::Database, EventType::Access);
        assert_eq!(get.verbs(), Verbs::new("access", "accessing", "accessed"));
        assert_eq!(get.object(), "dashboards");
        let frob = Action::new("widget_frobnicate", Category::Database, EventType::Change);
        assert_eq!(frob.verbs().present, "perform");
        let declared = frob.with_verbs("frob", "frobbing", "frobbed").with_object("widgets");
        assert_eq!(declared.verbs().past, "frobbed");
        assert_eq!(declared.object(), "widgets");
    }

    #[test]
    fn results_and_secret_fields_are_declared_on_the_action() {
        let update = Action::new("dashboard_update", Category::Database, EventType::Change);
        assert!(!update.results());
        assert!(update.with_results().results());
        let secret = update.with_secret_fields(&["password", "/credentials/api~1key"]);
        assert!(secret.results(), "secret fields imply results");
        assert_eq!(secret.secret_fields(), ["password", "/credentials/api~1key"]);
        for bad in ["", "/", "a/b", "/a//b", "/a/", "/a~2"] {
            assert!(check_field_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    #[should_panic(expected = "ECS does not expect")]
    fn disallowed_pairs_panic() {
        let _ = Action::new("page_create", Category::Web, EventType::Creation);
    }
}
