//! Ignore filters, with the semantics of Kibana's `xpack.security.audit.ignore_filters`:
//!
//! - an event is dropped when *any* filter matches it;
//! - within a filter, every field that is listed must match (AND); a field left out matches anything;
//! - within a field, a value matches when it is in the list (OR);
//! - for the array fields (`categories`, `types`) every value of the event must be in the list; an
//!   event with no type never matches a `types` filter;
//! - an event with no space never matches a `spaces` filter;
//! - an event with no `user.name` matches a `users` filter (as in Kibana: system events without a
//!   user are treated as coming from any listed user).

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::model::AuditEvent;
use audit_schema::{Category, EventType, Outcome};

/// One ignore rule. Build it in code, or load it through [`AuditConfig`](crate::AuditConfig).
///
/// ```
/// use audit_core::{IgnoreFilter, Outcome};
///
/// // Drop successful reads of dashboards, like Kibana's `ignore_filters` entries.
/// let filter = IgnoreFilter::new()
///     .actions(["saved_object_get", "saved_object_find"])
///     .outcomes([Outcome::Success]);
/// # let _ = filter;
/// ```
///
/// In a configuration file each field is a list that, when present, holds at least one value
/// (leave it out to match anything); actions are checked as action names, the other keywords
/// against ECS.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IgnoreFilter {
    /// `event.action` values.
    #[serde(deserialize_with = "action_names")]
    pub actions: Option<Vec<String>>,
    /// `event.category` values.
    #[serde(deserialize_with = "non_empty")]
    pub categories: Option<Vec<Category>>,
    /// `event.type` values.
    #[serde(deserialize_with = "non_empty")]
    pub types: Option<Vec<EventType>>,
    /// `event.outcome` values.
    #[serde(deserialize_with = "non_empty")]
    pub outcomes: Option<Vec<Outcome>>,
    /// Space ids.
    #[serde(deserialize_with = "non_empty")]
    pub spaces: Option<Vec<String>>,
    /// `user.name` values.
    #[serde(deserialize_with = "non_empty")]
    pub users: Option<Vec<String>>,
}

/// Deserializes a list that, when present, holds at least one value (as in Kibana: leave the
/// field out to match anything).
pub(crate) fn non_empty<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let values = Vec::<T>::deserialize(deserializer)?;
    if values.is_empty() {
        return Err(de::Error::custom("lists at least one value when present (leave it out to match anything)"));
    }
    Ok(Some(values))
}

/// Deserializes a non-empty list of action names, each checked like `#[audited(action = …)]`'s.
fn action_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    /// One action name, checked where it is read (so an error names its index).
    struct ActionName(String);
    impl<'de> Deserialize<'de> for ActionName {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ActionName, D::Error> {
            let name = String::deserialize(deserializer)?;
            audit_schema::action::check_name(&name).map_err(de::Error::custom)?;
            Ok(ActionName(name))
        }
    }
    Ok(non_empty::<D, ActionName>(deserializer)?.map(|names| names.into_iter().map(|name| name.0).collect()))
}

/// The parts of an event a filter looks at. `outcome: None` means "not known yet", which
/// [`IgnoreFilter::matches_any_outcome`] uses to skip work before an operation has run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FilterSubject<'a> {
    pub action: &'a str,
    pub categories: &'a [Category],
    pub types: &'a [EventType],
    pub space: Option<&'a str>,
    pub user: Option<&'a str>,
}

