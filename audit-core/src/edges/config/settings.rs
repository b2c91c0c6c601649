//! [`AuditConfig`]: the logger's settings as a plain `serde` struct, so applications load them from
//! their own configuration file (TOML, YAML, JSON…). Mirrors Kibana's `xpack.security.audit.*`.
//!
//! Every problem is reported as a [`ConfigError`] naming the setting, e.g.
//! ``audit setting `ignore_filters[0].categories[1]`: `databse` is not an ECS event category; did you mean `database`?``.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::logging::AuditLogger;
use crate::output::format::EcsFormat;
use crate::output::sink::{ConsoleSink, FailurePolicy, SyncFileSink, TracingSink};
use crate::output::writer::{Backpressure, FileWriter, Rotation, WriterGuard};
use crate::policy::IgnoreFilter;
use crate::{Category, Durability, EventType, Outcome};

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
/// let (logger, _guards) = config.build().unwrap();
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
    /// [`SyncFileSink`].
    File {
        /// The file to append to.
        path: PathBuf,
        /// `fsync` after every event (default false).
        #[serde(default)]
        sync_every_event: bool,
    },
    /// [`TracingSink`].
    Tracing,
    /// [`FileWriter`]: the non-blocking, durable writer, with optional rotation (Kibana's
    /// `rolling-file` appender and more).
    RollingFile {
        /// The active file.
        path: PathBuf,
        /// Rotate when the file would grow past this size: bytes, or with a unit (`100mb`, `1gb`).
        #[serde(default)]
        max_size: Option<String>,
        /// Rotate at every multiple of this interval (UTC): `24h`, `1h`, `30m`.
        #[serde(default)]
        interval: Option<String>,
        /// Rotated files to keep (default: all).
        #[serde(default)]
        keep: Option<usize>,
        /// Gzip rotated files (needs the `compression` feature).
        #[serde(default)]
        compress: bool,
        /// `buffered` (default), `flushed` or `durable`.
        #[serde(default)]
        durability: Option<String>,
        /// When the queue is full: `block` (default), `fail_closed` or `drop`.
        #[serde(default)]
        when_full: Option<String>,
        /// On I/O errors: `fail_open` (default) or `fail_closed`.
        #[serde(default)]
        on_io_error: Option<String>,
        /// Events the queue holds (default 65536).
        #[serde(default)]
        queue_capacity: Option<usize>,
    },
}

/// Stops the background writers a configuration started, after writing out everything they
/// accepted. Keep it alive as long as events may be logged (typically until the end of `main`).
#[must_use = "dropping the guards stops the configured file writers"]
#[derive(Default)]
pub struct WriterGuards(Vec<WriterGuard>);

impl std::fmt::Debug for WriterGuards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WriterGuards({} writers)", self.0.len())
    }
}

