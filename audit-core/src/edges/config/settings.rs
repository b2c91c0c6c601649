//! [`AuditConfig`] and the sinks it describes ([`SinkConfig`], [`RollingFileConfig`]), derived
//! from serde with every value typed: a keyword is parsed into its enum, a size into a
//! [`ByteSize`], an interval into an [`Interval`], so a bad value fails where it is written.

use std::path::PathBuf;

use serde::de::{value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::error::{foreign_setting, ConfigError};
use super::shipping::ShipConfig;
use super::units::{ByteSize, Interval};
use crate::logging::AuditLogger;
use crate::output::format::{EcsFormat, LineSchema};
use crate::output::sink::{ConsoleSink, FailurePolicy, SyncFileSink, TracingSink};
use crate::output::writer::{Backpressure, FileWriter, Rotation, WriterGuard};
use crate::policy::IgnoreFilter;
use crate::ship::{ShipperBuilder, ShipperGuard};
use crate::trail::chain::ChainHash;
use audit_schema::Durability;

/// Audit logging settings, mirroring Kibana's `xpack.security.audit.*`.
///
/// Load them with [`AuditConfig::from_json`], [`AuditConfig::from_deserializer`] (TOML, YAML, …:
/// any serde format), or as a field of your own settings. Every problem, with a key or with a
/// value, is a [`ConfigError`] that names the setting and suggests the closest valid name.
///
/// ```
/// use audit_core::AuditConfig;
///
/// let config = AuditConfig::from_json(r#"{
///     "namespace": "shop",
///     "ignore_filters": [{ "actions": ["http_request"], "outcomes": ["unknown"] }],
///     "sinks": [{ "type": "console" }]
/// }"#).unwrap();
/// let (logger, _guards) = config.build().unwrap();
/// assert_eq!(logger.format().namespace(), "shop");
///
/// let error = AuditConfig::from_json(r#"{ "ignore_filters": [{ "categories": ["databse"] }] }"#).unwrap_err();
/// assert_eq!(error.setting(), "ignore_filters[0].categories[0]");
/// assert!(error.to_string().contains("did you mean `database`"));
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(remote = "Self", default, deny_unknown_fields)]
#[non_exhaustive]
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
    /// The lines' schema: `ecs` (default, Kibana's shape) or `ocsf` (see
    /// [`EcsFormat::ocsf`]); a `rolling_file` sink may choose its own.
    pub format: LineSchema,
    /// The longest string value written whole (default `32kb`); longer ones are cut with a
    /// visible `…[truncated N bytes]`.
    pub max_field_bytes: Option<ByteSize>,
    /// The longest line (default `256kb`); a longer event is written with its fields cut shorter.
    pub max_event_bytes: Option<ByteSize>,
    /// A file holding the key secrets are hashed with (HMAC-SHA256, see
    /// [`secret`](crate::secret)); its bytes are the key, a final newline left out. Keep it away
    /// from the trail. Without it, a random key per start.
    pub hmac_key_file: Option<PathBuf>,
    /// Events matching any of these are dropped (Kibana's `ignore_filters`).
    pub ignore_filters: Vec<IgnoreFilter>,
    /// Every write logs a result event after its body, linked to its intent (default false:
    /// the intent alone, as Kibana; see [`changes`](crate::changes)).
    pub write_results: bool,
    /// Which recorded changes become diffs on result events, and their limits.
    pub diff: DiffConfig,
    /// Where events go (default: the console).
    pub sinks: Vec<SinkConfig>,
}

/// The `diff` settings: Kibana's `savedObjectDiff` (`enabled`, `typesToInclude`,
/// `fieldSizeLimit`), and a cap on operations per event. See
/// [`DiffSettings`](crate::policy::diffs::DiffSettings).
///
/// ```
/// use audit_core::AuditConfig;
///
/// let config = AuditConfig::from_json(r#"{
///     "write_results": true,
///     "diff": { "types": ["dashboard"], "field_size_limit": "16kb", "max_ops": 50, "no_ops": true }
/// }"#).unwrap();
/// let (logger, _guards) = config.build().unwrap();
/// assert!(logger.write_results() && logger.diff_settings().includes("dashboard"));
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DiffConfig {
    /// Whether diffs are written at all (default true; changes are only recorded by writes
    /// whose actions carry results).
    pub enabled: bool,
    /// Only resources of these types get diffs (default: every type).
    #[serde(deserialize_with = "crate::policy::filter::non_empty")]
    pub types: Option<Vec<String>>,
    /// The largest value written whole (default `48kb`); a larger one is written as
    /// `Value above fieldSizeLimit`.
    pub field_size_limit: Option<ByteSize>,
    /// The most operations an event carries (default 100); the rest are counted.
    pub max_ops: Option<usize>,
    /// Whether unchanged fields are listed in `noOps` (default false).
    pub no_ops: bool,
}

