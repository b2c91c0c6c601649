//! [`Storage`]: where a [`FileWriter`](crate::FileWriter)'s bytes go. The real file system by
//! default ([`FsStorage`]); a test can put a fault-injecting storage behind the same trait to see
//! what the writer does when the disk fails. Renaming and listing rotated files go to the file
//! system directly.
//!
//! Files are opened hardened: never through a symbolic link (`O_NOFOLLOW`), only if they are
//! regular files, created with mode `0600`, and an existing file's looser mode is tightened to
//! `0600`: audit trails hold personal data.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Which file a path names: its device and inode, and how many names it has (`links`, 0 once
/// it is deleted). Lets the writer notice that someone else renamed or deleted its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    /// The device the file is on.
    pub device: u64,
    /// The file's inode on that device.
    pub inode: u64,
    /// How many directory entries name it.
    pub links: u64,
}

impl FileIdentity {
    /// Whether both identities are of the same file (whatever its links).
    pub fn same_file(&self, other: &FileIdentity) -> bool {
        self.device == other.device && self.inode == other.inode
    }
}

/// Opens files for appending, and tells which file a path names.
pub trait Storage: Send + Sync + 'static {
    /// Opens (creating if needed) `path` for appending.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;

    /// The file `path` names now; `None` when there is none.
    fn identity(&self, path: &Path) -> io::Result<Option<FileIdentity>>;
}

/// A file opened for appending.
pub trait StorageFile: Send {
    /// One `write` call: may write fewer bytes than given.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize>;
    /// Flushes the file's data to disk (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes (`ftruncate`).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Which file this is (`fstat`).
    fn identity(&self) -> io::Result<FileIdentity>;

    /// The file's size now (`fstat`), when the storage can tell: the writer compares it with
    /// what it wrote, to notice a file cut by someone else. `None` (the default): not checked.
    fn size(&self) -> io::Result<Option<u64>> {
        Ok(None)
    }

    /// Starts writing the bytes written so far to disk without waiting (a hint; the default
    /// does nothing). Under sustained load it makes the next [`sync`](StorageFile::sync) wait
    /// only for the last batches instead of everything written since the previous one.
    fn start_writeback(&mut self) {}
}

/// The real file system, hardened (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
pub struct FsStorage;

impl Storage for FsStorage {
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        Ok(Box::new(open_append_hardened(path)?))
    }

    fn identity(&self, path: &Path) -> io::Result<Option<FileIdentity>> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => Ok(Some(identity_of(&meta))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Opens `path` for appending: not through a symbolic link, only a regular file, created `0600`
/// and tightened to `0600` if it exists with a looser mode.
pub(crate) fn open_append_hardened(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
        // Non-blocking: a FIFO planted at the path would otherwise hold the open until someone
        // reads it (it is refused below, as anything but a regular file is); a regular file's
        // writes ignore the flag.
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos", target_os = "freebsd"))]
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|error| {
        if is_symlink(path) {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is a symbolic link: audit files are not opened through links", path.display()),
            )
        } else if std::fs::symlink_metadata(path).is_ok_and(|meta| !meta.is_file()) {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a regular file", path.display()))
        } else {
            error
        }
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a regular file", path.display())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

/// Takes the exclusive lock (`flock`) of the private file at `path` (created 0600, never opened
/// through a link), held for as long as the file is: `None` when someone else holds it.
pub(crate) fn try_lock_private(path: &Path) -> io::Result<Option<File>> {
    let file = open_append_hardened(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// Opens `path` for reading: not through a symbolic link, only a regular file.
#[cfg_attr(not(feature = "compression"), allow(dead_code))]
pub(crate) fn open_read_hardened(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos", target_os = "freebsd"))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a regular file", path.display())));
    }
    Ok(file)
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink())
}

fn identity_of(meta: &std::fs::Metadata) -> FileIdentity {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileIdentity { device: meta.dev(), inode: meta.ino(), links: meta.nlink() }
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        FileIdentity { device: 0, inode: 0, links: 1 }
    }
}

impl StorageFile for File {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        Write::write(self, bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }

    fn identity(&self) -> io::Result<FileIdentity> {
        Ok(identity_of(&self.metadata()?))
    }

    fn size(&self) -> io::Result<Option<u64>> {
        Ok(Some(self.metadata()?.len()))
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

/// Renames `from` to `to`, failing with `AlreadyExists` rather than replacing a file at `to`.
pub(crate) fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c =
            |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
        let (from_c, to_c) = (c(from)?, c(to)?);
        // SAFETY: both are valid NUL-terminated paths for the duration of the call.
        let result = unsafe {
            libc::renameat2(libc::AT_FDCWD, from_c.as_ptr(), libc::AT_FDCWD, to_c.as_ptr(), libc::RENAME_NOREPLACE)
        };
        if result == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        // File systems without RENAME_NOREPLACE: check, then rename (the writer's lock keeps
        // other writers of this toolkit out of the directory's names).
        if !matches!(error.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(error);
        }
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists", to.display())));
    }
    std::fs::rename(from, to)
}

/// The folder a file is in (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, renamed over it.
#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    let mut file = File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    sync_dir(parent_dir(path))
}
