//! ECS audit logging for Rust services: "who did what to which resource, when, and was it allowed?"
//!
//! Annotate a service function with [`#[audited]`](audited) and it emits an
//! [ECS](https://www.elastic.co/guide/en/ecs/current/index.html) audit event shaped like Kibana's
//! audit log:
//!
//! - **writes** (`timing = "before"`) are logged after authorization passes and before the body
//!   runs, with outcome `unknown`, so the intention is on record even if the process dies mid-way;
//!   an authorization failure is logged as `failure` and the body never runs;
//! - **reads** (`timing = "after"`) are logged after the body completes, with outcome `success` or
//!   `failure`; an `Err` fills `error.*`.
//!
//! ```
//! use audit_core::{audited, AuditContext, AuditLogger, User};
//!
//! #[audited(action = "dashboard_update", category = "database", resource(type = "dashboard", id = id))]
//! fn update_dashboard(id: u64, title: &str) -> Result<(), String> {
//!     let _ = title; // … write it …
//!     Ok(())
//! }
//!
//! let (logger, capture) = AuditLogger::capture();
//! let ctx = AuditContext::builder().user(User::named("alice").with_roles(["editor"])).logger(logger).build();
//! ctx.in_scope(|| update_dashboard(123, "Sales")).unwrap();
//!
//! let line = &capture.json()[0];
//! assert_eq!(line["message"], "User is updating dashboard [id=123]");
//! assert_eq!(line["event"]["type"][0], "change");
//! assert_eq!(line["event"]["outcome"], "unknown");
//! assert_eq!(line["user"]["name"], "alice");
//! assert_eq!(line["kibana"]["saved_object"]["id"], "123");
//! ```
//!
//! # What to add, what to call
//!
//! 1. **Annotate** the functions that read or change what the trail is about with
//!    [`#[audited]`](audited). Name the action (a string checked at compile time, an [`Action`]
//!    constant you declare once, or one of [`kibana`]'s 143), the resource and who may call it.
//! 2. **Say who is calling**: build an [`AuditContext`] (user, session, space, client, trace id)
//!    and make it ambient for the request (`ctx.in_scope(…)`, `ctx.scope(future)`), or let the
//!    `http` layer (feature `http`) do it for every request.
//! 3. **Install a logger** once at start-up: [`AuditLogger::builder`] with a sink, or an
//!    [`AuditConfig`] read from your configuration file. For production, the sink is a
//!    [`FileWriter`]: non-blocking, durable, rotating; keep its guard until the end of `main`.
//! 4. **Test the trail**: [`AuditLogger::capture`] gives a logger and the [`MemorySink`] it writes
//!    to; assert on the lines.
//! 5. **Keep secrets out**: nothing is logged that the attribute does not name; what it names and
//!    is secret (`fields(token = secret(token))`, or a [`Secret`](secret::Secret)) is written as
//!    its HMAC under the logger's key ([`secret`]).
//! 6. **Make the trail prove itself**: a chained writer
//!    ([`FileWriterBuilder::chain`](writer::FileWriterBuilder::chain)) links every line to the
//!    one before; with the `signing` feature it also seals rotated files and signs checkpoints;
//!    [`verify`] (or the `audit verify` command) says where a trail was changed.
//! 7. **Gather a fleet's trails**: a [`Shipper`](ship::Shipper) follows the trail from a cursor
//!    and delivers it at least once, deduplicated by `event.id`, to NATS JetStream, PostgreSQL,
//!    syslog or an OpenTelemetry collector ([`ship`]; features `nats`, `postgres`, `syslog`,
//!    `otlp`), or `audit ship --config FILE`.
//!
//! # Where each part lives
//!
//! The crate root holds what nearly every user needs. The rest is in modules named for what they
//! hold:
//!
//! | module | holds |
//! | --- | --- |
//! | [`event`] | the parts of an [`AuditEvent`]: [`Origin`](event::Origin) (who and where), errors, HTTP requests, authentication |
//! | [`context`] | [`AuditContext`]'s builder, its scope guard, and carrying it into futures |
//! | [`logger`] | [`AuditLogger`]'s builder, its statistics and errors |
//! | [`dispatch`] | which logger an event goes to: installing, thread defaults, [`dispatch::log`] |
//! | [`sink`] | the [`AuditSink`] trait, the simple sinks (console, synchronous file, `tracing`, memory), failure policies |
//! | [`writer`] | [`FileWriter`]'s builder, rotation, backpressure, statistics |
//! | [`trail`] | reading a trail back, rotated files included |
//! | [`own`] | the toolkit's own events (dropped events, checkpoints, lost results, a shipper behind), declared in one catalog |
//! | [`ship`] | shipping a trail: [`Shipper`](ship::Shipper), its cursor, the [`Destination`](ship::Destination) trait; `postgres`, `nats`, `syslog`, `otlp` (features of those names) |
//! | [`config`] | [`AuditConfig`]'s parts and errors |
//! | [`schema`] | the vocabulary: timings, verbs, the ECS version, the keyword parse error |
//! | [`trace`] | W3C trace ids |
//! | [`chain`] | the line chain: `event.sequence`, `event.hash` |
//! | [`verify`] | checking a trail: every line, file and link |
//! | `checkpoint` | signed checkpoints of a chained trail (feature `signing`) |
//! | [`secret`] | secrets written as salted HMAC-SHA256, [`Secret`](secret::Secret), always-masked field names |
//! | [`auth`] | login, logout and session events shaped like Kibana's |
//! | [`changes`] | what a write changed: recorded in its body, written as a field-level diff on its result event |
//! | `http` | the tower layer that audits every HTTP request (feature `http`) |
//! | `metrics` | the logger's, writers' and shippers' figures through the `metrics` facade (feature `metrics`) |
//! | `task` | spawning a tokio task that keeps its context (feature `tokio`) |
//!
//! Inside, the code is layered, each layer depending only on those below it: leaf (JSON,
//! timestamps, trace ids, `audit-schema`) → model (event, context, the catalog of the toolkit's
//! own events) → policy (filters) → trail (the trail on disk: names, files, reading, following,
//! cursors, chain, seals, verify) → output (format, sinks, writer) → logger and dispatch, and
//! shipping beside them → edges (config, HTTP, authentication, tasks, the runtime of
//! `#[audited]`). One loop is there by design: a context may carry its own logger.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
// On docs.rs (`--cfg docsrs`, a nightly rustdoc): each feature-gated item says which feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod edges;
mod leaf;
mod logging;
mod model;
mod output;
mod policy;
pub mod ship;
pub mod trail;

