//! The writer thread: takes the whole queue at once, formats it (copying the lines callers
//! formatted themselves) into chunks, chains them when the trail is chained (itself, or on the
//! chainer's thread when far behind: see [`super::chunk`]), writes each with as few `write` calls
//! as rotation allows, and `fsync`s once for every caller waiting on that batch (group commit).
//! On an I/O error it keeps the unwritten bytes, retries with backoff, and takes no new events
//! until they are out, so memory stays bounded by the queue.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::chunk::{chain_into, Chainer, Lines, Staged};
use super::queue::{Body, Pending};
use super::rolling::Files;
use super::shared::Shared;
use crate::model::catalog;
use crate::model::AuditEvent;
use crate::output::format::EcsFormat;
use crate::output::sink::report_sink_failure;
use crate::trail::chain::{LineChain, Link};
use audit_schema::Durability;

const FIRST_RETRY: Duration = Duration::from_millis(10);
/// Lines are formatted and written in chunks of about this size: big enough that the `write`
/// call's cost is spread, small enough that the bytes are still in the CPU cache when the kernel
/// copies them (one 30 MB write runs at a fraction of the speed of 256 KiB ones).
const CHUNK_BYTES: usize = 256 * 1024;
const REPORT_EVERY: Duration = Duration::from_secs(10);

struct Worker {
    /// Chains every line, when the trail is chained; `None` while it is away with a chunk.
    chain: Option<LineChain>,
    /// Chains chunks while this thread formats and writes others (see [`super::chunk`]);
    /// `None` for an unchained trail, or if its thread could not be started.
    chainer: Option<Chainer>,
    /// The callers' events in the chunk away at the chainer, if one is.
    away: Option<usize>,
    /// Buffers for the next chunk (kept for their allocations).
    spare_lines: Lines,
    spare_staged: Staged,
    /// The link of the last line written, and of the last one synced.
    written_link: Option<Link>,
    synced_link: Option<Link>,
    /// Told of every sync that moved the chain on (checkpoints), and of the end.
    after_sync: Option<Box<dyn AfterSync>>,
    shared: Arc<Shared>,
    files: Files,
    staged: Staged,
    /// Events taken from the queue and not yet formatted.
    backlog: VecDeque<Pending>,
    /// The bytes of the backlog's caller-formatted lines, and how far they are staged.
    backlog_lines: Vec<u8>,
    backlog_lines_read: usize,
    /// Events of the backlog that this thread has to format.
    backlog_unformatted: usize,
    /// Dropped events to report once the backlog is out.
    unreported_drops: u64,
    /// The format of the events being written (events carry it only when it changes).
    format: Arc<EcsFormat>,
    written_upto: u64,
    synced_upto: u64,
    /// Bytes written since the last `fsync`.
    unsynced: bool,
    /// A written line asked for `Durable`.
    durable_pending: bool,
    last_sync: Instant,
    /// How long the last `fsync` took: the window for gathering the next group commit.
    last_sync_took: Duration,
    /// After waking `gather_target` durable callers, wait until as many durable events are
    /// queued again (they are coming back with their next event), or `gather_until`: then they
    /// share one `fsync` instead of splitting into alternating half-size groups.
    gather_target: usize,
    gather_until: Option<Instant>,
    retry_delay: Duration,
    next_retry: Option<Instant>,
    last_report: Option<Instant>,
    failures_since_report: u64,
}

pub(super) fn run(shared: Arc<Shared>, files: Files, chain: Option<Resumed>, after_sync: Option<Box<dyn AfterSync>>) {
    // The writer's own format for its own events until the first event says the logger's.
    let format = shared.config.format.clone().unwrap_or_default();
    let resumed_after_torn = chain.as_ref().and_then(|resumed| resumed.torn.then_some(resumed.chain.last()));
    let start = chain.as_ref().map(|resumed| resumed.chain.last());
    let chainer = chain.as_ref().and_then(|_| match Chainer::start() {
        Ok(chainer) => Some(chainer),
        Err(error) => {
            // Slower, not wrong: this thread chains every chunk itself.
            tracing::warn!(target: "audit_core", %error, "cannot start the audit chain's thread; chaining on the writer's");
            None
        }
    });
    let mut worker = Worker {
        chain: chain.map(|resumed| resumed.chain),
        chainer,
        away: None,
        spare_lines: Lines::default(),
        spare_staged: Staged::default(),
        written_link: start,
        synced_link: start,
        after_sync,
        shared,
        files,
        staged: Staged::default(),
        backlog: VecDeque::new(),
        backlog_lines: Vec::new(),
        backlog_lines_read: 0,
        backlog_unformatted: 0,
        unreported_drops: 0,
        format,
        written_upto: 0,
        synced_upto: 0,
        unsynced: false,
        durable_pending: false,
        last_sync: Instant::now(),
        last_sync_took: Duration::ZERO,
        gather_target: 0,
        gather_until: None,
        retry_delay: FIRST_RETRY,
        next_retry: None,
        last_report: None,
        failures_since_report: 0,
    };
    if let Some(last) = resumed_after_torn {
        worker.stage_resumed_after_torn(last);
    }
    worker.run();
}

