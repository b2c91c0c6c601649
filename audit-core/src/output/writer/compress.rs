//! Gzips rotated files on a thread of its own. Compressing a day's audit file takes seconds; on
//! the writer thread that would stop all writing meanwhile, and with `Backpressure::Block` every
//! audited call would wait once the queue filled.
//!
//! A rotated file is readable all along: `audit-…log` stays until its `.gz` is complete and
//! synced, and while both exist readers take the `.log` (see [`rotated_files`](crate::trail::names::rotated_files)).
//! A compression cut short by a crash is redone when the writer next starts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

use crate::trail::names::gz_path;

/// What is done with a rotated file once it is stored for good (its seal is written), given
/// the path it is stored under.
pub(crate) type Then = Box<dyn FnOnce(&Path) + Send>;

/// One rotated file to finish: compress it (or not), then run `then` on its stored path.
struct Job {
    path: PathBuf,
    compress: bool,
    then: Option<Then>,
}

impl Job {
    fn run(self) {
        let stored = if self.compress { compress_reporting(&self.path) } else { self.path };
        if let Some(then) = self.then {
            then(&stored);
        }
    }
}

/// The thread that finishes rotated files in the order they were rotated (compression, seals),
/// started on first use; dropping it finishes the queued files.
#[derive(Default)]
pub(crate) struct Compressor {
    queue: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Compressor {
    /// Queues `rotated` for compression (or, if no thread can be started, compresses it here).
    pub(crate) fn compress(&mut self, rotated: PathBuf) {
        self.finish(rotated, true, None);
    }

    /// Queues `rotated`: compressed if `compress`, then `then` (or, if no thread can be started,
    /// does it here).
    pub(crate) fn finish(&mut self, rotated: PathBuf, compress: bool, then: Option<Then>) {
        let job = Job { path: rotated, compress, then };
        if self.queue.is_none() {
            let (sender, receiver) = channel::<Job>();
            let spawned = std::thread::Builder::new().name("audit-file-gzip".to_owned()).spawn(move || {
                for job in receiver {
                    job.run();
                }
            });
            match spawned {
                Ok(thread) => {
                    self.queue = Some(sender);
                    self.thread = Some(thread);
                }
                Err(_) => return job.run(),
            }
        }
        if let Some(queue) = &self.queue {
            if let Err(unsent) = queue.send(job) {
                unsent.0.run();
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

/// Compresses `path`; the path the file is stored under now (the `.gz`, or the file itself if
/// it could not be compressed, or retention removed it).
fn compress_reporting(path: &Path) -> PathBuf {
    match compress_file(path) {
        Ok(()) if gz_path(path).exists() => gz_path(path),
        Ok(()) => path.to_path_buf(),
        Err(error) => {
            // The uncompressed file stays in place and readable; nothing is lost.
            crate::output::sink::report_sink_failure(
                &format!("file-writer:{}", path.display()),
                &format_args!("cannot compress the rotated audit file (it is kept uncompressed): {error}"),
            );
            path.to_path_buf()
        }
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
    let mut input = match crate::trail::storage::open_read_hardened(path) {
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
    crate::trail::storage::sync_dir(crate::trail::storage::parent_dir(path))
}

#[cfg(not(feature = "compression"))]
fn compress_file(_: &Path) -> io::Result<()> {
    unreachable!("Files::open rejects compression without the feature")
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
