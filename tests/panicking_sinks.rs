//! Sinks that panic, deadlines that must hold once, and quorums that must hold call by call: a
//! sink that panics is a failed sink for that event (counted, reported, by its policy) and is
//! asked again for the next; nothing queued is lost uncounted; an impossible quorum is refused
//! when the logger is built.

use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use audit_core::logger::LogError;
use audit_core::sink::{AuditSink, BestEffortLimits, FailurePolicy, Record, SinkError, WithDeadline};
use audit_core::{kibana, AuditEvent, AuditLogger, MemorySink, Outcome};
use common::sinks::Hung;

fn event() -> AuditEvent {
    AuditEvent::new(&kibana::SPACE_GET).with_outcome(Outcome::Success)
}

/// Counts what it is given and panics on the events whose numbers (1-based) are listed.
#[derive(Clone)]
struct Panicking {
    seen: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    panic_on: &'static [u64],
}

impl Panicking {
    fn on(panic_on: &'static [u64]) -> Panicking {
        Panicking { seen: Arc::default(), written: Arc::default(), panic_on }
    }
}

impl AuditSink for Panicking {
    fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if self.panic_on.contains(&n) {
            panic!("the sink's own bug, on event {n}");
        }
        self.written.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn describe(&self) -> String {
        "panicking".to_owned()
    }
}

/// Quiets the expected panics' messages.
fn quietly<R>(f: impl FnOnce() -> R) -> R {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[test]
fn a_best_effort_sink_that_panics_loses_nothing_uncounted_and_goes_on() {
    let sink = Panicking::on(&[3]);
    let limits = BestEffortLimits::new().queue(256);
    let logger = AuditLogger::builder().sink(MemorySink::new()).best_effort_sink_with(sink.clone(), limits).build();
    quietly(|| {
        for _ in 0..5000 {
            logger.log(event()).unwrap();
        }
        logger.flush().unwrap();
    });
    let stats = logger.stats();
    let written = sink.written.load(Ordering::SeqCst);
    assert_eq!(
        written + stats.best_effort_dropped + stats.best_effort_failed,
        5000,
        "written {written}, dropped {}, failed {}",
        stats.best_effort_dropped,
        stats.best_effort_failed
    );
    assert_eq!(stats.best_effort_failed, 1, "the one that panicked");
    assert!(written > 3, "the sink is asked again after it panicked: {written}");
}

#[test]
fn a_sink_behind_a_deadline_that_panics_once_is_asked_again() {
    let sink = Panicking::on(&[3]);
    let guarded = WithDeadline::new(sink.clone(), Duration::from_secs(5), FailurePolicy::FailClosed).unwrap();
    let logger = AuditLogger::builder().sink(guarded).build();
    let results: Vec<bool> = quietly(|| (0..20).map(|_| logger.log(event()).is_ok()).collect());
    assert!(!results[2], "the event it panicked on is refused (it fails closed)");
    assert_eq!(results.iter().filter(|ok| **ok).count(), 19, "{results:?}");
}

#[test]
fn an_unwrapped_sink_that_panics_fails_its_event_and_a_met_quorum_goes_on() {
    let memory = MemorySink::new();
    let sink = Panicking::on(&[1]);
    let logger = AuditLogger::builder().sink(memory.clone()).sink(sink.clone()).require_at_least(1).build();
    quietly(|| logger.log(event())).expect("one of two is the quorum");
    logger.log(event()).unwrap();
    assert_eq!((memory.len(), sink.written.load(Ordering::SeqCst)), (2, 1), "asked again after its panic");

    let alone = AuditLogger::builder().sink(Panicking::on(&[1])).build();
    let error = quietly(|| alone.log(event())).unwrap_err();
    assert!(error.is_refusal() && error.to_string().contains("panicked"), "{error}");
    assert_eq!(alone.stats().refused, 1);
}

#[test]
fn a_check_that_panics_names_its_sink() {
    struct PanickingCheck;
    impl AuditSink for PanickingCheck {
        fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
            Ok(())
        }
        fn check(&self) -> io::Result<()> {
            panic!("no configuration");
        }
        fn describe(&self) -> String {
            "panicking-check".to_owned()
        }
    }
    let error = quietly(|| AuditLogger::builder().sink(PanickingCheck).build_checked()).unwrap_err();
    assert!(error.to_string().contains("panicking-check") && error.to_string().contains("panicked"), "{error}");
}