/// What wants to know how far the chain is on disk: the checkpoints.
pub(super) trait AfterSync: Send {
    /// The lines up to `link` are synced; an event to add to the trail (a checkpoint kept in it).
    fn synced(&mut self, link: Link) -> Option<AuditEvent>;
    /// The writer stops; `link` is the last line synced; an event to add to the trail before the
    /// writer closes it.
    fn stopped(&mut self, link: Link) -> Option<AuditEvent>;
}

/// Where a chained trail goes on from: the chain at its last whole line, and whether the file
/// ended with a torn line (a crash mid-write) after it.
pub(super) struct Resumed {
    pub(super) chain: LineChain,
    pub(super) torn: bool,
}

/// What one turn of the loop has to do.
struct Turn {
    flush_upto: u64,
    shutdown: bool,
}

impl Worker {
    fn run(&mut self) {
        let mut shutdown_since: Option<Instant> = None;
        loop {
            let turn = self.wait_for_work();
            if turn.shutdown && shutdown_since.is_none() {
                shutdown_since = Some(Instant::now());
            }
            if self.retry_due() {
                self.write_backlog();
            }
            let sync_wanted = self.durable_pending
                || turn.flush_upto > self.synced_upto
                || turn.shutdown
                || self.last_sync.elapsed() >= self.shared.config.flush_interval;
            if sync_wanted && self.retry_due() {
                self.sync();
            }
            self.publish();

            if let Some(since) = shutdown_since {
                let drained = self.is_idle() && !self.unsynced && self.shared.queue.lock().items.is_empty();
                if drained || since.elapsed() >= self.shared.config.shutdown_grace {
                    self.stop(drained);
                    return;
                }
            }
        }
    }

    /// Nothing taken from the queue is waiting to be written.
    fn is_idle(&self) -> bool {
        self.staged.is_empty() && self.backlog.is_empty() && self.unreported_drops == 0 && self.away.is_none()
    }

    /// Formats and writes the backlog chunk by chunk, publishing progress after each chunk so
    /// that `Flushed` callers go on as early as possible. Stops at the first I/O error.
    fn write_backlog(&mut self) {
        let mut wrote = false;
        loop {
            if self.staged.is_empty() {
                self.stage_chunk();
            }
            if self.staged.is_empty() {
                break;
            }
            match self.write_staged() {
                Ok(()) => {
                    wrote = true;
                    if !self.backlog.is_empty() {
                        self.publish();
                    }
                }
                Err(error) => {
                    self.failed(error);
                    return;
                }
            }
        }
        if wrote {
            self.recovered();
        }
    }

    /// Formats backlog events until about [`CHUNK_BYTES`] are staged; once the backlog is out,
    /// the report of dropped events. A chained trail's chunk is chained too, here or on the
    /// chainer's thread.
    fn stage_chunk(&mut self) {
        if self.chain.is_some() || self.away.is_some() {
            return self.stage_chained_chunk();
        }
        let mut staged = std::mem::take(&mut self.staged);
        self.format_chunk(&mut staged.bytes, |bytes, seq, durability| {
            bytes.push(b'\n');
            staged.lines.push_back((seq, bytes.len(), durability, None));
        });
        self.staged = staged;
    }

    /// A chained trail's [`stage_chunk`](Worker::stage_chunk): while the chainer chains one
    /// chunk, this thread formats the next, then takes the chained one to write.
    fn stage_chained_chunk(&mut self) {
        let lines = self.format_lines();
        if self.away.is_some() {
            self.take_chained();
            self.send_or_keep(lines);
            return;
        }
        if lines.is_empty() {
            self.spare_lines = lines;
            return;
        }
        // The chainer only once more than half a queue waits: then callers are about to wait for
        // room, and what they need is the backlog written sooner. Below that the queue absorbs
        // the burst, and a third busy thread on the callers' cores would only slow them down.
        let far_behind = self.backlog.len() >= self.shared.queue.capacity() / 2;
        if !far_behind || self.chainer.is_none() {
            // Chained here, with no hand-off.
            let mut lines = lines;
            chain_into(self.chain.as_mut().expect("the chain is here"), &mut lines, &mut self.staged);
            self.spare_lines = lines;
            return;
        }
        self.send_or_keep(lines);
        let next = self.format_lines();
        self.take_chained();
        self.send_or_keep(next);
    }

