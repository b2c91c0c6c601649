//! [`ConfigError`]: a setting that cannot be used, named by its path
//! (`sinks[0].durability`), with what is wrong and, for a misspelt key or value, the closest
//! valid one; and finding a setting that the kind of thing configured does not take.

use std::fmt;
use std::io;

/// A setting that cannot be used, and why.
///
/// ```
/// use audit_core::AuditConfig;
///
/// let error = AuditConfig::from_json(r#"{ "ignore_filter": [] }"#).unwrap_err();
/// assert_eq!(error.setting(), "ignore_filter");
/// assert!(error.problem().contains("did you mean `ignore_filters`?"), "{error}");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ConfigError {
    setting: String,
    problem: String,
    source: Option<io::Error>,
}

impl ConfigError {
    pub(super) fn new(setting: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError { setting: setting.into(), problem: problem.into(), source: None }
    }

    pub(super) fn io(setting: impl Into<String>, error: io::Error) -> ConfigError {
        ConfigError { setting: setting.into(), problem: error.to_string(), source: Some(error) }
    }

    /// `problem`, caused by `error` (kept as the source).
    pub(super) fn caused_by(setting: impl Into<String>, problem: impl Into<String>, error: io::Error) -> ConfigError {
        ConfigError { setting: setting.into(), problem: problem.into(), source: Some(error) }
    }

    /// A deserialization error at `path`, with a suggestion added where serde names an unknown
    /// field or variant and the valid ones.
    pub(super) fn from_serde(path: &serde_path_to_error::Path, message: &str) -> ConfigError {
        let mut setting = path.to_string();
        if setting == "." {
            setting.clear();
        }
        let problem = match unknown_name(message) {
            Some((name, expected)) => {
                let mut problem = message.to_owned();
                if let Some(close) = audit_schema::suggest::closest(&name, expected.iter().map(String::as_str)) {
                    problem = format!("{problem}; did you mean `{close}`?");
                }
                problem
            }
            None => message.to_owned(),
        };
        ConfigError::new(setting, problem)
    }

    /// The setting's path, e.g. `ignore_filters[0].outcomes[1]` (empty for the settings as a whole).
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

/// Serde's `unknown field `x`, expected one of `a`, `b`` (or `unknown variant`, or `expected `a``):
/// the name given and the names expected.
fn unknown_name(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))?;
    let (name, expected) = rest.split_once('`')?;
    let expected = expected.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    Some((name.to_owned(), expected))
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.setting.is_empty() {
            write!(f, "audit settings: {}", self.problem)
        } else {
            write!(f, "audit setting `{}`: {}", self.setting, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// The first setting of `given` that is set and not among `takes`: one that the kind of thing
/// configured (a sink's `type`, a shipper's `to`) does not have.
pub(super) fn foreign_setting(given: &[(&'static str, bool)], takes: &[&str]) -> Option<&'static str> {
    given.iter().find(|(setting, set)| *set && !takes.contains(setting)).map(|(setting, _)| *setting)
}
