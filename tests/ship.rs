//! The shipper on real files: it delivers every event of a trail once, in order, across
//! rotation and gzip and while the writer goes on; a destination that fails is retried with the
//! cursor held back; a restarted shipper resumes from its cursor; falling behind and catching up
//! are reported as events; torn lines and a lost cursor file are reported, never shipped.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_core::ship::{
    Cursor, DeliveryError, Destination, ShipRecord, Shipper, ShipperStats, AUDIT_SHIP_BEHIND, AUDIT_SHIP_CAUGHT_UP,
};
use audit_core::writer::Rotation;
use audit_core::{kibana, AuditEvent, AuditLogger, FileWriter, MemorySink, Outcome, Resource};
use common::{assert_same_ids, trail_ids, write_events, TempDir};

fn event(id: u32) -> AuditEvent {
    AuditEvent::new(&kibana::SAVED_OBJECT_GET)
        .with_outcome(Outcome::Success)
        .with_resource(Resource::new("dashboard", id.to_string()))
}

/// Which delivery attempts (counted from 0) a [`Collecting`] destination refuses.
type FailWhen = Box<dyn Fn(usize) -> bool + Send>;

/// A destination that keeps what it is given, every delivery attempt counted, and fails the
/// attempts `fail` says to.
#[derive(Clone, Default)]
struct Collecting {
    received: Arc<Mutex<Vec<ShipRecord>>>,
    attempts: Arc<AtomicUsize>,
    fail: Arc<Mutex<Option<FailWhen>>>,
}

impl Collecting {
    fn failing(fail: impl Fn(usize) -> bool + Send + 'static) -> Collecting {
        let collecting = Collecting::default();
        *collecting.fail.lock().unwrap() = Some(Box::new(fail));
        collecting
    }

    fn heal(&self) {
        *self.fail.lock().unwrap() = None;
    }

    /// The ids received, each once, in the order first received.
    fn unique_ids(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.received.lock().unwrap().iter().filter(|r| seen.insert(r.id.clone())).map(|r| r.id.clone()).collect()
    }

