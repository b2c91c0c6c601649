//! The logger layer: [`AuditLogger`] applies the ignore filters, formats each event once and
//! hands it to every sink (filter → format → fan out); [`dispatch`] decides which logger an
//! event goes to. Depends on the output, policy and model layers.

pub mod dispatch;

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::leaf::event_id::EventId;
use crate::leaf::secret::{is_masked_name, Concealer, HMAC_PREFIX, REDACTED};
use crate::model::catalog;
use crate::model::AuditEvent;
use crate::output::format::EcsFormat;
use crate::output::sink::offload::Reply;
use crate::output::sink::{
    guarded, guarded_submit, guarded_write, report_sink_failure, AuditSink, BestEffort, BestEffortLimits,
    FailurePolicy, MemorySink, Record, SinkError, Submission,
};
use crate::policy::diffs::DiffSettings;
use crate::policy::filter::{FilterSubject, IgnoreFilter};
use crate::policy::verdict::{Verdict, VerdictCache};
use audit_schema::Durability;

/// The most intent ids one [`AUDIT_RESULTS_LOST`](crate::own::AUDIT_RESULTS_LOST) report names (the rest are counted).
const LOST_IDS_NAMED: usize = 100;

/// The audit logger. Cheap to clone (one reference count); clones share sinks and counters.
///
/// ```
/// use audit_core::{kibana, AuditEvent, AuditLogger, IgnoreFilter, MemorySink, Outcome};
///
/// let memory = MemorySink::new();
/// let logger = AuditLogger::builder()
///     .sink(memory.clone())
///     .ignore(IgnoreFilter::new().actions(["http_request"]))
///     .build();
/// logger.log(AuditEvent::new(&kibana::SPACE_GET).with_outcome(Outcome::Success)).unwrap();
/// logger.log(AuditEvent::new(&kibana::HTTP_REQUEST).with_outcome(Outcome::Unknown)).unwrap();
/// assert_eq!(memory.actions(), ["space_get"]);
/// assert_eq!(logger.stats().ignored, 1);
/// ```
#[derive(Clone)]
pub struct AuditLogger {
    inner: Arc<LoggerInner>,
}

struct LoggerInner {
    enabled: bool,
    /// The sinks whose answers decide the call (every one, or `quorum` of them).
    sinks: Vec<Box<dyn AuditSink>>,
    /// Sinks never waited for and never deciding a call (see `best_effort_sink`).
    best_effort: Vec<BestEffort>,
    /// Whether a required sink is behind a deadline: then the sinks are written together and a
    /// call waits for its quorum, not for every sink.
    deadlines: bool,
    /// How many of `sinks` must accept an event (all, when `None`).
    quorum: Option<usize>,
    filters: Vec<IgnoreFilter>,
    format: Arc<EcsFormat>,
    intent_durability: Durability,
    /// Hashes secrets (see [`crate::secret`]).
    concealer: Concealer,
    written: AtomicU64,
    ignored: AtomicU64,
    refused: AtomicU64,
    unconfirmed: AtomicU64,
    verdicts: VerdictCache,
    /// Whether every write logs a result event (see [`AuditLoggerBuilder::write_results`]).
    write_results: bool,
    diffs: DiffSettings,
    results_lost: AtomicU64,
    /// Results refused since the last report: their intents' ids, and how many.
    lost: Mutex<(Vec<EventId>, u64)>,
    /// Whether `lost` holds a report to write: read on every event, so an atomic.
    lost_pending: AtomicBool,
}

impl fmt::Debug for AuditLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sinks: Vec<String> = self.inner.sinks.iter().map(|s| s.describe()).collect();
        f.debug_struct("AuditLogger")
            .field("enabled", &self.inner.enabled)
            .field("sinks", &sinks)
            .field("filters", &self.inner.filters)
            .field("format", &self.inner.format)
            .finish()
    }
}

// A logger stays consistent across a panic: sinks recover poisoned locks, counters are atomic.
// Without this, every `AuditContext` would be unusable inside `catch_unwind`.
impl std::panic::UnwindSafe for AuditLogger {}
impl std::panic::RefUnwindSafe for AuditLogger {}

