//! A full disk under both failure policies. The test mounts a 256 KiB tmpfs and fills it when it
//! may (root, as in CI); otherwise it injects ENOSPC through a storage behind the same trait.
//!
//! - fail-closed: audited calls are refused (their bodies do not run) until space is back, then
//!   accepted again without intervention;
//! - fail-open: the service keeps serving, the failures are counted, and every event is written
//!   once space is back.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use audit_core::sink::FailurePolicy;
use audit_core::trail::read_audit_trail;
use audit_core::writer::FileWriterBuilder;
use audit_core::{audited, AuditContext, AuditLogger, FileWriter, User};
use common::{Faults, FaultyStorage, ServiceError, TempDir};

/// A disk that can be filled and freed.
enum Disk {
    /// A real tmpfs, filled with a filler file.
    Tmpfs { mount: PathBuf, filler: PathBuf },
    /// The real file system behind a storage that fails with ENOSPC on demand.
    Injected { dir: TempDir, faults: Faults },
}

impl Disk {
    fn new(name: &str) -> Disk {
        let mount = std::env::temp_dir().join(format!("audit-tinyfs-{name}-{}", std::process::id()));
        fs::create_dir_all(&mount).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(&mount)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            eprintln!("full-disk test on a real 256 KiB tmpfs at {}", mount.display());
            Disk::Tmpfs { filler: mount.join("filler"), mount }
        } else {
            let _ = fs::remove_dir(&mount);
            eprintln!("cannot mount a tmpfs here: injecting ENOSPC through the Storage trait");
            Disk::Injected { dir: TempDir::new(name), faults: Faults::default() }
        }
    }

    fn audit_path(&self) -> PathBuf {
        match self {
            Disk::Tmpfs { mount, .. } => mount.join("audit.log"),
            Disk::Injected { dir, .. } => dir.path("audit.log"),
        }
    }

    fn writer(&self) -> FileWriterBuilder {
        let builder = FileWriter::builder(self.audit_path()).max_retry_interval(Duration::from_millis(20));
        match self {
            Disk::Tmpfs { .. } => builder,
            Disk::Injected { faults, .. } => builder.storage(FaultyStorage(faults.clone())),
        }
    }

    fn fill(&self) {
        match self {
            Disk::Tmpfs { filler, .. } => {
                let mut file = fs::File::create(filler).unwrap();
                let chunk = vec![b'x'; 4096];
                while file.write_all(&chunk).is_ok() {}
                let _ = file.write_all(b"x"); // down to the last byte
            }
            Disk::Injected { faults, .. } => faults.set_full(true),
        }
    }

    fn free(&self) {
        match self {
            Disk::Tmpfs { filler, .. } => fs::remove_file(filler).unwrap(),
            Disk::Injected { faults, .. } => faults.set_full(false),
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if let Disk::Tmpfs { mount, .. } = self {
            let _ = Command::new("umount").arg(&*mount).status();
            let _ = fs::remove_dir(&*mount);
        }
    }
}

static WRITES_RUN: AtomicUsize = AtomicUsize::new(0);
static READS_RUN: AtomicUsize = AtomicUsize::new(0);
static OPEN_WRITES_RUN: AtomicUsize = AtomicUsize::new(0);