    fn received(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

impl Destination for Collecting {
    fn name(&self) -> String {
        "collecting".into()
    }

    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.fail.lock().unwrap().as_ref().is_some_and(|fail| fail(attempt)) {
            return Err(DeliveryError::new(format!("attempt {attempt} refused")));
        }
        self.received.lock().unwrap().extend(batch.iter().cloned());
        Ok(())
    }
}

fn write(path: &Path, rotation: Option<Rotation>, from: u32, count: u32) {
    let mut builder = FileWriter::builder(path);
    if let Some(rotation) = rotation {
        builder = builder.rotation(rotation);
    }
    write_events(builder, (from..from + count).map(event));
}

/// Ships `path` until caught up to a fresh destination, from `cursor` when given (and saving
/// it), keeping the shipper's reports: the destination, the run's stats and the reports' reasons.
fn ship_reporting(path: &Path, cursor: Option<&Path>) -> (Collecting, ShipperStats, Vec<String>) {
    let destination = Collecting::default();
    let reports = MemorySink::new();
    let mut builder = Shipper::builder(path, destination.clone()).reports_to(reports.clone());
    if let Some(cursor) = cursor {
        builder = builder.cursor(cursor);
    }
    let stats = builder.run_until_caught_up(Duration::from_secs(10)).unwrap();
    let reasons = reports.events().iter().filter_map(|e| e.event.reason.clone()).collect();
    (destination, stats, reasons)
}

#[test]
fn every_event_is_delivered_once_in_order_across_rotation_and_gzip() {
    let dir = TempDir::new("ship-all");
    let path = dir.path("audit.log");
    write(&path, Some(Rotation::by_size(4096).compress(true)), 0, 500);
    let ids = trail_ids(&path);
    assert_eq!(ids.len(), 500);
    assert!(audit_core::trail::rotated_files(&path).unwrap().iter().any(|p| p.extension().unwrap() == "gz"));

    let destination = Collecting::default();
    let stats = Shipper::builder(&path, destination.clone())
        .max_batch(64, 1 << 20)
        .run_until_caught_up(Duration::from_secs(30))
        .unwrap();
    assert!(stats.caught_up);
    assert_eq!(stats.delivered, 500);
    assert_eq!(destination.received(), 500, "nothing delivered twice when nothing failed");
    assert_same_ids(&destination.unique_ids(), &ids);
    let record = &destination.received.lock().unwrap()[0];
    let line: serde_json::Value = serde_json::from_str(&record.line).unwrap();
    assert_eq!(line["event"]["id"], record.id.as_str(), "the line is shipped as the trail holds it");
    assert!(record.timestamp.is_some());

    // Nothing new: a second run delivers nothing.
    let again = Collecting::default();
    Shipper::builder(&path, again.clone()).run_until_caught_up(Duration::from_secs(10)).unwrap();
    assert_eq!(again.received(), 0, "the cursor was kept");
}

#[test]
fn a_failing_destination_is_retried_and_nothing_is_skipped() {
    let dir = TempDir::new("ship-retry");
    let path = dir.path("audit.log");
    write(&path, Some(Rotation::by_size(8192)), 0, 300);
    // Two attempts in three fail.
    let destination = Collecting::failing(|attempt| attempt % 3 != 2);
    let stats = Shipper::builder(&path, destination.clone())
        .max_batch(50, 1 << 20)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .run_until_caught_up(Duration::from_secs(30))
        .unwrap();
    assert!(stats.failed_attempts >= 10, "{stats:?}");
    assert_same_ids(&destination.unique_ids(), &trail_ids(&path));
    assert_eq!(destination.received(), 300, "a refused batch was not half kept");
}

#[test]
fn a_restarted_shipper_resumes_from_its_cursor() {
    let dir = TempDir::new("ship-resume");
    let path = dir.path("audit.log");
    write(&path, Some(Rotation::by_size(4096).compress(true)), 0, 200);
    // The first shipper delivers three batches, then its destination goes down for good.
    let first = Collecting::failing(|attempt| attempt >= 3);
    let error = Shipper::builder(&path, first.clone())
        .max_batch(40, 1 << 20)
        .backoff(Duration::from_millis(1), Duration::from_millis(2))
        .run_until_caught_up(Duration::from_millis(300))
        .unwrap_err();
    assert!(error.to_string().contains("120 events delivered"), "{error}");
    assert_eq!(first.received(), 120);
    let cursor = Cursor::load(&dir.path(".audit.log.collecting.cursor")).unwrap().expect("a saved cursor");
    assert_eq!(cursor.delivered, 120);

    // More events meanwhile, then a new shipper.
    write(&path, Some(Rotation::by_size(4096).compress(true)), 200, 100);
    let second = Collecting::default();
    Shipper::builder(&path, second.clone()).run_until_caught_up(Duration::from_secs(30)).unwrap();
    let mut all = first.unique_ids();
    all.extend(second.unique_ids());
    assert_same_ids(&all, &trail_ids(&path));
}

#[test]
fn a_live_trail_is_followed_while_it_rotates() {
    let dir = TempDir::new("ship-live");
    let path = dir.path("audit.log");
    let (writer, guard) = FileWriter::builder(&path).rotation(Rotation::by_size(2048).compress(true)).build().unwrap();
    let destination = Collecting::default();
    let shipper = Shipper::builder(&path, destination.clone()).poll_interval(Duration::from_millis(2)).spawn().unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    for id in 0..1000 {
        logger.log(event(id)).unwrap();
        if id % 100 == 0 {
            std::thread::sleep(Duration::from_millis(3));
        }
    }
    guard.shutdown().unwrap();
    let stats = shipper.shutdown(Duration::from_secs(20));
    assert!(stats.caught_up, "{stats:?}");
    let ids = trail_ids(&path);
    assert_eq!(ids.len(), 1000);
    assert_same_ids(&destination.unique_ids(), &ids);
    assert_eq!(destination.received(), 1000);
}

#[test]
fn falling_behind_and_catching_up_are_reported_as_events() {
    let dir = TempDir::new("ship-lag");
    let path = dir.path("audit.log");
    write(&path, None, 0, 10);
    let destination = Collecting::failing(|_| true);
    let reports = MemorySink::new();
    let shipper = Shipper::builder(&path, destination.clone())
        .backoff(Duration::from_millis(5), Duration::from_millis(10))
        .report_lag_after(Duration::from_millis(50))
        .reports_to(reports.clone())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let stats = shipper.stats();
    assert!(!stats.caught_up);
    assert!(stats.seconds_behind > 0.05, "{stats:?}");
    assert!(stats.last_error.as_deref().unwrap().contains("refused"), "{stats:?}");
    destination.heal();
    std::thread::sleep(Duration::from_millis(300));
    let stats = shipper.shutdown(Duration::from_secs(5));
    assert!(stats.caught_up && stats.seconds_behind == 0.0, "{stats:?}");
    let actions: Vec<String> = reports.events().iter().map(|e| e.event.action.to_string()).collect();
    assert_eq!(actions.first().map(String::as_str), Some(AUDIT_SHIP_BEHIND.name()), "{actions:?}");
    assert_eq!(actions.last().map(String::as_str), Some(AUDIT_SHIP_CAUGHT_UP.name()), "{actions:?}");
    let behind = &reports.events()[0];
    assert!(behind.event.reason.as_deref().unwrap().contains("behind collecting; last error: attempt"), "{behind:?}");
    // The toolkit's own events read as sentences about the shipping, not as a user's action.
    for line in reports.json() {
        let message = line["message"].as_str().unwrap();
        assert!(message.starts_with("Audit trail shipping to collecting "), "{message}");
        assert!(!message.contains("User") && !message.contains("Failed attempt"), "{message}");
    }
    assert_same_ids(&destination.unique_ids(), &trail_ids(&path));
}

#[test]
fn torn_lines_are_reported_and_not_shipped() {
    let dir = TempDir::new("ship-torn");
    let path = dir.path("audit.log");
    write(&path, None, 0, 3);
    let mut bytes = std::fs::read(&path).unwrap();
    let whole = bytes.clone();
    bytes.extend_from_slice(b"{\"@timestamp\":\"2026-12-\n");
    bytes.extend_from_slice(&whole);
    std::fs::write(&path, &bytes).unwrap();
    let (destination, stats, reasons) = ship_reporting(&path, None);
    assert_eq!(stats.torn_skipped, 1);
    assert_eq!(destination.received(), 6, "the torn line is no event");
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("torn line at byte"), "{reasons:?}");
}

