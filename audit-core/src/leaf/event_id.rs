//! `event.id` values: 32 lowercase hex digits that name one event wherever it is copied to, so a
//! destination that receives an event twice (a shipper delivers at least once) can keep one.
//!
//! An id is a 64-bit prefix drawn from the operating system's CSPRNG once per thread, then a
//! 64-bit counter of that thread: unique within a process without any shared state, and across
//! a fleet as long as no two threads draw the same prefix (about one chance in 2^64 per pair).

use std::cell::Cell;

/// The length of an id.
pub(crate) const EVENT_ID_LEN: usize = 32;

thread_local! {
    static NEXT: Cell<(u64, u64)> = Cell::new((draw_prefix(), 0));
}

fn draw_prefix() -> u64 {
    let mut bytes = [0u8; 8];
    // A failing CSPRNG is not a reason to refuse an audit call: fall back to fastrand, whose
    // per-thread seed still makes collisions unlikely.
    if getrandom::fill(&mut bytes).is_err() {
        return fastrand::u64(..);
    }
    u64::from_le_bytes(bytes)
}

/// An event's `event.id`: made when the event is, copied with it to every sink, and kept by every
/// destination a shipper delivers it to, so that two copies of one event are known as such.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId([u8; EVENT_ID_LEN]);

impl EventId {
    /// A new id, unique to this event.
    pub fn new() -> EventId {
        EventId(new_event_id())
    }

    /// The id written as `id`, if it has the form of one made here (32 lowercase hex digits).
    pub fn parse(id: &str) -> Option<EventId> {
        let bytes: [u8; EVENT_ID_LEN] = id.as_bytes().try_into().ok()?;
        bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')).then_some(EventId(bytes))
    }

    /// Its 32 hex digits.
    pub fn as_str(&self) -> &str {
        // Made of hex digits only.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Default for EventId {
    fn default() -> Self {
        EventId::new()
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventId({})", self.as_str())
    }
}

/// A new event id, as its 32 hex digits.
fn new_event_id() -> [u8; EVENT_ID_LEN] {
    let (prefix, counter) = NEXT.with(|next| {
        let (prefix, counter) = next.get();
        next.set((prefix, counter.wrapping_add(1)));
        (prefix, counter)
    });
    let mut out = [0u8; EVENT_ID_LEN];
    hex_into(&mut out[..16], prefix);
    hex_into(&mut out[16..], counter);
    out
}

fn hex_into(out: &mut [u8], value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = DIGITS[((value >> (60 - 4 * i)) & 0xf) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_well_formed_and_distinct_across_threads() {
        let mut seen = HashSet::new();
        let threads: Vec<_> =
            (0..4).map(|_| std::thread::spawn(|| (0..1000).map(|_| EventId::new()).collect::<Vec<_>>())).collect();
        for thread in threads {
            for id in thread.join().unwrap() {
                let id = id.to_string();
                assert_eq!(EventId::parse(&id).map(|p| p.to_string()), Some(id.clone()));
                assert!(seen.insert(id.clone()), "{id} made twice");
            }
        }
        assert_eq!(seen.len(), 4000);
    }

    #[test]
    fn counter_is_written_in_full() {
        let mut out = [0u8; 16];
        hex_into(&mut out, 0x0123_4567_89ab_cdef);
        assert_eq!(&out, b"0123456789abcdef");
        assert!(EventId::parse("0123456789ABCDEF0123456789abcdef").is_none(), "upper case");
        assert!(EventId::parse("0123").is_none(), "short");
    }
}
