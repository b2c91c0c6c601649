//! [`OtlpDestination`]: an OpenTelemetry collector, over OTLP/HTTP with protobuf
//! ([`OtlpDestination::http`]) or OTLP/gRPC ([`OtlpDestination::grpc`]) (feature `otlp`).
//!
//! A batch of the trail is one `ExportLogsServiceRequest`: one resource (`service.name`,
//! `host.name`), one scope (`audit-core`), and a log record per event:
//!
//! - `EventName` = the event's action (`saved_object_update`); `event.name`, the attribute it
//!   replaces, is not written;
//! - severity from the outcome: `INFO` (9) for a success or an unknown outcome, `WARN` (13) for a
//!   failure;
//! - the time from the line's `@timestamp` (an OCSF line's `time`), the observed time when the
//!   shipper read it;
//! - the line's fields as attributes, flattened to dotted keys (`event.id`, `user.name`,
//!   `kibana.saved_object.id`; an OCSF line's `metadata.uid`, `actor.user.name`, …), and the line
//!   itself, exactly as the trail holds it, as the body.
//!
//! The batch counts as delivered when the collector answers `2xx` (gRPC: `OK`): only then does the shipper's
//! cursor move. A collector that throttles (`429`, `503` with `Retry-After`) is waited for, up
//! to 30 s, before the batch is tried again; any other failure is retried with the shipper's
//! back-off. **Collectors do not deduplicate**: a batch sent again after a lost answer (a
//! collector killed between storing and answering) arrives twice, each record with the same
//! `event.id` attribute, on which the store behind the collector can deduplicate.
//!
//! ```no_run
//! use audit_core::ship::otlp::OtlpDestination;
//! use audit_core::ship::Shipper;
//!
//! let destination = OtlpDestination::http("http://otel-collector:4318")?
//!     .header("authorization", "Bearer …")
//!     .service_name("shop");
//! let shipper = Shipper::builder("/var/log/shop/audit.log", destination).spawn()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::destination::{DeliveryError, Destination};
use super::host::host_name;
use crate::trail::record::ShipRecord;

/// OTLP's `SEVERITY_NUMBER_INFO`.
const SEVERITY_INFO: i32 = 9;
/// OTLP's `SEVERITY_NUMBER_WARN`.
const SEVERITY_WARN: i32 = 13;
/// The longest a throttling collector's `Retry-After` is waited for in one attempt.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// An OpenTelemetry collector that receives the trail as logs. See the [module](self) docs.
pub struct OtlpDestination {
    endpoint: String,
    headers: Vec<(String, String)>,
    service_name: String,
    host: String,
    timeout: Duration,
    transport: Transport,
}

/// How requests reach the collector.
enum Transport {
    /// OTLP/HTTP: a protobuf body posted to the logs path.
    Http(ureq::Agent),
    /// OTLP/gRPC: the `LogsService/Export` call, on a runtime of the destination's own.
    Grpc { runtime: tokio::runtime::Runtime, client: Option<LogsServiceClient<tonic::transport::Channel>> },
}

impl std::fmt::Debug for OtlpDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values are credentials: their names only.
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("OtlpDestination").field("endpoint", &self.endpoint).field("headers", &headers).finish()
    }
}

impl OtlpDestination {
    /// A collector's OTLP/HTTP endpoint: `http://host:4318` (then `/v1/logs` is added) or the
    /// full url of its logs path; `https://` for TLS, the server's certificate verified against
    /// the Mozilla roots (`webpki-roots`).
    pub fn http(endpoint: &str) -> Result<OtlpDestination, DeliveryError> {
        let parsed = parse_url(endpoint, &["http", "https"], "an http:// or https:// url with a host")?;
        let endpoint = match parsed.path() {
            "" | "/" => format!("{}/v1/logs", endpoint.trim_end_matches('/')),
            _ => endpoint.to_owned(),
        };
        let timeout = Duration::from_secs(10);
        Ok(OtlpDestination::with(endpoint, timeout, Transport::Http(agent(timeout))))
    }

    /// A collector's OTLP/gRPC endpoint: `http://host:4317`. gRPC over TLS is not offered yet:
    /// for TLS, use OTLP/HTTP ([`http`](OtlpDestination::http) with `https://`).
    pub fn grpc(endpoint: &str) -> Result<OtlpDestination, DeliveryError> {
        let expected = "an http:// url with a host (gRPC over TLS is not offered: use OTLP/HTTP with https://)";
        parse_url(endpoint, &["http"], expected)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("audit-otlp")
            .on_thread_start(super::worker::lower_priority)
            .enable_all()
            .build()
            .map_err(|error| DeliveryError::caused_by("starting the OTLP client's runtime", error))?;
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        Ok(OtlpDestination::with(endpoint, Duration::from_secs(10), Transport::Grpc { runtime, client: None }))
    }

