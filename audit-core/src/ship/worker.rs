//! [`Shipper`]: the builder, the thread that reads, delivers and moves the cursor, its stats and
//! its reports.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};
use std::{fmt, io};

use super::destination::Destination;
use crate::model::catalog;
use crate::model::AuditEvent;
use crate::output::format::EcsFormat;
use crate::output::sink::console::ConsoleSink;
use crate::output::sink::contract::AuditSink;
use crate::output::sink::record::Record;
use crate::output::writer::FileWriter;
use crate::trail::cursor::{adopt_legacy_cursor, default_cursor_path, lock_cursor, Cursor};
use crate::trail::follow::{Doubt, Follower, Position};
use crate::trail::record::ShipRecord;
use audit_schema::Durability;

/// Starts shipping a trail: [`Shipper::builder`].
#[derive(Debug)]
pub struct Shipper;

impl Shipper {
    /// A shipper of the trail whose active file is `active` (the path given to
    /// [`FileWriter::builder`](crate::FileWriter::builder)) to `destination`.
    ///
    /// Its cursor is kept beside the trail, in `.<file name>.<destination>.cursor`, unless
    /// [`cursor`](ShipperBuilder::cursor) says where.
    pub fn builder(active: impl AsRef<Path>, destination: impl Destination) -> ShipperBuilder {
        ShipperBuilder {
            active: active.as_ref().to_path_buf(),
            destination: Box::new(destination),
            cursor: None,
            max_events: 1000,
            max_bytes: 1 << 20,
            poll: Duration::from_millis(50),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            lag_threshold: Duration::from_secs(60),
            reports: None,
            follow: None,
        }
    }
}

/// Settings of a [`Shipper`].
pub struct ShipperBuilder {
    active: PathBuf,
    destination: Box<dyn Destination>,
    cursor: Option<PathBuf>,
    max_events: usize,
    max_bytes: usize,
    poll: Duration,
    first_backoff: Duration,
    max_backoff: Duration,
    lag_threshold: Duration,
    reports: Option<Arc<dyn AuditSink>>,
    follow: Option<FileWriter>,
}

