//! [`Storage`]: where a [`FileWriter`](crate::FileWriter)'s bytes go. The real file system by
//! default ([`FsStorage`]); a test can put a fault-injecting storage behind the same trait to see
//! what the writer does when the disk fails.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Opens files for appending.
pub trait Storage: Send + Sync + 'static {
    /// Opens (creating if needed) `path` for appending.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
}

/// A file opened for appending.
pub trait StorageFile: Send {
    /// One `write` call: may write fewer bytes than given.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize>;
    /// Flushes the file's data to disk (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;

    /// Starts writing the bytes written so far to disk without waiting (a hint; the default
    /// does nothing). Under sustained load it makes the next [`sync`](StorageFile::sync) wait
    /// only for the last batches instead of everything written since the previous one.
    fn start_writeback(&mut self) {}
}

/// The real file system. Files are created with mode `0600` on Unix: audit trails hold personal data.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsStorage;

impl Storage for FsStorage {
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(Box::new(options.open(path)?))
    }
}

impl StorageFile for File {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        Write::write(self, bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    #[cfg(target_os = "linux")]
    fn start_writeback(&mut self) {
        use std::os::unix::io::AsRawFd;
        // Offset 0 and length 0: the whole file; pages already under writeback are skipped.
        // SAFETY: the descriptor is valid for as long as `self` lives; the call reads no memory.
        unsafe {
            libc::sync_file_range(self.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
}

/// Makes a rename or a new file in `dir` durable (`fsync` of the directory, on Unix).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The folder a file is in (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}