    /// A destination with every setting but these at its default.
    fn with(endpoint: String, timeout: Duration, transport: Transport) -> OtlpDestination {
        OtlpDestination {
            endpoint,
            headers: Vec::new(),
            service_name: "audit-core".to_owned(),
            host: host_name(),
            timeout,
            transport,
        }
    }

    /// A header sent with every request (`authorization`, an API key). Its value is never shown
    /// in stats, errors or `Debug`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `service.name` of the resource (default `audit-core`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// `host.name` of the resource (default: this machine's host name).
    pub fn host_name(mut self, name: impl Into<String>) -> Self {
        self.host = name.into();
        self
    }

    /// How long one request may take, connection included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        if let Transport::Http(_) = self.transport {
            self.transport = Transport::Http(agent(timeout));
        }
        self
    }

    /// The url requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The request that carries `batch`.
    fn request(&self, batch: &[ShipRecord]) -> ExportLogsServiceRequest {
        let text = |key: &str, value: &str| KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(Any::StringValue(value.to_owned())) }),
        };
        let observed = nanos(SystemTime::now());
        let records = batch.iter().map(|record| log_record(record, observed)).collect();
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![text("service.name", &self.service_name), text("host.name", &self.host)],
                    ..Resource::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "audit-core".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    log_records: records,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    /// Sends `request`: `Ok` once the collector acknowledged it.
    fn export(&mut self, request: ExportLogsServiceRequest) -> Result<(), DeliveryError> {
        match &mut self.transport {
            Transport::Http(agent) => {
                let agent = agent.clone();
                self.post(&agent, request.encode_to_vec())
            }
            Transport::Grpc { .. } => self.call(request),
        }
    }

    /// The gRPC call: `Ok` once the collector answered it. A throttled or unavailable collector
    /// (`RESOURCE_EXHAUSTED`, `UNAVAILABLE`) is tried again by the shipper, after its back-off.
    fn call(&mut self, request: ExportLogsServiceRequest) -> Result<(), DeliveryError> {
        let (endpoint, timeout, headers) = (self.endpoint.clone(), self.timeout, self.headers.clone());
        let Transport::Grpc { runtime, client } = &mut self.transport else { unreachable!("a gRPC destination") };
        let result = runtime.block_on(async {
            let mut connected = match client.take() {
                Some(connected) => connected,
                None => {
                    let channel = tonic::transport::Endpoint::from_shared(endpoint.clone())
                        .map_err(|error| DeliveryError::caused_by(format!("the OTLP url `{endpoint}`"), error))?
                        .connect_timeout(timeout)
                        .timeout(timeout);
                    let channel = channel
                        .connect()
                        .await
                        .map_err(|error| DeliveryError::caused_by(format!("connecting to {endpoint}"), error))?;
                    LogsServiceClient::new(channel)
                }
            };
            let mut call = tonic::Request::new(request);
            for (name, value) in &headers {
                let name = tonic::metadata::MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
                    .map_err(|error| DeliveryError::caused_by(format!("the header name `{name}`"), error))?;
                let value = value
                    .parse()
                    .map_err(|error| DeliveryError::caused_by(format!("the value of the header `{name}`"), error))?;
                call.metadata_mut().insert(name, value);
            }
            match connected.export(call).await {
                Ok(answer) => Ok((connected, answer.into_inner())),
                Err(status) => Err(DeliveryError::caused_by(format!("exporting to {endpoint}"), status)),
            }
        });
        match result {
            Ok((connected, answer)) => {
                *client = Some(connected);
                self.note_rejected(answer);
                Ok(())
            }
            // The next attempt connects anew.
            Err(error) => Err(error),
        }
    }

    /// Logs what the collector refused for good in an accepted request.
    fn note_rejected(&self, answer: ExportLogsServiceResponse) {
        if let Some(partial) = answer.partial_success.filter(|p| p.rejected_log_records > 0) {
            // Refused for good by the collector (malformed for it): sending them again would be
            // refused again; the trail still holds them.
            tracing::warn!(
                target: "audit_core",
                endpoint = %self.endpoint,
                rejected = partial.rejected_log_records,
                "the OTLP collector rejected audit records: {}",
                partial.error_message
            );
        }
    }

    /// Posts `body`: `Ok` once the collector answered `2xx`.
    fn post(&self, agent: &ureq::Agent, body: Vec<u8>) -> Result<(), DeliveryError> {
        let mut request = agent.post(&self.endpoint).header("content-type", "application/x-protobuf");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request
            .send(&body[..])
            .map_err(|error| DeliveryError::caused_by(format!("sending to {}", self.endpoint), error))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            let answer = response.body_mut().read_to_vec().unwrap_or_default();
            if let Ok(answer) = ExportLogsServiceResponse::decode(&answer[..]) {
                self.note_rejected(answer);
            }
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let detail = response.body_mut().read_to_string().unwrap_or_default();
        let throttled = matches!(status, 429 | 502 | 503 | 504);
        if let Some(wait) = retry_after.filter(|_| throttled) {
            // The collector says when to come back: the batch is tried again after that.
            std::thread::sleep(wait.min(MAX_RETRY_AFTER));
        }
        let what = if throttled { "throttled by" } else { "refused by" };
        Err(DeliveryError::new(format!("{what} {} ({status}): {}", self.endpoint, detail.trim())))
    }
}