impl IgnoreFilter {
    /// What a configuration file could not have held: a listed field with no value, or an action
    /// that is not an action name. The field at fault (`actions[1]`) and the problem.
    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        let empty = [
            ("actions", self.actions.as_ref().map(Vec::len)),
            ("categories", self.categories.as_ref().map(Vec::len)),
            ("types", self.types.as_ref().map(Vec::len)),
            ("outcomes", self.outcomes.as_ref().map(Vec::len)),
            ("spaces", self.spaces.as_ref().map(Vec::len)),
            ("users", self.users.as_ref().map(Vec::len)),
        ];
        if let Some((field, _)) = empty.into_iter().find(|(_, len)| *len == Some(0)) {
            return Err((
                field.to_owned(),
                "lists at least one value when present (leave it out to match anything)".into(),
            ));
        }
        for (i, name) in self.actions.iter().flatten().enumerate() {
            audit_schema::action::check_name(name).map_err(|problem| (format!("actions[{i}]"), problem.to_owned()))?;
        }
        Ok(())
    }

    /// A filter that lists nothing yet (and so matches every event).
    pub fn new() -> IgnoreFilter {
        IgnoreFilter::default()
    }

    /// Matches these actions.
    pub fn actions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, actions: I) -> Self {
        self.actions = Some(actions.into_iter().map(Into::into).collect());
        self
    }

    /// Matches events whose categories are all among these.
    pub fn categories(mut self, categories: impl IntoIterator<Item = Category>) -> Self {
        self.categories = Some(categories.into_iter().collect());
        self
    }

    /// Matches events whose types are all among these.
    pub fn types(mut self, types: impl IntoIterator<Item = EventType>) -> Self {
        self.types = Some(types.into_iter().collect());
        self
    }

    /// Matches these outcomes.
    pub fn outcomes(mut self, outcomes: impl IntoIterator<Item = Outcome>) -> Self {
        self.outcomes = Some(outcomes.into_iter().collect());
        self
    }

    /// Matches events in these spaces.
    pub fn spaces<I: IntoIterator<Item = S>, S: Into<String>>(mut self, spaces: I) -> Self {
        self.spaces = Some(spaces.into_iter().map(Into::into).collect());
        self
    }

    /// Matches events of these users (and events with no user name).
    pub fn users<I: IntoIterator<Item = S>, S: Into<String>>(mut self, users: I) -> Self {
        self.users = Some(users.into_iter().map(Into::into).collect());
        self
    }

    /// Whether this filter drops `event`.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        let subject = FilterSubject {
            action: &event.action,
            categories: &event.categories,
            types: &event.types,
            space: event.space_id(),
            user: event.user_name(),
        };
        self.matches_subject(&subject) && self.matches_outcome(event.outcome)
    }

    /// Whether this filter drops the event whatever its outcome turns out to be.
    pub(crate) fn matches_any_outcome(&self, subject: &FilterSubject<'_>) -> bool {
        let all_outcomes = self.outcomes.as_ref().is_none_or(|listed| Outcome::ALL.iter().all(|o| listed.contains(o)));
        all_outcomes && self.matches_subject(subject)
    }

    /// Whether this filter drops every event of `action` whatever its outcome, space and user
    /// (`Some(true)`), never does (`Some(false)`), or it depends on the space or user (`None`).
    pub(crate) fn static_verdict(&self, action: &audit_schema::Action) -> Option<bool> {
        let subject = FilterSubject {
            action: action.name(),
            categories: action.categories(),
            types: action.types(),
            space: None,
            user: None,
        };
        let any_outcome = self.outcomes.as_ref().is_none_or(|listed| Outcome::ALL.iter().all(|o| listed.contains(o)));
        let on_action = IgnoreFilter { spaces: None, users: None, ..self.clone() };
        if !any_outcome || !on_action.matches_subject(&subject) {
            Some(false)
        } else if self.spaces.is_some() || self.users.is_some() {
            None
        } else {
            Some(true)
        }
    }

    fn matches_outcome(&self, outcome: Option<Outcome>) -> bool {
        match &self.outcomes {
            None => true,
            Some(listed) => outcome.is_some_and(|o| listed.contains(&o)),
        }
    }

    fn matches_subject(&self, s: &FilterSubject<'_>) -> bool {
        let listed =
            |list: &Option<Vec<String>>, value: &str| list.as_ref().is_none_or(|l| l.iter().any(|v| v == value));
        listed(&self.actions, s.action)
            && self.categories.as_ref().is_none_or(|l| s.categories.iter().all(|c| l.contains(c)))
            && self.types.as_ref().is_none_or(|l| !s.types.is_empty() && s.types.iter().all(|t| l.contains(t)))
            && self.spaces.as_ref().is_none_or(|l| s.space.is_some_and(|space| l.iter().any(|v| v == space)))
            && self.users.as_ref().is_none_or(|l| s.user.is_none_or(|user| l.iter().any(|v| v == user)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AuditContext, User};
    use audit_schema::kibana;

    fn event(outcome: Outcome, space: Option<&str>, user: Option<&str>) -> AuditEvent {
        let mut builder = AuditContext::builder();
        if let Some(space) = space {
            builder = builder.space_id(space);
        }
        if let Some(user) = user {
            builder = builder.user(User::named(user));
        }
        AuditEvent::new(&kibana::SAVED_OBJECT_GET).with_context(&builder.build()).with_outcome(outcome)
    }

    #[test]
    fn fields_and_values_combine_like_kibana() {
        let filter = IgnoreFilter::new().actions(["saved_object_get", "space_get"]).outcomes([Outcome::Success]);
        assert!(filter.matches(&event(Outcome::Success, None, None)));
        assert!(!filter.matches(&event(Outcome::Failure, None, None)));
        let other = AuditEvent::new(&kibana::SAVED_OBJECT_CREATE).with_outcome(Outcome::Success);
        assert!(!filter.matches(&other));
    }

    #[test]
    fn array_fields_need_every_value_listed() {
        let filter = IgnoreFilter::new().categories([Category::Database]).types([EventType::Access]);
        assert!(filter.matches(&event(Outcome::Success, None, None)));
        let login = AuditEvent::new(&kibana::USER_LOGIN).with_outcome(Outcome::Success);
        assert!(!IgnoreFilter::new().types([EventType::Access]).matches(&login), "no type never matches types");
        assert!(IgnoreFilter::new().categories([Category::Authentication]).matches(&login));
    }

    #[test]
    fn spaces_and_users_edge_cases() {
        let spaces = IgnoreFilter::new().spaces(["default"]);
        assert!(spaces.matches(&event(Outcome::Success, Some("default"), None)));
        assert!(!spaces.matches(&event(Outcome::Success, Some("other"), None)));
        assert!(!spaces.matches(&event(Outcome::Success, None, None)), "no space never matches");
        let users = IgnoreFilter::new().users(["kibana_system"]);
        assert!(users.matches(&event(Outcome::Success, None, Some("kibana_system"))));
        assert!(!users.matches(&event(Outcome::Success, None, Some("alice"))));
        assert!(users.matches(&event(Outcome::Success, None, None)), "no user name matches users");
    }

    #[test]
    fn any_outcome_precheck() {
        let subject = FilterSubject {
            action: "saved_object_get",
            categories: &[Category::Database],
            types: &[EventType::Access],
            space: None,
            user: None,
        };
        assert!(IgnoreFilter::new().actions(["saved_object_get"]).matches_any_outcome(&subject));
        assert!(!IgnoreFilter::new()
            .actions(["saved_object_get"])
            .outcomes([Outcome::Success])
            .matches_any_outcome(&subject));
        assert!(IgnoreFilter::new().outcomes(Outcome::ALL.iter().copied()).matches_any_outcome(&subject));
    }
}
