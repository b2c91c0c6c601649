//! The OTLP destination against a real OpenTelemetry collector (rotel) on loopback: a trail
//! shipped while the collector is killed mid-stream and restarted; every event of the trail
//! arrives at least once, counted by its `event.id` attribute in what the collector printed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use audit_core::ship::otlp::OtlpDestination;
use audit_core::ship::Shipper;
use audit_core::{kibana, AuditEvent, AuditLogger, FileWriter, Outcome, Resource};

use crate::common::{trail_ids, TempDir};
use crate::servers::Collector;

/// The event ids the collector printed.
fn received(collector: &Collector) -> BTreeSet<String> {
    let printed = collector.printed();
    let mut ids = BTreeSet::new();
    let mut rest = printed.as_str();
    // Each id is 32 hex digits: find every one the trail holds in what was printed.
    while let Some(at) = rest.find("event.id") {
        rest = &rest[at + "event.id".len()..];
        let id: String =
            rest.chars().skip_while(|c| !c.is_ascii_hexdigit()).take_while(char::is_ascii_hexdigit).collect();
        if id.len() == 32 {
            ids.insert(id);
        }
    }
    ids
}

#[test]
fn a_collector_killed_mid_stream_and_restarted_gets_every_event() {
    let dir = TempDir::new("otlp-ship");
    let path = dir.path("audit.log");
    let mut collector = Collector::start();

    let (writer, guard) = FileWriter::builder(&path).build().unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    let write = |from: u32, count: u32| {
        for i in from..from + count {
            let event = AuditEvent::new(&kibana::SAVED_OBJECT_UPDATE)
                .with_outcome(if i % 10 == 0 { Outcome::Failure } else { Outcome::Unknown })
                .with_resource(Resource::new("dashboard", i.to_string()));
            logger.log(event).unwrap();
        }
        logger.flush().unwrap();
    };
    write(0, 3000);
    let destination = OtlpDestination::http(&format!("http://127.0.0.1:{}", collector.http_port))
        .unwrap()
        .service_name("shop")
        .timeout(Duration::from_secs(2));
    let shipper =
        Shipper::builder(&path, destination).cursor(dir.path("otlp.cursor")).max_batch(200, 1 << 20).spawn().unwrap();

    // Killed once some of the trail is delivered, while more is being written.
    let deadline = Instant::now() + Duration::from_secs(60);
    while shipper.stats().delivered < 600 {
        assert!(Instant::now() < deadline, "{:?}", shipper.stats());
        std::thread::sleep(Duration::from_millis(10));
    }
    collector.kill();
    write(3000, 2000);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!shipper.stats().caught_up, "the collector is down: {:?}", shipper.stats());
    collector.restart();
    write(5000, 1000);

    let ids = trail_ids(&path);
    assert_eq!(ids.len(), 6000);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut got = received(&collector);
    while !ids.iter().all(|id| got.contains(id)) {
        assert!(
            Instant::now() < deadline,
            "{} of {} events at the collector; {:?}",
            ids.iter().filter(|id| got.contains(*id)).count(),
            ids.len(),
            shipper.stats()
        );
        std::thread::sleep(Duration::from_millis(250));
        got = received(&collector);
    }
    let stats = shipper.shutdown(Duration::from_secs(5));
    assert!(stats.failed_attempts >= 1, "the kill was seen: {stats:?}");
    guard.shutdown().unwrap();
    // What a record looks like at the collector: the action as its event name, the outcome as
    // its severity, the resource attributes.
    let printed = collector.printed();
    assert!(printed.contains("saved_object_update"), "{}", &printed[..printed.len().min(4000)]);
    assert!(printed.contains("shop"), "service.name");
}

#[test]
fn the_trail_reaches_a_collector_over_grpc_and_from_the_config() {
    let dir = TempDir::new("otlp-grpc");
    let path = dir.path("audit.log");
    let collector = Collector::start();
    let config = audit_core::AuditConfig::from_json(&format!(
        r#"{{ "service_name": "shop", "sinks": [{{ "type": "rolling_file", "path": "{}",
              "ship": [{{ "to": "otlp", "protocol": "grpc", "endpoint": "http://127.0.0.1:{}",
                         "headers": {{ "x-tenant": "shop" }} }}] }}] }}"#,
        path.display(),
        collector.grpc_port
    ))
    .unwrap();
    let (logger, guards) = config.build().unwrap();
    for i in 0..300u32 {
        let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET)
            .with_outcome(Outcome::Success)
            .with_resource(Resource::new("dashboard", i.to_string()));
        logger.log(event).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while guards.shippers()[0].delivered < 300 {
        assert!(Instant::now() < deadline, "{:?}", guards.shippers());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(guards.shippers()[0].destination.starts_with("otlp+grpc+"), "{:?}", guards.shippers());
    guards.shutdown().unwrap();
    let ids = trail_ids(&path);
    let got = received(&collector);
    assert!(ids.iter().all(|id| got.contains(id)), "{} of {} at the collector", got.len(), ids.len());
}
