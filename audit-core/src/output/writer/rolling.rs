//! Rolling files: the active file, when it rotates, what rotated files are named, how many are
//! kept, and their compression.
//!
//! The active file keeps its configured name (`audit.log`). A rotated file is named
//! `audit-<index>-<UTC time>.log` (`audit-00000042-20261125T020700Z.log`, `.gz` when compressed),
//! with an index that only grows, so names sort in the order the files were written, whatever
//! the clock does. A reader reads the rotated files in name order, then the active file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::compress::{remove_if_present, Compressor};
use crate::trail::chain::{file_stats, FileStats};
use crate::trail::names::{gz_path, index_of, is_gz, rotated_files, rotated_name, seal_path, writer_lock_path};
use crate::trail::storage::try_lock_private;
use crate::trail::storage::{parent_dir, rename_no_replace, sync_dir, FileIdentity, Storage, StorageFile};

/// When the active file is rotated and what is kept.
///
/// ```
/// use std::time::Duration;
/// use audit_core::writer::Rotation;
///
/// // Like Kibana's rolling-file appender: a new file daily or at 100 MB, 10 kept.
/// let rotation = Rotation::daily().max_bytes(100 * 1024 * 1024).keep(10);
/// # let _ = rotation;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub(crate) max_bytes: Option<u64>,
    pub(crate) every: Option<Duration>,
    pub(crate) keep: Option<usize>,
    pub(crate) compress: bool,
}

impl Rotation {
    /// Rotates when the active file would grow past `bytes` (an event is never split: a file ends
    /// on a whole line, and an event larger than the limit gets a file of its own).
    pub fn by_size(bytes: u64) -> Rotation {
        Rotation::default().max_bytes(bytes)
    }

    /// Rotates at every multiple of `interval` since the Unix epoch (UTC), like Kibana's
    /// `time-interval` policy with `modulate: true`.
    pub fn every(interval: Duration) -> Rotation {
        Rotation { every: Some(interval), ..Rotation::default() }
    }

    /// Rotates at midnight UTC.
    pub fn daily() -> Rotation {
        Rotation::every(Duration::from_secs(24 * 60 * 60))
    }

    /// Also rotates by size.
    pub fn max_bytes(mut self, bytes: u64) -> Rotation {
        self.max_bytes = Some(bytes.max(1));
        self
    }

    /// Keeps at most `count` rotated files, deleting the oldest (default: keep all).
    pub fn keep(mut self, count: usize) -> Rotation {
        self.keep = Some(count);
        self
    }

    /// Gzips rotated files, on a thread of their own so that writing goes on meanwhile. A
    /// rotated file stays readable as `.log` until its `.gz` is complete and synced; a
    /// compression cut short by a crash is redone at the next start. Only with the
    /// `compression` feature: without it, asking for compression does not compile.
    #[cfg(feature = "compression")]
    pub fn compress(mut self, compress: bool) -> Rotation {
        self.compress = compress;
        self
    }
}

/// The most bytes kept in memory while they wait for a trustworthy `fsync` (see
/// [`Files::retained`]); past it, writes wait for the sync to succeed.
const MAX_RETAINED: usize = 64 << 20;

/// Called once a rotated file is stored for good (after its compression), with its stored path
/// and what it holds: writes its seal.
pub(crate) type OnStored = Arc<dyn Fn(&Path, FileStats) + Send + Sync>;

/// The active file and its rotation.
///
/// Nothing the writer confirmed may be lost behind its back, so the bytes written since the
/// last *checkpoint* (an `fsync` that succeeded, with the path still naming the open file) are
/// kept in memory:
///
/// - **A failed `fsync`** (Linux reports a failed writeback once, drops the dirty pages, and a
///   later `fsync` may succeed as if nothing were lost: PostgreSQL's "fsyncgate"): the file is
///   *suspect*. No later success is trusted for it until the file is cut back to its last
///   checkpoint and the kept bytes are written again; only then is it synced and checkpointed.
/// - **The file deleted or renamed by someone else** (an operator's `rm`, logrotate without
///   `copytruncate`), noticed after every write and sync by comparing the open file with what
///   the path names: the path is opened anew. A deleted file's kept bytes are written again
///   into the new one; a renamed file keeps its bytes (it is synced before it is let go).
pub(crate) struct Files {
    storage: Arc<dyn Storage>,
    path: PathBuf,
    rotation: Option<Rotation>,
    file: Option<Box<dyn StorageFile>>,
    /// Which file is open, to notice a rename or deletion by someone else.
    identity: Option<FileIdentity>,
    len: u64,
    /// The active file's length at the last checkpoint.
    checkpoint_len: u64,
    /// The bytes written to the active file since the last checkpoint.
    retained: Vec<u8>,
    /// An `fsync` failed since the last checkpoint: the file must be cut back and rewritten.
    suspect: bool,
    /// Keeps other writers off this path while this one lives.
    _lock: fs::File,
    /// The active file ended with a torn line when opened.
    started_torn: bool,
    /// The active file's lines so far, and who is told of a rotated file once stored.
    stats: FileStats,
    on_stored: Option<OnStored>,
    /// The active file does not end with a newline (a torn line left by a crash): terminate it
    /// before appending, so the next event does not glue onto the fragment.
    needs_newline: bool,
    period_end: Option<SystemTime>,
    next_index: u64,
    pub(crate) rotations: u64,
    /// Gzips rotated files in the background.
    compressor: Compressor,
}