/// `endpoint` parsed, if its scheme is one of `schemes` and it has a host; else an error that
/// says it is not `expected`.
fn parse_url(endpoint: &str, schemes: &[&str], expected: &str) -> Result<ureq::http::Uri, DeliveryError> {
    let parsed: ureq::http::Uri =
        endpoint.parse().map_err(|error| DeliveryError::caused_by(format!("the OTLP url `{endpoint}`"), error))?;
    if !parsed.scheme_str().is_some_and(|scheme| schemes.contains(&scheme)) || parsed.host().is_none() {
        return Err(DeliveryError::new(format!("the OTLP url `{endpoint}` is not {expected}")));
    }
    Ok(parsed)
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into()
}

impl Destination for OtlpDestination {
    fn name(&self) -> String {
        match self.transport {
            Transport::Http(_) => format!("otlp+{}", self.endpoint),
            Transport::Grpc { .. } => format!("otlp+grpc+{}", self.endpoint),
        }
    }

    /// The endpoint: another collector (or path) is another cursor.
    fn identity(&self) -> String {
        self.name()
    }

    /// An empty export: the collector is there and takes OTLP/HTTP.
    fn check(&mut self) -> Result<(), DeliveryError> {
        self.export(ExportLogsServiceRequest::default())
    }

    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        let request = self.request(batch);
        self.export(request)
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// One event as an OTLP log record.
fn log_record(record: &ShipRecord, observed: u64) -> LogRecord {
    let time = record
        .timestamp
        .as_deref()
        .and_then(|stamp| humantime::parse_rfc3339_weak(stamp.trim_end_matches('Z')).ok())
        .map_or(0, nanos);
    let severity = if record.outcome.as_deref() == Some("failure") { SEVERITY_WARN } else { SEVERITY_INFO };
    let mut attributes = Vec::new();
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(&record.line) {
        for (key, value) in &fields {
            flatten(key, value, &mut attributes);
        }
    }
    if !attributes.iter().any(|kv| kv.key == "event.id") {
        attributes.push(KeyValue {
            key: "event.id".to_owned(),
            value: Some(AnyValue { value: Some(Any::StringValue(record.id.clone())) }),
        });
    }
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: observed,
        severity_number: severity,
        severity_text: if severity == SEVERITY_WARN { "WARN" } else { "INFO" }.to_owned(),
        body: Some(AnyValue { value: Some(Any::StringValue(record.line.clone())) }),
        attributes,
        event_name: record.action.clone().unwrap_or_default(),
        ..LogRecord::default()
    }
}

/// `value` as attributes under `key`: objects flattened to dotted keys, arrays as arrays.
fn flatten(key: &str, value: &serde_json::Value, out: &mut Vec<KeyValue>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, value) in fields {
                flatten(&format!("{key}.{name}"), value, out);
            }
        }
        serde_json::Value::Null => {}
        other => out.push(KeyValue { key: key.to_owned(), value: Some(any_value(other)) }),
    }
}

fn any_value(value: &serde_json::Value) -> AnyValue {
    let value = match value {
        serde_json::Value::Bool(b) => Any::BoolValue(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Any::IntValue(i),
            None => Any::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => Any::StringValue(s.clone()),
        serde_json::Value::Array(items) => {
            Any::ArrayValue(ArrayValue { values: items.iter().map(any_value).collect() })
        }
        // Nested in an array: kept as its JSON.
        other => Any::StringValue(other.to_string()),
    };
    AnyValue { value: Some(value) }
}
