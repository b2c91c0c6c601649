//! Faults an operator or a broken disk can cause, where an event the writer confirmed could go
//! missing: the active file deleted or renamed behind the writer's back, a second writer on the
//! same path, a failed `fsync` whose data the kernel dropped, a storage that panics or never
//! returns, a partial write under the synchronous sink, and reading a trail while it rotates.

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use audit_core::sink::{FailurePolicy, SyncFileSink};
use audit_core::trail::read_audit_trail;
use audit_core::writer::Rotation;
use audit_core::{kibana, AuditEvent, AuditLogger, Durability, FileWriter, Outcome, Resource};
use common::{Faults, FaultyStorage, TempDir};

fn event(id: impl Into<String>) -> AuditEvent {
    AuditEvent::new(&kibana::SAVED_OBJECT_GET)
        .with_outcome(Outcome::Success)
        .with_resource(Resource::new("dashboard", id))
}

fn ids_in(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|e| e["kibana"]["saved_object"]["id"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn strings(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| i.to_string()).collect()
}

/// Runs `f` on a thread and fails the test if it does not finish within `limit`.
fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result.recv_timeout(limit).unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}

#[test]
fn the_active_file_deleted_by_someone_else_is_reopened_and_nothing_confirmed_is_lost() {
    let dir = TempDir::new("deleted");
    let path = dir.path("audit.log");
    let (writer, guard) = FileWriter::builder(&path).durability(Durability::Durable).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    logger.log(event("0")).unwrap();
    // An operator's `rm`: what was on disk before is gone with it; what comes after must not be.
    std::fs::remove_file(&path).unwrap();
    for i in 1..6 {
        logger.log(event(i.to_string())).unwrap();
    }
    assert_eq!(ids_in(&path), strings(1..6), "events confirmed durable after the rm are at the path");
    guard.shutdown().unwrap();
    assert_eq!(ids_in(&path), strings(1..6));
}

#[test]
fn the_active_file_renamed_by_logrotate_is_followed_by_a_new_one_and_nothing_is_lost_or_doubled() {
    let dir = TempDir::new("renamed");
    let path = dir.path("audit.log");
    let moved = dir.path("audit.log.1");
    let (writer, guard) = FileWriter::builder(&path).durability(Durability::Flushed).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    for i in 0..3 {
        logger.log(event(i.to_string())).unwrap();
    }
    // logrotate without `copytruncate`: rename, then (with `create`) a new empty file.
    std::fs::rename(&path, &moved).unwrap();
    std::fs::write(&path, b"").unwrap();
    for i in 3..8 {
        logger.log(event(i.to_string())).unwrap();
    }
    guard.shutdown().unwrap();
    let before = ids_in(&moved);
    let after = ids_in(&path);
    assert!(after.contains(&"7".to_owned()), "new events go to the new file: {after:?}");
    let mut all = before.clone();
    all.extend(after.clone());
    assert_eq!(all, strings(0..8), "each event once, in order, across the two files: {before:?} then {after:?}");
}

#[test]
fn a_second_writer_on_the_same_path_is_refused() {
    let dir = TempDir::new("two-writers");
    let path = dir.path("audit.log");
    let (_writer, _guard) = FileWriter::builder(&path).build().unwrap();
    let error = FileWriter::builder(&path).build().expect_err("a second writer on one path is refused");
    assert!(error.to_string().contains("another audit writer"), "{error}");
    // Once the first is gone, the path is free again.
    drop(_guard);
    let (_writer, _guard) = FileWriter::builder(&path).build().unwrap();
}

#[test]
fn a_failed_fsync_is_never_covered_by_a_later_success() {
    let dir = TempDir::new("fsyncgate");
    let path = dir.path("audit.log");
    let faults = Faults::default();
    let (writer, guard) = FileWriter::builder(&path)
        .storage(FaultyStorage(faults.clone()))
        .flush_interval(Duration::from_secs(3600))
        .max_retry_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    logger.log_with_durability(event("0"), Durability::Durable).unwrap();
    // Handed to the OS, then the kernel drops it with a failed writeback.
    logger.log_with_durability(event("1"), Durability::Flushed).unwrap();
    faults.lose_next_sync();
    let _ = logger.log_with_durability(event("2"), Durability::Durable);
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.is_failing() {
        assert!(Instant::now() < deadline, "the writer never recovered");
        std::thread::sleep(Duration::from_millis(5));
    }
    logger.log_with_durability(event("3"), Durability::Durable).unwrap();
    writer.flush().unwrap();
    assert_eq!(ids_in(&path), strings(0..4), "what a later fsync confirmed is on disk, once");
    guard.shutdown().unwrap();
    assert_eq!(ids_in(&path), strings(0..4));
}