    /// Formats backlog events, unchained, until about [`CHUNK_BYTES`] are formatted.
    fn format_lines(&mut self) -> Lines {
        let mut lines = std::mem::take(&mut self.spare_lines);
        let ends = &mut lines.lines;
        self.format_chunk(&mut lines.bytes, |bytes, seq, durability| ends.push((seq, bytes.len(), durability)));
        lines
    }

    /// Appends the lines (no newline) of backlog events to `bytes` until about [`CHUNK_BYTES`]
    /// are there, calling `line_end` after each with its sequence number and durability.
    fn format_chunk(&mut self, bytes: &mut Vec<u8>, mut line_end: impl FnMut(&mut Vec<u8>, u64, Durability)) {
        let mut formatted = 0;
        while bytes.len() < CHUNK_BYTES {
            let Some(pending) = self.next_pending() else { break };
            // The writer's own events (sequence 0) were never counted as unformatted.
            formatted += usize::from(self.format_pending(pending.body, bytes) && pending.seq > 0);
            line_end(bytes, pending.seq, pending.durability);
        }
        self.formatted(formatted);
    }

    /// Sends `lines` to the chainer (with the chain), unless there are none.
    fn send_or_keep(&mut self, lines: Lines) {
        match (&self.chainer, lines.is_empty()) {
            (Some(chainer), false) => {
                self.away = Some(lines.events());
                let chain = self.chain.take().expect("the chain is here");
                chainer.send(chain, lines, std::mem::take(&mut self.spare_staged));
            }
            _ => self.spare_lines = lines,
        }
    }

    /// Takes the chunk away at the chainer back, chained, as the staged chunk.
    fn take_chained(&mut self) {
        let chainer = self.chainer.as_ref().expect("a chunk is away only with a chainer");
        let (chain, lines, staged) = chainer.receive();
        self.chain = Some(chain);
        self.away = None;
        self.spare_lines = lines;
        self.spare_staged = std::mem::replace(&mut self.staged, staged);
    }

    /// The next event to stage: the backlog's, then the report of dropped events.
    fn next_pending(&mut self) -> Option<Pending> {
        if let Some(pending) = self.backlog.pop_front() {
            return Some(pending);
        }
        let dropped = std::mem::take(&mut self.unreported_drops);
        (dropped > 0).then(|| self.drop_report(dropped))
    }

    /// Once per chunk: callers learn whether to keep formatting their own lines.
    fn formatted(&mut self, formatted: usize) {
        if formatted > 0 {
            self.backlog_unformatted = self.backlog_unformatted.saturating_sub(formatted);
            let mut queue = self.shared.queue.lock();
            queue.writer_unformatted = self.backlog_unformatted;
            self.shared.queue.update_callers_format(&queue);
        }
    }

    fn retry_due(&self) -> bool {
        self.next_retry.is_none_or(|at| Instant::now() >= at)
    }

    /// Sleeps until there is something to do, then takes the queue (only when everything staged
    /// is written, which bounds memory while the file is failing).
    fn wait_for_work(&mut self) -> Turn {
        let shared = Arc::clone(&self.shared);
        let interval = shared.config.flush_interval;
        let mut queue = shared.queue.lock();
        loop {
            let now = Instant::now();
            let retry_due = self.retry_due();
            let can_take = self.is_idle();
            let has_new = !queue.items.is_empty() || queue.dropped_unreported > 0;
            let flush_pending = queue.flush_upto > self.synced_upto;
            let sync_due = self.unsynced && now.duration_since(self.last_sync) >= interval;
            let gathering = self.gather_target > 0
                && self.gather_until.is_some_and(|until| now < until)
                && queue.durable_items < self.gather_target;
            // With lines still staged (a failing file), only a retry is work; new events wait.
            // A failure is retried on its own schedule, whether or not anything new came.
            let retrying = self.next_retry.is_some();
            let ready = queue.shutdown
                || (retry_due && (retrying || !can_take || (has_new && !gathering) || sync_due || flush_pending));
            if ready {
                break;
            }
            let mut timeout = interval;
            if gathering {
                queue.gather_target = self.gather_target;
                timeout = timeout.min(self.gather_until.map_or(timeout, |until| until.saturating_duration_since(now)));
            }
            if let Some(at) = self.next_retry {
                timeout = timeout.min(at.saturating_duration_since(now));
            }
            if self.unsynced {
                timeout = timeout.min(interval.saturating_sub(now.duration_since(self.last_sync)));
            }
            queue.writer_idle = true;
            let timeout = timeout.max(Duration::from_micros(20));
            queue = shared.queue.work.wait_timeout(queue, timeout).unwrap_or_else(|p| p.into_inner()).0;
            queue.writer_idle = false;
        }
        queue.gather_target = 0;
        self.gather_target = 0;
        if self.is_idle() && self.retry_due() {
            // The backlog is empty: swapping hands its allocation back to the queue.
            std::mem::swap(&mut self.backlog, &mut queue.items);
            self.backlog_lines.clear();
            std::mem::swap(&mut self.backlog_lines, &mut queue.lines);
            self.backlog_lines_read = 0;
            self.backlog_unformatted = std::mem::take(&mut queue.unformatted);
            queue.writer_unformatted = self.backlog_unformatted;
            queue.durable_items = 0;
            self.unreported_drops = std::mem::take(&mut queue.dropped_unreported);
            if !self.backlog.is_empty() {
                shared.queue.room.notify_all();
            }
        }
        Turn { flush_upto: queue.flush_upto, shutdown: queue.shutdown }
    }