impl fmt::Debug for ShipperBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShipperBuilder")
            .field("active", &self.active)
            .field("destination", &self.destination.name())
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl ShipperBuilder {
    /// Where the cursor is kept (a file the shipper replaces atomically after every batch).
    pub fn cursor(mut self, path: impl AsRef<Path>) -> Self {
        self.cursor = Some(path.as_ref().to_path_buf());
        self
    }

    /// At most this many events, and about this many bytes, per batch (default 1000 and 1 MiB).
    /// Memory stays within one batch whatever the backlog.
    pub fn max_batch(mut self, events: usize, bytes: usize) -> Self {
        self.max_events = events.max(1);
        self.max_bytes = bytes.max(1);
        self
    }

    /// How often a caught-up shipper looks for new lines (default 50 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval.max(Duration::from_millis(1));
        self
    }

    /// The wait after a failed delivery, doubled after each failure in a row up to `max`
    /// (default 100 ms to 30 s), with ±20% jitter so that a fleet does not retry in step.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first.max(Duration::from_millis(1));
        self.max_backoff = max.max(self.first_backoff);
        self
    }

    /// Writes [`AUDIT_SHIP_BEHIND`](crate::own::AUDIT_SHIP_BEHIND) when the oldest undelivered event is older than this
    /// (default one minute), again every such interval while it lasts, and
    /// [`AUDIT_SHIP_CAUGHT_UP`](crate::own::AUDIT_SHIP_CAUGHT_UP) when it is over.
    pub fn report_lag_after(mut self, threshold: Duration) -> Self {
        self.lag_threshold = threshold;
        self
    }

    /// Where the shipper's own events go (default: standard error). Pass the trail's
    /// [`FileWriter`](crate::FileWriter) to keep them in the trail itself.
    pub fn reports_to(mut self, sink: impl AuditSink) -> Self {
        self.reports = Some(Arc::new(sink));
        self
    }

    /// Wakes when `writer` (the trail's writer, in this process) writes, rather than looking for
    /// new lines every [`poll_interval`](Self::poll_interval): the lag of a caught-up shipper
    /// drops from about the poll interval to about a batch's delivery. Set by
    /// [`spawn_with`](Self::spawn_with) and by a configuration's in-process shippers.
    pub fn follow(mut self, writer: &FileWriter) -> Self {
        self.follow = Some(writer.clone());
        self
    }

    /// Checks the destination ([`Destination::check`]) and reads the cursor, then ships on a
    /// thread of its own until [`ShipperGuard::shutdown`].
    ///
    /// # Errors
    /// When the destination fails its check, or the cursor cannot be read: nothing is shipped.
    pub fn spawn(self) -> io::Result<ShipperGuard> {
        let worker = self.prepare()?;
        let shared = Arc::clone(&worker.shared);
        let thread = thread::Builder::new().name("audit-shipper".into()).spawn(move || {
            lower_priority();
            worker.run()
        })?;
        Ok(ShipperGuard { shared, thread: Some(thread) })
    }

    /// Like [`spawn`](Self::spawn), with the shipper owned by the trail's writer: it stops when
    /// `guard` does, after the writer (so it delivers the writer's last lines, for up to five
    /// seconds more). The returned monitor gives its stats.
    ///
    /// ```no_run
    /// # use audit_core::ship::{Destination, DeliveryError, ShipRecord, Shipper};
    /// # #[derive(Debug)] struct Central;
    /// # impl Destination for Central {
    /// #     fn name(&self) -> String { "central".into() }
    /// #     fn deliver(&mut self, _: &[ShipRecord]) -> Result<(), DeliveryError> { Ok(()) }
    /// # }
    /// let (writer, mut guard) = audit_core::FileWriter::builder("/var/log/myapp/audit.log").build()?;
    /// let shipping = Shipper::builder("/var/log/myapp/audit.log", Central).reports_to(writer.clone()).spawn_with(&mut guard)?;
    /// // … the service runs …
    /// println!("{:?}", shipping.stats());
    /// guard.shutdown()?; // the writer, then its shipper
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn).
    pub fn spawn_with(mut self, guard: &mut crate::output::writer::WriterGuard) -> io::Result<ShipperMonitor> {
        self.follow = Some(guard.writer().clone());
        let shipper = self.spawn()?;
        let monitor = ShipperMonitor { shared: Arc::clone(&shipper.shared) };
        guard.after_stop(Box::new(move || {
            shipper.shutdown(Duration::from_secs(5));
        }));
        Ok(monitor)
    }

    /// Ships in the calling thread until the trail is delivered up to its end as it is when
    /// the call is made (or later), then returns the stats; for batch jobs and `audit ship
    /// --until-caught-up`. Retries a failing destination for at most `deadline`.
    ///
    /// # Errors
    /// As [`spawn`](ShipperBuilder::spawn); and when the deadline passed before the trail was
    /// delivered (the error says how far it got).
    pub fn run_until_caught_up(self, deadline: Duration) -> io::Result<ShipperStats> {
        let worker = self.prepare()?;
        let shared = Arc::clone(&worker.shared);
        shared.request_stop(Instant::now() + deadline);
        worker.run();
        let stats = shared.stats();
        if stats.caught_up {
            Ok(stats)
        } else {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{} events delivered, but the trail was not delivered to its end within {deadline:?}: {}",
                    stats.delivered,
                    stats.last_error.as_deref().unwrap_or("no error")
                ),
            ))
        }
    }

    fn prepare(mut self) -> io::Result<Worker> {
        let name = self.destination.name();
        self.destination.check().map_err(|error| {
            io::Error::new(io::ErrorKind::ConnectionRefused, format!("{name} failed its start-up check: {error}"))
        })?;
        let identity = self.destination.identity();
        let cursor_path = match &self.cursor {
            Some(path) => path.clone(),
            None => {
                let path = default_cursor_path(&self.active, &name, &identity);
                adopt_legacy_cursor(&self.active, &name, &path)?;
                path
            }
        };
        let lock = lock_cursor(&cursor_path)?;
        let mut cursor = Cursor::load(&cursor_path)?;
        if let Some(cursor) = &mut cursor {
            match &cursor.destination {
                Some(other) if *other != identity => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "the shipping cursor {} follows {other}, not {identity}: a cursor belongs to one \
                             destination; give this one a `cursor` of its own (or none: each destination then \
                             gets its own beside the trail), or delete the file to deliver the whole trail again",
                            cursor_path.display()
                        ),
                    ));
                }
                Some(_) => {}
                None => cursor.destination = Some(identity.clone()),
            }
        }
        let follower = Follower::start(&self.active, cursor.as_ref())?;
        let shared = Arc::new(Shared {
            stats: Mutex::new(ShipperStats {
                destination: name.clone(),
                cursor: cursor.clone(),
                events_behind: behind_at_start(&self.active, cursor.as_ref()),
                ..ShipperStats::default()
            }),
            stop: Mutex::new(None),
            wake: Condvar::new(),
        });
        let reports = self.reports.take().unwrap_or_else(|| Arc::new(ConsoleSink::stderr()));
        Ok(Worker {
            settings: self,
            name,
            cursor_path,
            cursor: cursor.unwrap_or_else(|| Cursor { destination: Some(identity), ..Cursor::default() }),
            follower,
            shared,
            reports,
            format: Arc::new(EcsFormat::default()),
            behind_reported: None,
            _lock: lock,
            written_seen: 0,
            trail_end: None,
        })
    }
}