impl Default for DiffConfig {
    fn default() -> Self {
        DiffConfig { enabled: true, types: None, field_size_limit: None, max_ops: None, no_ops: false }
    }
}

impl DiffConfig {
    /// The settings these describe.
    pub fn settings(&self) -> Result<crate::policy::diffs::DiffSettings, ConfigError> {
        let mut settings = crate::policy::diffs::DiffSettings::new().enabled(self.enabled).no_ops(self.no_ops);
        if let Some(types) = &self.types {
            settings = settings.types(types.iter().cloned());
        }
        if let Some(bytes) = self.field_size_limit {
            settings = settings.field_size_limit(usize::try_from(bytes.bytes()).unwrap_or(usize::MAX));
        }
        match self.max_ops {
            Some(0) => return Err(ConfigError::new("diff.max_ops", "is at least 1")),
            Some(ops) => settings = settings.max_ops(ops),
            None => {}
        }
        Ok(settings)
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            enabled: true,
            namespace: "kibana".to_owned(),
            resource_key: "saved_object".to_owned(),
            include_resource_names: true,
            service_name: None,
            format: LineSchema::Ecs,
            max_field_bytes: None,
            max_event_bytes: None,
            hmac_key_file: None,
            ignore_filters: Vec::new(),
            write_results: false,
            diff: DiffConfig::default(),
            sinks: vec![SinkConfig::Console { stream: ConsoleStream::Stdout }],
        }
    }
}