/// Counters of what a logger did with the events it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggerStats {
    /// Events written to every sink.
    pub written: u64,
    /// Events dropped by an ignore filter (or because the logger is disabled).
    pub ignored: u64,
    /// Events a fail-closed sink refused (their operations were refused too).
    pub refused: u64,
    /// Events a fail-open sink could not confirm (kept for a retry, or counted as lost by it).
    pub unconfirmed: u64,
    /// Write results the required sinks refused after their writes had happened: the calls
    /// went on, and an `audit_results_lost` event names their intents in the trail.
    pub results_lost: u64,
    /// Events the best-effort sinks dropped because their queues were full.
    pub best_effort_dropped: u64,
    /// Events the best-effort sinks failed to write, or panicked on.
    pub best_effort_failed: u64,
}

/// Why an event was not recorded everywhere.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogError {
    /// No logger is installed, in the context, the thread or globally.
    NoLogger,
    /// A fail-closed sink refused the event: the operation it records must not go on.
    Refused(Vec<(String, io::Error)>),
    /// Fail-open sinks could not confirm the event (reported; kept for a retry or counted lost).
    Unconfirmed(Vec<(String, io::Error)>),
}

impl LogError {
    /// Whether the operation this event records must be refused.
    pub fn is_refusal(&self) -> bool {
        matches!(self, LogError::Refused(_))
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, failures) = match self {
            LogError::NoLogger => return f.write_str("no audit logger is installed (see AuditLogger::install)"),
            LogError::Refused(failures) => ("audit sink refused the event:", failures),
            LogError::Unconfirmed(failures) => ("audit sink could not confirm the event:", failures),
        };
        f.write_str(what)?;
        for (sink, error) in failures {
            write!(f, " {sink}: {error};")?;
        }
        Ok(())
    }
}

impl std::error::Error for LogError {
    /// The first sink's error.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::NoLogger => None,
            LogError::Refused(failures) | LogError::Unconfirmed(failures) => {
                failures.first().map(|(_, error)| error as &(dyn std::error::Error + 'static))
            }
        }
    }
}

impl AuditLogger {
    /// Starts building a logger.
    pub fn builder() -> AuditLoggerBuilder {
        AuditLoggerBuilder {
            enabled: true,
            sinks: Vec::new(),
            best_effort: Vec::new(),
            quorum: None,
            filters: Vec::new(),
            format: EcsFormat::default(),
            intent_durability: Durability::Buffered,
            concealer: None,
            write_results: false,
            diffs: DiffSettings::default(),
        }
    }

    /// Checks every sink ([`AuditSink::check`]): the required ones must all work (or, with
    /// [`require_at_least`](AuditLoggerBuilder::require_at_least), enough of them); a
    /// best-effort sink that cannot work is reported as a warning and does not fail the check.
    ///
    /// # Errors
    /// Names every required sink that cannot work, and why.
    pub fn check(&self) -> io::Result<()> {
        let inner = &self.inner;
        let failed: Vec<String> = inner
            .sinks
            .iter()
            .filter_map(|sink| {
                let name = sink.describe();
                guarded(&name, || sink.check()).err().map(|error| format!("{name}: {error}"))
            })
            .collect();
        for sink in &inner.best_effort {
            if let Err(error) = guarded(&sink.describe(), || sink.check()) {
                report_sink_failure(
                    &sink.describe(),
                    &format_args!("cannot work (best effort, not required): {error}"),
                );
            }
        }
        let working = inner.sinks.len() - failed.len();
        let needed = self.required();
        if working >= needed {
            for failure in &failed {
                report_sink_failure(
                    "audit logger",
                    &format_args!("a sink cannot work (the others suffice): {failure}"),
                );
            }
            return Ok(());
        }
        let summary = match inner.quorum {
            Some(_) => format!("{working} of {} required sinks can work, {needed} needed", inner.sinks.len()),
            None => "every sink is required".to_owned(),
        };
        Err(io::Error::other(format!("audit sinks that cannot work ({summary}): {}", failed.join("; "))))
    }

    /// A logger writing to a fresh [`MemorySink`], and that sink: for tests.
    pub fn capture() -> (AuditLogger, MemorySink) {
        let memory = MemorySink::new();
        (AuditLogger::builder().sink(memory.clone()).build(), memory)
    }

    /// The format lines are written in.
    pub fn format(&self) -> &EcsFormat {
        &self.inner.format
    }

