//! [`Call`]: one invocation of an audited function, from authorization to completion.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use super::probe::Completion;
use super::record::{report_misuse, Recorder, Recording, Target};
use crate::leaf::event_id::EventId;
use crate::leaf::patch::{self, Concealment, Diff};
use crate::leaf::trace::new_trace_id;
use crate::logging::dispatch::report_no_logger;
use crate::logging::{AuditLogger, LogError};
use crate::model::{AuditContext, AuditEvent, AuditRefused, ErrorInfo, Resource, WriteResult};
use crate::policy::filter::FilterSubject;
use crate::policy::verdict::Verdict;
use audit_schema::Timing;
use audit_schema::{Action, Durability, Outcome};

/// Where this call's events go.
enum Destination {
    Logger(AuditLogger),
    /// An ignore filter drops every event this call could produce: nothing is prepared.
    Ignored,
    /// No logger anywhere: counted and reported once.
    Missing,
}

/// One invocation of an audited function.
pub struct Call {
    action: &'static Action,
    timing: Timing,
    context: Option<AuditContext>,
    destination: Destination,
    /// The trace id made for this call when its context has none.
    trace_id: Option<Arc<str>>,
    durability: Option<Durability>,
    /// When the call began, for `event.duration`: read only for reads whose events are written,
    /// and writes that log a result.
    started: Option<SystemTime>,
    /// For a write that logs a result event per target after its body (see
    /// [`Action::with_results`]): its intents' ids and its recorded changes. `None` for reads,
    /// for other writes and for calls nobody sees.
    recorder: Option<Arc<Recorder>>,
}

/// `#[audited(results …)]` as written, when it overrides the action's own.
#[derive(Clone, Copy, Debug)]
pub struct ResultsArg {
    /// Whether the write logs results.
    pub on: bool,
    /// The secret fields of its diffs.
    pub secret_fields: &'static [&'static str],
}

impl Call {
    /// Resolves the context (explicit, else ambient) and the logger, and decides whether this
    /// call's events can be seen at all, before any of them is prepared. A call that a filter
    /// drops clones nothing, unless `keep_context` (its `authorize` function needs the context).
    #[inline]
    pub fn begin(
        action: &'static Action,
        timing: Option<Timing>,
        durability: Option<Durability>,
        results: Option<ResultsArg>,
        explicit: Option<&AuditContext>,
        keep_context: bool,
    ) -> Call {
        let timing = timing.unwrap_or(action.timing());
        let mut call = match explicit {
            Some(context) => Call::resolve(action, timing, durability, Some(context), keep_context),
            None => {
                AuditContext::with_current(|context| Call::resolve(action, timing, durability, context, keep_context))
            }
        };
        if let Some(results) = results {
            call.override_results(results);
        }
        call
    }

    /// `#[audited(results …)]` as written wins over the action's and the logger's choice.
    #[cold]
    fn override_results(&mut self, results: ResultsArg) {
        let is_write = self.timing == Timing::Before && matches!(self.destination, Destination::Logger(_));
        let wanted = is_write && results.on;
        // A literal action carries the attribute's choice already: nothing to make again.
        let as_asked = match &self.recorder {
            Some(recorder) => wanted && recorder.secret_fields == results.secret_fields,
            None => !wanted,
        };
        if as_asked {
            return;
        }
        self.recorder = wanted.then(|| Recorder::shared(results.secret_fields));
        if self.recorder.is_some() && self.started.is_none() {
            self.started = Some(SystemTime::now());
        }
    }