impl WriterGuards {
    /// Writes out everything accepted, then stops every writer; the first error is returned.
    pub fn shutdown(self) -> std::io::Result<()> {
        let mut first = Ok(());
        for guard in self.0 {
            let result = guard.shutdown();
            if first.is_ok() {
                first = result;
            }
        }
        first
    }
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
    /// start-up), with the guards of the file writers it started.
    pub fn build(&self) -> Result<(AuditLogger, WriterGuards), ConfigError> {
        let mut guards = WriterGuards::default();
        let mut builder = AuditLogger::builder().enabled(self.enabled).format(self.format()?);
        for filter in self.ignore_filters()? {
            builder = builder.ignore(filter);
        }
        for (i, sink) in self.sinks.iter().enumerate() {
            builder = match sink {
                SinkConfig::Console { stream: ConsoleStream::Stdout } => builder.sink(ConsoleSink::stdout()),
                SinkConfig::Console { stream: ConsoleStream::Stderr } => builder.sink(ConsoleSink::stderr()),
                SinkConfig::Tracing => builder.sink(TracingSink::new()),
                SinkConfig::File { path, sync_every_event } => {
                    let sink = SyncFileSink::open(path).map_err(|e| ConfigError {
                        setting: format!("sinks[{i}].path"),
                        problem: e.to_string(),
                        source: Some(e),
                    })?;
                    builder.sink(sink.sync_every_event(*sync_every_event))
                }
                SinkConfig::RollingFile { .. } => {
                    let (writer, guard) = rolling_file(sink, &format!("sinks[{i}]"))?;
                    guards.0.push(guard);
                    builder.sink(writer)
                }
            };
        }
        Ok((builder.build(), guards))
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

/// Builds a [`FileWriter`] from its configuration, naming the setting at fault.
fn rolling_file(sink: &SinkConfig, at: &str) -> Result<(FileWriter, WriterGuard), ConfigError> {
    let SinkConfig::RollingFile {
        path,
        max_size,
        interval,
        keep,
        compress,
        durability,
        when_full,
        on_io_error,
        queue_capacity,
    } = sink
    else {
        unreachable!("called for rolling_file sinks")
    };
    let mut rotation: Option<Rotation> = None;
    if let Some(size) = max_size {
        let bytes = parse_size(size).map_err(|problem| ConfigError::new(format!("{at}.max_size"), problem))?;
        rotation = Some(Rotation::by_size(bytes));
    }
    if let Some(interval) = interval {
        let every = parse_duration(interval).map_err(|problem| ConfigError::new(format!("{at}.interval"), problem))?;
        rotation = Some(match rotation {
            Some(by_size) => Rotation { every: Some(every), ..by_size },
            None => Rotation::every(every),
        });
    }
    if keep.is_some() || *compress {
        let base = rotation.take().ok_or_else(|| {
            ConfigError::new(
                format!("{at}.keep"),
                "`keep` and `compress` need a rotation: set `max_size` or `interval`",
            )
        })?;
        rotation = Some(Rotation { keep: *keep, compress: *compress, ..base });
    }
    let choice = |field: &str, value: &Option<String>, options: &[&str]| -> Result<Option<usize>, ConfigError> {
        value
            .as_deref()
            .map(|v| {
                options.iter().position(|o| *o == v).ok_or_else(|| {
                    ConfigError::new(format!("{at}.{field}"), format!("`{v}` is not one of: {}", options.join(", ")))
                })
            })
            .transpose()
    };
    let mut builder = FileWriter::builder(path);
    if let Some(rotation) = rotation {
        builder = builder.rotation(rotation);
    }
    if let Some(i) = choice("durability", durability, &["buffered", "flushed", "durable"])? {
        builder = builder.durability([Durability::Buffered, Durability::Flushed, Durability::Durable][i]);
    }
    if let Some(i) = choice("when_full", when_full, &["block", "fail_closed", "drop"])? {
        builder = builder.when_full([Backpressure::Block, Backpressure::FailClosed, Backpressure::Drop][i]);
    }
    if let Some(i) = choice("on_io_error", on_io_error, &["fail_open", "fail_closed"])? {
        builder = builder.on_io_error([FailurePolicy::FailOpen, FailurePolicy::FailClosed][i]);
    }
    if let Some(capacity) = queue_capacity {
        if *capacity == 0 {
            return Err(ConfigError::new(format!("{at}.queue_capacity"), "must be at least 1"));
        }
        builder = builder.queue_capacity(*capacity);
    }
    builder.build().map_err(|e| {
        let setting = if e.kind() == std::io::ErrorKind::Unsupported { "compress" } else { "path" };
        ConfigError { setting: format!("{at}.{setting}"), problem: e.to_string(), source: Some(e) }
    })
}

/// `1048576`, `512kb`, `100mb`, `1gb` (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = lower.split_at(lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len()));
    let value: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size like `100mb`"))?;
    let scale = match unit.trim() {
        "" | "b" => 1,
        "kb" | "k" => 1 << 10,
        "mb" | "m" => 1 << 20,
        "gb" | "g" => 1 << 30,
        _ => return Err(format!("`{text}`: the unit is b, kb, mb or gb")),
    };
    match value.checked_mul(scale) {
        Some(0) | None => Err(format!("`{text}` is not a usable size")),
        Some(bytes) => Ok(bytes),
    }
}

/// `500ms`, `30s`, `15m`, `24h`, `7d`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = lower.split_at(lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len()));
    let value: u64 = digits.parse().map_err(|_| format!("`{text}` is not a duration like `24h`"))?;
    let millis = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{text}`: the unit is ms, s, m, h or d")),
    };
    match value.checked_mul(millis) {
        Some(0) | None => Err(format!("`{text}` is not a usable duration")),
        Some(ms) => Ok(std::time::Duration::from_millis(ms)),
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
    fn rolling_file_settings_are_checked() {
        let dir = std::env::temp_dir().join(format!("audit-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log").display().to_string().replace('\\', "/");
        let cases = [
            (format!(r#"{{"type":"rolling_file","path":"{path}","max_size":"10 parsecs"}}"#), "sinks[0].max_size"),
            (format!(r#"{{"type":"rolling_file","path":"{path}","interval":"0h"}}"#), "sinks[0].interval"),
            (format!(r#"{{"type":"rolling_file","path":"{path}","keep":3}}"#), "sinks[0].keep"),
            (format!(r#"{{"type":"rolling_file","path":"{path}","durability":"fsync"}}"#), "sinks[0].durability"),
            (format!(r#"{{"type":"rolling_file","path":"{path}","when_full":"wait"}}"#), "sinks[0].when_full"),
            (format!(r#"{{"type":"rolling_file","path":"{path}","on_io_error":"panic"}}"#), "sinks[0].on_io_error"),
            (r#"{"type":"rolling_file","path":"/nonexistent-dir/x/audit.log"}"#.to_owned(), "sinks[0].path"),
        ];
        for (sink, setting) in cases {
            let Err(error) = parse(&format!(r#"{{"sinks":[{sink}]}}"#)).build() else { panic!("{sink} was accepted") };
            assert_eq!(error.setting(), setting, "{sink}: {error}");
        }
        let good = format!(
            r#"{{"sinks":[{{"type":"rolling_file","path":"{path}","max_size":"100mb","interval":"24h","keep":7,"durability":"durable","when_full":"fail_closed","on_io_error":"fail_closed","queue_capacity":1024}}]}}"#
        );
        let (logger, guards) = parse(&good).build().unwrap();
        logger.log(crate::AuditEvent::new(&crate::kibana::SPACE_GET).with_outcome(crate::Outcome::Success)).unwrap();
        guards.shutdown().unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("audit.log")).unwrap().lines().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
        assert_eq!(parse_size("512kb"), Ok(512 * 1024));
        assert_eq!(parse_duration("15m"), Ok(std::time::Duration::from_secs(900)));
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
        let (_logger, _guards) = config.build().unwrap();
    }
}