#[test]
fn a_cursor_whose_file_is_gone_is_reported_and_delivery_starts_over() {
    let dir = TempDir::new("ship-gone");
    let path = dir.path("audit.log");
    write(&path, None, 0, 5);
    let cursor_path = dir.path("ship.cursor");
    ship_reporting(&path, Some(&cursor_path));
    // The file is replaced by another trail.
    std::fs::remove_file(&path).unwrap();
    write(&path, None, 5, 4);
    let (destination, _, reasons) = ship_reporting(&path, Some(&cursor_path));
    assert_eq!(destination.received(), 4);
    assert!(reasons.iter().any(|r| r.contains("no longer in the trail")), "{reasons:?}");
}

#[test]
fn a_destination_that_fails_its_check_is_refused_before_shipping() {
    struct Unreachable;
    impl Destination for Unreachable {
        fn name(&self) -> String {
            "nats://127.0.0.1:1".into()
        }
        fn check(&mut self) -> Result<(), DeliveryError> {
            Err(DeliveryError::new("connection refused"))
        }
        fn deliver(&mut self, _: &[ShipRecord]) -> Result<(), DeliveryError> {
            unreachable!("never called")
        }
    }
    let dir = TempDir::new("ship-check");
    let error = Shipper::builder(dir.path("audit.log"), Unreachable).spawn().unwrap_err();
    assert_eq!(error.to_string(), "nats://127.0.0.1:1 failed its start-up check: connection refused");
}