#[doc = include_str!("audited.md")]
pub use audit_macros::audited;
pub use audit_schema::{kibana, Action, Category, Durability, EventType, Outcome};

pub use edges::config::AuditConfig;
pub use logging::AuditLogger;
pub use model::{AuditContext, AuditErrorCode, AuditEvent, AuditRefused, Resource, User};
pub use output::format::{EcsFormat, LineSchema, OCSF_VERSION};
pub use output::sink::console::ConsoleSink;
pub use output::sink::contract::AuditSink;
pub use output::sink::memory::MemorySink;
pub use output::writer::FileWriter;
pub use policy::IgnoreFilter;

pub mod event {
    //! The parts of an [`AuditEvent`](crate::AuditEvent): who and where ([`Origin`], shared
    //! with [`AuditContext`](crate::AuditContext)), what went wrong ([`ErrorInfo`]), the HTTP
    //! request ([`HttpRequestInfo`]) and how the user authenticated ([`AuthenticationInfo`]).
    pub use crate::leaf::event_id::EventId;
    pub use crate::model::{AuthenticationInfo, ErrorInfo, HttpRequestInfo, Origin, WriteResult};
}

pub mod context {
    //! Building an [`AuditContext`](crate::AuditContext), making it ambient for a thread
    //! ([`ContextGuard`]) or a future ([`Scoped`], [`WithAuditContext`]).
    pub use crate::model::{AuditContextBuilder, ContextGuard, Scoped, WithAuditContext};
}

pub mod logger {
    //! Building an [`AuditLogger`](crate::AuditLogger) ([`AuditLoggerBuilder`]), what it counts
    //! ([`LoggerStats`]), and why an event was not recorded everywhere ([`LogError`]).
    pub use crate::logging::{AuditLoggerBuilder, LogError, LoggerStats};
    pub use crate::model::catalog::AUDIT_RESULTS_LOST;
}

pub use logging::dispatch;

pub use output::{sink, writer};

pub use edges::config;

pub mod own {
    //! The toolkit's own events, declared in one catalog: what the logger, the writer and the
    //! shipper write into the trail about themselves. Each reads as a sentence about the trail
    //! ("Audit trail shipping to pg is behind: 1200 events, 31 s"), and every action is named
    //! `audit_…`, in the `process` category.
    pub use crate::model::catalog::{
        AUDIT_CHECKPOINT, AUDIT_EVENTS_DROPPED, AUDIT_RESULTS_LOST, AUDIT_SHIP_BEHIND, AUDIT_SHIP_CAUGHT_UP,
        AUDIT_SHIP_SKIPPED, AUDIT_TRAIL_RESUMED, OWN_ACTIONS,
    };
}

pub mod verify {
    //! Checking a chained trail ([`FileWriterBuilder::chain`](crate::writer::FileWriterBuilder::chain)):
    //! every line, file and link, streamed. The `audit verify` command is this, on the command line.
    pub use crate::trail::verify::{verify_files, verify_trail, Finding, FindingKind, Options, Report};
}

pub mod schema {
    //! The vocabulary every event is made of, declared once in `audit-schema`: when an action is
    //! logged ([`Timing`]), the verbs of its messages ([`Verbs`]), the ECS version the lines
    //! follow ([`ECS_VERSION`]), and the error of parsing a keyword ([`UnknownValue`]: a
    //! category, type, outcome, timing or durability that does not exist, with a suggestion).
    pub use audit_schema::{Timing, UnknownValue, Verbs, ECS_VERSION};
}

pub use leaf::secret;
pub use leaf::trace;
pub use trail::chain;
#[cfg(feature = "signing")]
pub use trail::checkpoint;

pub use edges::auth;
pub use edges::changes;
#[cfg(feature = "http")]
pub use edges::http;
#[cfg(feature = "metrics")]
pub use edges::metrics;
#[cfg(feature = "tokio")]
pub use edges::task;

/// What `#[audited]` expands to calls. Not a public API: it changes in any release, and its
/// path carries the version so that an `audit-macros` of another version cannot call it.
#[doc(hidden)]
pub use edges::runtime as __private_0_1_0;