#[test]
fn an_impossible_quorum_is_refused_when_the_logger_is_built() {
    let sinks = || AuditLogger::builder().sink(MemorySink::new()).sink(MemorySink::new()).sink(MemorySink::new());
    let error = sinks().require_at_least(4).build_checked().unwrap_err();
    assert!(error.to_string().contains("at least 4") && error.to_string().contains("3 required"), "{error}");
    let error =
        AuditLogger::builder().best_effort_sink(MemorySink::new()).require_at_least(1).build_checked().unwrap_err();
    assert!(error.to_string().contains("at least 1") && error.to_string().contains("0 required"), "{error}");
    let built = std::panic::catch_unwind(|| sinks().require_at_least(4).build());
    assert!(built.is_err(), "build() has no error to return: it refuses to build");
    sinks().require_at_least(3).build_checked().unwrap();
}

/// Slow at first, then quick: its queue is full for a while, then frees up little by little.
struct Slow(AtomicU64);

impl AuditSink for Slow {
    fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
        let first = self.0.fetch_add(1, Ordering::SeqCst) == 0;
        std::thread::sleep(Duration::from_millis(if first { 350 } else { 10 }));
        Ok(())
    }
    fn describe(&self) -> String {
        "slow".to_owned()
    }
}

#[test]
fn check_and_flush_behind_a_deadline_wait_the_deadline_once() {
    let deadline = Duration::from_millis(400);
    let sink = Arc::new(WithDeadline::new(Slow(AtomicU64::new(0)), deadline, FailurePolicy::FailOpen).unwrap());
    // Fill its queue (from threads: each write waits for its answer), so that getting in takes
    // most of the deadline, and the answer then comes after the events queued before it.
    let writers: Vec<_> = (0..80)
        .map(|_| {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                let _ = sink.write(&Record::new(&Arc::new(event()), &Arc::default(), Default::default()));
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    let started = Instant::now();
    assert!(sink.flush().is_err(), "the queue is 60 events of 10 ms behind");
    let flushed = started.elapsed();
    assert!(flushed < deadline * 5 / 4, "flush took {flushed:?} for a deadline of {deadline:?}");
    for writer in writers {
        writer.join().unwrap();
    }
}

#[test]
fn a_call_waits_for_its_quorum_not_for_every_sink() {
    let hung = Hung::default();
    let deadline = Duration::from_millis(500);
    let slow = || WithDeadline::new(hung.clone(), deadline, FailurePolicy::FailClosed).unwrap();
    let memory = MemorySink::new();
    let logger = AuditLogger::builder().sink(slow()).sink(slow()).sink(memory.clone()).require_at_least(1).build();
    let started = Instant::now();
    logger.log(event()).unwrap();
    let took = started.elapsed();
    assert!(took < deadline / 2, "the quorum was met at once, the call took {took:?}");
    assert_eq!(memory.len(), 1);
    hung.release();
}

#[test]
fn best_effort_limits_are_settings_and_drops_are_in_the_loggers_stats() {
    let hung = Hung::default();
    let limits = BestEffortLimits::new().queue(8).wait(Duration::from_millis(150));
    let logger = AuditLogger::builder().sink(MemorySink::new()).best_effort_sink_with(hung.clone(), limits).build();
    for _ in 0..100 {
        logger.log(event()).unwrap();
    }
    let stats = logger.stats();
    assert!(stats.best_effort_dropped >= 100 - 8 - 1, "{stats:?}");
    let started = Instant::now();
    assert!(matches!(logger.flush(), Err(LogError::Unconfirmed(_))));
    assert!(started.elapsed() < Duration::from_millis(150) * 3 / 2, "{:?}", started.elapsed());
    hung.release();
}
