//! Required and best-effort sinks, with deadlines: a hung destination can delay an audited call
//! by at most its deadline, a best-effort one never slows or fails it, and "at least k of
//! these" lets a call go on when k sinks took its event.

use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use audit_core::logger::LogError;
use audit_core::sink::{FailurePolicy, Record, SinkError, WithDeadline};
use audit_core::{kibana, AuditEvent, AuditLogger, AuditSink, MemorySink, Outcome};

fn event() -> AuditEvent {
    AuditEvent::new(&kibana::SPACE_GET).with_outcome(Outcome::Success)
}

/// A destination that never answers (a hung socket), until released.
#[derive(Clone, Default)]
struct Hung(Arc<(Mutex<bool>, Condvar)>);

impl Hung {
    fn release(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
}

impl AuditSink for Hung {
    fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
        let mut released = self.0 .0.lock().unwrap();
        while !*released {
            released = self.0 .1.wait(released).unwrap();
        }
        Ok(())
    }
    fn describe(&self) -> String {
        "hung".to_owned()
    }
}

/// A destination that refuses everything (failing closed).
struct Refusing;

impl AuditSink for Refusing {
    fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
        Err(FailurePolicy::FailClosed.failure(io::Error::other("down")))
    }
    fn is_accepting(&self) -> bool {
        false
    }
    fn describe(&self) -> String {
        "refusing".to_owned()
    }
}

#[test]
fn a_hung_required_sink_delays_a_call_by_at_most_its_deadline() {
    let hung = Hung::default();
    let deadline = Duration::from_millis(150);
    let sink = WithDeadline::new(hung.clone(), deadline, FailurePolicy::FailClosed).unwrap();
    let logger = AuditLogger::builder().sink(sink).build();
    let started = Instant::now();
    let error = logger.log(event()).unwrap_err();
    assert!(error.is_refusal(), "{error}");
    assert!(started.elapsed() >= deadline && started.elapsed() < Duration::from_secs(5));
    // Still hung: the next calls fail too, none hangs.
    for _ in 0..3 {
        assert!(logger.log(event()).is_err());
    }
    hung.release();
    let open = WithDeadline::new(Hung::default(), deadline, FailurePolicy::FailOpen).unwrap();
    let logger = AuditLogger::builder().sink(open).build();
    assert!(matches!(logger.log(event()), Err(LogError::Unconfirmed(_))));
}

#[test]
fn a_best_effort_sink_never_slows_or_fails_a_call() {
    let hung = Hung::default();
    let memory = MemorySink::new();
    let logger = AuditLogger::builder().sink(memory.clone()).best_effort_sink(hung.clone()).build();
    let started = Instant::now();
    for _ in 0..3000 {
        logger.log(event()).unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(5), "calls waited for the hung sink");
    assert_eq!(memory.len(), 3000, "the required sink took every event");
    assert_eq!(logger.stats().written, 3000);
    hung.release();
    logger.flush().unwrap();
}

#[test]
fn at_least_k_of_n_sinks_decide_a_call() {
    let (a, b) = (MemorySink::new(), MemorySink::new());
    let two_of_three =
        AuditLogger::builder().sink(a.clone()).sink(b.clone()).sink(Refusing).require_at_least(2).build();
    assert!(two_of_three.is_accepting());
    two_of_three.log(event()).unwrap();
    assert_eq!((a.len(), b.len()), (1, 1));

    let one_left = AuditLogger::builder().sink(a.clone()).sink(Refusing).sink(Refusing).require_at_least(2).build();
    assert!(!one_left.is_accepting(), "a read would be refused before it runs");
    assert!(one_left.log(event()).unwrap_err().is_refusal());

    // Without a quorum, every required sink decides (as before).
    let all = AuditLogger::builder().sink(a.clone()).sink(Refusing).build();
    assert!(all.log(event()).unwrap_err().is_refusal());
}