    // Out of line: the closure `begin` hands to the thread's context stays small enough to inline.
    #[inline(never)]
    fn resolve(
        action: &'static Action,
        timing: Timing,
        durability: Option<Durability>,
        context: Option<&AuditContext>,
        keep_context: bool,
    ) -> Call {
        let destination = AuditLogger::with_resolved(context, |logger| {
            let Some(logger) = logger else { return Destination::Missing };
            let ignored = match logger.verdict(action) {
                Verdict::Ignored => true,
                Verdict::Kept => false,
                Verdict::Dynamic => logger.ignores_any_outcome(&FilterSubject {
                    action: action.name(),
                    categories: action.categories(),
                    types: action.types(),
                    space: context.and_then(|c| c.space_id()),
                    user: context.and_then(|c| c.user()).and_then(|u| u.name.as_deref()),
                }),
            };
            if ignored {
                // Counted once, here: nothing of this call will be prepared or written.
                logger.count_ignored();
                Destination::Ignored
            } else {
                Destination::Logger(logger.clone())
            }
        });
        let enabled = matches!(destination, Destination::Logger(_));
        let results = match (&destination, timing) {
            (Destination::Logger(logger), Timing::Before) => action.results() || logger.write_results(),
            _ => false,
        };
        // Related events (a bulk call's events, its denial and its completion) share one trace id:
        // the context's, or one made for this call.
        let trace_id = (enabled && context.and_then(|c| c.trace_id()).is_none()).then(new_trace_id);
        Call {
            action,
            timing,
            context: if enabled || keep_context { context.cloned() } else { None },
            destination,
            trace_id,
            durability,
            started: (enabled && (timing == Timing::After || results)).then(SystemTime::now),
            recorder: if results { Some(Recorder::shared(action.secret_fields())) } else { None },
        }
    }

    /// Whether this write logs results.
    #[inline]
    fn results(&self) -> bool {
        self.recorder.is_some()
    }

    /// What a change recorded by the body goes to: this call's recorder, or a refusal that says
    /// why this call takes none.
    fn target(&self) -> Target {
        match &self.recorder {
            Some(recorder) => Target::Recording(Arc::clone(recorder)),
            None => {
                let why = match (self.timing, &self.destination) {
                    (Timing::After, _) => "a read changes nothing: record changes in writes",
                    (_, Destination::Logger(_)) => {
                        "the action carries no results: add `results` to its #[audited] (or declare it \
                         `.with_results()`), or turn them on for every write (`write_results`)"
                    }
                    _ => "the call is not audited (an ignore filter drops it, or no logger is installed)",
                };
                Target::Refusing { action: self.action.name(), why }
            }
        }
    }

    /// Whether events of this call will be written; when not, callers skip preparing [`Targets`].
    #[inline]
    pub fn is_enabled(&self) -> bool {
        matches!(self.destination, Destination::Logger(_))
    }

    /// `value`'s HMAC under the logger's key, for a secret field (see [`crate::secret`]).
    /// Empty when no event of this call is written (nothing is prepared then).
    pub fn conceal(&self, value: &(impl std::fmt::Display + ?Sized)) -> String {
        match &self.destination {
            Destination::Logger(logger) => logger.concealer().hash(&value.to_string()),
            _ => String::new(),
        }
    }

    /// The call's context (an empty one when there is none), for `authorize = path`.
    pub fn context(&self) -> &AuditContext {
        static EMPTY: std::sync::OnceLock<AuditContext> = std::sync::OnceLock::new();
        self.context.as_ref().unwrap_or_else(|| EMPTY.get_or_init(AuditContext::new))
    }

    /// Arms the record of the authorization check about to run: should it panic, the guard
    /// logs one `failure` per target (`error.type = "panic"`) as the panic unwinds.
    #[inline]
    pub fn authorizing<'a>(&'a self, targets: &'a Targets) -> Authorizing<'a> {
        Authorizing { call: self, targets, settled: false }
    }

    /// Before-timing: the intention, outcome `unknown`, one event per target, recorded at the
    /// intent durability before the body may run. No-op for after-timing.
    #[inline]
    pub fn log_intent(&self, targets: &Targets) -> Result<(), AuditRefused> {
        if self.intent_due() {
            self.emit(targets, Emission::Intent)
        } else {
            Ok(())
        }
    }