impl Files {
    pub(crate) fn open(storage: Arc<dyn Storage>, path: PathBuf, rotation: Option<Rotation>) -> io::Result<Files> {
        if rotation.as_ref().is_some_and(|r| r.compress) && !cfg!(feature = "compression") {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "compressing rotated audit files needs audit-core's `compression` feature",
            ));
        }
        if is_gz(&path) && !rotation.as_ref().is_some_and(|r| r.compress) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: an active file named `.gz` would be plain text under a compressed name (and so \
                     would its rotated files); name it `.log`, or turn compression on",
                    path.display()
                ),
            ));
        }
        if path.file_name().is_none_or(|name| name.is_empty()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the audit file's path `{}` names no file", path.display()),
            ));
        }
        if let Ok(meta) = fs::symlink_metadata(&path) {
            if meta.file_type().is_symlink() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is a symbolic link: audit files are not opened through links", path.display()),
                ));
            }
            if !meta.is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is not a regular file", path.display()),
                ));
            }
        }
        let lock = lock_path(&path)?;
        let (len, needs_newline, modified) = match fs::metadata(&path) {
            Ok(meta) if meta.len() > 0 => (meta.len(), last_byte(&path)? != Some(b'\n'), meta.modified().ok()),
            _ => (0, false, None),
        };
        let next_index = rotated_files(&path)?.iter().filter_map(|p| index_of(&path, p)).max().map_or(1, |i| i + 1);
        let period_end = rotation
            .as_ref()
            .and_then(|r| r.every)
            .map(|every| period_end(modified.unwrap_or_else(SystemTime::now), every));
        let mut files = Files {
            storage,
            path,
            rotation,
            file: None,
            identity: None,
            len,
            checkpoint_len: len,
            retained: Vec::new(),
            suspect: false,
            _lock: lock,
            started_torn: needs_newline,
            stats: FileStats::default(),
            on_stored: None,
            needs_newline,
            period_end,
            next_index,
            rotations: 0,
            compressor: Compressor::default(),
        };
        files.ensure_open()?;
        if files.compresses() {
            // Rotated files left uncompressed by a crash or a failed compression.
            for rotated in rotated_files(&files.path)? {
                if !is_gz(&rotated) {
                    files.compressor.compress(rotated);
                }
            }
        }
        Ok(files)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Seals rotated files through `on_stored`, counting the lines the active file holds already.
    #[cfg_attr(not(feature = "signing"), allow(dead_code))]
    pub(crate) fn seal_with(&mut self, on_stored: OnStored) -> io::Result<()> {
        self.stats = file_stats(&self.path)?;
        self.on_stored = Some(on_stored);
        Ok(())
    }

    /// Counts a line written to the active file.
    pub(crate) fn note_line(&mut self, link: Option<crate::trail::chain::Link>) {
        self.stats.note(link);
    }

    /// Whether the active file ended with a torn line when it was opened (now terminated).
    pub(crate) fn starts_after_torn_line(&self) -> bool {
        self.started_torn
    }

    fn compresses(&self) -> bool {
        self.rotation.as_ref().is_some_and(|r| r.compress)
    }

    fn ensure_open(&mut self) -> io::Result<&mut Box<dyn StorageFile>> {
        if self.file.is_none() {
            let file = self.storage.open_append(&self.path)?;
            self.identity = Some(file.identity()?);
            self.file = Some(file);
        }
        let file = self.file.as_mut().expect("opened above");
        if self.needs_newline {
            if file.write(b"\n")? == 1 {
                self.needs_newline = false;
                self.len += 1;
                self.retained.push(b'\n');
            } else {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "could not terminate a torn line"));
            }
        }
        Ok(file)
    }

    /// Writes all of `bytes` to the open file.
    fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let written = self.ensure_open()?.write(bytes)?;
            if written == 0 {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "the audit file accepted no bytes"));
            }
            self.len += written as u64;
            bytes = &bytes[written..];
        }
        Ok(())
    }

    /// Makes sure the open file is still the one the path names (see [`Files`]); if someone
    /// else renamed or deleted it, opens the path anew, rewriting what a deleted file took since
    /// the last checkpoint. Whether it opened the path anew.
    fn follow_path(&mut self) -> io::Result<bool> {
        let Some(open) = self.identity else { return Ok(false) };
        let named = self.storage.identity(&self.path)?;
        if named.is_some_and(|named| named.same_file(&open)) {
            return Ok(false);
        }
        let now = self.file.as_ref().map(|file| file.identity()).transpose()?;
        let deleted = now.is_none_or(|now| now.links == 0);
        let mut rewrite = deleted;
        if !deleted {
            // Renamed: its bytes stay under the new name once they are on disk.
            if let Some(file) = &mut self.file {
                rewrite = file.sync().is_err() || self.suspect;
            }
        }
        crate::output::sink::report_sink_failure(
            &format!("file-writer:{}", self.path.display()),
            &format_args!(
                "the active audit file was {} by someone else; writing to a new file at the path{}",
                if deleted { "deleted" } else { "renamed" },
                if rewrite {
                    format!(" and rewriting the {} bytes written since the last sync", self.retained.len())
                } else {
                    String::new()
                },
            ),
        );
        self.file = None;
        self.identity = None;
        self.len = fs::metadata(&self.path).map_or(0, |m| m.len());
        self.needs_newline = self.len > 0 && last_byte(&self.path)? != Some(b'\n');
        self.checkpoint_len = self.len;
        self.suspect = false;
        let kept = std::mem::take(&mut self.retained);
        if rewrite {
            self.write_all(&kept)?;
            self.retained = kept;
        }
        Ok(true)
    }

    /// Bytes the active file may still take before a size rotation; `None` without a size limit.
    pub(crate) fn room(&self) -> Option<u64> {
        self.rotation.as_ref().and_then(|r| r.max_bytes).map(|max| max.saturating_sub(self.len))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn rotation_due(&self, now: SystemTime) -> bool {
        self.period_end.is_some_and(|end| now >= end)
    }

    /// One `write` call to the active file (then the check that the path still names it).
    pub(crate) fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.suspect && self.retained.len() > MAX_RETAINED {
            return Err(io::Error::other(format!(
                "{} bytes wait for an fsync of {} to succeed",
                self.retained.len(),
                self.path.display()
            )));
        }
        self.terminate_if_cut()?;
        let written = self.ensure_open()?.write(bytes)?;
        self.len += written as u64;
        self.retained.extend_from_slice(&bytes[..written]);
        self.follow_path()?;
        Ok(written)
    }

    /// Notices the active file cut shorter by someone else (a truncation mid-line, say): what
    /// follows is appended after a newline, so no event is glued onto the fragment, and the cut
    /// is reported.
    fn terminate_if_cut(&mut self) -> io::Result<()> {
        let Some(size) = self.ensure_open()?.size()? else { return Ok(()) };
        if size >= self.len {
            return Ok(());
        }
        crate::output::sink::report_sink_failure(
            &format!("file:{}", self.path.display()),
            &format_args!("the file was cut from {} to {size} bytes by someone else", self.len),
        );
        // What is left is the base from now on: what was cut is gone (and reported).
        self.len = size;
        self.checkpoint_len = size;
        self.retained.clear();
        if size > 0 && last_byte(&self.path)? != Some(b'\n') {
            let file = self.ensure_open()?;
            if file.write(b"\n")? == 1 {
                self.len += 1;
                self.retained.push(b'\n');
            }
        }
        Ok(())
    }

    /// `fsync`s the active file and, if it succeeded and can be trusted, checkpoints it (see
    /// [`Files`]).
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        // A file replaced again and again (by a misconfigured rotation, say) is an error
        // rather than a loop.
        for _ in 0..4 {
            if self.suspect {
                // Cut back to what the last trusted sync covered, and write the rest again: a
                // success now covers bytes that are really there.
                let checkpoint = self.checkpoint_len;
                self.ensure_open()?.truncate(checkpoint)?;
                self.len = checkpoint;
                let kept = std::mem::take(&mut self.retained);
                let rewritten = self.write_all(&kept);
                self.retained = kept;
                rewritten?;
            }
            if let Err(error) = self.ensure_open()?.sync() {
                self.suspect = true;
                return Err(error);
            }
            if !self.follow_path()? {
                self.suspect = false;
                self.checkpoint_len = self.len;
                self.retained.clear();
                return Ok(());
            }
            // Opened anew (and rewritten into): sync that file too.
        }
        Err(io::Error::other(format!("{} keeps being replaced by someone else", self.path.display())))
    }

    pub(crate) fn start_writeback(&mut self) {
        if let Some(file) = &mut self.file {
            file.start_writeback();
        }
    }

    /// Closes the active file under a rotated name and starts a new one. The old file is synced
    /// first, and the rename made durable, so rotation loses nothing. Returns the rotated path.
    pub(crate) fn rotate(&mut self, now: SystemTime) -> io::Result<PathBuf> {
        self.sync()?;
        // Never over an existing file: a name taken (by hand, or by a writer that ignored the
        // lock) moves this file to the next index instead.
        let rotated = loop {
            let candidate = rotated_name(&self.path, self.next_index, now);
            match rename_no_replace(&self.path, &candidate) {
                Ok(()) => break candidate,
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => self.next_index += 1,
                Err(error) => return Err(error),
            }
        };
        self.file = None;
        self.identity = None;
        self.next_index += 1;
        self.len = 0;
        self.checkpoint_len = 0;
        self.rotations += 1;
        if let Some(every) = self.rotation.as_ref().and_then(|r| r.every) {
            self.period_end = Some(period_end(now, every));
        }
        let dir = parent_dir(&self.path).to_path_buf();
        sync_dir(&dir)?;
        self.ensure_open()?;
        sync_dir(&dir)?;
        let stats = std::mem::take(&mut self.stats);
        match &self.on_stored {
            Some(on_stored) => {
                let on_stored = Arc::clone(on_stored);
                let then: super::compress::Then = Box::new(move |stored: &Path| on_stored(stored, stats));
                self.compressor.finish(rotated.clone(), self.compresses(), Some(then));
            }
            None if self.compresses() => self.compressor.compress(rotated.clone()),
            None => {}
        }
        if let Some(keep) = self.rotation.as_ref().and_then(|r| r.keep) {
            let all = rotated_files(&self.path)?;
            for old in &all[..all.len().saturating_sub(keep)] {
                // Both forms of the file, should it be halfway through compression, and seals.
                remove_if_present(old)?;
                remove_if_present(&seal_path(old))?;
                if !is_gz(old) {
                    remove_if_present(&gz_path(old))?;
                    remove_if_present(&seal_path(&gz_path(old)))?;
                }
            }
        }
        Ok(rotated)
    }
}

