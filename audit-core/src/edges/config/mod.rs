//! Configuration files: [`AuditConfig`](crate::AuditConfig) and its parts, read with `serde`
//! from the application's own configuration (TOML, YAML, JSON…), mirroring Kibana's
//! `xpack.security.audit.*`.
//!
//! - `settings`: [`AuditConfig`](crate::AuditConfig), [`SinkConfig`], [`RollingFileConfig`], and
//!   building the logger they describe;
//! - `shipping`: [`ShipConfig`], a shipper of a trail to PostgreSQL, NATS or syslog;
//! - `units`: [`ByteSize`] (Kibana's binary units) and [`Interval`] (`1h30m`);
//! - `error`: [`ConfigError`], naming the setting at fault.
//!
//! ```json
//! { "sinks": [{ "type": "rolling_file", "path": "audit.log", "max_size": "100mb", "interval": "24h",
//!               "keep": 7, "durability": "flushed", "on_io_error": "fail_closed" }] }
//! ```

mod error;
mod settings;
mod shipping;
mod units;

pub use error::ConfigError;
pub use settings::{AuditConfig, ConsoleStream, DiffConfig, RollingFileConfig, SinkConfig, WriterGuards};
pub use shipping::{DestinationKind, OtlpProtocol, ShipConfig, SyslogTransport};
pub use units::{ByteSize, Interval};