    /// Whether this call logs an intent: before-timing, and not dropped by a filter.
    #[inline]
    fn intent_due(&self) -> bool {
        self.timing == Timing::Before && !matches!(self.destination, Destination::Ignored)
    }

    /// Whether this call logs a completion: after-timing with a logger, or a write that logs
    /// results. With no logger the
    /// event is counted and reported here (an ignored call was counted at `begin`).
    #[inline]
    fn completion_due(&self) -> bool {
        match (&self.destination, self.timing) {
            (Destination::Logger(_), Timing::After) => true,
            (Destination::Logger(_), Timing::Before) => self.results(),
            (Destination::Missing, Timing::After) => {
                report_no_logger(self.action.name());
                false
            }
            _ => false,
        }
    }

    /// After-timing: refuses a read before it runs when a fail-closed sink is failing, so that no
    /// data is read without a record. No-op for before-timing (its intent event decides).
    #[inline]
    pub fn admit(&self) -> Result<(), AuditRefused> {
        match &self.destination {
            Destination::Logger(logger) if self.timing == Timing::After && !logger.is_accepting() => {
                Err(AuditRefused::new(self.action.name(), "a fail-closed audit sink is not accepting events"))
            }
            _ => Ok(()),
        }
    }

    /// A guard that records the call's end: completion for after-timing, and a panic either way.
    #[inline]
    pub fn guard<'a>(&'a self, targets: &'a Targets) -> Guard<'a> {
        Guard { call: self, targets, finished: false }
    }

    /// What the events of this call for `emission` share, and the logger they go to; `None`
    /// when nothing is to be written (ignored, or no logger: counted).
    fn prepare<'a>(&'a self, targets: &Targets, emission: Emission<'_>) -> Option<Batch<'a>> {
        let logger = match &self.destination {
            Destination::Logger(logger) => logger,
            Destination::Ignored => return None,
            Destination::Missing => {
                report_no_logger(self.action.name());
                return None;
            }
        };
        let (outcome, error, timed, reason) = match emission {
            Emission::Intent => (Outcome::Unknown, None, false, None),
            Emission::Denied(error) => (Outcome::Failure, Some(error), false, None),
            Emission::Completed { outcome, error, reason } => (outcome, error, true, reason),
        };
        let is_result = timed && self.results();
        let requested = self.durability.unwrap_or_default();
        // A result is as durable as its intent.
        let durability = if !timed || is_result { requested.max(logger.intent_durability()) } else { requested };
        let results = match (&self.recorder, is_result) {
            (Some(recorder), true) => Some(ResultParts {
                intents: recorder.intents.get().map_or(&[][..], Vec::as_slice),
                diffs: self.diffs(recorder, logger, targets),
            }),
            _ => None,
        };
        // One clock read for all the events of this emission.
        let now = SystemTime::now();
        let duration = self.started.filter(|_| timed).map(|started| now.duration_since(started).unwrap_or_default());
        Some(Batch {
            logger,
            durability,
            now,
            outcome,
            duration,
            error: error.cloned().map(Box::new),
            reason: reason.map(str::to_owned),
            results,
        })
    }

    /// The event of target `index` (`resource`, or none), built in place field by field: an
    /// event is large, and moving it is not free.
    #[inline(always)]
    fn event(&self, batch: &Batch<'_>, targets: &Targets, index: usize, resource: Option<&Resource>) -> AuditEvent {
        let mut event = AuditEvent::at(self.action, batch.now);
        event.outcome = Some(batch.outcome);
        event.context.clone_from(&self.context);
        event.origin.trace_id.clone_from(&self.trace_id);
        event.resource = resource.cloned();
        event.error.clone_from(&batch.error);
        event.duration = batch.duration;
        event.reason.clone_from(&batch.reason);
        event.labels.clone_from(&targets.labels);
        if let Some(results) = &batch.results {
            let diff = results.diffs.get(index).cloned().flatten();
            event.result = Some(Box::new(WriteResult::new(results.intents.get(index).copied(), diff)));
        }
        let explicit = match batch.outcome {
            Outcome::Failure => targets.failure_message.as_ref().or(targets.message.as_ref()),
            _ => targets.message.as_ref(),
        };
        if let Some(message) = explicit {
            event.message.clone_from(message);
        }
        event
    }