/// The settings are a map (a JSON object, a TOML table); a list in its place is refused rather
/// than read as the fields in order.
impl<'de> Deserialize<'de> for AuditConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AuditConfig, D::Error> {
        struct Settings;
        impl<'de> Visitor<'de> for Settings {
            type Value = AuditConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the audit settings, a map of setting names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AuditConfig, A::Error> {
                AuditConfig::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(Settings)
    }
}

/// A sink as written in a configuration file, told apart by its `type`: `console`, `file`,
/// `tracing` or `rolling_file`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "SinkFields")]
#[non_exhaustive]
pub enum SinkConfig {
    /// [`ConsoleSink`].
    Console {
        /// `stdout` (default) or `stderr`.
        stream: ConsoleStream,
    },
    /// [`SyncFileSink`]: written on the caller's thread.
    File {
        /// The file to append to.
        path: PathBuf,
        /// `fsync` after every event (default false).
        sync_every_event: bool,
    },
    /// [`TracingSink`].
    Tracing,
    /// [`FileWriter`]: the non-blocking, durable writer, with optional rotation (Kibana's
    /// `rolling-file` appender and more).
    RollingFile(Box<RollingFileConfig>),
}

/// Declares the settings of a `rolling_file` sink once, each with its doc, the type it is read
/// as, the type it is kept as and its default, and makes of that list: [`RollingFileConfig`]
/// and its `new`, the flat map every sink is read through (`SinkFields`), the names a
/// `rolling_file` sink takes, and the settings given.
macro_rules! rolling_file_settings {
    ($( $(#[doc = $doc:literal])* $name:ident: $read:ty => $kept:ty = $default:expr; )*) => {
        /// A [`FileWriter`] as written in a configuration file (`"type": "rolling_file"`).
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct RollingFileConfig {
            /// The active file.
            pub path: PathBuf,
            $( $(#[doc = $doc])* pub $name: $kept, )*
        }

        impl RollingFileConfig {
            /// A writer appending to `path`, with every other setting at its default.
            pub fn new(path: impl Into<PathBuf>) -> RollingFileConfig {
                RollingFileConfig { path: path.into(), $( $name: $default, )* }
            }
        }

        /// Every setting any sink has, as read: one flat map, so that serde reports each
        /// value's error at its own path (an internally tagged enum would read the map whole and
        /// lose it). Which of them the sink's `type` takes is checked when it becomes a
        /// [`SinkConfig`].
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct SinkFields {
            #[serde(rename = "type")]
            kind: SinkKind,
            stream: Option<ConsoleStream>,
            path: Option<PathBuf>,
            sync_every_event: Option<bool>,
            $( $name: Option<$read>, )*
        }

        /// The settings of a `rolling_file` sink.
        const ROLLING_FILE_SETTINGS: &[&str] = &["path", $( stringify!($name), )*];

        impl SinkFields {
            /// Each setting, and whether it was given.
            fn given(&self) -> Vec<(&'static str, bool)> {
                vec![
                    ("stream", self.stream.is_some()),
                    ("path", self.path.is_some()),
                    ("sync_every_event", self.sync_every_event.is_some()),
                    $( (stringify!($name), self.$name.is_some()), )*
                ]
            }

            /// The `rolling_file` sink these settings describe, writing to `path`.
            fn rolling_file(self, path: PathBuf) -> RollingFileConfig {
                RollingFileConfig { path, $( $name: self.$name.map(Into::into).unwrap_or_else(|| $default), )* }
            }
        }
    };
}

rolling_file_settings! {
    /// Rotate when the file would grow past this size: bytes, or with a binary unit (`100mb`).
    max_size: ByteSize => Option<ByteSize> = None;
    /// Rotate at every multiple of this interval (UTC): `24h`, `1h30m`.
    interval: Interval => Option<Interval> = None;
    /// Rotated files to keep (default: all).
    keep: usize => Option<usize> = None;
    /// Gzip rotated files (needs the `compression` feature).
    compress: bool => bool = false;
    /// `buffered` (default), `flushed` or `durable`.
    durability: Durability => Durability = Durability::default();
    /// This file's schema, `ecs` or `ocsf` (default: the settings' `format`).
    format: LineSchema => Option<LineSchema> = None;
    /// Shippers of this trail to central destinations (see [`ShipConfig`]).
    ship: Vec<ShipConfig> => Vec<ShipConfig> = Vec::new();
    /// When the queue is full: `block` (default), `fail_closed` or `drop`.
    when_full: Backpressure => Backpressure = Backpressure::default();
    /// On I/O errors: `fail_open` (default) or `fail_closed`.
    on_io_error: FailurePolicy => FailurePolicy = FailurePolicy::default();
    /// Events the queue holds (default 65536).
    queue_capacity: std::num::NonZeroUsize => Option<std::num::NonZeroUsize> = None;
    /// Chain every line (`event.sequence`, `event.hash`; see [`crate::chain`]); default false,
    /// and implied by the settings below.
    chain: bool => bool = false;
    /// A file holding the chain's HMAC key (then the chain is HMAC-SHA256, and only a holder of
    /// the key can recompute it); implies `chain`.
    chain_key_file: PathBuf => Option<PathBuf> = None;
    /// Where signed checkpoints of the chained trail go (feature `signing`; see
    /// `audit_core::writer::CheckpointPolicy`); needs `checkpoint_key_file`.
    checkpoint_file: PathBuf => Option<PathBuf> = None;
    /// The signing key of the checkpoints (`audit keygen`'s `.key` file).
    checkpoint_key_file: PathBuf => Option<PathBuf> = None;
    /// Write the checkpoints into the trail itself, so that its shippers deliver them with the
    /// events (instead of, or besides, `checkpoint_file`); needs `checkpoint_key_file`.
    checkpoint_in_trail: bool => bool = false;
    /// The trail's name in its checkpoints (default: the key's name).
    checkpoint_origin: String => Option<String> = None;
    /// A checkpoint at least this often (default `1m`).
    checkpoint_every: Interval => Option<Interval> = None;
    /// A checkpoint at least every this many lines (default 10000).
    checkpoint_every_lines: u64 => Option<u64> = None;
    /// Seals every rotated file, signed with this key (`audit keygen`'s `.key` file; feature
    /// `signing`); needs a rotation, and chains the trail.
    seal_key_file: PathBuf => Option<PathBuf> = None;
}

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum SinkKind {
    Console,
    File,
    Tracing,
    RollingFile,
}

impl TryFrom<SinkFields> for SinkConfig {
    type Error = String;

    fn try_from(fields: SinkFields) -> Result<SinkConfig, String> {
        let (name, takes): (&str, &[&str]) = match fields.kind {
            SinkKind::Console => ("console", &["stream"]),
            SinkKind::File => ("file", &["path", "sync_every_event"]),
            SinkKind::Tracing => ("tracing", &[]),
            SinkKind::RollingFile => ("rolling_file", ROLLING_FILE_SETTINGS),
        };
        if let Some(setting) = foreign_setting(&fields.given(), takes) {
            return Err(format!("`{setting}` is not a setting of a `{name}` sink (it takes: {})", takes.join(", ")));
        }
        let needs_path = || format!("a `{name}` sink needs a `path`");
        Ok(match fields.kind {
            SinkKind::Console => SinkConfig::Console { stream: fields.stream.unwrap_or_default() },
            SinkKind::File => SinkConfig::File {
                path: fields.path.ok_or_else(needs_path)?,
                sync_every_event: fields.sync_every_event.unwrap_or(false),
            },
            SinkKind::Tracing => SinkConfig::Tracing,
            SinkKind::RollingFile => {
                let path = fields.path.clone().ok_or_else(needs_path)?;
                let mut config = fields.rolling_file(path);
                // Every setting that needs a chain implies one.
                config.chain |= config.chain_key_file.is_some()
                    || config.checkpoint_file.is_some()
                    || config.checkpoint_in_trail
                    || config.seal_key_file.is_some();
                SinkConfig::RollingFile(Box::new(config))
            }
        })
    }
}

impl RollingFileConfig {
    /// The rotation these settings describe (`None`: never rotate), or the setting at fault.
    fn rotation(&self) -> Result<Option<Rotation>, (&'static str, &'static str)> {
        let mut rotation = match (self.max_size, self.interval) {
            (None, None) => None,
            (Some(size), None) => Some(Rotation::by_size(size.bytes())),
            (None, Some(interval)) => Some(Rotation::every(interval.duration())),
            (Some(size), Some(interval)) => Some(Rotation::every(interval.duration()).max_bytes(size.bytes())),
        };
        if self.keep.is_some() || self.compress {
            let Some(base) = rotation.take() else {
                let setting = if self.keep.is_some() { "keep" } else { "compress" };
                return Err((setting, "`keep` and `compress` need a rotation: set `max_size` or `interval`"));
            };
            #[cfg(feature = "compression")]
            let base = base.compress(self.compress);
            #[cfg(not(feature = "compression"))]
            if self.compress {
                return Err(("compress", "compressing rotated files needs audit-core's `compression` feature"));
            }
            rotation = Some(match self.keep {
                Some(keep) => base.keep(keep),
                None => base,
            });
        }
        Ok(rotation)
    }

    /// Adds the checkpoints these settings ask for.
    #[cfg(feature = "signing")]
    fn checkpoints(
        &self,
        builder: crate::output::writer::FileWriterBuilder,
        at: &str,
    ) -> Result<crate::output::writer::FileWriterBuilder, ConfigError> {
        let mut builder = builder;
        if let Some(path) = &self.seal_key_file {
            let key = crate::trail::checkpoint::SigningKey::from_file(path)
                .map_err(|problem| ConfigError::new(format!("{at}.seal_key_file"), problem))?;
            builder = builder.seals(key);
        }
        if self.checkpoint_in_trail {
            if self.checkpoint_file.is_some() {
                return Err(ConfigError::new(
                    format!("{at}.checkpoint_file"),
                    "checkpoints go to a file or into the trail, not both",
                ));
            }
            let Some(key_file) = &self.checkpoint_key_file else {
                return Err(ConfigError::new(
                    format!("{at}.checkpoint_key_file"),
                    "checkpoints need a signing key (`audit keygen`)",
                ));
            };
            let key = crate::trail::checkpoint::SigningKey::from_file(key_file)
                .map_err(|problem| ConfigError::new(format!("{at}.checkpoint_key_file"), problem))?;
            let origin = self.checkpoint_origin.clone().unwrap_or_else(|| key.name().to_owned());
            return Ok(builder.checkpoints(self.timed(crate::output::writer::CheckpointPolicy::in_trail(origin, key))));
        }
        let (Some(file), Some(key_file)) = (&self.checkpoint_file, &self.checkpoint_key_file) else {
            return match (&self.checkpoint_file, &self.checkpoint_key_file) {
                (None, None) => Ok(builder),
                (Some(_), None) => Err(ConfigError::new(
                    format!("{at}.checkpoint_key_file"),
                    "checkpoints need a signing key (`audit keygen`)",
                )),
                _ => Err(ConfigError::new(
                    format!("{at}.checkpoint_file"),
                    "a signing key without a checkpoint file to write",
                )),
            };
        };
        let key = crate::trail::checkpoint::SigningKey::from_file(key_file)
            .map_err(|problem| ConfigError::new(format!("{at}.checkpoint_key_file"), problem))?;
        let origin = self.checkpoint_origin.clone().unwrap_or_else(|| key.name().to_owned());
        Ok(builder.checkpoints(self.timed(crate::output::writer::CheckpointPolicy::new(origin, key, file))))
    }

    /// `policy` with the configured intervals.
    #[cfg(feature = "signing")]
    fn timed(&self, mut policy: crate::output::writer::CheckpointPolicy) -> crate::output::writer::CheckpointPolicy {
        if let Some(every) = self.checkpoint_every {
            policy = policy.every(every.duration());
        }
        if let Some(lines) = self.checkpoint_every_lines {
            policy = policy.every_lines(lines);
        }
        policy
    }

    #[cfg(not(feature = "signing"))]
    fn checkpoints(
        &self,
        builder: crate::output::writer::FileWriterBuilder,
        at: &str,
    ) -> Result<crate::output::writer::FileWriterBuilder, ConfigError> {
        if self.seal_key_file.is_some() {
            return Err(ConfigError::new(format!("{at}.seal_key_file"), "seals need audit-core's `signing` feature"));
        }
        match (&self.checkpoint_file, &self.checkpoint_key_file) {
            (None, None) if !self.checkpoint_in_trail => Ok(builder),
            _ => Err(ConfigError::new(
                format!("{at}.checkpoint_file"),
                "signed checkpoints need audit-core's `signing` feature",
            )),
        }
    }

    /// Starts the writer these settings describe; `at` names the sink in errors.
    fn start(&self, at: &str, format: &EcsFormat) -> Result<(FileWriter, WriterGuard), ConfigError> {
        let mut builder = FileWriter::builder(&self.path)
            .durability(self.durability)
            .when_full(self.when_full)
            .on_io_error(self.on_io_error);
        if let Some(schema) = self.format.filter(|schema| *schema != format.schema()) {
            builder = builder.format(format.clone().with_schema(schema));
        }
        match self.rotation() {
            Ok(Some(rotation)) => builder = builder.rotation(rotation),
            Ok(None) => {}
            Err((setting, problem)) => return Err(ConfigError::new(format!("{at}.{setting}"), problem)),
        }
        if let Some(capacity) = self.queue_capacity {
            builder = builder.queue_capacity(capacity.get());
        }
        if let Some(path) = &self.chain_key_file {
            let key = read_key(path, &format!("{at}.chain_key_file"))?;
            builder = builder.chain(ChainHash::HmacSha256(key));
        } else if self.chain {
            builder = builder.chain(ChainHash::Sha256);
        }
        builder = self.checkpoints(builder, at)?;
        builder.build().map_err(|e| {
            let setting = if e.kind() == std::io::ErrorKind::Unsupported { "compress" } else { "path" };
            ConfigError::io(format!("{at}.{setting}"), e)
        })
    }
}

/// A key file's bytes, a final newline left out; at least 16 of them.
fn read_key(path: &std::path::Path, setting: &str) -> Result<Vec<u8>, ConfigError> {
    let key = std::fs::read(path)
        .map_err(|e| ConfigError::caused_by(setting, format!("cannot read {}: {e}", path.display()), e))?;
    let key = key.strip_suffix(b"\n").unwrap_or(&key);
    let key = key.strip_suffix(b"\r").unwrap_or(key);
    if key.len() < 16 {
        return Err(ConfigError::new(
            setting,
            format!(
                "{} holds {} bytes: a key needs at least 16 (32 random bytes is a good one)",
                path.display(),
                key.len()
            ),
        ));
    }
    Ok(key.to_vec())
}

/// Stops the background writers a configuration started, after writing out everything they
/// accepted. Keep it alive as long as events may be logged (typically until the end of `main`).
#[must_use = "dropping the guards stops the configured file writers"]
#[derive(Default)]
pub struct WriterGuards(Vec<WriterGuard>, Vec<ShipperGuard>);

impl std::fmt::Debug for WriterGuards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WriterGuards({} writers, {} shippers)", self.0.len(), self.1.len())
    }
}

impl WriterGuards {
    /// Writes out everything accepted, then stops every writer; then gives the in-process
    /// shippers up to five seconds to deliver the rest (what they do not stays in the trail, for
    /// the next start). The first error is returned.
    pub fn shutdown(self) -> std::io::Result<()> {
        let mut first = Ok(());
        for guard in self.0 {
            let result = guard.shutdown();
            if first.is_ok() {
                first = result;
            }
        }
        // All at once: five seconds in all, not five per shipper.
        for shipper in &self.1 {
            shipper.begin_shutdown(std::time::Duration::from_secs(5));
        }
        for shipper in self.1 {
            shipper.shutdown(std::time::Duration::from_secs(5));
        }
        first
    }

    /// The in-process shippers' stats, in the order of the configuration.
    pub fn shippers(&self) -> Vec<crate::ship::ShipperStats> {
        self.1.iter().map(ShipperGuard::stats).collect()
    }
}

/// The console stream of a console sink.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConsoleStream {
    /// Standard output.
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
}

impl AuditConfig {
    /// Reads the settings from JSON text. Errors name the setting, key or value alike.
    pub fn from_json(text: &str) -> Result<AuditConfig, ConfigError> {
        AuditConfig::from_deserializer(&mut serde_json::Deserializer::from_str(text))
    }

    /// Reads the settings from any serde deserializer (a TOML or YAML document, say), naming
    /// the setting at fault in the error, with a suggestion for a misspelt key or keyword.
    pub fn from_deserializer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AuditConfig, ConfigError>
    where
        D::Error: std::fmt::Display,
    {
        serde_path_to_error::deserialize(deserializer)
            .map_err(|error| ConfigError::from_serde(error.path(), &error.inner().to_string()))
    }

    /// Checks what the types cannot (the namespace and resource key) and builds the logger,
    /// opening files now so that a bad path fails at start-up, with the guards of the file
    /// writers it started.
    pub fn build(&self) -> Result<(AuditLogger, WriterGuards), ConfigError> {
        let mut guards = WriterGuards::default();
        let format = self.format()?;
        let mut builder = AuditLogger::builder()
            .enabled(self.enabled)
            .format(format.clone())
            .write_results(self.write_results)
            .diffs(self.diff.settings()?);
        if let Some(path) = &self.hmac_key_file {
            let key = read_key(path, "hmac_key_file")?;
            builder = builder.hmac_key(key);
        }
        for (i, filter) in self.ignore_filters.iter().enumerate() {
            if let Err((field, problem)) = filter.check() {
                return Err(ConfigError::new(format!("ignore_filters[{i}].{field}"), problem));
            }
            builder = builder.ignore(filter.clone());
        }
        for (i, sink) in self.sinks.iter().enumerate() {
            let at = format!("sinks[{i}]");
            builder = match sink {
                SinkConfig::Console { stream: ConsoleStream::Stdout } => builder.sink(ConsoleSink::stdout()),
                SinkConfig::Console { stream: ConsoleStream::Stderr } => builder.sink(ConsoleSink::stderr()),
                SinkConfig::Tracing => builder.sink(TracingSink::new()),
                SinkConfig::File { path, sync_every_event } => {
                    let sink = SyncFileSink::open(path).map_err(|e| ConfigError::io(format!("{at}.path"), e))?;
                    builder.sink(sink.sync_every_event(*sync_every_event))
                }
                SinkConfig::RollingFile(settings) => {
                    let (writer, guard) = settings.start(&at, &format)?;
                    guards.0.push(guard);
                    for (j, ship) in settings.ship.iter().enumerate().filter(|(_, ship)| ship.in_process) {
                        let at = format!("{at}.ship[{j}]");
                        let shipper = ship
                            .shipper(&settings.path, &self.namespace, &at)?
                            .reports_to(writer.clone())
                            .follow(&writer);
                        guards.1.push(shipper.spawn().map_err(|e| ConfigError::io(at, e))?);
                    }
                    builder.sink(writer)
                }
            };
        }
        let logger = builder.build();
        logger.check().map_err(|error| ConfigError::io("sinks", error))?;
        Ok((logger, guards))
    }

    /// The shippers that `"in_process": false` leaves to a process of their own (`audit ship
    /// --config FILE`), not started, each with the setting that describes it (`sinks[0].ship[1]`).
    pub fn standalone_shippers(&self) -> Result<Vec<(String, ShipperBuilder)>, ConfigError> {
        let mut shippers = Vec::new();
        for (i, sink) in self.sinks.iter().enumerate() {
            let SinkConfig::RollingFile(settings) = sink else { continue };
            for (j, ship) in settings.ship.iter().enumerate().filter(|(_, ship)| !ship.in_process) {
                let at = format!("sinks[{i}].ship[{j}]");
                shippers.push((at.clone(), ship.shipper(&settings.path, &self.namespace, &at)?));
            }
        }
        Ok(shippers)
    }

    /// The line format these settings describe.
    pub fn format(&self) -> Result<EcsFormat, ConfigError> {
        EcsFormat::check_namespace(&self.namespace).map_err(|problem| ConfigError::new("namespace", problem))?;
        EcsFormat::check_resource_key(&self.resource_key)
            .map_err(|problem| ConfigError::new("resource_key", problem))?;
        let mut format = EcsFormat::default()
            .with_namespace(&self.namespace)
            .with_resource_key(&self.resource_key)
            .with_resource_names(self.include_resource_names)
            .with_schema(self.format);
        if let Some(service) = &self.service_name {
            format = format.with_service_name(service);
        }
        if let Some(bytes) = self.max_field_bytes {
            format = format.with_max_field_bytes(usize::try_from(bytes.bytes()).unwrap_or(usize::MAX));
        }
        if let Some(bytes) = self.max_event_bytes {
            format = format.with_max_event_bytes(usize::try_from(bytes.bytes()).unwrap_or(usize::MAX));
        }
        Ok(format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_schema::{Category, EventType, Outcome};

    fn parse(json: &str) -> AuditConfig {
        AuditConfig::from_json(json).unwrap()
    }

    fn error(json: &str) -> ConfigError {
        match AuditConfig::from_json(json) {
            Ok(config) => config.build().err().unwrap_or_else(|| panic!("{json} was accepted")),
            Err(error) => error,
        }
    }

    #[test]
    fn errors_name_the_setting_for_keys_and_values_alike() {
        let cases = [
            (r#"{"ignore_filters":[{},{"outcomes":["success","maybe"]}]}"#, "ignore_filters[1].outcomes[1]", None),
            (r#"{"ignore_filters":[{"actions":[]}]}"#, "ignore_filters[0].actions", None),
            (r#"{"ignore_filters":[{"actions":["Saved Object"]}]}"#, "ignore_filters[0].actions[0]", None),
            (r#"{"ignore_filters":[{"types":["creaton"]}]}"#, "ignore_filters[0].types[0]", Some("creation")),
            (r#"{"ignore_filters":[{"categries":["web"]}]}"#, "ignore_filters[0].categries", Some("categories")),
            (r#"{"ignore_filter":[]}"#, "ignore_filter", Some("ignore_filters")),
            (r#"{"namespace":"event"}"#, "namespace", None),
            (r#"{"namespace":"a.b"}"#, "namespace", None),
            (r#"{"resource_key":"space_id"}"#, "resource_key", None),
            (r#"{"sinks":[{"type":"file","path":"/nonexistent-dir/x/audit.log"}]}"#, "sinks[0].path", None),
            (r#"{"sinks":[{"type":"rolling_fil","path":"a.log"}]}"#, "sinks[0].type", Some("rolling_file")),
            (r#"{"sinks":[{"type":"console","path":"a.log"}]}"#, "sinks[0]", None),
            (r#"{"sinks":[{"type":"file"}]}"#, "sinks[0]", None),
            (r#"{"sinks":[{"type":"console","straem":"stderr"}]}"#, "sinks[0].straem", Some("stream")),
            (r#"[true, "kibana"]"#, "", None),
            (r#"{"hmac_key_file":"/nonexistent-dir/key"}"#, "hmac_key_file", None),
            (r#"{"max_field_bytes":"lots"}"#, "max_field_bytes", None),
            (r#"{"write_result":true}"#, "write_result", Some("write_results")),
            (r#"{"diff":{"types":[]}}"#, "diff.types", None),
            (r#"{"diff":{"max_ops":0}}"#, "diff.max_ops", None),
            (r#"{"diff":{"field_size_limit":"huge"}}"#, "diff.field_size_limit", None),
            (r#"{"diff":{"type":["dashboard"]}}"#, "diff.type", Some("types")),
        ];
        for (json, setting, suggestion) in cases {
            let error = error(json);
            assert_eq!(error.setting(), setting, "{json}: {error}");
            if !setting.is_empty() {
                assert!(error.to_string().starts_with(&format!("audit setting `{setting}`")), "{error}");
            }
            if let Some(close) = suggestion {
                assert!(error.problem().contains(&format!("did you mean `{close}`?")), "{json}: {error}");
            }
        }
    }

    #[test]
    fn rolling_file_settings_are_typed() {
        let dir = std::env::temp_dir().join(format!("audit-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log").display().to_string().replace('\\', "/");
        let cases = [
            (
                format!(r#"{{"type":"rolling_file","path":"{path}","max_size":"10 parsecs"}}"#),
                "sinks[0].max_size",
                None,
            ),
            (format!(r#"{{"type":"rolling_file","path":"{path}","interval":"0h"}}"#), "sinks[0].interval", None),
            (format!(r#"{{"type":"rolling_file","path":"{path}","keep":3}}"#), "sinks[0].keep", None),
            (
                format!(r#"{{"type":"rolling_file","path":"{path}","durability":"flushd"}}"#),
                "sinks[0].durability",
                Some("flushed"),
            ),
            (
                format!(r#"{{"type":"rolling_file","path":"{path}","when_full":"blok"}}"#),
                "sinks[0].when_full",
                Some("block"),
            ),
            (
                format!(r#"{{"type":"rolling_file","path":"{path}","on_io_error":"panic"}}"#),
                "sinks[0].on_io_error",
                None,
            ),
            (
                format!(r#"{{"type":"rolling_file","path":"{path}","queue_capacity":0}}"#),
                "sinks[0].queue_capacity",
                None,
            ),
            (
                format!(r#"{{"type":"rolling_file","path":"{path}","max_sise":"1mb"}}"#),
                "sinks[0].max_sise",
                Some("max_size"),
            ),
            (format!(r#"{{"type":"rolling_file","path":"{path}","chian":true}}"#), "sinks[0].chian", Some("chain")),
            (format!(r#"{{"type":"rolling_file","path":"{path}","shipp":[]}}"#), "sinks[0].shipp", Some("ship")),
            (r#"{"type":"rolling_file","path":"/nonexistent-dir/x/audit.log"}"#.to_owned(), "sinks[0].path", None),
        ];
        for (sink, setting, suggestion) in cases {
            let error = error(&format!(r#"{{"sinks":[{sink}]}}"#));
            assert_eq!(error.setting(), setting, "{sink}: {error}");
            if let Some(close) = suggestion {
                assert!(error.problem().contains(&format!("did you mean `{close}`?")), "{sink}: {error}");
            }
        }
        let good = format!(
            r#"{{"sinks":[{{"type":"rolling_file","path":"{path}","max_size":"100mb","interval":"1h30m","keep":7,"durability":"durable","when_full":"fail_closed","on_io_error":"fail_closed","queue_capacity":1024,"chain":true}}]}}"#
        );
        let config = parse(&good);
        let SinkConfig::RollingFile(settings) = &config.sinks[0] else { panic!("{config:?}") };
        assert_eq!(settings.max_size.map(ByteSize::bytes), Some(100 << 20));
        assert_eq!(settings.interval.map(Interval::duration), Some(std::time::Duration::from_secs(5400)));
        assert_eq!((settings.durability, settings.when_full), (Durability::Durable, Backpressure::FailClosed));
        let (logger, guards) = config.build().unwrap();
        logger.log(crate::AuditEvent::new(&crate::kibana::SPACE_GET).with_outcome(crate::Outcome::Success)).unwrap();
        guards.shutdown().unwrap();
        let written = std::fs::read_to_string(dir.join("audit.log")).unwrap();
        assert_eq!(written.lines().count(), 1);
        assert!(written.contains("\"event\":{\"sequence\":1,\"hash\":\""), "chained: {written}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(feature = "signing")]
    #[test]
    fn checkpoints_from_the_config_are_signed_and_verify() {
        use crate::trail::checkpoint::{Checkpoint, SigningKey};
        let dir = std::env::temp_dir().join(format!("audit-config-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = SigningKey::generate("config.example/audit").unwrap();
        std::fs::write(dir.join("signer.key"), key.to_text()).unwrap();
        let json = format!(
            r#"{{"sinks":[{{"type":"rolling_file","path":"{0}/audit.log","checkpoint_file":"{0}/audit.checkpoint","checkpoint_key_file":"{0}/signer.key","checkpoint_every_lines":1}}]}}"#,
            dir.display()
        );
        let (logger, guards) = parse(&json).build().unwrap();
        logger.log(crate::AuditEvent::new(&crate::kibana::SPACE_GET).with_outcome(crate::Outcome::Success)).unwrap();
        guards.shutdown().unwrap();
        let note = std::fs::read_to_string(dir.join("audit.checkpoint")).unwrap();
        let checkpoint = Checkpoint::verify(&note, &key.public_key()).unwrap();
        assert_eq!((checkpoint.origin.as_str(), checkpoint.size), ("config.example/audit", 1));
        // Seals from the config: every rotated file gets one.
        let sealed = format!(
            r#"{{"sinks":[{{"type":"rolling_file","path":"{0}/s.log","max_size":"1kb","seal_key_file":"{0}/signer.key"}}]}}"#,
            dir.display()
        );
        let (logger, guards) = parse(&sealed).build().unwrap();
        for _ in 0..20 {
            logger
                .log(crate::AuditEvent::new(&crate::kibana::SPACE_GET).with_outcome(crate::Outcome::Success))
                .unwrap();
        }
        guards.shutdown().unwrap();
        let seals = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().to_string_lossy().ends_with(".seal"))
            .count();
        assert!(seals >= 2, "{seals} seals");
        let missing = format!(
            r#"{{"sinks":[{{"type":"rolling_file","path":"{0}/b.log","checkpoint_file":"{0}/b.checkpoint"}}]}}"#,
            dir.display()
        );
        assert_eq!(error(&missing).setting(), "sinks[0].checkpoint_key_file");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_valid_config_builds_filters() {
        let config = parse(
            r#"{"ignore_filters":[{"categories":["database"],"types":["access"],"outcomes":["success"]}],"sinks":[]}"#,
        );
        assert_eq!(
            config.ignore_filters,
            [IgnoreFilter::new()
                .categories([Category::Database])
                .types([EventType::Access])
                .outcomes([Outcome::Success])]
        );
        let (_logger, _guards) = config.build().unwrap();
        assert_eq!(AuditConfig::from_json("{}").unwrap(), AuditConfig::default());
    }
}
