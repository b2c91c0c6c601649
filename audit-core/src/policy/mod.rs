//! Policy: which events are dropped before they are written. [`IgnoreFilter`] has the semantics
//! of Kibana's `ignore_filters`; the verdict cache lets a call the filters drop skip preparing
//! anything. Depends on the model only.

pub(crate) mod diffs;
pub(crate) mod filter;
pub(crate) mod verdict;

pub use filter::IgnoreFilter;