/// Events not delivered yet when a shipper starts, in a chained trail whose cursor knows its
/// sequence: the stats say so before the first batch.
fn behind_at_start(active: &Path, cursor: Option<&Cursor>) -> Option<u64> {
    let delivered = cursor?.sequence?;
    let last = crate::trail::read::last_link(active).ok()??.sequence;
    Some(last.saturating_sub(delivered))
}

/// How often a shipper waiting between attempts brings its stats up to date.
const STATS_EVERY: Duration = Duration::from_millis(200);

/// Lowers the calling thread's scheduling priority (nice 10): shipping is background work, and
/// on a busy machine it should be the one to wait, not the audited calls (a shipper that falls
/// behind says so; a call slowed by it would not).
pub(crate) fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: `setpriority` on the calling thread's own id (Linux applies it to that thread).
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// How a shipper is doing.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ShipperStats {
    /// The destination's name.
    pub destination: String,
    /// Events delivered and acknowledged since the shipper started.
    pub delivered: u64,
    /// Batches delivered and acknowledged.
    pub batches: u64,
    /// Deliveries that failed (and were tried again).
    pub failed_attempts: u64,
    /// Torn lines skipped.
    pub torn_skipped: u64,
    /// Whether the shipper is at the end of the trail: everything written so far is delivered.
    pub caught_up: bool,
    /// How old the oldest undelivered event is (zero when caught up).
    pub seconds_behind: f64,
    /// How many events are not delivered yet: known for a chained trail (from the sequence of
    /// its last line), `None` otherwise.
    pub events_behind: Option<u64>,
    /// The last delivery error, until a delivery succeeds.
    pub last_error: Option<String>,
    /// Where the shipper stands (as saved).
    pub cursor: Option<Cursor>,
}

struct Shared {
    stats: Mutex<ShipperStats>,
    /// When a stop was asked for: ship until caught up, but not past this instant.
    stop: Mutex<Option<Instant>>,
    wake: Condvar,
}

