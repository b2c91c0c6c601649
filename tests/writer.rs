//! The `FileWriter`: ordering, durability levels, group commit, rotation, retention, compression,
//! backpressure, and a torn line left by a crash.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_core::logger::LogError;
use audit_core::trail::read_audit_trail;
use audit_core::trail::rotated_files;
use audit_core::writer::Backpressure;
use audit_core::writer::Rotation;
use audit_core::{audited, kibana, AuditContext, AuditEvent, AuditLogger, Durability, FileWriter, Outcome, Resource};
use common::{Faults, FaultyStorage, ServiceError, TempDir};

fn event(id: impl Into<String>) -> AuditEvent {
    AuditEvent::new(&kibana::SAVED_OBJECT_GET)
        .with_outcome(Outcome::Success)
        .with_resource(Resource::new("dashboard", id))
}

fn ids(events: &[serde_json::Value]) -> Vec<String> {
    events.iter().map(|e| e["kibana"]["saved_object"]["id"].as_str().unwrap().to_owned()).collect()
}

/// Waits until the writer thread has taken everything queued (and is now held in `write`).
fn wait_until_taken(writer: &FileWriter) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.stats().queued > 0 {
        assert!(Instant::now() < deadline, "the writer never took the queue");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn buffered_events_are_all_written_in_order_by_shutdown() {
    let dir = TempDir::new("order");
    let (writer, guard) = FileWriter::builder(dir.path("audit.log")).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    for i in 0..1000 {
        logger.log(event(i.to_string())).unwrap();
    }
    guard.shutdown().unwrap();
    let trail = read_audit_trail(dir.path("audit.log")).unwrap();
    assert_eq!(ids(&trail.events), (0..1000).map(|i| i.to_string()).collect::<Vec<_>>());
    assert!(trail.torn.is_empty());
    let stats = writer.stats();
    assert_eq!((stats.accepted, stats.written), (1000, 1000));
    assert!(stats.batches < 1000, "events are batched: {stats:?}");
    // After shutdown, an event is not silently accepted.
    assert!(logger.log(event("late")).is_err());
}

#[test]
fn flushed_and_durable_events_are_in_the_file_when_log_returns() {
    let dir = TempDir::new("durability");
    let path = dir.path("audit.log");
    let (writer, _guard) = FileWriter::builder(&path).flush_interval(Duration::from_secs(3600)).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();

    logger.log_with_durability(event("flushed"), Durability::Flushed).unwrap();
    assert_eq!(ids(&read_audit_trail(&path).unwrap().events), ["flushed"]);
    let syncs = writer.stats().syncs;
    logger.log_with_durability(event("durable"), Durability::Durable).unwrap();
    assert_eq!(ids(&read_audit_trail(&path).unwrap().events), ["flushed", "durable"]);
    assert!(writer.stats().syncs > syncs, "durable means fsync'd");

    // Buffered: returns at once; `flush` waits until written and synced.
    logger.log(event("buffered")).unwrap();
    writer.flush().unwrap();
    assert_eq!(read_audit_trail(&path).unwrap().events.len(), 3);
}

#[test]
fn concurrent_durable_callers_share_fsyncs() {
    let dir = TempDir::new("group-commit");
    let (writer, guard) = FileWriter::builder(dir.path("audit.log")).durability(Durability::Durable).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let logger = logger.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    logger.log(event(format!("{t}-{i}"))).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    guard.shutdown().unwrap();
    let stats = writer.stats();
    assert_eq!(stats.written, 1280);
    assert!(stats.syncs < 1280 / 2, "64 concurrent durable callers must share fsyncs: {stats:?}");
    assert_eq!(read_audit_trail(dir.path("audit.log")).unwrap().events.len(), 1280);
}

#[test]
fn many_threads_with_rotation_every_few_kilobytes_lose_nothing() {
    let dir = TempDir::new("rotation");
    let path = dir.path("audit.log");
    let (writer, guard) =
        FileWriter::builder(&path).rotation(Rotation::by_size(4 * 1024)).queue_capacity(256).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    let (threads, per_thread) = (8, 400);
    log_from_threads(&logger, threads, per_thread);
    guard.shutdown().unwrap();

    let trail = read_audit_trail(&path).unwrap();
    assert!(trail.torn.is_empty(), "no torn or interleaved line: {:?}", trail.torn.first());
    assert!(trail.files.len() > 10, "rotated into {} files", trail.files.len());
    // Read back in file-name order, each thread's events come out in the order it logged them.
    assert_each_once_in_order(&ids(&trail.events), threads * per_thread);
    // Every file but the active one respects the size limit (whole lines only).
    for file in &trail.files[..trail.files.len() - 1] {
        let len = std::fs::metadata(file).unwrap().len();
        assert!(len <= 4 * 1024, "{} is {len} bytes", file.display());
        assert!(std::fs::read(file).unwrap().ends_with(b"\n"));
    }
    assert_eq!(writer.stats().rotations as usize, trail.files.len() - 1);
}

#[test]
fn callers_format_their_own_lines_when_the_writer_is_far_behind_and_nothing_changes_in_the_file() {
    let dir = TempDir::new("caller-format");
    let path = dir.path("audit.log");
    let faults = Faults::default();
    let (writer, guard) =
        FileWriter::builder(&path).storage(FaultyStorage(faults.clone())).queue_capacity(64).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    let ctx =
        AuditContext::builder().user(audit_core::User::named("alice").with_roles(["editor"])).new_trace_id().build();
    let events: Vec<AuditEvent> = (0..64).map(|i| event(i.to_string()).with_context(&ctx)).collect();

    // The writer takes the first event and is then held in `write`: the rest wait in the queue.
    faults.hold();
    logger.log(events[0].clone()).unwrap();
    wait_until_taken(&writer);
    for event in &events[1..] {
        logger.log(event.clone()).unwrap();
    }
    let stats = writer.stats();
    // Past half the queue (32 events waiting for the writer to format them), callers format.
    assert_eq!(stats.formatted_by_callers, 63 - 32, "{stats:?}");
    faults.release();
    guard.shutdown().unwrap();

    // Lines formatted by the writer and by callers interleave in order, and are the same bytes
    // the format gives for each event.
    let text = std::fs::read_to_string(&path).unwrap();
    let expected: Vec<String> = events.iter().map(|e| audit_core::EcsFormat::default().to_line(e)).collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);
}

