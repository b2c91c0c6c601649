//! The pipeline's figures through the `metrics` facade: a logger that refused an event and a
//! best-effort sink that dropped some, a writer that synced, a shipper that delivered; read back
//! from a recorder (one that keeps what it is given) by name and label.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use audit_core::metrics::MetricsReporter;
use audit_core::ship::Shipper;
use audit_core::sink::BestEffortLimits;
use audit_core::{kibana, AuditEvent, AuditLogger, AuditSink, Durability, FileWriter, Outcome};
use common::sinks::{Hung, Ids, Switch};
use common::TempDir;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

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
    switch.refuse(true);
    assert!(logger.log(event()).unwrap_err().is_refusal());
    switch.refuse(false);

    let shipper = Shipper::builder(&path, Ids(BTreeSet::new())).cursor(dir.path("ship.cursor")).spawn().unwrap();
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
    switch.refuse(true);
    assert!(logger.log(event()).is_err());
    switch.refuse(false);
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
    hung.release();
    shipper.shutdown(Duration::from_secs(5));
    guard.shutdown().unwrap();
}
