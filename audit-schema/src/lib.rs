//! The vocabulary every audit event is made of, shared by `audit-core` (at run time) and
//! `audit-macros` (at compile time, to reject what ECS does not allow before the program runs).
//!
//! - [`ecs`]: the ECS values of `event.category`, `event.type` and `event.outcome`, and which types
//!   ECS expects with each category.
//! - [`action`]: [`Action`], an audited action declared once with its category, type, timing and
//!   the verbs its default messages are made of.
//! - [`verbs`]: the verb table that lets `type`, timing and messages be inferred from an action's name.
//! - [`kibana`]: Kibana's 143 documented audit actions as a ready catalog of [`Action`] constants.
//!
//! This crate has no dependencies so that the proc-macro builds fast.

#![warn(missing_docs)]

pub mod action;
pub mod ecs;
pub mod kibana;
pub mod suggest;
pub mod verbs;

pub use action::{Action, Timing, Verbs};
pub use ecs::{Category, EventType, Outcome, ECS_VERSION};