    /// What this logger has done so far.
    pub fn stats(&self) -> LoggerStats {
        LoggerStats {
            written: self.inner.written.load(Ordering::Relaxed),
            ignored: self.inner.ignored.load(Ordering::Relaxed),
            refused: self.inner.refused.load(Ordering::Relaxed),
            unconfirmed: self.inner.unconfirmed.load(Ordering::Relaxed),
            results_lost: self.inner.results_lost.load(Ordering::Relaxed),
            best_effort_dropped: self.inner.best_effort.iter().map(BestEffort::dropped).sum(),
            best_effort_failed: self.inner.best_effort.iter().map(BestEffort::failed).sum(),
        }
    }

    /// Whether every write logs a result event, whatever its action says.
    pub fn write_results(&self) -> bool {
        self.inner.write_results
    }

    /// Which recorded changes become diffs, and their limits.
    pub fn diff_settings(&self) -> &DiffSettings {
        &self.inner.diffs
    }

    /// Counts a write result the required sinks refused, and keeps its intent's id for the
    /// report that the next accepted event brings into the trail.
    pub(crate) fn note_lost_result(&self, action: &str, intent: EventId) {
        self.inner.results_lost.fetch_add(1, Ordering::Relaxed);
        report_sink_failure(
            "audit logger",
            &format_args!(
                "the result of a {action} write was refused after the write happened (intent event.id {}); \
                 the call went on, and the trail will name it in an audit_results_lost event",
                intent.as_str()
            ),
        );
        let mut lost = self.inner.lost.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if lost.0.len() < LOST_IDS_NAMED {
            lost.0.push(intent);
        }
        lost.1 += 1;
        self.inner.lost_pending.store(true, Ordering::Release);
    }

    /// Writes the report of lost results, if there is one (after an event was accepted: the
    /// sinks are taking events again).
    #[cold]
    fn report_lost_results(&self) {
        let (ids, count) = {
            let mut lost = self.inner.lost.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if !self.inner.lost_pending.swap(false, Ordering::AcqRel) {
                return;
            }
            std::mem::take(&mut *lost)
        };
        let named: Vec<&str> = ids.iter().map(EventId::as_str).collect();
        let more = count - ids.len() as u64;
        let mut list = named.join(",");
        if more > 0 {
            list.push_str(&format!(",…[{more} more]"));
        }
        let event = catalog::results_lost(count, list);
        if self.log(event).is_err() {
            // Not taken after all: kept for the next accepted event.
            let mut lost = self.inner.lost.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut kept = ids;
            kept.append(&mut lost.0);
            kept.truncate(LOST_IDS_NAMED);
            lost.0 = kept;
            lost.1 += count;
            self.inner.lost_pending.store(true, Ordering::Release);
        }
    }

    /// What hashes this logger's secrets: `hmac-sha256:…` of a value under its key.
    pub fn concealer(&self) -> &Concealer {
        &self.inner.concealer
    }

    /// Whether `event` would be dropped (disabled logger or an ignore filter).
    pub fn ignores(&self, event: &AuditEvent) -> bool {
        !self.inner.enabled || self.inner.filters.iter().any(|f| f.matches(event))
    }

    /// Whether an event with these fields is dropped whatever its outcome: lets `#[audited]` skip
    /// preparing events nobody will see.
    pub(crate) fn ignores_any_outcome(&self, subject: &FilterSubject<'_>) -> bool {
        !self.inner.enabled || self.inner.filters.iter().any(|f| f.matches_any_outcome(subject))
    }

    /// What the filters say of `action` before knowing the call's space, user or outcome.
    #[inline]
    pub(crate) fn verdict(&self, action: &'static audit_schema::Action) -> Verdict {
        self.inner.verdicts.verdict(action, self.inner.enabled, &self.inner.filters)
    }

    #[inline]
    /// Counts an event that `#[audited]` did not even prepare because a filter drops it anyway.
    pub(crate) fn count_ignored(&self) {
        self.inner.ignored.fetch_add(1, Ordering::Relaxed);
    }

    /// The durability asked for events logged before an operation runs (see
    /// [`AuditLoggerBuilder::durable_intents`]).
    pub fn intent_durability(&self) -> Durability {
        self.inner.intent_durability
    }

    /// Whether the required sinks would accept an event now (a failing fail-closed sink would
    /// not): every one, or the logger's quorum of them.
    pub fn is_accepting(&self) -> bool {
        let accepting = self.inner.sinks.iter().filter(|sink| sink.is_accepting()).count();
        accepting >= self.required()
    }

    /// How many of the required sinks must accept an event.
    fn required(&self) -> usize {
        self.inner.quorum.unwrap_or(self.inner.sinks.len()).min(self.inner.sinks.len())
    }