#[test]
fn two_shippers_never_share_a_cursor() {
    let dir = TempDir::new("ship-two");
    let path = dir.path("audit.log");
    write(&path, None, 0, 3);
    let first = Shipper::builder(&path, Collecting::default()).spawn().unwrap();
    let error = Shipper::builder(&path, Collecting::default()).spawn().unwrap_err();
    assert!(error.to_string().contains("another shipper"), "{error}");
    first.shutdown(Duration::from_secs(5));
    // Free again once the first has stopped.
    Shipper::builder(&path, Collecting::default()).run_until_caught_up(Duration::from_secs(5)).unwrap();
}

/// A destination known by the name it is given.
#[derive(Clone, Default)]
struct Named(String, Collecting);

impl Destination for Named {
    fn name(&self) -> String {
        self.0.clone()
    }
    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        self.1.deliver(batch)
    }
}

#[test]
fn destinations_whose_names_differ_past_80_characters_keep_cursors_of_their_own() {
    let dir = TempDir::new("ship-long-names");
    let path = dir.path("audit.log");
    write(&path, None, 0, 20);
    let long = "nats://n1.example:4222,n2.example:4222,n3.example:4222 stream AUDIT".repeat(2);
    for stream in ["-sales", "-ops"] {
        let destination = Named(format!("{long}{stream}"), Collecting::default());
        let stats = Shipper::builder(&path, destination.clone()).run_until_caught_up(Duration::from_secs(10)).unwrap();
        assert_eq!((stats.delivered, destination.1.received()), (20, 20), "{stream}: {stats:?}");
    }
}

#[test]
fn a_cursor_made_for_another_destination_is_refused_naming_the_setting() {
    let dir = TempDir::new("ship-cursor-other");
    let path = dir.path("audit.log");
    let cursor = dir.path("shared.cursor");
    write(&path, None, 0, 5);
    let first = Named("central-a".into(), Collecting::default());
    Shipper::builder(&path, first).cursor(&cursor).run_until_caught_up(Duration::from_secs(10)).unwrap();
    let second = Named("central-b".into(), Collecting::default());
    let error = Shipper::builder(&path, second.clone())
        .cursor(&cursor)
        .run_until_caught_up(Duration::from_secs(10))
        .unwrap_err();
    assert!(error.to_string().contains("central-a") && error.to_string().contains("cursor"), "{error}");
    assert_eq!(second.1.received(), 0);
}

/// Slow, but never failing: each batch takes 5 ms to be acknowledged.
#[derive(Clone, Default)]
struct Slow(Collecting);

impl Destination for Slow {
    fn name(&self) -> String {
        "slow".into()
    }
    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        std::thread::sleep(Duration::from_millis(5));
        self.0.deliver(batch)
    }
}

#[test]
fn running_until_caught_up_stops_at_its_deadline_while_delivery_goes_well() {
    let dir = TempDir::new("ship-deadline");
    let path = dir.path("audit.log");
    write(&path, None, 0, 2000);
    let destination = Slow::default();
    let deadline = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let result = Shipper::builder(&path, destination.clone()).max_batch(5, 1 << 20).run_until_caught_up(deadline);
    let took = started.elapsed();
    let error = result.expect_err("400 batches of 5 ms do not fit in 300 ms");
    assert!(error.to_string().contains("not delivered to its end within"), "{error}");
    assert!(took < deadline + Duration::from_millis(200), "it returned after {took:?}");
    let delivered = destination.0.received();
    assert!(delivered > 0 && delivered < 2000, "{delivered}");
    // What it delivered is behind its cursor: a second run delivers the rest, none twice.
    Shipper::builder(&path, destination.clone()).run_until_caught_up(Duration::from_secs(30)).unwrap();
    assert_same_ids(&destination.0.unique_ids(), &trail_ids(&path));
    assert_eq!(destination.0.received(), 2000);
}