/// Logs `per_thread` events from each of `threads` threads (ids `thread:seq`).
fn log_from_threads(logger: &AuditLogger, threads: usize, per_thread: usize) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let logger = logger.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    logger.log(event(format!("{t}:{i:04}"))).unwrap();
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
}

/// Every event once, and each thread's in the order it logged them.
fn assert_each_once_in_order(all: &[String], expected: usize) {
    assert_eq!(all.len(), expected, "no loss, no duplicate");
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), all.len());
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for id in all {
        let (thread, seq) = id.split_once(':').unwrap();
        if let Some(previous) = last.insert(thread, seq) {
            assert!(previous < seq, "thread {thread}: {previous} then {seq}");
        }
    }
}

#[test]
fn compression_runs_beside_the_writer_and_loses_nothing_under_concurrency() {
    let dir = TempDir::new("rotation-gz");
    let path = dir.path("audit.log");
    let rotation = Rotation::by_size(64 * 1024).compress(true);
    let (writer, guard) = FileWriter::builder(&path).rotation(rotation).queue_capacity(256).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    log_from_threads(&logger, 8, 400);
    guard.shutdown().unwrap();

    let rotated = rotated_files(&path).unwrap();
    assert!(rotated.len() > 10, "rotated into {} files", rotated.len());
    assert!(rotated.iter().all(|p| p.extension().unwrap() == "gz"), "shutdown finishes compression: {rotated:?}");
    let trail = read_audit_trail(&path).unwrap();
    assert!(trail.torn.is_empty(), "{:?}", trail.torn.first());
    assert_each_once_in_order(&ids(&trail.events), 8 * 400);
}

