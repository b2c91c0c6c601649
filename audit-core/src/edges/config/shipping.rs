//! [`ShipConfig`]: a shipper of a `rolling_file` sink's trail, as written in a configuration
//! file, and the [`Shipper`] it builds.
//!
//! ```json
//! { "sinks": [{ "type": "rolling_file", "path": "/var/log/shop/audit.log", "max_size": "100mb", "chain": true,
//!               "ship": [
//!                 { "to": "nats", "servers": "nats://n1:4222,nats://n2:4222,nats://n3:4222", "replicas": 3 },
//!                 { "to": "postgres", "url": "postgresql://shipper@db/audit", "password_file": "/etc/shop/pg.pass",
//!                   "migrate": true, "in_process": false },
//!                 { "to": "syslog", "transport": "tls", "address": "siem:6514", "tls_ca_file": "/etc/shop/siem-ca.pem" }
//!               ] }] }
//! ```
//!
//! A shipper with `"in_process": true` (the default) runs on a thread of the service that
//! builds the configuration; one with `false` is left to `audit ship --config FILE`, a process
//! of its own beside the service.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{foreign_setting, ConfigError};
use super::units::{ByteSize, Interval};
use crate::ship::ShipperBuilder;

/// Declares the settings of a shipper once: the ones every destination takes, then each
/// destination's own, with the destinations that take it. Makes [`ShipConfig`], the names each
/// destination takes and the destination settings given.
macro_rules! ship_settings {
    (
        common { $( $(#[$common_meta:meta])* $common:ident: $common_ty:ty, )* }
        own { $( $(#[doc = $doc:literal])* [$($kind:ident),+] $name:ident: $ty:ty, )* }
    ) => {
        /// One shipper of a trail (`"ship": [...]` in a `rolling_file` sink), told apart by `to`.
        #[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
        #[serde(deny_unknown_fields)]
        #[non_exhaustive]
        pub struct ShipConfig {
            $( $(#[$common_meta])* pub $common: $common_ty, )*
            $( $(#[doc = $doc])* pub $name: Option<$ty>, )*
        }

        /// Each destination's own settings, and the destinations that take it.
        const OWN_SETTINGS: &[(&str, &[DestinationKind])] =
            &[ $( (stringify!($name), &[$(DestinationKind::$kind),+]), )* ];

        impl ShipConfig {
            /// Which destination-specific settings are set.
            fn given(&self) -> Vec<(&'static str, bool)> {
                vec![ $( (stringify!($name), self.$name.is_some()), )* ]
            }
        }
    };
}

ship_settings! {
    common {
        /// `postgres`, `nats`, `syslog` or `otlp`.
        to: DestinationKind,
        /// Whether the service runs this shipper itself (default true), or leaves it to
        /// `audit ship --config FILE`.
        #[serde(default = "yes")]
        in_process: bool,
        /// Where the shipper keeps its cursor (default: beside the trail, named for the destination).
        cursor: Option<PathBuf>,
        /// Events per batch (default 1000).
        max_batch_events: Option<NonZeroUsize>,
        /// Bytes per batch, about (default `1mb`).
        max_batch_bytes: Option<ByteSize>,
        /// Report falling behind after this long (default `1m`).
        report_lag_after: Option<Interval>,
        /// The name this machine's events are known by at the destination (default: the host name).
        origin: Option<String>,
        /// The CA certificates (PEM) the server's certificate must chain to (default: the system's).
        tls_ca_file: Option<PathBuf>,
        /// A client certificate chain (PEM), with `tls_client_key`.
        tls_client_cert: Option<PathBuf>,
        /// The client certificate's key (PEM).
        tls_client_key: Option<PathBuf>,
    }
    own {
        /// postgres: the database (`postgresql://user@host:port/db`).
        [Postgres] url: String,
        /// postgres: a file holding the password (kept out of the url and of this file).
        [Postgres] password_file: PathBuf,
        /// postgres: the table (default `audit_events`).
        [Postgres] table: String,
        /// postgres: create the table, indexes and triggers when missing (default false).
        [Postgres] migrate: bool,
        /// nats: the servers, comma-separated `nats://host:port` urls.
        [Nats] servers: String,
        /// nats: the stream (default `AUDIT`).
        [Nats] stream: String,
        /// nats: the subject prefix (default `audit.events`).
        [Nats] subject_prefix: String,
        /// nats: create or update the stream with this many replicas.
        [Nats] replicas: NonZeroUsize,
        /// nats: the stream's duplicate window, when `replicas` makes it (default `1h`).
        [Nats] duplicate_window: Interval,
        /// nats: a `.creds` file.
        [Nats] credentials_file: PathBuf,
        /// syslog: `tcp` (default), `tls` or `unix`.
        [Syslog] transport: SyslogTransport,
        /// syslog: `host:port` (tcp, tls).
        [Syslog] address: String,
        /// syslog: the local socket (unix; default `/dev/log`).
        [Syslog] socket: PathBuf,
        /// syslog: the facility, 0 to 23 (default 13, `log audit`).
        [Syslog] facility: u8,
        /// syslog: APP-NAME (default `audit`).
        [Syslog] app_name: String,
        /// postgres, nats: connect over TLS (syslog: `"transport": "tls"`).
        [Postgres, Nats] tls: bool,
        /// otlp: the collector's url: OTLP/HTTP (`http://collector:4318`; `/v1/logs` is added),
        /// or OTLP/gRPC with `"protocol": "grpc"` (`http://collector:4317`).
        [Otlp] endpoint: String,
        /// otlp: `http/protobuf` (default) or `grpc`.
        [Otlp] protocol: OtlpProtocol,
        /// otlp: headers sent with every request (`{"authorization": "Bearer …"}`).
        [Otlp] headers: std::collections::BTreeMap<String, String>,
        /// otlp: the resource's `service.name` (default `audit-core`).
        [Otlp] service_name: String,
    }
}

fn yes() -> bool {
    true
}

/// Where a [`ShipConfig`] delivers.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DestinationKind {
    /// A PostgreSQL table (feature `postgres`).
    Postgres,
    /// A NATS JetStream stream (feature `nats`).
    Nats,
    /// A syslog server or the local socket (feature `syslog`).
    Syslog,
    /// An OpenTelemetry collector, OTLP/HTTP (feature `otlp`).
    Otlp,
}

/// How an `otlp` [`ShipConfig`] reaches its collector (the values of OpenTelemetry's
/// `OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// OTLP/HTTP with protobuf bodies.
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// OTLP/gRPC.
    #[serde(rename = "grpc")]
    Grpc,
}

/// How a syslog [`ShipConfig`] reaches its server.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyslogTransport {
    /// TCP with octet counting.
    #[default]
    Tcp,
    /// TLS (RFC 5425).
    Tls,
    /// The local socket.
    Unix,
}

impl ShipConfig {
    /// The destination's name in errors, and the settings of its own it takes (the common ones,
    /// `origin`, `cursor`, `max_batch_*`, `tls_ca_file`, …, every destination takes).
    fn takes(&self) -> (&'static str, Vec<&'static str>) {
        let name = match self.to {
            DestinationKind::Postgres => "postgres",
            DestinationKind::Nats => "nats",
            DestinationKind::Syslog => "syslog",
            DestinationKind::Otlp => "otlp",
        };
        let takes = OWN_SETTINGS.iter().filter(|(_, kinds)| kinds.contains(&self.to)).map(|(setting, _)| *setting);
        (name, takes.collect())
    }

    /// The shipper of the trail whose active file is `active`, not started yet; `namespace` is
    /// the format's, `at` names this entry in errors (`sinks[0].ship[1]`).
    pub(crate) fn shipper(&self, active: &Path, namespace: &str, at: &str) -> Result<ShipperBuilder, ConfigError> {
        let (to, takes) = self.takes();
        if let Some(setting) = foreign_setting(&self.given(), &takes) {
            return Err(ConfigError::new(
                format!("{at}.{setting}"),
                format!("not a setting of a `{to}` shipper (it takes: {})", takes.join(", ")),
            ));
        }
        if self.tls_client_cert.is_some() != self.tls_client_key.is_some() {
            return Err(ConfigError::new(
                format!("{at}.tls_client_cert"),
                "`tls_client_cert` and `tls_client_key` go together",
            ));
        }
        let mut builder = match self.to {
            DestinationKind::Postgres => self.postgres(active, namespace, at)?,
            DestinationKind::Nats => self.nats(active, at)?,
            DestinationKind::Syslog => self.syslog(active, at)?,
            DestinationKind::Otlp => self.otlp(active, at)?,
        };
        if let Some(cursor) = &self.cursor {
            builder = builder.cursor(cursor);
        }
        if self.max_batch_events.is_some() || self.max_batch_bytes.is_some() {
            let events = self.max_batch_events.map_or(1000, NonZeroUsize::get);
            let bytes = self.max_batch_bytes.map_or(1 << 20, |b| usize::try_from(b.bytes()).unwrap_or(usize::MAX));
            builder = builder.max_batch(events, bytes);
        }
        if let Some(after) = self.report_lag_after {
            builder = builder.report_lag_after(after.duration());
        }
        Ok(builder)
    }

    #[cfg(feature = "tls")]
    fn tls_config(&self) -> crate::ship::TlsConfig {
        let mut tls = match &self.tls_ca_file {
            Some(ca) => crate::ship::TlsConfig::ca_file(ca),
            None => crate::ship::TlsConfig::system_roots(),
        };
        if let (Some(cert), Some(key)) = (&self.tls_client_cert, &self.tls_client_key) {
            tls = tls.client_certificate(cert, key);
        }
        tls
    }

    #[cfg(feature = "postgres")]
    fn postgres(&self, active: &Path, namespace: &str, at: &str) -> Result<ShipperBuilder, ConfigError> {
        use crate::ship::postgres::PostgresDestination;
        let url = self
            .url
            .as_deref()
            .ok_or_else(|| ConfigError::new(format!("{at}.url"), "a `postgres` shipper needs a `url`"))?;
        let mut destination =
            PostgresDestination::new(url).map_err(|e| ConfigError::new(format!("{at}.url"), e.to_string()))?;
        if let Some(path) = &self.password_file {
            let password =
                std::fs::read_to_string(path).map_err(|e| ConfigError::io(format!("{at}.password_file"), e))?;
            destination = destination.password(password.trim_end_matches(['\n', '\r']));
        }
        if let Some(table) = &self.table {
            if !PostgresDestination::is_table_name(table) {
                return Err(ConfigError::new(
                    format!("{at}.table"),
                    format!("`{table}` is not a table name (letters, digits and `_`, optionally `schema.`)"),
                ));
            }
            destination = destination.table(table);
        }
        destination = destination.namespace(namespace).migrate(self.migrate.unwrap_or(false));
        if let Some(origin) = &self.origin {
            destination = destination.origin(origin.clone());
        }
        if self.tls.unwrap_or(false) || self.tls_ca_file.is_some() {
            destination = destination.tls(self.tls_config());
        }
        Ok(crate::ship::Shipper::builder(active, destination))
    }

    #[cfg(not(feature = "postgres"))]
    fn postgres(&self, _: &Path, _: &str, at: &str) -> Result<ShipperBuilder, ConfigError> {
        Err(ConfigError::new(format!("{at}.to"), "shipping to PostgreSQL needs audit-core's `postgres` feature"))
    }

    #[cfg(feature = "nats")]
    fn nats(&self, active: &Path, at: &str) -> Result<ShipperBuilder, ConfigError> {
        use crate::ship::nats::NatsDestination;
        let servers = self
            .servers
            .as_deref()
            .ok_or_else(|| ConfigError::new(format!("{at}.servers"), "a `nats` shipper needs `servers`"))?;
        let mut destination =
            NatsDestination::new(servers).map_err(|e| ConfigError::new(format!("{at}.servers"), e.to_string()))?;
        if let Some(stream) = &self.stream {
            destination = destination.stream(stream.clone());
        }
        if let Some(prefix) = &self.subject_prefix {
            destination = destination.subject_prefix(prefix.clone());
        }
        if let Some(origin) = &self.origin {
            destination = destination.origin(origin);
        }
        if let Some(window) = self.duplicate_window {
            destination = destination.duplicate_window(window.duration());
        }
        if let Some(replicas) = self.replicas {
            destination = destination.manage_stream(replicas.get());
        }
        if let Some(path) = &self.credentials_file {
            destination = destination.credentials_file(path.clone());
        }
        if self.tls.unwrap_or(false) || self.tls_ca_file.is_some() {
            destination = destination.tls(self.tls_ca_file.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls_client_cert, &self.tls_client_key) {
            destination = destination.client_certificate(cert.clone(), key.clone());
        }
        Ok(crate::ship::Shipper::builder(active, destination))
    }

    #[cfg(not(feature = "nats"))]
    fn nats(&self, _: &Path, at: &str) -> Result<ShipperBuilder, ConfigError> {
        Err(ConfigError::new(format!("{at}.to"), "shipping to NATS needs audit-core's `nats` feature"))
    }

    #[cfg(feature = "syslog")]
    fn syslog(&self, active: &Path, at: &str) -> Result<ShipperBuilder, ConfigError> {
        use crate::ship::syslog::SyslogDestination;
        let address = || {
            self.address.clone().ok_or_else(|| {
                ConfigError::new(
                    format!("{at}.address"),
                    "a TCP or TLS syslog shipper needs an `address` (`host:port`)",
                )
            })
        };
        let mut destination = match self.transport.unwrap_or_default() {
            SyslogTransport::Tcp => SyslogDestination::tcp(address()?),
            SyslogTransport::Tls => SyslogDestination::tls(address()?, self.tls_config()),
            SyslogTransport::Unix => {
                SyslogDestination::local(self.socket.clone().unwrap_or_else(|| PathBuf::from("/dev/log")))
            }
        };
        if let Some(facility) = self.facility {
            if facility > 23 {
                return Err(ConfigError::new(
                    format!("{at}.facility"),
                    format!("a syslog facility is 0 to 23, not {facility}"),
                ));
            }
            destination = destination.facility(facility);
        }
        if let Some(name) = &self.app_name {
            destination = destination.app_name(name);
        }
        if let Some(origin) = &self.origin {
            destination = destination.hostname(origin);
        }
        Ok(crate::ship::Shipper::builder(active, destination))
    }

    #[cfg(not(feature = "syslog"))]
    fn syslog(&self, _: &Path, at: &str) -> Result<ShipperBuilder, ConfigError> {
        Err(ConfigError::new(format!("{at}.to"), "shipping to syslog needs audit-core's `syslog` feature"))
    }

    #[cfg(feature = "otlp")]
    fn otlp(&self, active: &Path, at: &str) -> Result<ShipperBuilder, ConfigError> {
        use crate::ship::otlp::OtlpDestination;
        let endpoint = self.endpoint.as_deref().ok_or_else(|| {
            ConfigError::new(
                format!("{at}.endpoint"),
                "an `otlp` shipper needs an `endpoint` (`http://collector:4318`)",
            )
        })?;
        let destination = match self.protocol.unwrap_or_default() {
            OtlpProtocol::HttpProtobuf => OtlpDestination::http(endpoint),
            OtlpProtocol::Grpc => OtlpDestination::grpc(endpoint),
        };
        let mut destination = destination.map_err(|e| ConfigError::new(format!("{at}.endpoint"), e.to_string()))?;
        for (name, value) in self.headers.iter().flatten() {
            destination = destination.header(name, value);
        }
        if let Some(name) = &self.service_name {
            destination = destination.service_name(name);
        }
        if let Some(origin) = &self.origin {
            destination = destination.host_name(origin);
        }
        Ok(crate::ship::Shipper::builder(active, destination))
    }

    #[cfg(not(feature = "otlp"))]
    fn otlp(&self, _: &Path, at: &str) -> Result<ShipperBuilder, ConfigError> {
        Err(ConfigError::new(
            format!("{at}.to"),
            "shipping to an OpenTelemetry collector needs audit-core's `otlp` feature",
        ))
    }
}
