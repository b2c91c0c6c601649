//! [`DiffSettings`]: which recorded changes become field-level diffs in the trail, and within
//! which limits (Kibana's `savedObjectDiff` settings: `enabled`, `typesToInclude`,
//! `fieldSizeLimit`), plus a cap on operations per event.

use crate::leaf::patch::{Limits, DEFAULT_FIELD_SIZE_LIMIT, DEFAULT_MAX_OPS};

/// Which changes recorded with [`changes`](crate::changes) are written as `<namespace>.diff` on
/// a write's result event, and within which limits.
///
/// ```
/// use audit_core::changes::DiffSettings;
///
/// let settings = DiffSettings::new()
///     .types(["dashboard", "connector"])    // only these resource types get diffs
///     .field_size_limit(16 << 10)           // a larger value is written as "Value above fieldSizeLimit"
///     .max_ops(50)                          // the rest counted in `omittedOps`
///     .no_ops(true);                        // list the fields that were written but did not change
/// assert!(settings.includes("dashboard") && !settings.includes("space"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffSettings {
    enabled: bool,
    types: Option<Vec<String>>,
    limits: Limits,
}

impl Default for DiffSettings {
    /// Enabled for every resource type, values up to 48 KiB, 100 operations an event, no `noOps`.
    fn default() -> DiffSettings {
        DiffSettings {
            enabled: true,
            types: None,
            limits: Limits { field_size_limit: DEFAULT_FIELD_SIZE_LIMIT, max_ops: DEFAULT_MAX_OPS, no_ops: false },
        }
    }
}

impl DiffSettings {
    /// The defaults (see [`Default`]).
    pub fn new() -> DiffSettings {
        DiffSettings::default()
    }

    /// Whether diffs are written at all (default true). Off, result events carry no diff and a
    /// recorded change costs nothing but its serialization.
    pub fn enabled(mut self, enabled: bool) -> DiffSettings {
        self.enabled = enabled;
        self
    }

    /// Only resources of these types get diffs (Kibana's `typesToInclude`); default: every type.
    pub fn types<S: Into<String>>(mut self, types: impl IntoIterator<Item = S>) -> DiffSettings {
        self.types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// The most bytes of one value's JSON (default 48 KiB, Kibana's `fieldSizeLimit`); a larger
    /// value is written as the string `Value above fieldSizeLimit`.
    pub fn field_size_limit(mut self, bytes: usize) -> DiffSettings {
        self.limits.field_size_limit = bytes.max(16);
        self
    }

    /// The most operations one event carries (default 100); the rest are counted in the diff's
    /// `omittedOps`.
    pub fn max_ops(mut self, ops: usize) -> DiffSettings {
        self.limits.max_ops = ops.max(1);
        self
    }

    /// Whether fields present and equal before and after are listed in `noOps` (default false:
    /// an empty list). A write that replaces a whole record "writes" every field, as Kibana's
    /// updates do; turn it on to show which of them kept their value.
    pub fn no_ops(mut self, list: bool) -> DiffSettings {
        self.limits.no_ops = list;
        self
    }

    /// Whether a resource of type `kind` gets a diff.
    pub fn includes(&self, kind: &str) -> bool {
        self.enabled && self.types.as_ref().is_none_or(|types| types.iter().any(|t| t == kind))
    }

    /// The limits diffs are made within.
    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }
}