#[test]
fn a_compression_cut_short_is_redone_and_never_read_twice() {
    let dir = TempDir::new("gz-resume");
    let path = dir.path("audit.log");
    // A rotated file whose compression a crash interrupted: the `.log` and a partial `.gz`.
    let rotated = dir.path("audit-00000001-20261125T000000Z.log");
    let format = audit_core::EcsFormat::default();
    let lines: String = (0..3).map(|i| format.to_line(&event(format!("old{i}"))) + "\n").collect();
    std::fs::write(&rotated, &lines).unwrap();
    std::fs::write(dir.path("audit-00000001-20261125T000000Z.log.gz"), b"\x1f\x8b unfinished").unwrap();

    // Until it is redone, readers take the `.log` and skip the partial copy.
    assert_eq!(rotated_files(&path).unwrap(), vec![rotated.clone()]);
    assert_eq!(ids(&read_audit_trail(&path).unwrap().events), ["old0", "old1", "old2"]);

    let rotation = Rotation::by_size(1 << 20).compress(true);
    let (writer, guard) = FileWriter::builder(&path).rotation(rotation).build().unwrap();
    AuditLogger::builder().sink(writer).build().log(event("new")).unwrap();
    guard.shutdown().unwrap();

    let compressed = dir.path("audit-00000001-20261125T000000Z.log.gz");
    assert_eq!(rotated_files(&path).unwrap(), vec![compressed]);
    assert!(!rotated.exists());
    let trail = read_audit_trail(&path).unwrap();
    assert!(trail.torn.is_empty());
    assert_eq!(ids(&trail.events), ["old0", "old1", "old2", "new"]);
}

