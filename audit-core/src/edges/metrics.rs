//! The audit pipeline's figures through the [`metrics`] facade (feature `metrics`), so that any
//! exporter (Prometheus, StatsD, OpenTelemetry) shows them on a dashboard and alerts on them.
//!
//! The logger, the writers and the shippers already count everything in their stats
//! ([`LoggerStats`](crate::logging::LoggerStats), [`WriterStats`](crate::output::writer::WriterStats),
//! [`ShipperStats`](crate::ship::ShipperStats)). A [`MetricsReporter`] publishes those counts
//! (counters as their totals, gauges as they are now) every interval, on a thread of its own: an
//! audited call pays nothing for metrics. The one histogram, the writers' `fsync` time, is
//! recorded by each writer's thread as it syncs.
//!
//! ```
//! use std::time::Duration;
//! use audit_core::metrics::MetricsReporter;
//! use audit_core::{AuditLogger, MemorySink};
//!
//! let logger = AuditLogger::builder().sink(MemorySink::new()).build();
//! // After the exporter's recorder is installed (`PrometheusBuilder::install_recorder`, …):
//! let reporter = MetricsReporter::new().logger(&logger).spawn(Duration::from_secs(5));
//! // … `reporter` publishes until dropped.
//! # drop(reporter);
//! ```
//!
//! | metric | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `audit_events_written_total` | counter | | events every required sink took |
//! | `audit_events_ignored_total` | counter | | events an ignore filter dropped |
//! | `audit_events_refused_total` | counter | | events a fail-closed sink refused (their calls were refused) |
//! | `audit_events_unconfirmed_total` | counter | | events a fail-open sink could not confirm |
//! | `audit_results_lost_total` | counter | | write results the required sinks refused |
//! | `audit_best_effort_dropped_total` | counter | | events best-effort sinks dropped, their queues full |
//! | `audit_best_effort_failed_total` | counter | | events best-effort sinks failed to write |
//! | `audit_writer_events_accepted_total` | counter | `sink` | events queued to the writer |
//! | `audit_writer_lines_written_total` | counter | `sink` | lines written, the writer's own reports included |
//! | `audit_writer_events_dropped_total` | counter | `sink` | events the writer dropped |
//! | `audit_writer_events_refused_total` | counter | `sink` | events the writer refused (failing closed) |
//! | `audit_writer_io_errors_total` | counter | `sink` | failed writes and syncs |
//! | `audit_writer_syncs_total` | counter | `sink` | `fsync`s |
//! | `audit_writer_rotations_total` | counter | `sink` | rotations |
//! | `audit_writer_queued_events` | gauge | `sink` | events waiting in the queue |
//! | `audit_writer_sync_seconds` | histogram | `sink` | how long each `fsync` took |
//! | `audit_ship_events_delivered_total` | counter | `destination` | events the destination acknowledged |
//! | `audit_ship_failed_attempts_total` | counter | `destination` | delivery attempts that failed |
//! | `audit_ship_torn_lines_skipped_total` | counter | `destination` | torn lines not shipped |
//! | `audit_ship_seconds_behind` | gauge | `destination` | age of the oldest event not delivered |
//! | `audit_ship_events_behind` | gauge | `destination` | events not delivered (chained trails) |
//! | `audit_ship_caught_up` | gauge | `destination` | 1 when the shipper has delivered the whole trail |

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::logging::AuditLogger;
use crate::output::sink::AuditSink;
use crate::output::writer::FileWriter;
use crate::ship::ShipperStats;

/// Where a shipper's stats come from.
type ShipperSource = Box<dyn Fn() -> ShipperStats + Send + Sync>;

/// Publishes the stats of a logger, writers and shippers through the [`metrics`] facade: once
/// with [`report`](MetricsReporter::report), or every interval with
/// [`spawn`](MetricsReporter::spawn).
#[derive(Default)]
pub struct MetricsReporter {
    logger: Option<AuditLogger>,
    writers: Vec<(String, FileWriter)>,
    shippers: Vec<ShipperSource>,
}

impl std::fmt::Debug for MetricsReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsReporter")
            .field("logger", &self.logger.is_some())
            .field("writers", &self.writers.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .field("shippers", &self.shippers.len())
            .finish()
    }
}