impl Shared {
    fn stats(&self) -> ShipperStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, change: impl FnOnce(&mut ShipperStats)) {
        change(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Asks for a stop by `deadline` (an earlier request's deadline stands if it is sooner).
    fn request_stop(&self, deadline: Instant) {
        let mut stop = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        *stop = Some(stop.map_or(deadline, |earlier| earlier.min(deadline)));
        self.wake.notify_all();
    }

    fn stop_deadline(&self) -> Option<Instant> {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps for `wait`, or less if a stop is asked for.
    fn sleep(&self, wait: Duration) {
        let guard = self.stop.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_some() {
            return;
        }
        let _ = self.wake.wait_timeout(guard, wait);
    }
}

/// The running shipper. Dropping it stops it as [`shutdown`](ShipperGuard::shutdown) does with
/// a grace of five seconds.
#[derive(Debug)]
pub struct ShipperGuard {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

/// The stats of a shipper that its writer's guard owns ([`ShipperBuilder::spawn_with`]).
#[derive(Debug, Clone)]
pub struct ShipperMonitor {
    shared: Arc<Shared>,
}

impl ShipperMonitor {
    /// How the shipper is doing now.
    pub fn stats(&self) -> ShipperStats {
        self.shared.stats()
    }
}

impl ShipperGuard {
    /// How the shipper is doing now.
    pub fn stats(&self) -> ShipperStats {
        self.shared.stats()
    }

    /// A handle on the shipper's stats that outlives no one and can go to another thread (a
    /// metrics reporter, a status page).
    pub fn monitor(&self) -> ShipperMonitor {
        ShipperMonitor { shared: Arc::clone(&self.shared) }
    }

    /// Stops the shipper: it delivers what the trail holds for at most `grace` more (so a
    /// service that shuts down leaves as little as possible to its next start), then returns
    /// its stats. What it did not deliver stays in the trail, behind the saved cursor.
    pub fn shutdown(mut self, grace: Duration) -> ShipperStats {
        self.stop(grace);
        self.shared.stats()
    }

    /// Asks the shipper to stop within `grace` without waiting for it (several shippers stop at
    /// once: [`shutdown`](Self::shutdown) each afterwards returns at once or soon).
    pub fn begin_shutdown(&self, grace: Duration) {
        self.shared.request_stop(Instant::now() + grace);
    }

    fn stop(&mut self, grace: Duration) {
        self.shared.request_stop(Instant::now() + grace);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ShipperGuard {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

struct Worker {
    settings: ShipperBuilder,
    name: String,
    cursor_path: PathBuf,
    cursor: Cursor,
    follower: Follower,
    shared: Arc<Shared>,
    reports: Arc<dyn AuditSink>,
    format: Arc<EcsFormat>,
    /// When falling behind was last reported.
    behind_reported: Option<Instant>,
    /// Held while the worker runs: no other shipper moves this cursor.
    _lock: std::fs::File,
    /// The number of the writer's last event this shipper knows to be written (with `follow`).
    written_seen: u64,
    /// When the trail's last sequence number was read, and what it was.
    trail_end: Option<(Instant, Option<u64>)>,
}

/// How often `events_behind` reads where the trail ends.
const TRAIL_END_EVERY: Duration = Duration::from_secs(1);

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<ShipRecord> = Vec::new();
        let mut last: Option<Position> = None;
        loop {
            let read = self.fill(&mut batch, &mut last);
            self.report_doubts();
            if let Err(error) = read {
                self.failed(&format!("reading the trail: {error}"));
                if self.past_deadline() {
                    return;
                }
                self.shared.sleep(self.settings.max_backoff.min(Duration::from_secs(1)));
                continue;
            }
            if batch.is_empty() {
                self.caught_up();
                if self.shared.stop_deadline().is_some() {
                    return;
                }
                self.idle();
                continue;
            }
            if !self.deliver(&batch) {
                return; // stopped while failing: the cursor stays before the batch
            }
            if let Some(position) = last.take() {
                self.advance(&batch, position);
            }
            batch.clear();
            // A stop asked for by a deadline holds while delivery goes well too: what was
            // delivered is behind the cursor, the rest waits for the next run.
            if self.past_deadline() {
                return;
            }
        }
    }

    /// Waits for new lines: woken by the writer it follows, else for the poll interval.
    fn idle(&mut self) {
        let Some(writer) = &self.settings.follow else {
            self.shared.sleep(self.settings.poll);
            return;
        };
        match writer.wait_written_after(self.written_seen, self.settings.poll) {
            Some(written) => self.written_seen = written,
            // The writer stopped: nothing will wake this thread any more.
            None => self.settings.follow = None,
        }
    }

    /// Reads the next batch.
    fn fill(&mut self, batch: &mut Vec<ShipRecord>, last: &mut Option<Position>) -> io::Result<()> {
        let mut bytes = 0;
        while batch.len() < self.settings.max_events && bytes < self.settings.max_bytes {
            match self.follower.next()? {
                Some((record, position)) => {
                    bytes += record.line.len();
                    batch.push(record);
                    *last = Some(position);
                }
                None => break,
            }
        }
        Ok(())
    }

    /// Delivers `batch` until the destination acknowledges it; `false` when asked to stop and
    /// past the deadline first.
    fn deliver(&mut self, batch: &[ShipRecord]) -> bool {
        let mut backoff = self.settings.first_backoff;
        loop {
            self.note_lag(batch);
            match self.settings.destination.deliver(batch) {
                Ok(()) => return true,
                Err(error) => self.failed(&error.to_string()),
            }
            if self.past_deadline() {
                return false;
            }
            let jitter = 0.8 + 0.4 * fastrand::f64();
            // In slices, the stats kept current meanwhile (how far behind is not how far
            // behind it was when the attempt failed).
            let until = Instant::now() + backoff.mul_f64(jitter);
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() || self.shared.stop_deadline().is_some() {
                    break;
                }
                self.shared.sleep(left.min(STATS_EVERY));
                self.note_lag(batch);
            }
            if self.past_deadline() {
                return false;
            }
            backoff = (backoff * 2).min(self.settings.max_backoff);
        }
    }

    fn past_deadline(&self) -> bool {
        self.shared.stop_deadline().is_some_and(|deadline| Instant::now() >= deadline)
    }

    fn failed(&mut self, error: &str) {
        self.shared.update(|stats| {
            stats.failed_attempts += 1;
            stats.last_error = Some(error.to_owned());
        });
    }

    /// Moves the cursor past an acknowledged batch and saves it.
    fn advance(&mut self, batch: &[ShipRecord], position: Position) {
        let last = batch.last().expect("a delivered batch is not empty");
        self.cursor.file = position.file;
        self.cursor.file_key = position.file_key;
        self.cursor.offset = position.offset;
        self.cursor.sequence = last.sequence.or(self.cursor.sequence);
        self.cursor.last_id = Some(last.id.clone());
        self.cursor.delivered += batch.len() as u64;
        let saved = self.cursor.save(&self.cursor_path);
        let cursor = self.cursor.clone();
        self.shared.update(|stats| {
            stats.delivered += batch.len() as u64;
            stats.batches += 1;
            stats.cursor = Some(cursor);
            stats.last_error = match saved {
                // The batch is delivered; a shipper restarted now delivers it again (kept once).
                Err(error) => Some(format!("saving the cursor: {error}")),
                Ok(()) => None,
            };
        });
    }

    /// Notes how far behind the shipper is, with `batch` the oldest undelivered events; reports
    /// it when past the threshold.
    fn note_lag(&mut self, batch: &[ShipRecord]) {
        let seconds = batch
            .first()
            .and_then(|record| record.timestamp.as_deref())
            .and_then(|stamp| humantime::parse_rfc3339(stamp).ok())
            .and_then(|at| SystemTime::now().duration_since(at).ok())
            .unwrap_or_default();
        let events = self.events_behind(batch);
        self.shared.update(|stats| {
            stats.caught_up = false;
            stats.seconds_behind = seconds.as_secs_f64();
            stats.events_behind = events;
        });
        let threshold = self.settings.lag_threshold;
        let due = self.behind_reported.is_none_or(|at| at.elapsed() >= threshold);
        if seconds >= threshold && due {
            self.behind_reported = Some(Instant::now());
            let stats = self.shared.stats();
            let error = stats.last_error.as_deref();
            let event = catalog::ship_behind(&self.name, events, seconds.as_secs_f64(), error);
            self.report(event);
        }
    }

    /// Events not delivered, in a chained trail: the sequence of its last line minus the first
    /// of `batch`, plus one. The trail's last line is read (from the active file's tail) at most
    /// once a second, not for every delivery attempt.
    fn events_behind(&mut self, batch: &[ShipRecord]) -> Option<u64> {
        let first = batch.first()?.sequence?;
        if self.trail_end.is_none_or(|(read_at, _)| read_at.elapsed() >= TRAIL_END_EVERY) {
            let last = crate::trail::read::last_link(&self.settings.active).ok().flatten();
            self.trail_end = Some((Instant::now(), last.map(|link| link.sequence)));
        }
        let last = self.trail_end?.1?.max(batch.last()?.sequence?);
        Some(last.saturating_sub(first) + 1)
    }

    fn caught_up(&mut self) {
        if !self.follower.at_end() {
            return;
        }
        self.shared.update(|stats| {
            stats.caught_up = true;
            stats.seconds_behind = 0.0;
            stats.events_behind = Some(0).filter(|_| stats.events_behind.is_some());
        });
        if self.behind_reported.take().is_some() {
            let event = catalog::ship_caught_up(&self.name);
            self.report(event);
        }
    }

    fn report_doubts(&mut self) {
        for doubt in std::mem::take(&mut self.follower.doubts) {
            let (reason, file) = match &doubt {
                Doubt::Torn { file, offset } => {
                    self.shared.update(|stats| stats.torn_skipped += 1);
                    (format!("a torn line at byte {offset} of {file} is not an event: not delivered"), file)
                }
                Doubt::CursorFileGone { file } => (
                    format!(
                        "the cursor's file {file} is no longer in the trail (removed before it was delivered?): \
                         delivering from the oldest file; events of {file} not delivered yet are lost"
                    ),
                    file,
                ),
                Doubt::CursorInsideLine { file, offset } => {
                    (format!("the cursor's offset {offset} is inside a line of {file}: delivering {file} again"), file)
                }
            };
            let event = catalog::ship_skipped(&self.name, file, reason);
            self.report(event);
        }
    }

    fn report(&self, event: AuditEvent) {
        let event = Arc::new(event);
        let record = Record::new(&event, &self.format, Durability::Buffered);
        // A report that cannot be written is not a reason to stop shipping: the stats hold it.
        let _ = self.reports.write(&record);
    }
}