    /// The diff of each target, from what the body recorded; a change no target takes is
    /// counted and reported.
    #[cold]
    fn diffs(&self, recorder: &Recorder, logger: &AuditLogger, targets: &Targets) -> Vec<Option<Arc<Diff>>> {
        let recorded = recorder.take();
        if recorded.is_empty() {
            return Vec::new();
        }
        let settings = logger.diff_settings();
        let concealer = logger.concealer();
        let hash = |text: &str| concealer.hash(text);
        let concealment = Concealment { secret: recorder.secret_fields, hash: &hash };
        let count = targets.resources.len().max(1);
        let mut diffs: Vec<Option<Arc<Diff>>> = vec![None; count];
        for change in recorded {
            let index = match (&change.resource, targets.resources.as_slice()) {
                (None, [] | [_]) => Some(0),
                (None, _) => {
                    report_misuse(
                        Some(self.action.name()),
                        &"a call with several resources records each one's change with changes::of(id)",
                    );
                    None
                }
                (Some(id), resources) => {
                    let found = resources.iter().position(|r| r.id.as_deref() == Some(id.as_str()));
                    if found.is_none() {
                        report_misuse(
                            Some(self.action.name()),
                            &format_args!("changes::of({id:?}) names no resource of the call"),
                        );
                    }
                    found
                }
            };
            let Some(index) = index else { continue };
            let kind = targets.resources.get(index).map_or("", |r| r.kind.as_ref());
            if !settings.includes(kind) {
                continue;
            }
            let diff = patch::diff(change.before.as_ref(), change.after.as_ref(), settings.limits(), &concealment);
            diffs[index] = Some(Arc::new(diff));
        }
        diffs
    }

    /// Logs the call's events: one per resource, or one without a resource when there is none.
    /// The logger reports failures itself (tracing + counters); only a refusal (a sink failing
    /// closed) stops the operation, and every target is still attempted. A write's result never
    /// refuses: its write has happened (a result the sinks could not take is counted and noted
    /// in the trail by the logger).
    fn emit(&self, targets: &Targets, emission: Emission<'_>) -> Result<(), AuditRefused> {
        let is_intent = matches!(emission, Emission::Intent);
        let Some(batch) = self.prepare(targets, emission) else {
            return Ok(());
        };
        let mut refusal = None;
        let mut ids = Vec::new();
        let keep_ids = is_intent && self.results();
        for index in 0..targets.resources.len().max(1) {
            let intent = batch.intent_of(index);
            // Handed over as made (an event moved is an event copied).
            let logged = if keep_ids {
                let event = self.event(&batch, targets, index, targets.resources.get(index));
                ids.push(event.id);
                batch.logger.log_with_durability(event, batch.durability)
            } else {
                batch.logger.log_with_durability(
                    self.event(&batch, targets, index, targets.resources.get(index)),
                    batch.durability,
                )
            };
            if let Err(error) = logged {
                self.settle_failure(batch.logger, &mut refusal, error, intent);
            }
        }
        if let (true, Some(recorder)) = (keep_ids, &self.recorder) {
            let _ = recorder.intents.set(ids);
        }
        refusal.map_or(Ok(()), Err)
    }

