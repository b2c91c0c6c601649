//! Opening a file of the trail for every reader alike (the streaming reader, the shipper's
//! follower, verify): a rotated file by the name it was listed under, or its `.gz` if it was
//! compressed since; and reading it plain or gzipped (every gzip member, with the `compression`
//! feature; without it, a clear error naming the feature).

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::names::{gz_path, is_gz};

/// Opens a rotated file; if its `.log` was compressed since it was listed, its `.gz`. `None`
/// when neither is there any more.
pub(crate) fn open_rotated(path: &Path) -> io::Result<Option<(PathBuf, File)>> {
    if let Some(file) = open_if_present(path)? {
        return Ok(Some((path.to_path_buf(), file)));
    }
    if is_gz(path) {
        return Ok(None);
    }
    let gz = gz_path(path);
    Ok(open_if_present(&gz)?.map(|file| (gz, file)))
}

/// Opens the active file, or a rotated one as [`open_rotated`] does.
pub(crate) fn open_listed(path: &Path, active: &Path) -> io::Result<Option<(PathBuf, File)>> {
    if path == active {
        return Ok(open_if_present(path)?.map(|file| (path.to_path_buf(), file)));
    }
    open_rotated(path)
}

fn open_if_present(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Whether two metadata are of the same file.
pub(crate) fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

/// Whether the open `file` is the one at `path`.
pub(crate) fn is_same(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(named)) => same_file(&open, &named),
        _ => false,
    }
}

/// The bytes of the file opened from `path`, decompressed when `path` names a `.gz`: every
/// member, then nothing (bytes appended after the last member fail the read).
pub(crate) fn decoded<'a, R: Read + Send + 'a>(path: &Path, raw: R) -> io::Result<Box<dyn Read + Send + 'a>> {
    if !is_gz(path) {
        return Ok(Box::new(raw));
    }
    #[cfg(feature = "compression")]
    {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(raw)))
    }
    #[cfg(not(feature = "compression"))]
    {
        drop(raw);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{} is compressed: reading it needs audit-core's `compression` feature", path.display()),
        ))
    }
}

/// The whole of a file, decompressed.
pub(crate) fn read_whole(path: &Path, file: File) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    decoded(path, file)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A file of the trail read line by line: plain (it can be sought) or decompressed.
pub(crate) enum Source {
    Plain(Buffered),
    Decoded(BufReader<Box<dyn Read + Send>>),
}

/// A plain file read through a buffer that outlives it: a reader of thousands of small files
/// hands each one's buffer on to the next ([`Source::into_buffer`]) instead of allocating and
/// freeing one per file.
pub(crate) struct Buffered {
    file: File,
    buffer: Vec<u8>,
    /// What of `buffer` is read (`filled`) and consumed (`pos`).
    pos: usize,
    filled: usize,
}

impl Read for Buffered {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.filled && out.len() >= self.buffer.len() {
            return self.file.read(out);
        }
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Buffered {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.filled = self.file.read(&mut self.buffer)?;
            self.pos = 0;
        }
        Ok(&self.buffer[self.pos..self.filled])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.filled);
    }
}

impl Source {
    /// Reads `file`, opened from `path`, with a buffer of at most `capacity` bytes (no larger
    /// than a plain file: a small rotated file, of thousands, is not worth a large buffer's
    /// allocation, which the allocator maps and unmaps each time).
    pub(crate) fn open(path: &Path, file: File, capacity: usize) -> io::Result<Source> {
        let size = file.metadata().map_or(u64::MAX, |meta| meta.len());
        Source::sized(path, file, size, capacity, Vec::new())
    }

    /// [`Source::open`] of a file whose size is known (its metadata already read), reading
    /// through `buffer` (one a file read before handed back, or a new one).
    pub(crate) fn sized(path: &Path, file: File, size: u64, capacity: usize, buffer: Vec<u8>) -> io::Result<Source> {
        if is_gz(path) {
            return Ok(Source::Decoded(BufReader::with_capacity(capacity, decoded(path, file)?)));
        }
        let capacity = usize::try_from(size.max(8 << 10).min(capacity as u64)).unwrap_or(capacity);
        let mut buffer = buffer;
        if buffer.len() < capacity {
            buffer.resize(capacity, 0);
        }
        Ok(Source::Plain(Buffered { file, buffer, pos: 0, filled: 0 }))
    }

    /// The buffer of a plain file, for the next one.
    pub(crate) fn into_buffer(self) -> Option<Vec<u8>> {
        match self {
            Source::Plain(reader) => Some(reader.buffer),
            Source::Decoded(_) => None,
        }
    }

    pub(crate) fn reader(&mut self) -> &mut (dyn BufRead + Send) {
        match self {
            Source::Plain(reader) => reader,
            Source::Decoded(reader) => reader,
        }
    }

    /// Skips the first `offset` bytes; whether the last of them is a newline (the end of a line).
    pub(crate) fn skip(&mut self, offset: u64) -> io::Result<bool> {
        if offset == 0 {
            return Ok(true);
        }
        match self {
            Source::Plain(reader) => {
                reader.file.seek(SeekFrom::Start(offset - 1))?;
                (reader.pos, reader.filled) = (0, 0);
            }
            Source::Decoded(reader) => {
                let skipped = io::copy(&mut reader.by_ref().take(offset - 1), &mut io::sink())?;
                if skipped < offset - 1 {
                    return Ok(false);
                }
            }
        }
        let mut last = [0u8; 1];
        Ok(self.reader().read(&mut last)? == 1 && last[0] == b'\n')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_file_compressed_since_it_was_listed_is_opened_as_its_gz() {
        let dir = std::env::temp_dir().join(format!("audit-open-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("audit-00000001-20251125T020700Z.log");
        assert!(open_rotated(&log).unwrap().is_none(), "neither is there");
        fs::write(gz_path(&log), b"").unwrap();
        let (found, _) = open_rotated(&log).unwrap().expect("the .gz is found");
        assert_eq!(found, gz_path(&log));
        fs::write(&log, b"{}\n").unwrap();
        assert_eq!(open_rotated(&log).unwrap().unwrap().0, log, "the .log first");
        let mut source = Source::open(&log, File::open(&log).unwrap(), 1 << 10).unwrap();
        assert!(source.skip(3).unwrap(), "three bytes end on the newline");
        fs::remove_dir_all(dir).unwrap();
    }
}