    /// Appends one queued event's line (no newline) to `bytes`; whether this thread formatted
    /// it (rather than its caller).
    fn format_pending(&mut self, body: Body, bytes: &mut Vec<u8>) -> bool {
        match body {
            Body::Event { event, format } => {
                if let Some(format) = format {
                    self.format = format;
                }
                self.format.write_line(&event, bytes);
                true
            }
            Body::Line { len } => {
                let start = self.backlog_lines_read;
                bytes.extend_from_slice(&self.backlog_lines[start..start + len - 1]);
                self.backlog_lines_read += len;
                false
            }
        }
    }

    /// The event that says the chain goes on after a torn line: a verifier then reports the torn
    /// line as a crash, not as tampering.
    fn stage_resumed_after_torn(&mut self, last: Link) {
        let event = catalog::trail_resumed(last.sequence);
        self.stage_report(event);
    }

    /// Stages a line of the writer's own (a checkpoint kept in the trail, say): after the
    /// backlog, formatted (and chained) with it.
    fn stage_report(&mut self, event: AuditEvent) {
        self.backlog.push_back(own_event(event));
    }

    /// The event that says how many events were dropped.
    fn drop_report(&self, dropped: u64) -> Pending {
        let event = catalog::events_dropped(dropped);
        own_event(event)
    }

