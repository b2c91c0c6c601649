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
        Action { name, categories, types, timing: Timing::implied_by(types), verbs: None, object: None }
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
    #[should_panic(expected = "ECS does not expect")]
    fn disallowed_pairs_panic() {
        let _ = Action::new("page_create", Category::Web, EventType::Creation);
    }
}
