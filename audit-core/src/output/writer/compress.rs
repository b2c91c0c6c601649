//! Gzips rotated files on a thread of its own. Compressing a day's audit file takes seconds; on
//! the writer thread that would stop all writing meanwhile, and with `Backpressure::Block` every
//! audited call would wait once the queue filled.
//!
//! A rotated file is readable all along: `audit-…log` stays until its `.gz` is complete and
//! synced, and while both exist readers take the `.log` (see [`super::rolling::rotated_files`]).
//! A compression cut short by a crash is redone when the writer next starts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

/// The compressing thread, started on first use; dropping it finishes the queued files.
#[derive(Default)]
pub(crate) struct Compressor {
    queue: Option<Sender<PathBuf>>,
    thread: Option<JoinHandle<()>>,
}

impl Compressor {
    /// Queues `rotated` for compression (or, if no thread can be started, compresses it here).
    pub(crate) fn compress(&mut self, rotated: PathBuf) {
        if self.queue.is_none() {
            let (sender, receiver) = channel::<PathBuf>();
            let spawned = std::thread::Builder::new().name("audit-file-gzip".to_owned()).spawn(move || {
                for path in receiver {
                    compress_reporting(&path);
                }
            });
            match spawned {
                Ok(thread) => {
                    self.queue = Some(sender);
                    self.thread = Some(thread);
                }
                Err(_) => return compress_reporting(&rotated),
            }
        }
        if let Some(queue) = &self.queue {
            if let Err(unsent) = queue.send(rotated) {
                compress_reporting(&unsent.0);
            }
        }
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn compress_reporting(path: &Path) {
    if let Err(error) = compress_file(path) {
        // The uncompressed file stays in place and readable; nothing is lost.
        crate::output::sink::report_sink_failure(
            &format!("file-writer:{}", path.display()),
            &format_args!("cannot compress the rotated audit file (it is kept uncompressed): {error}"),
        );
    }
}

/// `audit-…log` → `audit-…log.gz`, synced, then the original removed.
#[cfg(feature = "compression")]
fn compress_file(path: &Path) -> io::Result<()> {
    let target = gz_path(path);
    // A `.gz` next to its `.log` is an unfinished one (the `.log` goes only once the `.gz` is
    // whole): start over.
    remove_if_present(&target)?;
    // Never through a link planted under a rotated file's name.
    let mut input = match crate::output::storage::open_read_hardened(path) {
        Ok(input) => input,
        // Retention deleted it before its turn came.
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let output = create_new_private(&target)?;
    let mut encoder = flate2::write::GzEncoder::new(output, flate2::Compression::default());
    io::copy(&mut input, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    match fs::remove_file(path) {
        Ok(()) => {}
        // Retention deleted the original meanwhile: the copy goes too.
        Err(error) if error.kind() == io::ErrorKind::NotFound => remove_if_present(&target)?,
        Err(error) => return Err(error),
    }
    crate::output::storage::sync_dir(crate::output::storage::parent_dir(path))
}

#[cfg(not(feature = "compression"))]
fn compress_file(_: &Path) -> io::Result<()> {
    unreachable!("Files::open rejects compression without the feature")
}

/// `path` with `.gz` appended.
pub(crate) fn gz_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(feature = "compression")]
fn create_new_private(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}