/// Takes the writer's lock of `active`: `.<name>.lock` beside it, held (`flock`) while the
/// writer lives, so a second writer on the same path, in this process or another, is refused
/// instead of colliding on rotation names.
fn lock_path(active: &Path) -> io::Result<fs::File> {
    let lock = writer_lock_path(active);
    try_lock_private(&lock)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("another audit writer holds {} (its lock is {})", active.display(), lock.display()),
        )
    })
}

fn last_byte(path: &Path) -> io::Result<Option<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(path)?;
    if file.seek(SeekFrom::End(0))? == 0 {
        return Ok(None);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut byte = [0u8];
    file.read_exact(&mut byte)?;
    Ok(Some(byte[0]))
}

/// The end of the rotation period `now` falls in.
fn period_end(now: SystemTime, every: Duration) -> SystemTime {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let every = every.as_nanos().max(1);
    let end = (since_epoch / every + 1) * every;
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(end).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_active_file_named_gz_without_compression_is_refused() {
        let dir = std::env::temp_dir().join(format!("audit-gz-name-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let storage: Arc<dyn Storage> = Arc::new(crate::trail::storage::FsStorage);
        let Err(error) = Files::open(Arc::clone(&storage), dir.join("audit.log.gz"), Some(Rotation::by_size(100)))
        else {
            panic!("accepted")
        };
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
        assert!(Files::open(storage, dir.join("audit.log"), Some(Rotation::by_size(100))).is_ok());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rename_never_replaces_a_file() {
        let dir = std::env::temp_dir().join(format!("audit-noreplace-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (from, to) = (dir.join("a"), dir.join("b"));
        fs::write(&from, "new").unwrap();
        fs::write(&to, "old").unwrap();
        let error = rename_no_replace(&from, &to).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&to).unwrap(), "old", "the existing file is untouched");
        fs::remove_file(&to).unwrap();
        rename_no_replace(&from, &to).unwrap();
        assert_eq!(fs::read_to_string(&to).unwrap(), "new");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn periods_align_to_the_interval() {
        let hour = Duration::from_secs(3600);
        let t = UNIX_EPOCH + Duration::from_secs(10 * 3600 + 59);
        assert_eq!(period_end(t, hour), UNIX_EPOCH + Duration::from_secs(11 * 3600));
    }
}