#[test]
fn the_stats_stay_current_while_a_failing_destination_is_waited_for() {
    let dir = TempDir::new("ship-stale");
    let path = dir.path("audit.log");
    // A chained trail, half of it delivered by a first shipper.
    let chained = || FileWriter::builder(&path).chain(audit_core::chain::ChainHash::Sha256);
    write_events(chained(), (0..100).map(event));
    let first = Collecting::failing(|attempt| attempt >= 1);
    let _ = Shipper::builder(&path, first.clone())
        .max_batch(50, 1 << 20)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .run_until_caught_up(Duration::from_millis(100));
    assert_eq!(first.received(), 50);
    // A second shipper whose destination is down: before its first batch, the stats know how far
    // behind it is; while it waits between attempts, the age of what waits goes on growing.
    let down = Collecting::failing(|_| true);
    let shipper = Shipper::builder(&path, down)
        .backoff(Duration::from_secs(3), Duration::from_secs(3))
        .report_lag_after(Duration::from_secs(3600))
        .spawn()
        .unwrap();
    assert_eq!(shipper.stats().events_behind, Some(50), "{:?}", shipper.stats());
    std::thread::sleep(Duration::from_millis(300));
    let early = shipper.stats().seconds_behind;
    std::thread::sleep(Duration::from_millis(900));
    let later = shipper.stats().seconds_behind;
    assert!(later >= early + 0.5, "seconds_behind went from {early} to {later} during one back-off");
    shipper.shutdown(Duration::ZERO);
}

mod config {
    use audit_core::AuditConfig;

    fn build_error(json: &str) -> audit_core::config::ConfigError {
        match AuditConfig::from_json(json) {
            Ok(config) => config.build().err().unwrap_or_else(|| panic!("{json} was accepted")),
            Err(error) => error,
        }
    }