impl MetricsReporter {
    /// A reporter of nothing yet.
    pub fn new() -> MetricsReporter {
        MetricsReporter::default()
    }

    /// Reports `logger`'s stats.
    pub fn logger(mut self, logger: &AuditLogger) -> Self {
        self.logger = Some(logger.clone());
        self
    }

    /// Reports `writer`'s stats, labelled `sink` with its description (`file-writer:<path>`).
    pub fn writer(mut self, writer: &FileWriter) -> Self {
        self.writers.push((writer.describe(), writer.clone()));
        self
    }

    /// Reports a shipper's stats, as `stats` gives them (`move || guard.stats()`, or a
    /// [`ShipperMonitor`](crate::ship::ShipperMonitor)'s), labelled `destination`.
    pub fn shipper(mut self, stats: impl Fn() -> ShipperStats + Send + Sync + 'static) -> Self {
        self.shippers.push(Box::new(stats));
        self
    }

    /// Publishes every figure now, to the recorder installed (globally, or for this thread).
    pub fn report(&self) {
        if let Some(logger) = &self.logger {
            let stats = logger.stats();
            metrics::counter!("audit_events_written_total").absolute(stats.written);
            metrics::counter!("audit_events_ignored_total").absolute(stats.ignored);
            metrics::counter!("audit_events_refused_total").absolute(stats.refused);
            metrics::counter!("audit_events_unconfirmed_total").absolute(stats.unconfirmed);
            metrics::counter!("audit_results_lost_total").absolute(stats.results_lost);
            metrics::counter!("audit_best_effort_dropped_total").absolute(stats.best_effort_dropped);
            metrics::counter!("audit_best_effort_failed_total").absolute(stats.best_effort_failed);
        }
        for (name, writer) in &self.writers {
            let stats = writer.stats();
            let sink = [("sink", name.clone())];
            metrics::counter!("audit_writer_events_accepted_total", &sink).absolute(stats.accepted);
            metrics::counter!("audit_writer_lines_written_total", &sink).absolute(stats.written);
            metrics::counter!("audit_writer_events_dropped_total", &sink).absolute(stats.dropped);
            metrics::counter!("audit_writer_events_refused_total", &sink).absolute(stats.refused);
            metrics::counter!("audit_writer_io_errors_total", &sink).absolute(stats.io_errors);
            metrics::counter!("audit_writer_syncs_total", &sink).absolute(stats.syncs);
            metrics::counter!("audit_writer_rotations_total", &sink).absolute(stats.rotations);
            metrics::gauge!("audit_writer_queued_events", &sink).set(stats.queued as f64);
        }
        for stats in &self.shippers {
            let stats = stats();
            let destination = [("destination", stats.destination.clone())];
            metrics::counter!("audit_ship_events_delivered_total", &destination).absolute(stats.delivered);
            metrics::counter!("audit_ship_failed_attempts_total", &destination).absolute(stats.failed_attempts);
            metrics::counter!("audit_ship_torn_lines_skipped_total", &destination).absolute(stats.torn_skipped);
            metrics::gauge!("audit_ship_seconds_behind", &destination).set(stats.seconds_behind);
            if let Some(events) = stats.events_behind {
                metrics::gauge!("audit_ship_events_behind", &destination).set(events as f64);
            }
            metrics::gauge!("audit_ship_caught_up", &destination).set(if stats.caught_up { 1.0 } else { 0.0 });
        }
    }

    /// Publishes every `every` (and once at once) on a thread of its own, until the guard is
    /// dropped (which publishes a last time).
    pub fn spawn(self, every: Duration) -> MetricsGuard {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("audit-metrics".to_owned())
            .spawn(move || {
                let (lock, wake) = &*stopping;
                let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    self.report();
                    if *stopped {
                        return;
                    }
                    stopped = wake.wait_timeout(stopped, every).unwrap_or_else(|p| p.into_inner()).0;
                }
            })
            .expect("a thread for metrics");
        MetricsGuard { stop, thread: Some(thread) }
    }
}

/// Stops a spawned [`MetricsReporter`] when dropped, after a last report.
#[derive(Debug)]
pub struct MetricsGuard {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for MetricsGuard {
    fn drop(&mut self) {
        *self.stop.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.stop.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