    /// [`emit`](Call::emit) for async functions: waiting for durability suspends the task.
    async fn emit_async(&self, targets: &Targets, emission: Emission<'_>) -> Result<(), AuditRefused> {
        let is_intent = matches!(emission, Emission::Intent);
        let Some(batch) = self.prepare(targets, emission) else {
            return Ok(());
        };
        let mut refusal = None;
        let mut ids = Vec::new();
        let keep_ids = is_intent && self.results();
        for index in 0..targets.resources.len().max(1) {
            let intent = batch.intent_of(index);
            let event = self.event(&batch, targets, index, targets.resources.get(index));
            if keep_ids {
                ids.push(event.id);
            }
            if let Err(error) = batch.logger.log_with_durability_async(event, batch.durability).await {
                self.settle_failure(batch.logger, &mut refusal, error, intent);
            }
        }
        if let (true, Some(recorder)) = (keep_ids, &self.recorder) {
            let _ = recorder.intents.set(ids);
        }
        refusal.map_or(Ok(()), Err)
    }

    /// A result event (one naming its intent) that a sink refused is a lost result, never a
    /// refused call; anything else refused refuses the call.
    fn settle_failure(
        &self,
        logger: &AuditLogger,
        refusal: &mut Option<AuditRefused>,
        error: LogError,
        intent: Option<EventId>,
    ) {
        match intent {
            Some(intent) if error.is_refusal() => logger.note_lost_result(self.action.name(), intent),
            Some(_) => {}
            None => self.note_refusal(refusal, error),
        }
    }

    fn note_refusal(&self, refusal: &mut Option<AuditRefused>, error: LogError) {
        if let LogError::Refused(mut failures) = error {
            let reason: Vec<String> = failures.iter().map(|(sink, e)| format!("{sink}: {e}")).collect();
            let refused = AuditRefused::new(self.action.name(), reason.join("; "));
            let refused = match failures.drain(..).next() {
                Some((_, cause)) => refused.caused_by(cause),
                None => refused,
            };
            refusal.get_or_insert(refused);
        }
    }

    /// [`log_intent`](Call::log_intent) for async functions.
    pub async fn log_intent_async(&self, targets: &Targets) -> Result<(), AuditRefused> {
        if self.intent_due() {
            self.emit_async(targets, Emission::Intent).await
        } else {
            Ok(())
        }
    }
}

/// The authorization check of a call, running. Settled by [`passed`](Authorizing::passed) or
/// [`denied`](Authorizing::denied); dropped unsettled while panicking, it logs the failure.
pub struct Authorizing<'a> {
    call: &'a Call,
    targets: &'a Targets,
    settled: bool,
}

impl Authorizing<'_> {
    /// The check passed: the call goes on.
    #[inline]
    pub fn passed(mut self) {
        self.settled = true;
    }

    /// Authorization failed: one `failure` event per target, carrying the error. (The call fails
    /// anyway, so a sink's refusal changes nothing.)
    pub fn denied(mut self, error: ErrorInfo) {
        self.settled = true;
        let _ = self.call.emit(self.targets, Emission::Denied(&error));
    }
}

impl Drop for Authorizing<'_> {
    fn drop(&mut self) {
        if !self.settled && std::thread::panicking() {
            let error = ErrorInfo::new("the authorization check panicked").with_kind("panic");
            let _ = self.call.emit(self.targets, Emission::Denied(&error));
        }
    }
}

/// Records how an audited call ended. Dropped without [`Guard::complete_with`] while panicking, it
/// logs a `failure` with `error.type = "panic"`; dropped otherwise (an async call cancelled before
/// completing) with after-timing, it logs outcome `unknown` with `event.reason`.
pub struct Guard<'a> {
    call: &'a Call,
    targets: &'a Targets,
    finished: bool,
}

