//! Required and best-effort sinks, with deadlines: a hung destination can delay an audited call
//! by at most its deadline, a best-effort one never slows or fails it, and "at least k of
//! these" lets a call go on when k sinks took its event.

use std::io;
use std::time::{Duration, Instant};

mod common;

use audit_core::logger::LogError;
use audit_core::sink::{FailurePolicy, Record, SinkError, WithDeadline};
use audit_core::{kibana, AuditEvent, AuditLogger, AuditSink, MemorySink, Outcome};
use common::sinks::Hung;

fn event() -> AuditEvent {
    AuditEvent::new(&kibana::SPACE_GET).with_outcome(Outcome::Success)
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

/// A sink that forwards to a server over TCP: its check connects, as a real network sink's does.
struct Remote(std::net::SocketAddr);

impl AuditSink for Remote {
    fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
        Ok(())
    }
    fn check(&self) -> io::Result<()> {
        std::net::TcpStream::connect_timeout(&self.0, Duration::from_secs(2)).map(drop)
    }
    fn describe(&self) -> String {
        format!("remote:{}", self.0)
    }
}

/// A port nothing listens on.
fn closed_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

#[test]
fn a_sink_that_cannot_work_is_reported_before_the_first_call() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (up, down) = (Remote(listener.local_addr().unwrap()), Remote(closed_port()));
    let down_name = down.describe();
    let error = AuditLogger::builder().sink(MemorySink::new()).sink(down).build_checked().unwrap_err();
    assert!(error.to_string().contains(&down_name), "{error}");
    assert!(error.to_string().contains("cannot work"), "{error}");

    // With a quorum, enough working sinks are enough; the others are still named in a warning.
    let logger =
        AuditLogger::builder().sink(up).sink(Remote(closed_port())).require_at_least(1).build_checked().unwrap();
    logger.log(event()).unwrap();
    let error = AuditLogger::builder()
        .sink(Remote(closed_port()))
        .sink(Remote(closed_port()))
        .require_at_least(1)
        .build_checked()
        .unwrap_err();
    assert!(error.to_string().contains("0 of 2 required sinks can work, 1 needed"), "{error}");
}

#[test]
fn a_hung_check_fails_by_its_deadline() {
    struct HungCheck;
    impl AuditSink for HungCheck {
        fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
            Ok(())
        }
        fn check(&self) -> io::Result<()> {
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        }
        fn describe(&self) -> String {
            "hung-check".into()
        }
    }
    let started = Instant::now();
    let sink = WithDeadline::new(HungCheck, Duration::from_millis(200), FailurePolicy::FailClosed).unwrap();
    let error = AuditLogger::builder().sink(sink).build_checked().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(error.to_string().contains("did not answer its check within"), "{error}");
}

/// The I/O error at the end of `error`'s chain of causes, if any.
fn root_io<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut current = Some(error);
    let mut found = None;
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<io::Error>() {
            found = Some(io);
        }
        current = error.source();
    }
    found
}

#[test]
fn errors_keep_their_causes() {
    // A sink's failure, the logger's error and the refused call all lead to the I/O error.
    let failure = FailurePolicy::FailClosed.failure(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
    assert_eq!(root_io(&failure).map(io::Error::kind), Some(io::ErrorKind::StorageFull));
    let logger = AuditLogger::builder().sink(Refusing).build();
    let error = logger.log(event()).unwrap_err();
    assert!(matches!(error, LogError::Refused(_)));
    assert_eq!(root_io(&error).map(|e| e.to_string()), Some("down".to_owned()), "{error}");

    #[audit_core::audited(action = "space_update", category = "database", resource(type = "space", id = id))]
    fn update(id: u32) -> Result<(), audit_core::AuditRefused> {
        let _ = id;
        Ok(())
    }
    let context = audit_core::AuditContext::builder().logger(logger).build();
    let refused = context.in_scope(|| update(1)).unwrap_err();
    assert_eq!(root_io(&refused).map(|e| e.to_string()), Some("down".to_owned()), "{refused}");

    // A destination's delivery error keeps the error it came from.
    let delivery = audit_core::ship::DeliveryError::from(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
    assert_eq!(root_io(&delivery).map(io::Error::kind), Some(io::ErrorKind::ConnectionRefused));

    // A configuration whose key file cannot be read names the setting and keeps the I/O error.
    let config = audit_core::AuditConfig::from_json(r#"{ "hmac_key_file": "/nonexistent/hmac.key" }"#).unwrap();
    let Err(error) = config.build() else { panic!("built without its key") };
    assert_eq!(error.setting(), "hmac_key_file");
    assert_eq!(root_io(&error).map(io::Error::kind), Some(io::ErrorKind::NotFound), "{error}");
}