#[test]
fn a_storage_that_panics_fails_waiting_callers_instead_of_hanging_them() {
    let dir = TempDir::new("panicking");
    let faults = Faults::default();
    let (writer, guard) =
        FileWriter::builder(dir.path("audit.log")).storage(FaultyStorage(faults.clone())).build().unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    logger.log_with_durability(event("0"), Durability::Flushed).unwrap();
    faults.panic_on_write();
    let result = within(Duration::from_secs(10), "a flushed log call", {
        let logger = logger.clone();
        move || logger.log_with_durability(event("1"), Durability::Flushed).map_err(|e| e.to_string())
    });
    let error = result.expect_err("the event was not written");
    assert!(error.contains("panicked"), "{error}");
    // Later calls fail at once, and the guard reports the panic.
    assert!(logger.log(event("2")).is_err());
    let stopped = within(Duration::from_secs(10), "dropping the guard", move || guard.shutdown());
    assert!(stopped.is_err());
}

#[test]
fn a_write_that_never_returns_cannot_hang_callers_or_shutdown() {
    let dir = TempDir::new("hung");
    let faults = Faults::default();
    let (writer, guard) = FileWriter::builder(dir.path("audit.log"))
        .storage(FaultyStorage(faults.clone()))
        .on_io_error(FailurePolicy::FailClosed)
        .max_wait(Duration::from_millis(300))
        .shutdown_grace(Duration::from_millis(300))
        .build()
        .unwrap();
    let logger = AuditLogger::builder().sink(writer.clone()).build();
    faults.hold(); // a hung network mount: `write` does not come back
    let started = Instant::now();
    let result = within(Duration::from_secs(10), "a flushed log call", {
        let logger = logger.clone();
        move || logger.log_with_durability(event("0"), Durability::Flushed).map_err(|e| e.is_refusal())
    });
    assert_eq!(result, Err(true), "refused (fail closed) once the wait is over");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let stopped = within(Duration::from_secs(10), "dropping the guard", move || guard.shutdown());
    let error = stopped.expect_err("the writer could not stop cleanly");
    assert!(error.to_string().contains("did not stop"), "{error}");
    faults.release();
}

