//! [`NatsDestination`]: publishing the trail to a NATS JetStream stream, each event with its id
//! as the message id, so that JetStream keeps one copy of an event published twice.
//!
//! Every event of a batch is published at once (pipelined), then every publish acknowledgement
//! is awaited: the batch is delivered only when the stream stored all of it. Events go to the
//! subject `<prefix>.<origin>` (`audit.events.<host name>` by default), so one stream holds a
//! fleet and each machine's events keep their order on their own subject.
//!
//! ```no_run
//! use audit_core::ship::nats::NatsDestination;
//! use audit_core::ship::Shipper;
//!
//! let destination = NatsDestination::new("nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222")?
//!     // Create (or update) the stream: three replicas, deduplicating over an hour.
//!     .manage_stream(3)
//!     .credentials_file("/etc/myapp/audit-shipper.creds");
//! let shipper = Shipper::builder("/var/log/myapp/audit.log", destination).spawn()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! JetStream deduplicates within the stream's duplicate window (one hour by default here): a
//! batch delivered again after a longer outage of the shipper's own may be stored twice, and
//! consumers that must not see doubles keep one message per `Nats-Msg-Id` (= `event.id`).

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, context::Publish};
use async_nats::{ConnectOptions, ServerAddr};

use super::destination::{DeliveryError, Destination};
use super::host::host_name;
use crate::trail::record::ShipRecord;

/// A JetStream stream that receives the trail. See the [module](self) docs.
pub struct NatsDestination {
    servers: Vec<ServerAddr>,
    stream: String,
    prefix: String,
    origin: String,
    replicas: Option<usize>,
    duplicate_window: Duration,
    ack_timeout: Duration,
    connect_timeout: Duration,
    auth: Auth,
    tls: Tls,
    runtime: tokio::runtime::Runtime,
    context: Option<jetstream::Context>,
}

#[derive(Clone, Default)]
enum Auth {
    #[default]
    None,
    Credentials(PathBuf),
    UserPassword(String, String),
    Token(String),
}

#[derive(Clone, Default)]
struct Tls {
    required: bool,
    ca_file: Option<PathBuf>,
    client: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Debug for NatsDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsDestination").field("name", &self.name()).finish_non_exhaustive()
    }
}

impl NatsDestination {
    /// A destination for the NATS servers `servers` (comma-separated `nats://host:port` urls;
    /// the client fails over between them), stream `AUDIT`, subject `audit.events.<host name>`.
    ///
    /// # Errors
    /// When a url does not parse.
    pub fn new(servers: &str) -> Result<NatsDestination, DeliveryError> {
        let servers = servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|url| url.parse::<ServerAddr>().map_err(|e| DeliveryError::caused_by(format!("NATS url `{url}`"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(DeliveryError::new("no NATS server url given"));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("audit-nats")
            .on_thread_start(super::worker::lower_priority)
            .enable_all()
            .build()
            .map_err(DeliveryError::new)?;
        Ok(NatsDestination {
            servers,
            stream: "AUDIT".into(),
            prefix: "audit.events".into(),
            origin: subject_token(&host_name()),
            replicas: None,
            duplicate_window: Duration::from_secs(3600),
            ack_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            auth: Auth::None,
            tls: Tls::default(),
            runtime,
            context: None,
        })
    }

    /// The stream's name (default `AUDIT`).
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// The subject prefix (default `audit.events`): events go to `<prefix>.<origin>`.
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The name this machine's events are published under (its host name by default; `.`,
    /// `*`, `>` and spaces become `_`).
    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = subject_token(origin);
        self
    }

    /// The start-up check creates the stream (`<prefix>.>`, file storage, `replicas` copies)
    /// or updates it to these settings; without this the stream must exist.
    pub fn manage_stream(mut self, replicas: usize) -> Self {
        self.replicas = Some(replicas.max(1));
        self
    }

    /// The stream's duplicate window when [`manage_stream`](Self::manage_stream) makes it
    /// (default one hour).
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// How long a batch's acknowledgements and a connection attempt may take (defaults 10 s).
    pub fn timeouts(mut self, connect: Duration, ack: Duration) -> Self {
        self.connect_timeout = connect;
        self.ack_timeout = ack;
        self
    }

    /// Authenticates with a `.creds` file (a user JWT and its NKey seed).
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth = Auth::Credentials(path.into());
        self
    }

    /// Authenticates with a user name and password.
    pub fn user_and_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Auth::UserPassword(user.into(), password.into());
        self
    }