#[test]
fn time_rotation_retention_and_compression() {
    let dir = TempDir::new("retention");
    let path = dir.path("audit.log");
    let rotation = Rotation::every(Duration::from_millis(100)).keep(2).compress(true);
    let (writer, guard) =
        FileWriter::builder(&path).rotation(rotation).flush_interval(Duration::from_millis(5)).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_millis(550) {
        logger.log_with_durability(event(i.to_string()), Durability::Flushed).unwrap();
        i += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    guard.shutdown().unwrap();
    assert!(writer.stats().rotations >= 4, "{:?}", writer.stats());
    let rotated = rotated_files(&path).unwrap();
    assert_eq!(rotated.len(), 2, "only the newest two rotated files are kept: {rotated:?}");
    assert!(rotated.iter().all(|p| p.extension().unwrap() == "gz"));
    let trail = read_audit_trail(&path).unwrap();
    let kept = ids(&trail.events);
    // What is kept is the most recent, contiguous tail of what was logged.
    let first: usize = kept[0].parse().unwrap();
    assert_eq!(kept, (first..i).map(|n| n.to_string()).collect::<Vec<_>>());
    assert!(first > 0, "older files were deleted");
}

#[test]
fn drop_policy_counts_and_then_records_the_loss() {
    let dir = TempDir::new("drop");
    let faults = Faults::default();
    let (writer, guard) = FileWriter::builder(dir.path("audit.log"))
        .storage(FaultyStorage(faults.clone()))
        .queue_capacity(8)
        .when_full(Backpressure::Drop)
        .build()
        .unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    faults.hold();
    // The first event reaches the (held) writer thread; the queue then fills up.
    logger.log(event("first")).unwrap();
    wait_until_taken(&writer);
    let results: Vec<_> = (0..20).map(|i| logger.log(event(format!("e{i}")))).collect();
    let dropped = results.iter().filter(|r| matches!(r, Err(LogError::Unconfirmed(_)))).count();
    assert_eq!(dropped, 12, "8 fit in the queue, the rest are dropped and reported to the caller");
    assert_eq!(writer.stats().dropped, 12);
    faults.release();
    guard.shutdown().unwrap();

    let trail = read_audit_trail(dir.path("audit.log")).unwrap();
    assert_eq!(trail.events.len(), 1 + 8 + 1);
    let report = trail.events.last().unwrap();
    assert_eq!(report["event"]["action"], "audit_events_dropped");
    assert_eq!(report["labels"]["dropped"], "12");
    assert_eq!(report["message"], "12 audit events were lost: the audit queue was full or the audit file was failing");
    // Every line in the file is counted, the writer's own report too.
    let stats = writer.stats();
    assert_eq!((stats.accepted, stats.written, stats.reports), (9, 10, 1), "{stats:?}");
}

#[test]
fn block_policy_waits_for_room_and_loses_nothing() {
    let dir = TempDir::new("block");
    let faults = Faults::default();
    let (writer, guard) = FileWriter::builder(dir.path("audit.log"))
        .storage(FaultyStorage(faults.clone()))
        .queue_capacity(4)
        .build()
        .unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    faults.hold();
    let producer = {
        let logger = logger.clone();
        std::thread::spawn(move || (0..50).for_each(|i| logger.log(event(i.to_string())).unwrap()))
    };
    std::thread::sleep(Duration::from_millis(100));
    assert!(!producer.is_finished(), "the producer blocks while the queue is full");
    faults.release();
    producer.join().unwrap();
    guard.shutdown().unwrap();
    assert_eq!(read_audit_trail(dir.path("audit.log")).unwrap().events.len(), 50);
    assert_eq!(writer.stats().dropped, 0);
}

static RAN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[audited(action = "dashboard_delete", category = "database", resource(type = "dashboard", id = id))]
fn delete_dashboard(id: u32) -> Result<(), ServiceError> {
    RAN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

#[test]
fn fail_closed_backpressure_refuses_the_audited_call() {
    let dir = TempDir::new("fail-closed-queue");
    let faults = Faults::default();
    let (writer, guard) = FileWriter::builder(dir.path("audit.log"))
        .storage(FaultyStorage(faults.clone()))
        .queue_capacity(2)
        .when_full(Backpressure::FailClosed)
        .build()
        .unwrap();
    let ctx = AuditContext::builder().logger(AuditLogger::builder().sink(writer.clone()).build()).build();
    faults.hold();
    ctx.in_scope(|| delete_dashboard(0)).unwrap();
    wait_until_taken(&writer);
    let before = RAN.load(std::sync::atomic::Ordering::SeqCst);
    let results: Vec<_> = (1..=4).map(|id| ctx.in_scope(|| delete_dashboard(id))).collect();
    assert_eq!(results[..2], [Ok(()), Ok(())]);
    assert_eq!(results[2..], [Err(ServiceError::AuditUnavailable), Err(ServiceError::AuditUnavailable)]);
    assert_eq!(RAN.load(std::sync::atomic::Ordering::SeqCst), before + 2, "refused bodies never ran");
    assert_eq!(writer.stats().refused, 2);
    faults.release();
    guard.shutdown().unwrap();
    assert_eq!(read_audit_trail(dir.path("audit.log")).unwrap().events.len(), 3);
}

#[test]
fn a_torn_line_from_a_crash_is_terminated_and_reported() {
    let dir = TempDir::new("torn");
    let path = dir.path("audit.log");
    let complete = audit_core::EcsFormat::default().to_line(&event("before-crash"));
    std::fs::write(&path, format!("{complete}\n{{\"@timestamp\":\"2026-")).unwrap();
    let (writer, guard) = FileWriter::builder(&path).build().unwrap();
    let logger = AuditLogger::builder().sink(Arc::new(writer)).build();
    logger.log(event("after-restart")).unwrap();
    guard.shutdown().unwrap();
    let trail = read_audit_trail(&path).unwrap();
    assert_eq!(ids(&trail.events), ["before-crash", "after-restart"], "the new event is intact");
    assert_eq!(trail.torn.len(), 1);
    assert_eq!(trail.torn[0].line, 2);
    assert_eq!(trail.torn[0].text, "{\"@timestamp\":\"2026-");
}

static ASYNC_RAN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[audited(action = "dashboard_update", category = "database", resource(type = "dashboard", id = id))]
async fn update_async(id: u32) -> Result<(), ServiceError> {
    ASYNC_RAN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

#[test]
fn an_async_durable_write_waits_without_blocking_its_thread() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let dir = TempDir::new("async-durable");
        let faults = Faults::default();
        let (writer, guard) =
            FileWriter::builder(dir.path("audit.log")).storage(FaultyStorage(faults.clone())).build().unwrap();
        let logger = AuditLogger::builder().sink(writer.clone()).durable_intents().build();
        let ctx = AuditContext::builder().logger(logger).build();
        faults.hold();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let before = ASYNC_RAN.load(std::sync::atomic::Ordering::SeqCst);
        runtime.block_on(async {
            let write = tokio::spawn(ctx.scope(update_async(7)));
            // The write's intent cannot reach the (held) disk: it must be waiting, not blocking.
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(!write.is_finished());
            assert_eq!(
                ASYNC_RAN.load(std::sync::atomic::Ordering::SeqCst),
                before,
                "no body before its durable intent"
            );
            faults.release(); // this task ran on the same thread: it was not blocked
            write.await.unwrap().unwrap();
        });
        drop(guard);
        let trail = read_audit_trail(dir.path("audit.log")).unwrap();
        done.send((trail.events.len(), writer.stats().syncs)).unwrap();
    });
    let (events, syncs) = finished.recv_timeout(Duration::from_secs(20)).expect("the executor thread was blocked");
    assert_eq!(events, 1);
    assert!(syncs >= 1);
}