#[test]
fn the_synchronous_file_sink_never_glues_an_event_onto_a_failed_fragment() {
    let dir = TempDir::new("sync-partial");
    let path = dir.path("audit.log");
    let faults = Faults::default();
    let sink = SyncFileSink::open_with(&path, &FaultyStorage(faults.clone())).unwrap();
    let logger = AuditLogger::builder().sink(sink).build();
    logger.log(event("0")).unwrap();
    faults.set_full(true); // the next write takes 7 bytes, then fails
    assert!(logger.log(event("1")).is_err());
    faults.set_full(false);
    logger.log(event("2")).unwrap();
    let trail = read_audit_trail(&path).unwrap();
    let ids: Vec<&str> = trail.events.iter().map(|e| e["kibana"]["saved_object"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["0", "2"], "the event after the failure is whole");
    assert_eq!(trail.torn.len(), 1, "the fragment is reported as a torn line: {:?}", trail.torn);
}

#[test]
fn a_trail_read_while_it_rotates_is_always_whole() {
    let dir = TempDir::new("live-read");
    let path = dir.path("audit.log");
    let (writer, guard) = FileWriter::builder(&path)
        .rotation(Rotation::by_size(2048).compress(true))
        .durability(Durability::Flushed)
        .build()
        .unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    let (stop, stopped) = mpsc::channel::<()>();
    let reader = std::thread::spawn({
        let path = path.clone();
        move || {
            let mut reads = 0;
            let mut last = 0;
            while stopped.try_recv().is_err() {
                let trail = read_audit_trail(&path).expect("a live trail reads without error");
                let ids: Vec<u64> = trail
                    .events
                    .iter()
                    .map(|e| e["kibana"]["saved_object"]["id"].as_str().unwrap().parse().unwrap())
                    .collect();
                assert_eq!(ids, (0..ids.len() as u64).collect::<Vec<_>>(), "every event once, in order");
                assert!(ids.len() >= last, "a later read never has fewer events ({} < {last})", ids.len());
                last = ids.len();
                reads += 1;
            }
            reads
        }
    });
    for i in 0..3000 {
        logger.log(event(i.to_string())).unwrap();
    }
    stop.send(()).unwrap();
    let reads = reader.join().expect("the reader saw a whole trail every time");
    assert!(reads > 5, "the reader ran while the writer rotated ({reads} reads)");
    guard.shutdown().unwrap();
    assert_eq!(read_audit_trail(&path).unwrap().events.len(), 3000);
}

#[cfg(unix)]
#[test]
fn audit_files_are_never_opened_through_a_planted_link_and_are_kept_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("hardening");
    let target = dir.path("elsewhere.txt");
    std::fs::write(&target, "not an audit file\n").unwrap();
    let path = dir.path("audit.log");
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let error = FileWriter::builder(&path).build().expect_err("a link at the path is refused");
    assert!(error.to_string().contains("symbolic link"), "{error}");
    let error = SyncFileSink::open(&path).expect_err("a link at the path is refused");
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not an audit file\n", "the link's target is untouched");

    // An existing trail with a loose mode is tightened to owner-only.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_writer, _guard) = FileWriter::builder(&path).build().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_rotated_name_someone_took_is_skipped_not_overwritten() {
    let dir = TempDir::new("taken-name");
    let path = dir.path("audit.log");
    let (writer, guard) =
        FileWriter::builder(&path).rotation(Rotation::by_size(600)).durability(Durability::Flushed).build().unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    // Plant files under every name the next rotations could take within the next seconds.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut planted = Vec::new();
    for index in 1..4u64 {
        for second in now..now + 5 {
            let stamp = compact_utc(second);
            let name = dir.path(&format!("audit-{index:08}-{stamp}.log"));
            std::fs::write(&name, format!("planted {index}\n")).unwrap();
            planted.push(name);
        }
    }
    for i in 0..12 {
        logger.log(event(i.to_string())).unwrap();
    }
    guard.shutdown().unwrap();
    for name in &planted {
        assert!(std::fs::read_to_string(name).unwrap().starts_with("planted"), "{} was replaced", name.display());
    }
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time (the stamp of rotated file names).
fn compact_utc(secs: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(time).to_string().replace(['-', ':'], "")
}

#[test]
fn the_writers_lock_file_is_private_and_never_opened_through_a_planted_link() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("lock-hardening");
    let path = dir.path("audit.log");
    {
        let (_writer, _guard) = FileWriter::builder(&path).build().unwrap();
        let lock = dir.path(".audit.log.lock");
        assert_eq!(std::fs::metadata(&lock).unwrap().permissions().mode() & 0o777, 0o600, "the lock is owner-only");
    }
    let other = TempDir::new("lock-hardening-link");
    let path = other.path("audit.log");
    let target = other.path("victim.txt");
    std::fs::write(&target, "someone else's file\n").unwrap();
    std::os::unix::fs::symlink(&target, other.path(".audit.log.lock")).unwrap();
    let error = FileWriter::builder(&path).build().expect_err("a link at the lock's path is refused");
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "someone else's file\n");
}

#[test]
fn a_path_that_names_no_file_is_refused_before_anything_is_created() {
    let stray = std::env::current_dir().unwrap().join("..lock");
    let existed = stray.exists();
    let error = FileWriter::builder("").build().expect_err("an empty path is refused");
    assert!(error.to_string().contains("path"), "{error}");
    let created = !existed && stray.exists();
    if created {
        let _ = std::fs::remove_file(&stray);
    }
    assert!(!created, "a stray lock file was left at {}", stray.display());
}

#[test]
fn a_fifo_at_the_path_is_refused_rather_than_waited_on() {
    let dir = TempDir::new("fifo");
    let path = dir.path("audit.log");
    let status = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo");
    assert!(status.success());
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let built = FileWriter::builder(&path).build().map(drop).map_err(|e| e.to_string());
        let _ = done.send(built);
    });
    let built = result.recv_timeout(Duration::from_secs(10)).expect("build() returned instead of blocking");
    let error = built.expect_err("a FIFO is not an audit file");
    assert!(error.contains("not a regular file"), "{error}");
}

#[test]
fn a_file_truncated_mid_line_by_someone_else_gets_no_event_glued_onto_the_fragment() {
    let dir = TempDir::new("truncated");
    let path = dir.path("audit.log");
    let (writer, guard) = FileWriter::builder(&path).durability(Durability::Flushed).build().unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    for i in 0..3 {
        logger.log(event(format!("before-{i}"))).unwrap();
    }
    // Someone cuts the file in the middle of its last line.
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 40).unwrap();
    for i in 0..3 {
        logger.log(event(format!("after-{i}"))).unwrap();
    }
    guard.shutdown().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let whole: Vec<&str> =
        text.lines().filter(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()).collect();
    assert_eq!(whole.len(), 2 + 3, "two whole lines before, three after; the fragment alone on its line:\n{text}");
    assert_eq!(ids_in(&path)[2..], ["after-0", "after-1", "after-2"]);
}