    /// Authenticates with a token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Token(token.into());
        self
    }

    /// Requires TLS, checking the servers against the CA certificates in `ca_file` (PEM; the
    /// system's roots when `None`).
    pub fn tls(mut self, ca_file: Option<PathBuf>) -> Self {
        self.tls.required = true;
        self.tls.ca_file = ca_file;
        self
    }

    /// Shows a client certificate (PEM chain and key) to servers that ask for one.
    pub fn client_certificate(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls.client = Some((cert.into(), key.into()));
        self
    }

    fn subject(&self) -> String {
        format!("{}.{}", self.prefix, self.origin)
    }

    async fn connect(&self) -> Result<jetstream::Context, DeliveryError> {
        let mut options = ConnectOptions::new()
            .name("audit-shipper")
            .connection_timeout(self.connect_timeout)
            .request_timeout(Some(self.ack_timeout));
        options = match &self.auth {
            Auth::None => options,
            Auth::Credentials(path) => {
                options.credentials_file(path).await.map_err(|e| DeliveryError::caused_by(path.display(), e))?
            }
            Auth::UserPassword(user, password) => options.user_and_password(user.clone(), password.clone()),
            Auth::Token(token) => options.token(token.clone()),
        };
        if self.tls.required {
            options = options.require_tls(true);
            if let Some(ca) = &self.tls.ca_file {
                options = options.add_root_certificates(ca.clone());
            }
        }
        if let Some((cert, key)) = &self.tls.client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        // Bounded as a whole: a server that accepts the connection and never answers would
        // otherwise hold the connection attempt (and a shipper's start) for ever.
        let client = match tokio::time::timeout(self.connect_timeout, options.connect(self.servers.clone())).await {
            Ok(connected) => {
                connected.map_err(|e| DeliveryError::caused_by(format!("connecting to {}", self.name()), e))?
            }
            Err(_) => {
                return Err(DeliveryError::new(format!(
                    "connecting to {}: no answer within {:?} (is it a NATS server?)",
                    self.name(),
                    self.connect_timeout
                )))
            }
        };
        let mut context = jetstream::new(client);
        context.set_timeout(self.ack_timeout);
        Ok(context)
    }

    fn context(&mut self) -> Result<jetstream::Context, DeliveryError> {
        if let Some(context) = &self.context {
            return Ok(context.clone());
        }
        let context = self.runtime.block_on(self.connect())?;
        self.context = Some(context.clone());
        Ok(context)
    }
}

impl Destination for NatsDestination {
    fn name(&self) -> String {
        let servers: Vec<String> = self.servers.iter().map(|s| format!("{}:{}", s.host(), s.port())).collect();
        format!("nats://{} stream {} subject {}", servers.join(","), self.stream, self.subject())
    }

    /// The servers as a set (their order does not matter), the stream and the subject.
    fn identity(&self) -> String {
        let mut servers: Vec<String> = self.servers.iter().map(|s| format!("{}:{}", s.host(), s.port())).collect();
        servers.sort();
        servers.dedup();
        format!("nats://{} stream {} subject {}", servers.join(","), self.stream, self.subject())
    }

