//! [`AuditConfig`]: the logger's settings as a plain `serde` struct, so applications load them from
//! their own configuration file (TOML, YAML, JSON…). Mirrors Kibana's `xpack.security.audit.*`.
//!
//! Every problem is reported as a [`ConfigError`] naming the setting, e.g.
//! ``audit setting `ignore_filters[0].categories[1]`: `databse` is not an ECS event category; did you mean `database`?``.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::filter::IgnoreFilter;
use crate::format::EcsFormat;
use crate::logger::AuditLogger;
use crate::sink::{ConsoleSink, FileSink, TracingSink};
use crate::{Category, EventType, Outcome};

/// Audit logging settings.
///
/// ```
/// use audit_core::AuditConfig;
///
/// let config: AuditConfig = serde_json::from_str(r#"{
///     "namespace": "shop",
///     "ignore_filters": [{ "actions": ["http_request"], "outcomes": ["unknown"] }],
///     "sinks": [{ "type": "console" }]
/// }"#).unwrap();
/// let logger = config.build().unwrap();
/// assert_eq!(logger.format().namespace(), "shop");
///
/// let bad: AuditConfig = serde_json::from_str(r#"{ "ignore_filters": [{ "categories": ["databse"] }] }"#).unwrap();
/// let error = bad.build().unwrap_err();
/// assert_eq!(error.setting(), "ignore_filters[0].categories[0]");
/// assert!(error.to_string().contains("did you mean `database`"));
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Whether events are written at all (default true).
    pub enabled: bool,
    /// The object holding fields ECS has no place for (default `kibana`, Kibana's shape).
    pub namespace: String,
    /// The key of the resource inside the namespace (default `saved_object`).
    pub resource_key: String,
    /// Whether resource names are written (default true, Kibana's `include_saved_object_names`).
    pub include_resource_names: bool,
    /// `service.name` on every line (default: none).
    pub service_name: Option<String>,
    /// Events matching any of these are dropped (Kibana's `ignore_filters`).
    pub ignore_filters: Vec<IgnoreFilterConfig>,
    /// Where events go (default: the console).
    pub sinks: Vec<SinkConfig>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            enabled: true,
            namespace: "kibana".to_owned(),
            resource_key: "saved_object".to_owned(),
            include_resource_names: true,
            service_name: None,
            ignore_filters: Vec::new(),
            sinks: vec![SinkConfig::Console { stream: ConsoleStream::Stdout }],
        }
    }
}

/// One ignore filter as written in a configuration file; see [`IgnoreFilter`] for the semantics.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct IgnoreFilterConfig {
    /// `event.action` values.
    pub actions: Option<Vec<String>>,
    /// `event.category` values.
    pub categories: Option<Vec<String>>,
    /// `event.type` values.
    pub types: Option<Vec<String>>,
    /// `event.outcome` values.
    pub outcomes: Option<Vec<String>>,
    /// Space ids.
    pub spaces: Option<Vec<String>>,
    /// User names.
    pub users: Option<Vec<String>>,
}

/// A sink as written in a configuration file.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// [`ConsoleSink`].
    Console {
        /// `stdout` (default) or `stderr`.
        #[serde(default)]
        stream: ConsoleStream,
    },
    /// [`FileSink`].
    File {
        /// The file to append to.
        path: PathBuf,
        /// `fsync` after every event (default false).
        #[serde(default)]
        sync_every_event: bool,
    },
    /// [`TracingSink`].
    Tracing,
}

/// The console stream of a console sink.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleStream {
    /// Standard output.
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
}

/// A setting that cannot be used, and why.
#[derive(Debug)]
pub struct ConfigError {
    setting: String,
    problem: String,
    source: Option<std::io::Error>,
}

impl ConfigError {
    fn new(setting: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError { setting: setting.into(), problem: problem.into(), source: None }
    }

    /// The setting's path, e.g. `ignore_filters[0].outcomes[1]`.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit setting `{}`: {}", self.setting, self.problem)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// Top-level ECS fields the namespace may not take over.
const RESERVED_NAMESPACES: &[&str] = &[
    "@timestamp",
    "message",
    "event",
    "user",
    "client",
    "source",
    "http",
    "url",
    "user_agent",
    "trace",
    "error",
    "labels",
    "log",
    "process",
    "service",
    "ecs",
];

impl AuditConfig {
    /// Checks every setting and builds the logger (opening files now, so a bad path fails at
    /// start-up).
    pub fn build(&self) -> Result<AuditLogger, ConfigError> {
        let mut builder = AuditLogger::builder().enabled(self.enabled).format(self.format()?);
        for filter in self.ignore_filters()? {
            builder = builder.ignore(filter);
        }
        for (i, sink) in self.sinks.iter().enumerate() {
            builder = match sink {
                SinkConfig::Console { stream: ConsoleStream::Stdout } => builder.sink(ConsoleSink::stdout()),
                SinkConfig::Console { stream: ConsoleStream::Stderr } => builder.sink(ConsoleSink::stderr()),
                SinkConfig::Tracing => builder.sink(TracingSink),
                SinkConfig::File { path, sync_every_event } => {
                    let sink = FileSink::open(path).map_err(|e| ConfigError {
                        setting: format!("sinks[{i}].path"),
                        problem: e.to_string(),
                        source: Some(e),
                    })?;
                    builder.sink(sink.sync_every_event(*sync_every_event))
                }
            };
        }
        Ok(builder.build())
    }