    fn sink_with(ship: &str) -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("audit-ship-config-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        format!(
            r#"{{ "sinks": [{{ "type": "rolling_file", "path": "{}", "ship": [{ship}] }}] }}"#,
            dir.join("audit.log").display()
        )
    }

    #[test]
    fn shipping_settings_are_checked_and_errors_name_them() {
        let error = build_error(&sink_with(r#"{ "to": "postgres" }"#));
        assert_eq!(error.setting(), "sinks[0].ship[0].url", "{error}");
        let error = build_error(&sink_with(r#"{ "to": "nats", "table": "t", "servers": "nats://127.0.0.1:1" }"#));
        assert_eq!(error.setting(), "sinks[0].ship[0].table", "{error}");
        assert!(error.to_string().contains("not a setting of a `nats` shipper"), "{error}");
        let error = build_error(&sink_with(r#"{ "to": "nats", "servrs": "x" }"#));
        assert!(error.to_string().contains("did you mean `servers`"), "{error}");
        let error = build_error(&sink_with(r#"{ "to": "otlp" }"#));
        assert_eq!(error.setting(), "sinks[0].ship[0].endpoint", "{error}");
        let error = build_error(&sink_with(r#"{ "to": "otlp", "endpoint": "collector:4318" }"#));
        assert_eq!(error.setting(), "sinks[0].ship[0].endpoint", "{error}");
        let error = build_error(&sink_with(r#"{ "to": "otlp", "endpoint": "http://127.0.0.1:1", "table": "t" }"#));
        assert!(error.to_string().contains("not a setting of a `otlp` shipper"), "{error}");
        // A collector that is not there is a start-up error naming the shipper.
        let error = build_error(&sink_with(r#"{ "to": "otlp", "endpoint": "http://127.0.0.1:1" }"#));
        assert!(error.setting().starts_with("sinks[0].ship[0]"), "{error}");
        let error = build_error(&sink_with(r#"{ "to": "kafka" }"#));
        assert_eq!(error.setting(), "sinks[0].ship[0].to", "{error}");
        let error = build_error(&sink_with(r#"{ "to": "syslog", "transport": "tls" }"#));
        assert_eq!(error.setting(), "sinks[0].ship[0].address", "{error}");
        let error = build_error(&sink_with(r#"{ "to": "syslog", "address": "127.0.0.1:1", "facility": 24 }"#));
        assert_eq!(error.setting(), "sinks[0].ship[0].facility", "{error}");
        let error = build_error(&sink_with(r#"{ "to": "postgres", "url": "postgresql://a@b/c", "table": "x; drop" }"#));
        assert_eq!(error.setting(), "sinks[0].ship[0].table", "{error}");
        // An unreachable server is a start-up error, before the first call, naming the shipper.
        let error = build_error(&sink_with(r#"{ "to": "syslog", "address": "127.0.0.1:1" }"#));
        assert_eq!(error.setting(), "sinks[0].ship[0]", "{error}");
        assert!(error.to_string().contains("failed its start-up check"), "{error}");
    }

    #[test]
    fn standalone_shippers_are_left_to_their_own_process() {
        let config = AuditConfig::from_json(&sink_with(
            r#"{ "to": "syslog", "address": "127.0.0.1:1", "in_process": false },
               { "to": "syslog", "transport": "unix", "socket": "/nonexistent/log", "in_process": false }"#,
        ))
        .unwrap();
        // Building the service's logger starts neither (so their servers' absence is no error).
        let (_logger, guards) = config.build().unwrap();
        assert!(guards.shippers().is_empty());
        let standalone = config.standalone_shippers().unwrap();
        let names: Vec<&str> = standalone.iter().map(|(at, _)| at.as_str()).collect();
        assert_eq!(names, ["sinks[0].ship[0]", "sinks[0].ship[1]"]);
        guards.shutdown().unwrap();
    }
}

#[test]
fn a_full_local_syslog_socket_delays_a_batch_and_never_doubles_it() {
    use audit_core::ship::syslog::SyslogDestination;
    let dir = TempDir::new("ship-dgram");
    let path = dir.path("audit.log");
    write(&path, None, 0, 1500);
    let socket = dir.path("log.sock");
    let receiver = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    receiver.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    // A slow reader: the socket's short queue fills, sends time out part-way through a batch.
    let reading = std::thread::spawn(move || {
        let mut ids = Vec::new();
        let mut buffer = vec![0u8; 1 << 20];
        std::thread::sleep(Duration::from_millis(200));
        while let Ok(n) = receiver.recv(&mut buffer) {
            let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
            let event: serde_json::Value = serde_json::from_str(&text[text.find('{').unwrap()..]).unwrap();
            ids.push(event["event"]["id"].as_str().unwrap().to_owned());
            if ids.len() % 100 == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        ids
    });
    let destination = SyslogDestination::local(&socket).timeouts(Duration::from_secs(1), Duration::from_millis(5));
    let stats = Shipper::builder(&path, destination)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .run_until_caught_up(Duration::from_secs(30))
        .unwrap();
    assert!(stats.failed_attempts > 0, "the queue filled at least once: {stats:?}");
    assert_same_ids(&reading.join().unwrap(), &trail_ids(&path));
}

#[test]
fn a_shipper_owned_by_the_writer_stops_after_it_with_everything_delivered() {
    let dir = TempDir::new("ship-owned");
    let path = dir.path("audit.log");
    let (writer, mut guard) = FileWriter::builder(&path).rotation(Rotation::by_size(8192)).build().unwrap();
    let destination = Collecting::default();
    let monitor = Shipper::builder(&path, destination.clone())
        .reports_to(writer.clone())
        .poll_interval(Duration::from_millis(5))
        .spawn_with(&mut guard)
        .unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    for id in 0..300 {
        logger.log(event(id)).unwrap();
    }
    // Stopping the writer stops its shipper after it: the last lines are delivered too.
    guard.shutdown().unwrap();
    let stats = monitor.stats();
    assert!(stats.caught_up, "{stats:?}");
    assert_same_ids(&destination.unique_ids(), &trail_ids(&path));
    assert_eq!(destination.received(), 300);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Whatever the rotation, compression, batch size and failures, and whether the writer is
        /// still writing while the shipper follows: every event arrives, in order, and the
        /// shipper restarted from its cursor mid-way adds none twice beyond one batch.
        #[test]
        fn every_event_once_in_order_whatever_the_rotation_batches_and_failures(
            rotate_at in 1024u64..8192,
            compress in any::<bool>(),
            batch in 1usize..64,
            events in 20u32..300,
            fail_every in 2usize..6,
            live in any::<bool>(),
        ) {
            let dir = TempDir::new("ship-prop");
            let path = dir.path("audit.log");
            let rotation = Rotation::by_size(rotate_at).compress(compress);
            let destination = Collecting::failing(move |attempt| attempt % fail_every == 0);
            let first_half = events / 2;
            if live {
                let (writer, guard) = FileWriter::builder(&path).rotation(rotation).build().unwrap();
                let shipper = Shipper::builder(&path, destination.clone())
                    .max_batch(batch, 1 << 20)
                    .poll_interval(Duration::from_millis(1))
                    .backoff(Duration::from_millis(1), Duration::from_millis(2))
                    .spawn()
                    .unwrap();
                let logger = AuditLogger::builder().sink(writer).build();
                for id in 0..events {
                    logger.log(event(id)).unwrap();
                }
                guard.shutdown().unwrap();
                let stats = shipper.shutdown(Duration::from_secs(20));
                prop_assert!(stats.caught_up, "{:?}", stats);
            } else {
                write(&path, Some(rotation.clone()), 0, first_half);
                // A first shipper delivers part, then stops; a second resumes from its cursor.
                let _ = Shipper::builder(&path, destination.clone())
                    .max_batch(batch, 1 << 20)
                    .backoff(Duration::from_millis(1), Duration::from_millis(2))
                    .run_until_caught_up(Duration::from_millis(20));
                write(&path, Some(rotation), first_half, events - first_half);
                Shipper::builder(&path, destination.clone())
                    .max_batch(batch, 1 << 20)
                    .backoff(Duration::from_millis(1), Duration::from_millis(2))
                    .run_until_caught_up(Duration::from_secs(20))
                    .unwrap();
            }
            let want = trail_ids(&path);
            prop_assert_eq!(want.len(), events as usize);
            prop_assert_eq!(destination.unique_ids(), want);
            // Refused batches are not kept; a restart re-delivers at most the batch in flight.
            prop_assert!(destination.received() <= events as usize + batch);
        }
    }
}

#[test]
fn a_shipper_following_its_writer_wakes_on_each_write_not_on_its_poll() {
    let dir = TempDir::new("ship-follow");
    let path = dir.path("audit.log");
    let (writer, mut guard) = FileWriter::builder(&path).build().unwrap();
    let destination = Collecting::default();
    // A poll interval far longer than the test may take: only the writer's wake-ups can make it.
    let monitor = Shipper::builder(&path, destination.clone())
        .poll_interval(Duration::from_secs(600))
        .spawn_with(&mut guard)
        .unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    for round in 0..3 {
        logger.log(event(round)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while destination.received() < round as usize + 1 {
            assert!(std::time::Instant::now() < deadline, "not woken: {:?}", monitor.stats());
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    guard.shutdown().unwrap();
    assert_same_ids(&destination.unique_ids(), &trail_ids(&path));
}

#[test]
fn a_cursor_inside_a_line_is_reported_and_its_file_delivered_again_from_its_start() {
    let dir = TempDir::new("ship-inside");
    let path = dir.path("audit.log");
    write(&path, None, 0, 5);
    let cursor_path = dir.path("ship.cursor");
    ship_reporting(&path, Some(&cursor_path));
    // The cursor's offset moved off a line's end (a hand edit, a file rewritten in place).
    let mut cursor: serde_json::Value = serde_json::from_slice(&std::fs::read(&cursor_path).unwrap()).unwrap();
    cursor["offset"] = serde_json::json!(cursor["offset"].as_u64().unwrap() - 7);
    std::fs::write(&cursor_path, cursor.to_string()).unwrap();
    let (destination, _, reasons) = ship_reporting(&path, Some(&cursor_path));
    assert_same_ids(&destination.unique_ids(), &trail_ids(&path));
    assert!(reasons.iter().any(|r| r.contains("is inside a line")), "{reasons:?}");
}

/// A server that accepts connections and never says a word (a hung server, a port held by
/// something else) for 30 s: its address.
fn silent_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).flatten().collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(held);
    });
    address
}

/// `destination`'s check fails, within its 1 s timeout and well before 5 s.
fn check_fails_within_its_timeout(mut destination: impl Destination) {
    let started = std::time::Instant::now();
    let (sent, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || drop(sent.send(destination.check().map_err(|e| e.to_string()))));
    let result = answer.recv_timeout(Duration::from_secs(10)).expect("the check returns, bounded by its timeout");
    assert!(result.is_err(), "a server that never answers is no destination");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn a_nats_server_that_never_answers_fails_the_check_within_its_connect_timeout() {
    use audit_core::ship::nats::NatsDestination;
    let address = silent_server();
    let destination = NatsDestination::new(&format!("nats://{address}"))
        .unwrap()
        .timeouts(Duration::from_secs(1), Duration::from_secs(1));
    check_fails_within_its_timeout(destination);
}

#[test]
fn a_postgres_server_that_never_answers_fails_the_check_within_its_connect_timeout() {
    use audit_core::ship::postgres::PostgresDestination;
    let address = silent_server();
    let url = format!("postgresql://audit@{}:{}/audit", address.ip(), address.port());
    let destination = PostgresDestination::new(&url).unwrap().timeouts(Duration::from_secs(1), Duration::from_secs(1));
    check_fails_within_its_timeout(destination);
}

#[test]
fn an_otlp_collector_that_throttles_is_waited_for_as_it_asks() {
    use audit_core::ship::otlp::OtlpDestination;
    use std::io::{BufRead, BufReader, Read, Write};
    // A collector that answers 429 with `Retry-After: 1` once, then 200.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&answered);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut stream = stream;
            loop {
                let (mut line, mut length) = (String::new(), 0usize);
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let answer = if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    "HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 4\r\n\r\nslow"
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
                };
                stream.write_all(answer.as_bytes()).unwrap();
            }
        }
    });
    let mut destination = OtlpDestination::http(&format!("http://{address}")).unwrap();
    assert_eq!(destination.endpoint(), format!("http://{address}/v1/logs"));
    let record = ShipRecord::parse(br#"{"@timestamp":"2026-12-06T00:00:00Z","event":{"id":"0123456789abcdef0123456789abcdef","action":"space_get","outcome":"success"}}"#).unwrap();
    let started = std::time::Instant::now();
    let error = destination.deliver(std::slice::from_ref(&record)).unwrap_err();
    assert!(error.to_string().contains("throttled") && error.to_string().contains("429"), "{error}");
    assert!(started.elapsed() >= Duration::from_secs(1), "the collector's Retry-After is waited for");
    destination.deliver(std::slice::from_ref(&record)).unwrap();
    assert_eq!(answered.load(Ordering::SeqCst), 2);
}
