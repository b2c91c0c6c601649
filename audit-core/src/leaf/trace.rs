//! `trace.id` values: 32 lowercase hex digits, the W3C trace-context form, so an id read from an
//! incoming `traceparent` header and one made here look alike.

use std::sync::Arc;

/// A new random trace id.
pub fn new_trace_id() -> Arc<str> {
    // Two 64-bit draws; fastrand's generator is seeded per thread from OS-provided entropy in
    // std's hasher, which is enough to make ids unique, and costs nanoseconds.
    let value = (u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..));
    Arc::from(format!("{value:032x}"))
}

/// Whether `id` is a valid W3C trace id: 32 lowercase hex digits, not all zero.
pub fn is_valid_trace_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) && id.bytes().any(|b| b != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_distinct() {
        let a = new_trace_id();
        let b = new_trace_id();
        assert!(is_valid_trace_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_valid_trace_id("00000000000000000000000000000000"));
        assert!(!is_valid_trace_id("ABCDEF00000000000000000000000000"));
    }
}
