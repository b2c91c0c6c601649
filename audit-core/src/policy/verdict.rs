//! What the ignore filters say of an action before its call runs, cached per call site: a call
//! the filters drop then costs one atomic load instead of a walk over the filters.

use std::sync::atomic::{AtomicU64, Ordering};

use super::filter::IgnoreFilter;
use audit_schema::Action;

/// What the filters say of an action before its call runs, cached per call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every event of the action is dropped, whatever the outcome, space and user.
    Ignored = 1,
    /// No filter can drop an event of the action whatever the outcome: prepare it.
    Kept = 2,
    /// Depends on the call's space or user.
    Dynamic = 3,
}

/// A small lock-free table from an action's address to its [`Verdict`], so that a call the
/// filters drop costs one atomic load instead of a walk over the filters. An entry packs the
/// address (`Action` is 8-aligned, so its low bits are free) with the verdict; a lost race or a
/// collision only means recomputing.
pub(crate) struct VerdictCache {
    slots: [AtomicU64; 64],
}

impl VerdictCache {
    pub(crate) fn new() -> VerdictCache {
        VerdictCache { slots: std::array::from_fn(|_| AtomicU64::new(0)) }
    }

    #[inline]
    fn get_or_compute(&self, action: &'static Action, compute: impl FnOnce() -> Verdict) -> Verdict {
        let address = action as *const Action as u64;
        let slot = &self.slots[(address.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize];
        let entry = slot.load(Ordering::Relaxed);
        if entry & !0b11 == address {
            return match entry & 0b11 {
                1 => Verdict::Ignored,
                2 => Verdict::Kept,
                _ => Verdict::Dynamic,
            };
        }
        let verdict = compute();
        slot.store(address | verdict as u64, Ordering::Relaxed);
        verdict
    }

    /// The verdict of `filters` (with the logger `enabled` or not) on `action`, cached.
    #[inline]
    pub(crate) fn verdict(&self, action: &'static Action, enabled: bool, filters: &[IgnoreFilter]) -> Verdict {
        self.get_or_compute(action, || {
            let mut verdict = if enabled { Verdict::Kept } else { Verdict::Ignored };
            for filter in filters {
                match filter.static_verdict(action) {
                    Some(true) => return Verdict::Ignored,
                    None => verdict = Verdict::Dynamic,
                    Some(false) => {}
                }
            }
            verdict
        })
    }
}
