//! The vocabulary every audit event is made of, shared by `audit-core` (at run time) and
//! `audit-macros` (at compile time, to reject what ECS does not allow before the program runs).
//!
//! - [`ecs`]: the ECS values of `event.category`, `event.type` and `event.outcome`, and which types
//!   ECS expects with each category.
//! - [`action`]: [`Action`], an audited action declared once with its category, type, timing and
//!   the verbs its default messages are made of.
//! - [`timing`]: [`Timing`] (when an action is logged) and [`Durability`] (how far its event must
//!   have gone before the call goes on).
//! - [`keyword`]: how each of these closed vocabularies is declared once, and [`UnknownValue`],
//!   the error of parsing one.
//! - [`verbs`]: the verb table that lets `type`, timing and messages be inferred from an action's name.
//! - [`kibana`]: Kibana's 143 documented audit actions as a ready catalog of [`Action`] constants.
//!
//! This crate has no dependencies (but `serde`, behind a feature that only `audit-core` turns on)
//! so that the proc-macro builds fast.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod action;
pub mod ecs;
pub mod keyword;
pub mod kibana;
pub mod suggest;
pub mod timing;
pub mod verbs;

pub use action::Action;
pub use ecs::{Category, EventType, Outcome, ECS_VERSION};
pub use keyword::UnknownValue;
pub use timing::{Durability, Timing};
pub use verbs::Verbs;
