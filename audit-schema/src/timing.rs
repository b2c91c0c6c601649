//! When an audited operation is logged ([`Timing`]) and how far its event must have gone before
//! the operation goes on ([`Durability`]): the two run-time promises an action makes.

use crate::ecs::EventType;
use crate::keyword::keyword_enum;

keyword_enum! {
    /// When an audited operation is logged, following Kibana's guideline.
    pub enum Timing: "timing", "a timing" {
        /// Writes: logged after authorization passes and before the operation runs, with outcome
        /// `unknown`, so that the intention is on record even if the process dies mid-way.
        Before = "before",
        /// Reads: logged after the operation completes, with outcome `success` or `failure`.
        After = "after",
    }
}

impl Timing {
    /// The timing ECS's type implies: writes (creation, change, deletion) before, the rest after.
    pub const fn implied_by(types: &[EventType]) -> Timing {
        let mut i = 0;
        while i < types.len() {
            if types[i].is_write() {
                return Timing::Before;
            }
            i += 1;
        }
        Timing::After
    }
}

keyword_enum! {
    /// How far an event must have gone before the call that logged it goes on. Ordered: a sink
    /// applies the stronger of an event's durability and its own.
    pub enum Durability: "durability", "a durability" {
        /// Accepted by the sink; written within its flush interval.
        Buffered = "buffered",
        /// Handed to the operating system (`write` returned): survives a crash of the process.
        Flushed = "flushed",
        /// On disk (`fsync` returned): survives a crash of the machine.
        Durable = "durable",
    }
}

impl Default for Durability {
    /// `Buffered`: each sink's own setting applies.
    fn default() -> Durability {
        Durability::Buffered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip_and_order() {
        for durability in Durability::ALL {
            assert_eq!(Durability::parse(durability.as_str()), Some(*durability));
        }
        assert!(Durability::Buffered < Durability::Flushed && Durability::Flushed < Durability::Durable);
        assert_eq!(Timing::After.variant_name(), "After");
        let error = "fsync".parse::<Durability>().unwrap_err();
        assert_eq!(error.to_string(), "`fsync` is not a durability (expected one of: buffered, flushed, durable)");
        let error = "flushd".parse::<Durability>().unwrap_err();
        assert_eq!(error.suggestion(), Some("flushed"));
    }
}
