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
//! The parts:
//! - [`AuditEvent`] and [`EcsFormat`]: the event model and its ECS JSON line.
//! - [`AuditContext`]: who and where, passed explicitly or made ambient for a thread or a task.
//! - [`AuditLogger`], [`IgnoreFilter`], [`AuditConfig`]: filtering and configuration.
//! - [`sink`]: console, append-only file, `tracing`, in-memory capture.
//! - [`Action`] and [`kibana`]: declared actions and Kibana's catalog of 143.

#![warn(missing_docs)]

pub mod auth;
mod config;
mod context;
mod error_code;
mod event;
mod filter;
mod format;
mod json;
mod logger;
mod refused;
pub mod sink;
mod timestamp;
mod trace;
mod writer;

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "tokio")]
mod spawn;
#[cfg(feature = "tokio")]
pub use spawn::spawn;

#[doc(hidden)]
pub mod __private;

#[doc = include_str!("audited.md")]
pub use audit_macros::audited;
pub use audit_schema::{kibana, Action, Category, EventType, Outcome, Timing, Verbs, ECS_VERSION};

pub use config::{AuditConfig, ConfigError, ConsoleStream, IgnoreFilterConfig, SinkConfig, WriterGuards};
pub use context::{AuditContext, AuditContextBuilder, ContextGuard, Scoped, WithAuditContext};
pub use error_code::AuditErrorCode;
pub use event::{AuditEvent, AuthenticationInfo, ErrorInfo, HttpRequestInfo, Resource, User};
pub use filter::IgnoreFilter;
pub use format::EcsFormat;
pub use logger::{
    log, unlogged_events, AlreadyInstalled, AuditLogger, AuditLoggerBuilder, LogError, LoggerStats, ThreadDefaultGuard,
};
pub use refused::AuditRefused;
pub use sink::{
    AuditSink, CapturedEvent, ConsoleSink, Durability, FailurePolicy, FileSink, MemorySink, Record, SinkError,
    TracingSink,
};
pub use trace::{is_valid_trace_id, new_trace_id};
pub use writer::{
    read_audit_trail, rotated_files, Acknowledgement, AuditTrail, Backpressure, FileWriter, FileWriterBuilder,
    FsStorage, Rotation, Storage, StorageFile, TornLine, WriterGuard, WriterStats,
};
