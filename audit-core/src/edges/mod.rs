//! The edges: what connects the toolkit to an application. Configuration files ([`config`]),
//! HTTP services ([`http`], feature `http`), authentication events ([`auth`]), tasks that keep
//! their context ([`task`], feature `tokio`), and the runtime `#[audited]` expands to. Each
//! depends on the layers below it and on nothing at its own level.

pub mod auth;
pub mod changes;
pub mod config;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod runtime;
#[cfg(feature = "tokio")]
pub mod task;