impl Guard<'_> {
    /// Runs the body with this call current for [`crate::changes`].
    #[inline]
    pub fn run<R>(&self, body: impl FnOnce() -> R) -> R {
        super::record::run_in(&self.call.target(), body)
    }

    /// The async body, with this call current for [`crate::changes`] whenever it is polled.
    #[inline]
    pub fn run_async<F: Future>(&self, body: F) -> Recording<F> {
        Recording::new(self.call.target(), body)
    }

    /// The call returned: for after-timing, and for writes that log results, judges the result
    /// (only when its events can be seen) and logs the outcome. A refusal means a fail-closed
    /// sink could not record the read: its result must not be returned. A write's result never
    /// refuses (its write has happened).
    #[inline]
    pub fn complete_with(mut self, judge: impl FnOnce() -> Completion) -> Result<(), AuditRefused> {
        self.finished = true;
        if !self.call.completion_due() {
            return Ok(());
        }
        let completion = judge();
        let emission =
            Emission::Completed { outcome: completion.outcome, error: completion.error.as_ref(), reason: None };
        self.call.emit(self.targets, emission)
    }

    /// [`complete_with`](Guard::complete_with) for async functions.
    pub async fn complete_with_async(mut self, judge: impl FnOnce() -> Completion) -> Result<(), AuditRefused> {
        self.finished = true;
        if !self.call.completion_due() {
            return Ok(());
        }
        let completion = judge();
        let emission =
            Emission::Completed { outcome: completion.outcome, error: completion.error.as_ref(), reason: None };
        self.call.emit_async(self.targets, emission).await
    }
}

impl Drop for Guard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if std::thread::panicking() {
            let error = ErrorInfo::new("the operation panicked before completing").with_kind("panic");
            let emission = Emission::Completed { outcome: Outcome::Failure, error: Some(&error), reason: None };
            let _ = self.call.emit(self.targets, emission);
        } else if self.call.timing == Timing::After || self.call.results() {
            let reason = Some("cancelled before completion");
            let _ =
                self.call.emit(self.targets, Emission::Completed { outcome: Outcome::Unknown, error: None, reason });
        }
    }
}

/// What the events of one emission share.
struct Batch<'a> {
    logger: &'a AuditLogger,
    durability: Durability,
    now: SystemTime,
    outcome: Outcome,
    duration: Option<std::time::Duration>,
    error: Option<Box<ErrorInfo>>,
    reason: Option<String>,
    /// A write's result parts, by target.
    results: Option<ResultParts<'a>>,
}

/// What a write's result events carry, by target: the intents' ids and the diffs.
struct ResultParts<'a> {
    intents: &'a [EventId],
    diffs: Vec<Option<Arc<Diff>>>,
}

impl Batch<'_> {
    /// The intent that target `index`'s result names (a result's batch only).
    fn intent_of(&self, index: usize) -> Option<EventId> {
        self.results.as_ref().and_then(|results| results.intents.get(index).copied())
    }
}

/// Which of a call's events are being logged.
#[derive(Clone, Copy)]
enum Emission<'e> {
    /// A write's intent, before its body: `unknown`.
    Intent,
    /// The authorization check failed (or panicked): `failure`, the body never ran.
    Denied(&'e ErrorInfo),
    /// The body ended: a read's event, a write's result, or a panic's record.
    Completed { outcome: Outcome, error: Option<&'e ErrorInfo>, reason: Option<&'e str> },
}

/// What a call's events are about, prepared before the body runs (the body may consume the
/// parameters they are made from): one event per resource, or one without a resource.
#[derive(Default)]
pub struct Targets {
    resources: Vec<Resource>,
    message: Option<String>,
    failure_message: Option<String>,
    labels: Vec<(Cow<'static, str>, String)>,
}

impl Targets {
    /// Nothing prepared (the call is not enabled).
    #[inline]
    pub fn none() -> Targets {
        Targets::default()
    }

    /// Adds a resource.
    pub fn resource(&mut self, kind: impl Into<Cow<'static, str>>, id: Option<String>, name: Option<String>) {
        self.resources.push(Resource { kind: kind.into(), id, name });
    }

    /// Sets the explicit message.
    pub fn message(&mut self, message: String) {
        self.message = Some(message);
    }

    /// Sets the explicit failure message.
    pub fn failure_message(&mut self, message: String) {
        self.failure_message = Some(message);
    }

    /// Adds a label.
    pub fn label(&mut self, key: &'static str, value: String) {
        self.labels.push((Cow::Borrowed(key), value));
    }
}
