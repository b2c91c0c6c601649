//! Helpers shared by the writer tests: temporary directories and a storage whose writes can be
//! held (a slow disk) or failed (a full disk), behind the same `Storage` trait as the real one.

#![allow(dead_code)]

pub mod sinks;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use audit_core::writer::testing::{FileIdentity, FsStorage, Storage, StorageFile};
use audit_core::AuditRefused;

/// A fresh directory under the system's temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("audit-{name}-{}-{}", std::process::id(), fastrand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 % 1_000_000_007
}

/// Controls a [`FaultyStorage`]: hold writes (the writer blocks), fail them with ENOSPC, fail the
/// next `fsync` the way Linux does (the unsynced bytes are dropped, the error reported once), or
/// panic in `write` (a broken storage driver).
#[derive(Clone, Default)]
pub struct Faults {
    held: Arc<(Mutex<bool>, Condvar)>,
    full: Arc<AtomicBool>,
    lose_next_sync: Arc<AtomicBool>,
    panic_on_write: Arc<AtomicBool>,
}

impl Faults {
    pub fn hold(&self) {
        *self.held.0.lock().unwrap() = true;
    }

    pub fn release(&self) {
        *self.held.0.lock().unwrap() = false;
        self.held.1.notify_all();
    }

    pub fn set_full(&self, full: bool) {
        self.full.store(full, Ordering::SeqCst);
    }

    /// The next `fsync` fails with EIO after the file lost every byte written since the last
    /// successful one (the kernel dropped the dirty pages); later ones succeed.
    pub fn lose_next_sync(&self) {
        self.lose_next_sync.store(true, Ordering::SeqCst);
    }

    /// Every `write` panics from now on.
    pub fn panic_on_write(&self) {
        self.panic_on_write.store(true, Ordering::SeqCst);
    }

    fn wait_while_held(&self) {
        let mut held = self.held.0.lock().unwrap();
        while *held {
            held = self.held.1.wait(held).unwrap();
        }
    }
}

/// The real file system, with faults injected on demand.
pub struct FaultyStorage(pub Faults);

impl Storage for FaultyStorage {
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let synced_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Ok(Box::new(FaultyFile {
            inner: FsStorage.open_append(path)?,
            faults: self.0.clone(),
            path: path.to_owned(),
            synced_len,
            took_partial: false,
        }))
    }

    fn identity(&self, path: &Path) -> io::Result<Option<FileIdentity>> {
        FsStorage.identity(path)
    }
}

struct FaultyFile {
    inner: Box<dyn StorageFile>,
    faults: Faults,
    path: PathBuf,
    /// The file's length at its last successful `fsync`.
    synced_len: u64,
    /// While the disk is full, the one partial write it took.
    took_partial: bool,
}

impl StorageFile for FaultyFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.faults.wait_while_held();
        if self.faults.panic_on_write.load(Ordering::SeqCst) {
            panic!("injected: the storage panics in write");
        }
        if self.faults.full.load(Ordering::SeqCst) {
            // A full disk takes what fits of a write, then nothing: a few bytes first, so the
            // writer must resume mid-line without tearing or duplicating it.
            if bytes.len() > 7 && !self.took_partial {
                self.took_partial = true;
                return self.inner.write(&bytes[..7]);
            }
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.took_partial = false;
        self.inner.write(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.faults.full.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(28));
        }
        if self.faults.lose_next_sync.swap(false, Ordering::SeqCst) {
            // What Linux does on a failed writeback: the dirty pages are dropped (here: the
            // bytes written since the last good sync vanish) and the error is reported once.
            self.inner.truncate(self.synced_len)?;
            return Err(io::Error::from_raw_os_error(5)); // EIO
        }
        self.inner.sync()?;
        self.synced_len = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(self.synced_len);
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)?;
        self.synced_len = self.synced_len.min(len);
        Ok(())
    }

    fn identity(&self) -> io::Result<FileIdentity> {
        self.inner.identity()
    }
}

/// A service error type that turns a refused audit into an error (`From<AuditRefused>`), as
/// `#[audited]` requires for a refusal to be returned rather than panic.
#[derive(Debug, PartialEq)]
pub enum ServiceError {
    AuditUnavailable,
}

impl From<AuditRefused> for ServiceError {
    fn from(_: AuditRefused) -> Self {
        ServiceError::AuditUnavailable
    }
}

/// Collects what a writer is given (a `tracing` subscriber's output, say).
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The trail's event ids, in order.
pub fn trail_ids(path: &Path) -> Vec<String> {
    let trail = audit_core::trail::read_audit_trail(path).unwrap();
    trail.events.iter().map(|e| e["event"]["id"].as_str().unwrap().to_owned()).collect()
}

/// Asserts two id lists are equal, naming the first difference (not printing thousands of ids).
#[track_caller]
pub fn assert_same_ids(got: &[String], want: &[String]) {
    if let Some(at) = got.iter().zip(want).position(|(g, w)| g != w) {
        panic!("ids differ first at {at} of {}: got {} where the trail has {}", want.len(), got[at], want[at]);
    }
    assert_eq!(got.len(), want.len(), "as many ids as the trail has");
}

/// Builds the writer `builder` describes, logs `events` through a logger on it, and shuts it
/// down: everything written and synced.
pub fn write_events(
    builder: audit_core::writer::FileWriterBuilder,
    events: impl IntoIterator<Item = audit_core::AuditEvent>,
) {
    let (writer, guard) = builder.build().unwrap();
    let logger = audit_core::AuditLogger::builder().sink(writer).build();
    for event in events {
        logger.log(event).unwrap();
    }
    guard.shutdown().unwrap();
}