    /// Hands the record to the best-effort sinks: never waited for, never deciding the call;
    /// what they cannot take is reported (and counted by them).
    fn to_best_effort(&self, record: &Record<'_>) {
        for sink in &self.inner.best_effort {
            if let Err(error) = sink.write(record) {
                report_sink_failure(&sink.describe(), &error);
            }
        }
    }

    /// Filters `event` and hands it to every sink, asking for no particular durability.
    pub fn log(&self, event: AuditEvent) -> Result<(), LogError> {
        self.log_with_durability(event, Durability::Buffered)
    }

    /// Filters `event` and hands it to every sink, which must record it at least at `durability`
    /// before this returns `Ok`. Every sink is tried even if one fails; failures are reported
    /// through `tracing` (target `audit_core`; stderr without a subscriber), counted, and returned:
    /// [`LogError::Refused`] if any sink fails closed, else [`LogError::Unconfirmed`].
    pub fn log_with_durability(&self, event: AuditEvent, durability: Durability) -> Result<(), LogError> {
        if self.ignores(&event) {
            self.inner.ignored.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        // Shared, so that a queueing sink keeps it without a deep copy.
        let event = Arc::new(mask(event));
        let record = Record::new(&event, &self.inner.format, durability);
        self.to_best_effort(&record);
        if let [sink] = self.inner.sinks.as_slice() {
            // One sink, the common case: no bookkeeping.
            return self.settle(&event.action, [guarded_write(&**sink, &record, PANICKED)]);
        }
        let results: Vec<Result<(), SinkError>> = if self.inner.deadlines {
            self.write_together(&record)
        } else {
            self.inner.sinks.iter().map(|sink| guarded_write(&**sink, &record, PANICKED)).collect()
        };
        self.settle(&event.action, results)
    }

    /// Writes to every required sink at once: those behind a deadline work on their threads
    /// while the others are written, and the call waits for them until its quorum is met (or
    /// can no longer be), each at most its deadline. A sink not waited for answers later; a
    /// failure then is reported.
    fn write_together(&self, record: &Record<'_>) -> Vec<Result<(), SinkError>> {
        let sinks = &self.inner.sinks;
        let needed = self.required();
        let (answers, answered) = std::sync::mpsc::channel::<(usize, Result<(), SinkError>)>();
        let mut results: Vec<Option<Result<(), SinkError>>> = sinks.iter().map(|_| None).collect();
        let mut waiting: Vec<(usize, std::time::Instant)> = Vec::new();
        for (index, sink) in sinks.iter().enumerate() {
            let Some(deadline) = sink.with_deadline() else { continue };
            let (answers, name) = (answers.clone(), sink.describe());
            let reply: Reply = Box::new(move |result| {
                if let Err(std::sync::mpsc::SendError((_, Err(error)))) = answers.send((index, result)) {
                    report_sink_failure(&name, &format_args!("{error} (answered after the call went on)"));
                }
            });
            match deadline.start(record, reply) {
                Ok(due) => waiting.push((index, due)),
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        drop(answers);
        let mut accepted = 0;
        for (index, sink) in sinks.iter().enumerate().filter(|(_, sink)| sink.with_deadline().is_none()) {
            let result = guarded_write(&**sink, record, PANICKED);
            accepted += usize::from(result.is_ok());
            results[index] = Some(result);
        }
        while !waiting.is_empty() && accepted < needed && accepted + waiting.len() >= needed {
            let due = waiting.iter().map(|(_, due)| *due).min().expect("one is waiting");
            match answered.recv_timeout(due.saturating_duration_since(std::time::Instant::now())) {
                Ok((index, result)) => {
                    waiting.retain(|(i, _)| *i != index);
                    accepted += usize::from(result.is_ok());
                    results[index] = Some(result);
                }
                Err(_) => {
                    let now = std::time::Instant::now();
                    let (late, still): (Vec<_>, Vec<_>) = waiting.into_iter().partition(|(_, due)| *due <= now);
                    waiting = still;
                    for (index, _) in late {
                        let deadline = sinks[index].with_deadline().expect("behind a deadline");
                        results[index] = Some(Err(deadline.too_late()));
                    }
                }
            }
        }
        // Those not waited for (the quorum was met, or could no longer be) are not failures.
        results.into_iter().map(|result| result.unwrap_or(Ok(()))).collect()
    }

    /// [`log`](AuditLogger::log) for async code.
    pub async fn log_async(&self, event: AuditEvent) -> Result<(), LogError> {
        self.log_with_durability_async(event, Durability::Buffered).await
    }

    /// [`log_with_durability`](AuditLogger::log_with_durability) for async code: waiting for
    /// `Flushed` or `Durable` suspends the task instead of blocking its thread.
    pub async fn log_with_durability_async(&self, event: AuditEvent, durability: Durability) -> Result<(), LogError> {
        if self.ignores(&event) {
            self.inner.ignored.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let event = Arc::new(mask(event));
        if !self.inner.best_effort.is_empty() {
            self.to_best_effort(&Record::new(&event, &self.inner.format, durability));
        }
        if self.inner.deadlines {
            // Waiting for sinks behind deadlines blocks, at most the longest deadline, as the
            // sync path does: they answer on threads of their own.
            let results = self.write_together(&Record::new(&event, &self.inner.format, durability));
            return self.settle(&event.action, results);
        }
        if let [sink] = self.inner.sinks.as_slice() {
            // One sink, the common case: no bookkeeping.
            let submission = guarded_submit(&**sink, &Record::new(&event, &self.inner.format, durability), PANICKED);
            let result = match submission {
                Submission::Done(result) => result,
                Submission::Pending(acknowledgement) => acknowledgement.await,
            };
            return self.settle(&event.action, [result]);
        }
        let mut results = Vec::with_capacity(self.inner.sinks.len());
        let mut pending = Vec::new();
        {
            let record = Record::new(&event, &self.inner.format, durability);
            for (index, sink) in self.inner.sinks.iter().enumerate() {
                match guarded_submit(&**sink, &record, PANICKED) {
                    Submission::Done(result) => results.push((index, result)),
                    Submission::Pending(acknowledgement) => pending.push((index, acknowledgement)),
                }
            }
        }
        for (index, acknowledgement) in pending {
            results.push((index, acknowledgement.await));
        }
        results.sort_by_key(|(index, _)| *index);
        self.settle(&event.action, results.into_iter().map(|(_, result)| result))
    }

    /// Reports, counts and combines the sinks' answers for one event.
    fn settle(&self, action: &str, results: impl IntoIterator<Item = Result<(), SinkError>>) -> Result<(), LogError> {
        let mut refused = Vec::new();
        let mut unconfirmed = Vec::new();
        let mut accepted = 0;
        for (sink, result) in self.inner.sinks.iter().zip(results) {
            let Err(error) = result else {
                accepted += 1;
                continue;
            };
            let name = sink.describe();
            report_sink_failure(&name, &format_args!("{error} (event.action={action})"));
            match error {
                SinkError::Refused(error) => refused.push((name, error)),
                SinkError::Unconfirmed(error) => unconfirmed.push((name, error)),
            }
        }
        if accepted >= self.required() && self.inner.quorum.is_some() {
            // Enough required sinks took it (the others' failures are reported above).
            self.accepted();
            Ok(())
        } else if !refused.is_empty() {
            self.inner.refused.fetch_add(1, Ordering::Relaxed);
            refused.extend(unconfirmed);
            Err(LogError::Refused(refused))
        } else if !unconfirmed.is_empty() {
            self.inner.unconfirmed.fetch_add(1, Ordering::Relaxed);
            Err(LogError::Unconfirmed(unconfirmed))
        } else {
            self.accepted();
            Ok(())
        }
    }

    /// Counts an event the sinks took, and brings a pending report of lost results after it.
    #[inline]
    fn accepted(&self) {
        self.inner.written.fetch_add(1, Ordering::Relaxed);
        if self.inner.lost_pending.load(Ordering::Relaxed) {
            self.report_lost_results();
        }
    }

    /// Flushes every sink, the best-effort ones too.
    pub fn flush(&self) -> Result<(), LogError> {
        let failures: Vec<(String, io::Error)> = self
            .inner
            .sinks
            .iter()
            .map(|sink| &**sink)
            .chain(self.inner.best_effort.iter().map(|sink| sink as &dyn AuditSink))
            .filter_map(|sink| {
                let name = sink.describe();
                guarded(&name, || sink.flush()).err().map(|e| (name, e))
            })
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(LogError::Unconfirmed(failures))
        }
    }
}

/// How a required sink that panics fails the event: closed (it is not known to be recorded).
/// With a quorum, the others may still carry the call.
const PANICKED: FailurePolicy = FailurePolicy::FailClosed;

/// The event with every label whose name is always masked (`password`, `api_key`, …: see
/// [`MASKED_FIELDS`](crate::secret::MASKED_FIELDS)) written as `[redacted]`, unless it already
/// holds a concealed value. Done before any sink sees the event.
fn mask(mut event: AuditEvent) -> AuditEvent {
    for (key, value) in &mut event.labels {
        if !value.starts_with(HMAC_PREFIX) && value != REDACTED && is_masked_name(key) {
            *value = REDACTED.to_owned();
        }
    }
    event
}

/// Builds an [`AuditLogger`].
pub struct AuditLoggerBuilder {
    enabled: bool,
    sinks: Vec<Box<dyn AuditSink>>,
    best_effort: Vec<BestEffort>,
    quorum: Option<usize>,
    filters: Vec<IgnoreFilter>,
    format: EcsFormat,
    intent_durability: Durability,
    concealer: Option<Concealer>,
    write_results: bool,
    diffs: DiffSettings,
}

impl fmt::Debug for AuditLoggerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sinks: Vec<String> = self.sinks.iter().map(|s| s.describe()).collect();
        f.debug_struct("AuditLoggerBuilder")
            .field("enabled", &self.enabled)
            .field("sinks", &sinks)
            .field("filters", &self.filters)
            .field("format", &self.format)
            .field("intent_durability", &self.intent_durability)
            .field("write_results", &self.write_results)
            .field("diffs", &self.diffs)
            .finish()
    }
}

impl AuditLoggerBuilder {
    /// Adds a sink. Events go to every sink, in the order they were added.
    pub fn sink(mut self, sink: impl AuditSink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Adds a sink that never slows or fails a call: it runs on a thread of its own behind a
    /// queue of 1,024 events ([`BestEffort`](crate::sink::BestEffort)); what it cannot take in
    /// time is dropped for it, counted ([`LoggerStats::best_effort_dropped`]) and reported. For
    /// a second copy of the trail (a central store) next to the one that decides (the local file).
    pub fn best_effort_sink(self, sink: impl AuditSink) -> Self {
        self.best_effort_sink_with(sink, BestEffortLimits::default())
    }

    /// [`best_effort_sink`](Self::best_effort_sink) within `limits`: its queue, and how long a
    /// flush or a check waits for it.
    pub fn best_effort_sink_with(mut self, sink: impl AuditSink, limits: BestEffortLimits) -> Self {
        let name = sink.describe();
        match BestEffort::with_limits(sink, limits) {
            Ok(offloaded) => self.best_effort.push(offloaded),
            Err(error) => {
                report_sink_failure(&name, &format_args!("cannot start the best-effort sink's thread: {error}"))
            }
        }
        self
    }

    /// A call goes on when at least `count` of the (required) sinks accepted its event, rather
    /// than all of them: "at least 2 of these 3". Failures of the others are reported. A call
    /// waits for its quorum, not for every sink: sinks behind a deadline
    /// ([`WithDeadline`](crate::sink::WithDeadline)) are written together, and once `count`
    /// accepted the call goes on. Best-effort sinks never count: a `count` above the number of
    /// required sinks is refused when the logger is built.
    pub fn require_at_least(mut self, count: usize) -> Self {
        self.quorum = Some(count.max(1));
        self
    }

    /// Adds a boxed sink.
    pub fn boxed_sink(mut self, sink: Box<dyn AuditSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Adds an ignore filter.
    pub fn ignore(mut self, filter: IgnoreFilter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Sets the line format.
    pub fn format(mut self, format: EcsFormat) -> Self {
        self.format = format;
        self
    }

    /// A disabled logger drops every event (counted as ignored), like Kibana with audit logging
    /// turned off.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Events logged *before* an operation runs (writes, outcome `unknown`) must be on disk
    /// before the operation starts: the intention survives even a crash of the machine. With
    /// [`FileWriter`](crate::FileWriter), concurrent callers share each `fsync`.
    pub fn durable_intents(self) -> Self {
        self.intent_durability(Durability::Durable)
    }

    /// The durability asked for events logged before an operation runs (default `Buffered`:
    /// each sink's own setting applies).
    pub fn intent_durability(mut self, durability: Durability) -> Self {
        self.intent_durability = durability;
        self
    }

    /// Every write logs a result event after its body (`success`, `failure` with `error.*`, …,
    /// linked to its intent), whatever its action says; default false, as Kibana: the intent
    /// alone. A write whose `#[audited]` says `results = false` keeps to it. See
    /// [`crate::changes`].
    pub fn write_results(mut self, on: bool) -> Self {
        self.write_results = on;
        self
    }

    /// Which changes recorded with [`crate::changes`] are written as diffs, and their limits
    /// (default: every resource type, 48 KiB a value, 100 operations an event).
    pub fn diffs(mut self, settings: DiffSettings) -> Self {
        self.diffs = settings;
        self
    }

    /// The key secrets are hashed with (HMAC-SHA256; see [`crate::secret`]). Without one, the
    /// logger makes a random key: secrets stay hidden, but their hashes cannot be compared
    /// across restarts or with another machine's. Keep the key away from the trail.
    pub fn hmac_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.concealer = Some(Concealer::new(key));
        self
    }

    /// The logger, once every sink passed its [check](AuditSink::check) (with
    /// [`require_at_least`](Self::require_at_least), enough of them): a sink that cannot work
    /// (an unreachable server, an unwritable file) is reported now, before the first call,
    /// rather than by the first refused operation.
    ///
    /// # Errors
    /// Names every required sink that cannot work, and why; or the quorum that cannot be met.
    pub fn build_checked(self) -> io::Result<AuditLogger> {
        if let Some(problem) = self.quorum_problem() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, problem));
        }
        let logger = self.build();
        logger.check()?;
        Ok(logger)
    }