    /// The line format these settings describe.
    pub fn format(&self) -> Result<EcsFormat, ConfigError> {
        check_key("namespace", &self.namespace)?;
        if RESERVED_NAMESPACES.contains(&self.namespace.as_str()) {
            return Err(ConfigError::new(
                "namespace",
                format!("`{}` is an ECS field of its own; pick the application's name", self.namespace),
            ));
        }
        check_key("resource_key", &self.resource_key)?;
        let mut format = EcsFormat::default()
            .with_namespace(&self.namespace)
            .with_resource_key(&self.resource_key)
            .with_resource_names(self.include_resource_names);
        if let Some(service) = &self.service_name {
            format = format.with_service_name(service);
        }
        Ok(format)
    }

    /// The ignore filters these settings describe.
    pub fn ignore_filters(&self) -> Result<Vec<IgnoreFilter>, ConfigError> {
        self.ignore_filters.iter().enumerate().map(|(i, f)| f.to_filter(&format!("ignore_filters[{i}]"))).collect()
    }
}

impl IgnoreFilterConfig {
    fn to_filter(&self, at: &str) -> Result<IgnoreFilter, ConfigError> {
        Ok(IgnoreFilter {
            actions: checked_list(at, "actions", &self.actions, |name| {
                audit_schema::action::check_name(name).map(|()| name.to_owned()).map_err(str::to_owned)
            })?,
            categories: checked_list(at, "categories", &self.categories, |v| {
                v.parse::<Category>().map_err(|e| e.to_string())
            })?,
            types: checked_list(at, "types", &self.types, |v| v.parse::<EventType>().map_err(|e| e.to_string()))?,
            outcomes: checked_list(at, "outcomes", &self.outcomes, |v| {
                v.parse::<Outcome>().map_err(|e| e.to_string())
            })?,
            spaces: checked_list(at, "spaces", &self.spaces, |v| Ok(v.to_owned()))?,
            users: checked_list(at, "users", &self.users, |v| Ok(v.to_owned()))?,
        })
    }
}

/// Parses each value of a listed field; a list that is present must not be empty (as in Kibana).
fn checked_list<T>(
    at: &str,
    field: &str,
    values: &Option<Vec<String>>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<Vec<T>>, ConfigError> {
    let Some(values) = values else {
        return Ok(None);
    };
    if values.is_empty() {
        return Err(ConfigError::new(
            format!("{at}.{field}"),
            "lists at least one value when present (leave it out to match anything)",
        ));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| parse(v).map_err(|problem| ConfigError::new(format!("{at}.{field}[{i}]"), problem)))
        .collect::<Result<Vec<T>, _>>()
        .map(Some)
}

fn check_key(setting: &str, key: &str) -> Result<(), ConfigError> {
    let valid = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(setting, format!("`{key}` is not a usable JSON key (letters, digits, `_` and `-`)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> AuditConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn errors_name_the_setting() {
        let cases = [
            (r#"{"ignore_filters":[{},{"outcomes":["success","maybe"]}]}"#, "ignore_filters[1].outcomes[1]"),
            (r#"{"ignore_filters":[{"actions":[]}]}"#, "ignore_filters[0].actions"),
            (r#"{"ignore_filters":[{"actions":["Saved Object"]}]}"#, "ignore_filters[0].actions[0]"),
            (r#"{"ignore_filters":[{"types":["creaton"]}]}"#, "ignore_filters[0].types[0]"),
            (r#"{"namespace":"event"}"#, "namespace"),
            (r#"{"namespace":"a.b"}"#, "namespace"),
            (r#"{"sinks":[{"type":"file","path":"/nonexistent-dir/x/audit.log"}]}"#, "sinks[0].path"),
        ];
        for (json, setting) in cases {
            let error = parse(json).build().unwrap_err();
            assert_eq!(error.setting(), setting, "{json}: {error}");
            assert!(error.to_string().starts_with(&format!("audit setting `{setting}`")));
        }
    }

    #[test]
    fn unknown_settings_are_rejected_by_serde() {
        let error = serde_json::from_str::<AuditConfig>(r#"{"ignore_filter":[]}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `ignore_filter`"), "{error}");
    }

    #[test]
    fn a_valid_config_builds_filters() {
        let config = parse(
            r#"{"ignore_filters":[{"categories":["database"],"types":["access"],"outcomes":["success"]}],"sinks":[]}"#,
        );
        let filters = config.ignore_filters().unwrap();
        assert_eq!(
            filters,
            [IgnoreFilter::new()
                .categories([Category::Database])
                .types([EventType::Access])
                .outcomes([Outcome::Success])]
        );
        config.build().unwrap();
    }
}