    /// Writes staged lines, rotating between lines; a line is never split across files.
    fn write_staged(&mut self) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        let counters = &shared.counters;
        while let Some(&(_, first_end, _, _)) = self.staged.lines.front() {
            let at_line_start = self.staged.written_to == self.staged.line_begin;
            if at_line_start && !self.files.is_empty() {
                let now = SystemTime::now();
                let too_big = self.files.room().is_some_and(|room| (first_end - self.staged.line_begin) as u64 > room);
                if self.files.rotation_due(now) || too_big {
                    self.files.rotate(now)?;
                    counters.rotations.fetch_add(1, Ordering::Relaxed);
                    self.last_sync = Instant::now();
                }
            }
            // As many whole lines as fit before the next size rotation (at least the current one).
            let mut end = first_end;
            if let Some(room) = self.files.room() {
                let budget = self.staged.written_to as u64 + room;
                for &(_, line_end, _, _) in self.staged.lines.iter().skip(1) {
                    if line_end as u64 > budget {
                        break;
                    }
                    end = line_end;
                }
            } else if let Some(&(_, last_end, _, _)) = self.staged.lines.back() {
                end = last_end;
            }
            while self.staged.written_to < end {
                let written = self.files.write(&self.staged.bytes[self.staged.written_to..end])?;
                if written == 0 {
                    return Err(io::Error::new(io::ErrorKind::WriteZero, "the audit file accepted no bytes"));
                }
                self.staged.written_to += written;
                self.complete_lines();
            }
            counters.batches.fetch_add(1, Ordering::Relaxed);
        }
        if self.staged.bytes.len() >= CHUNK_BYTES {
            // A full chunk: the writer is under sustained load, so get the disk going now.
            self.files.start_writeback();
        }
        self.staged.bytes.clear();
        self.staged.written_to = 0;
        self.staged.line_begin = 0;
        Ok(())
    }

    fn complete_lines(&mut self) {
        let (mut written, mut reports) = (0, 0);
        while let Some(&(seq, end, durability, link)) = self.staged.lines.front() {
            if end > self.staged.written_to {
                break;
            }
            self.staged.lines.pop_front();
            self.staged.line_begin = end;
            self.unsynced = true;
            self.durable_pending |= durability == Durability::Durable;
            written += 1;
            self.files.note_line(link);
            if link.is_some() {
                self.written_link = link;
            }
            if seq > 0 {
                self.written_upto = seq;
            } else {
                reports += 1;
            }
        }
        // Once per `write`, not per line: callers read these counters' neighbours.
        self.shared.counters.written.fetch_add(written, Ordering::Relaxed);
        if reports > 0 {
            self.shared.counters.reports.fetch_add(reports, Ordering::Relaxed);
        }
    }

    fn sync(&mut self) {
        if !self.unsynced {
            self.synced_upto = self.written_upto;
            self.last_sync = Instant::now();
            return;
        }
        let started = Instant::now();
        match self.files.sync() {
            Ok(()) => {
                self.last_sync_took = started.elapsed();
                #[cfg(feature = "metrics")]
                metrics::histogram!("audit_writer_sync_seconds", "sink" => self.shared.describe())
                    .record(self.last_sync_took.as_secs_f64());
                self.shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
                self.synced_upto = self.written_upto;
                self.unsynced = false;
                self.durable_pending = false;
                self.last_sync = Instant::now();
                if self.written_link != self.synced_link {
                    self.synced_link = self.written_link;
                    if let (Some(after), Some(link)) = (&mut self.after_sync, self.synced_link) {
                        if let Some(event) = after.synced(link) {
                            self.stage_report(event);
                        }
                    }
                }
                if self.staged.is_empty() {
                    self.recovered();
                }
            }
            Err(error) => self.failed(error),
        }
    }

    /// Tells waiting callers how far the file got.
    fn publish(&mut self) {
        let (written, synced) = (self.written_upto, self.synced_upto);
        let durable_woken = self.shared.notify.publish(|progress| {
            progress.written = written;
            progress.synced = synced;
        });
        if durable_woken > 1 {
            self.gather_target = durable_woken;
            self.gather_until = Some(Instant::now() + self.last_sync_took.min(Duration::from_millis(2)));
        }
    }

    fn failed(&mut self, error: io::Error) {
        let shared = &self.shared;
        shared.counters.io_errors.fetch_add(1, Ordering::Relaxed);
        self.failures_since_report += 1;
        let was_failing = shared.failing.swap(true, Ordering::AcqRel);
        let report_due = self.last_report.is_none_or(|at| at.elapsed() >= REPORT_EVERY);
        if !was_failing || report_due {
            let what = format!(
                "cannot write {} ({} failure(s) so far), retrying: {error}",
                self.files.path().display(),
                self.failures_since_report
            );
            report_sink_failure(&shared.describe(), &what);
            self.last_report = Some(Instant::now());
            self.failures_since_report = 0;
        }
        shared.notify.publish(|progress| progress.failure = Some((error.kind(), error.to_string())));
        self.next_retry = Some(Instant::now() + self.retry_delay);
        self.retry_delay = (self.retry_delay * 2).min(shared.config.retry_max);
    }

    fn recovered(&mut self) {
        self.next_retry = None;
        self.retry_delay = FIRST_RETRY;
        if self.shared.failing.swap(false, Ordering::AcqRel) {
            super::lock(&self.shared.notify.progress).failure = None;
            tracing::warn!(target: "audit_core", path = %self.shared.path.display(), "audit file writable again");
        }
    }

    fn stop(&mut self, drained: bool) {
        if let (Some(after), Some(link)) = (&mut self.after_sync, self.synced_link) {
            if let Some(event) = after.stopped(link) {
                // The last line: written and synced now, as the others were.
                self.stage_report(event);
                self.write_backlog();
                self.sync();
            }
        }
        if !drained {
            let staged = self.staged.lines.iter().filter(|(seq, ..)| *seq > 0).count();
            let backlog = self.backlog.iter().filter(|pending| pending.seq > 0).count();
            let away = self.away.unwrap_or(0);
            let lost = staged + backlog + away + self.shared.queue.lock().items.len();
            report_sink_failure(
                &self.shared.describe(),
                &format_args!("stopped while the file was failing: {lost} events could not be written"),
            );
        }
        let (written, synced) = (self.written_upto, self.synced_upto);
        self.shared.notify.publish(|progress| {
            progress.written = written;
            progress.synced = synced;
            progress.stopped = true;
        });
    }
}

/// A line of the writer's own, queued as the callers' are, without a sequence number.
fn own_event(event: AuditEvent) -> Pending {
    Pending { seq: 0, body: Body::Event { event: Arc::new(event), format: None }, durability: Durability::Buffered }
}