    /// Why the quorum can never be met, if it cannot.
    fn quorum_problem(&self) -> Option<String> {
        let count = self.quorum?;
        let required = self.sinks.len();
        (count > required).then(|| {
            format!(
                "require_at_least({count}): a call needs at least {count} sinks to accept its event, but there are \
                 {required} required sinks (best-effort sinks never count; {} here)",
                self.best_effort.len()
            )
        })
    }

    /// The logger.
    ///
    /// # Panics
    ///
    /// When [`require_at_least`](Self::require_at_least) asks for more sinks than there are
    /// required ones: no call could ever be audited as asked. [`build_checked`](Self::build_checked)
    /// returns it as an error.
    pub fn build(self) -> AuditLogger {
        if let Some(problem) = self.quorum_problem() {
            panic!("{problem}");
        }
        let deadlines = self.sinks.iter().any(|sink| sink.with_deadline().is_some()) && self.sinks.len() > 1;
        AuditLogger {
            inner: Arc::new(LoggerInner {
                enabled: self.enabled,
                sinks: self.sinks,
                best_effort: self.best_effort,
                deadlines,
                quorum: self.quorum,
                filters: self.filters,
                format: Arc::new(self.format),
                intent_durability: self.intent_durability,
                concealer: self.concealer.unwrap_or_else(Concealer::random),
                written: AtomicU64::new(0),
                ignored: AtomicU64::new(0),
                refused: AtomicU64::new(0),
                unconfirmed: AtomicU64::new(0),
                verdicts: VerdictCache::new(),
                write_results: self.write_results,
                diffs: self.diffs,
                results_lost: AtomicU64::new(0),
                lost: Mutex::new((Vec::new(), 0)),
                lost_pending: AtomicBool::new(false),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_schema::{kibana, Category, Outcome};

    #[test]
    fn verdicts_follow_the_filters_and_are_cached_per_action() {
        let logger = AuditLogger::builder()
            .ignore(IgnoreFilter::new().actions(["saved_object_get"]))
            .ignore(IgnoreFilter::new().actions(["saved_object_find"]).outcomes([Outcome::Success]))
            .ignore(IgnoreFilter::new().categories([Category::Authentication]).users(["kibana_system"]))
            .build();
        for _ in 0..2 {
            assert_eq!(logger.verdict(&kibana::SAVED_OBJECT_GET), Verdict::Ignored);
            assert_eq!(
                logger.verdict(&kibana::SAVED_OBJECT_FIND),
                Verdict::Kept,
                "success-only filter needs the outcome"
            );
            assert_eq!(logger.verdict(&kibana::USER_LOGIN), Verdict::Dynamic, "depends on the user");
            assert_eq!(logger.verdict(&kibana::SPACE_CREATE), Verdict::Kept);
        }
        let disabled = AuditLogger::builder().enabled(false).build();
        assert_eq!(disabled.verdict(&kibana::SPACE_CREATE), Verdict::Ignored);
    }
}