    fn check(&mut self) -> Result<(), DeliveryError> {
        let context = self.context()?;
        let name = self.name();
        let config = jetstream::stream::Config {
            name: self.stream.clone(),
            subjects: vec![format!("{}.>", self.prefix)],
            num_replicas: self.replicas.unwrap_or(1),
            duplicate_window: self.duplicate_window,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        let (stream, manage, subject) = (self.stream.clone(), self.replicas.is_some(), self.subject());
        self.runtime.block_on(async move {
            if manage {
                match context.get_stream(&stream).await {
                    Ok(_) => context.update_stream(config).await.map(drop).map_err(DeliveryError::new),
                    Err(_) => context.create_stream(config).await.map(drop).map_err(DeliveryError::new),
                }
                .map_err(|e| DeliveryError::caused_by(format!("{name}: making the stream"), e))?;
            }
            let mut handle = context.get_stream(&stream).await.map_err(|e| {
                DeliveryError::new(format!(
                    "{name}: the stream is not there ({e}); have the shipper make it: \"replicas\": N in the \
                     ship entry (NatsDestination::manage_stream(N) in code), or make it on the servers"
                ))
            })?;
            let info = handle.info().await.map_err(|e| DeliveryError::caused_by(&name, e))?;
            let covers = info.config.subjects.iter().any(|pattern| subject_matches(pattern, &subject));
            if !covers {
                return Err(DeliveryError::new(format!(
                    "{name}: the stream's subjects {:?} do not cover {subject}",
                    info.config.subjects
                )));
            }
            Ok(())
        })
    }

    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        let context = self.context()?;
        let subject = self.subject();
        let (origin, stream, name) = (self.origin.clone(), self.stream.clone(), self.name());
        let payloads: Vec<(String, bytes::Bytes, Option<u64>)> =
            batch.iter().map(|r| (r.id.clone(), bytes::Bytes::from(r.line.clone()), r.sequence)).collect();
        let result = self.runtime.block_on(async move {
            let mut acks = Vec::with_capacity(payloads.len());
            for (id, payload, sequence) in payloads {
                let mut publish =
                    Publish::build().payload(payload).message_id(&id).header("Audit-Origin", origin.as_str());
                if let Some(sequence) = sequence {
                    publish = publish.header("Audit-Sequence", sequence.to_string().as_str());
                }
                acks.push(context.send_publish(subject.clone(), publish).await.map_err(DeliveryError::new)?);
            }
            for ack in acks {
                let ack = ack.await.map_err(DeliveryError::new)?;
                if ack.stream != stream {
                    return Err(DeliveryError::new(format!("stored in stream {} rather than {stream}", ack.stream)));
                }
            }
            Ok(())
        });
        result.map_err(|error| DeliveryError::caused_by(&name, error))
    }
}

/// `name` as one subject token.
fn subject_token(name: &str) -> String {
    let token: String =
        name.chars().map(|c| if c == '.' || c == '*' || c == '>' || c.is_whitespace() { '_' } else { c }).collect();
    if token.is_empty() {
        "unknown".into()
    } else {
        token
    }
}

/// Whether the subject pattern `pattern` (with `*` and `>`) matches `subject`.
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for part in pattern.split('.') {
        match (part, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (p, Some(t)) if p == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_tokens() {
        assert!(subject_matches("audit.events.>", "audit.events.host-1"));
        assert!(subject_matches("audit.*.host-1", "audit.events.host-1"));
        assert!(!subject_matches("audit.events.*", "audit.events.a.b"));
        assert!(!subject_matches("audit.other.>", "audit.events.a"));
        assert_eq!(subject_token("web 1.example.com"), "web_1_example_com");
    }

    #[test]
    fn the_identity_takes_the_servers_as_a_set_and_the_stream_and_subject_whole() {
        let identity = |servers: &str, stream: &str| NatsDestination::new(servers).unwrap().stream(stream).identity();
        assert_eq!(identity("nats://a:1,nats://b:2", "AUDIT"), identity("nats://b:2, nats://a:1,nats://a:1", "AUDIT"));
        assert_ne!(identity("nats://a:1,nats://b:2", "AUDIT"), identity("nats://a:1", "AUDIT"));
        let many = (0..20).map(|i| format!("nats://server-{i}.example:4222")).collect::<Vec<_>>().join(",");
        assert_ne!(identity(&many, "SALES"), identity(&many, "OPS"));
        let prefixed = NatsDestination::new("nats://a:1").unwrap().subject_prefix("other").identity();
        assert_ne!(prefixed, identity("nats://a:1", "AUDIT"));
    }
}