#[audited(action = "dashboard_update", category = "database", resource(type = "dashboard", id = id))]
fn update(id: u32) -> Result<(), ServiceError> {
    WRITES_RUN.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[audited(action = "dashboard_update", category = "database", resource(type = "dashboard", id = id))]
fn update_open(id: u32) -> Result<(), ServiceError> {
    OPEN_WRITES_RUN.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[audited(action = "dashboard_get", category = "database", resource(type = "dashboard", id = id))]
fn get(id: u32) -> Result<u32, ServiceError> {
    READS_RUN.fetch_add(1, Ordering::SeqCst);
    Ok(id)
}

fn context(writer: &FileWriter) -> AuditContext {
    // Intents are durable: the write's event must be on disk before its body runs.
    let logger = AuditLogger::builder().sink(writer.clone()).durable_intents().build();
    AuditContext::builder().user(User::named("alice")).logger(logger).build()
}

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ids(path: &Path) -> Vec<String> {
    let trail = read_audit_trail(path).unwrap();
    assert!(trail.torn.is_empty(), "no torn line after recovery: {:?}", trail.torn);
    trail.events.iter().map(|e| e["kibana"]["saved_object"]["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn fail_closed_refuses_calls_until_space_is_back() {
    let disk = Disk::new("closed");
    let (writer, guard) = disk.writer().on_io_error(FailurePolicy::FailClosed).build().unwrap();
    let ctx = context(&writer);
    ctx.in_scope(|| update(1)).unwrap();

    disk.fill();
    // A file system allocates whole blocks: what is left of the audit file's last block still
    // takes a few events. Write until the disk really refuses.
    let mut accepted = vec!["1".to_owned()];
    let refused_id = (2..100)
        .find(|&id| match ctx.in_scope(|| update(id)) {
            Ok(()) => {
                accepted.push(id.to_string());
                false
            }
            Err(error) => {
                assert_eq!(error, ServiceError::AuditUnavailable);
                true
            }
        })
        .expect("a full disk refuses calls");
    assert!(writer.is_failing());
    let (writes, reads) = (WRITES_RUN.load(Ordering::SeqCst), READS_RUN.load(Ordering::SeqCst));
    assert_eq!(ctx.in_scope(|| update(100)), Err(ServiceError::AuditUnavailable));
    assert_eq!(ctx.in_scope(|| get(101)), Err(ServiceError::AuditUnavailable), "reads are refused before they run");
    assert_eq!(WRITES_RUN.load(Ordering::SeqCst), writes, "no refused write ran");
    assert_eq!(READS_RUN.load(Ordering::SeqCst), reads, "no refused read ran");

    disk.free();
    wait_until("the writer recovers by itself", || !writer.is_failing());
    ctx.in_scope(|| update(102)).unwrap();
    assert_eq!(ctx.in_scope(|| get(103)), Ok(103));
    guard.shutdown().unwrap();

    // The intent of the first refused call reached the writer before the disk failed it: it is
    // kept, with its honest outcome `unknown`. Later calls were refused before anything was queued.
    accepted.extend([refused_id.to_string(), "102".to_owned(), "103".to_owned()]);
    assert_eq!(ids(&disk.audit_path()), accepted);
    // The writer refused the first failed intent and update(100); get(101) was refused by the
    // logger's admission check before it reached the writer.
    assert_eq!(writer.stats().refused, 2);
}

#[test]
fn fail_open_keeps_serving_and_writes_everything_once_space_is_back() {
    let disk = Disk::new("open");
    let (writer, guard) = disk.writer().on_io_error(FailurePolicy::FailOpen).build().unwrap();
    let ctx = context(&writer);
    ctx.in_scope(|| update_open(0)).unwrap();

    disk.fill();
    let writes = OPEN_WRITES_RUN.load(Ordering::SeqCst);
    for id in 1..=40 {
        assert_eq!(ctx.in_scope(|| update_open(id)), Ok(()), "the service keeps serving");
    }
    assert_eq!(OPEN_WRITES_RUN.load(Ordering::SeqCst), writes + 40);
    assert!(writer.stats().io_errors > 0, "{:?}", writer.stats());
    let logger = ctx.logger().unwrap().clone();
    assert!(logger.stats().unconfirmed > 0, "callers were told their events were not confirmed");

    disk.free();
    wait_until("the writer recovers by itself", || !writer.is_failing());
    writer.flush().unwrap();
    guard.shutdown().unwrap();
    let expected: Vec<String> = (0..=40).map(|i| i.to_string()).collect();
    assert_eq!(ids(&disk.audit_path()), expected, "every event, once, in order");
    assert_eq!(writer.stats().dropped, 0);
}
