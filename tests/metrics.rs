//! The pipeline's figures through the `metrics` facade: a logger that refused an event and a
//! best-effort sink that dropped some, a writer that synced, a shipper that delivered; read back
//! from a recorder (one that keeps what it is given) by name and label.

mod common;

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use audit_core::metrics::MetricsReporter;
use audit_core::ship::{DeliveryError, Destination, ShipRecord, Shipper};
use audit_core::sink::{BestEffortLimits, FailurePolicy, Record, SinkError};
use audit_core::{kibana, AuditEvent, AuditLogger, AuditSink, Durability, FileWriter, Outcome};
use common::TempDir;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// Refuses every event while `refusing` is set (failing closed).
#[derive(Clone, Default)]
struct Switch(Arc<AtomicBool>);

impl AuditSink for Switch {
    fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
        if self.0.load(Ordering::SeqCst) {
            return Err(FailurePolicy::FailClosed.failure(io::Error::other("down")));
        }
        Ok(())
    }
    fn describe(&self) -> String {
        "switch".into()
    }
}

/// Never returns from a write until released: a best-effort sink whose queue fills.
#[derive(Clone, Default)]
struct Hung(Arc<(Mutex<bool>, Condvar)>);

impl AuditSink for Hung {
    fn write(&self, _: &Record<'_>) -> Result<(), SinkError> {
        let mut released = self.0 .0.lock().unwrap();
        while !*released {
            released = self.0 .1.wait(released).unwrap();
        }
        Ok(())
    }
    fn describe(&self) -> String {
        "hung".into()
    }
}

struct Collecting(BTreeSet<String>);

impl Destination for Collecting {
    fn name(&self) -> String {
        "collecting".into()
    }
    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        self.0.extend(batch.iter().map(|record| record.id.clone()));
        Ok(())
    }
}

/// What the recorder holds now (a snapshot takes the counts it reads: one snapshot, many looks).
type Values = Vec<(metrics_util::CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue)>;

fn take(snapshotter: &Snapshotter) -> Values {
    snapshotter.snapshot().into_vec()
}

/// The value of `name` with `label` (or none).
fn value<'v>(values: &'v Values, name: &str, label: Option<(&str, &str)>) -> Option<&'v DebugValue> {
    values.iter().find_map(|(key, _, _, value)| {
        let key = key.key();
        let labelled = match label {
            Some((k, v)) => key.labels().any(|l| l.key() == k && l.value() == v),
            None => key.labels().next().is_none(),
        };
        (key.name() == name && labelled).then_some(value)
    })
}

fn counter(values: &Values, name: &str, label: Option<(&str, &str)>) -> u64 {
    match value(values, name, label) {
        Some(DebugValue::Counter(value)) => *value,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn the_loggers_writers_and_shippers_figures_reach_the_recorder() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder of this test binary");

    let dir = TempDir::new("metrics");
    let path = dir.path("audit.log");
    let (writer, guard) = FileWriter::builder(&path).durability(Durability::Durable).build().unwrap();
    let switch = Switch::default();
    let hung = Hung::default();
    let logger = AuditLogger::builder()
        .sink(writer.clone())
        .sink(switch.clone())
        .best_effort_sink_with(hung.clone(), BestEffortLimits::default().queue(2))
        .build();
    let event = || AuditEvent::new(&kibana::SAVED_OBJECT_GET).with_outcome(Outcome::Success);
    for _ in 0..10 {
        logger.log(event()).unwrap();
    }
    switch.0.store(true, Ordering::SeqCst);
    assert!(logger.log(event()).unwrap_err().is_refusal());
    switch.0.store(false, Ordering::SeqCst);

    let shipper = Shipper::builder(&path, Collecting(BTreeSet::new())).cursor(dir.path("ship.cursor")).spawn().unwrap();
    for _ in 0..200 {
        if shipper.stats().caught_up && shipper.stats().delivered > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let monitor = shipper.monitor();
    let reporter = MetricsReporter::new().logger(&logger).writer(&writer).shipper(move || monitor.stats());
    reporter.report();
    let values = take(&snapshotter);

    let stats = logger.stats();
    assert!(stats.best_effort_dropped >= 1, "{stats:?}");
    assert_eq!(counter(&values, "audit_events_refused_total", None), 1);
    assert_eq!(counter(&values, "audit_events_written_total", None), stats.written);
    assert_eq!(counter(&values, "audit_best_effort_dropped_total", None), stats.best_effort_dropped);
    let sink = writer.describe();
    let sink = Some(("sink", sink.as_str()));
    assert!(counter(&values, "audit_writer_lines_written_total", sink) >= 10);
    assert!(counter(&values, "audit_writer_syncs_total", sink) >= 1);
    match value(&values, "audit_writer_sync_seconds", sink) {
        Some(DebugValue::Histogram(samples)) => assert!(!samples.is_empty()),
        other => panic!("the sync histogram: {other:?}"),
    }
    let destination = Some(("destination", "collecting"));
    assert!(counter(&values, "audit_ship_events_delivered_total", destination) >= 10);
    match value(&values, "audit_ship_caught_up", destination) {
        Some(DebugValue::Gauge(up)) => assert_eq!(up.into_inner(), 1.0),
        other => panic!("caught up: {other:?}"),
    }

    // A spawned reporter goes on publishing: a later refusal shows without calling report().
    let spawned = reporter.spawn(Duration::from_millis(20));
    switch.0.store(true, Ordering::SeqCst);
    assert!(logger.log(event()).is_err());
    switch.0.store(false, Ordering::SeqCst);
    let mut refused = 0;
    for _ in 0..100 {
        refused = counter(&take(&snapshotter), "audit_events_refused_total", None);
        if refused == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(refused, 2);
    drop(spawned);
    *hung.0 .0.lock().unwrap() = true;
    hung.0 .1.notify_all();
    shipper.shutdown(Duration::from_secs(5));
    guard.shutdown().unwrap();
}
