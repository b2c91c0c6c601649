//! Configuration files: [`AuditConfig`](crate::AuditConfig) and its parts, read with `serde`
//! from the application's own configuration (TOML, YAML, JSON…), mirroring Kibana's
//! `xpack.security.audit.*`.

mod settings;

pub use settings::{AuditConfig, ConfigError, ConsoleStream, IgnoreFilterConfig, SinkConfig, WriterGuards};
