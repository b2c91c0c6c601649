//! Reading an audit trail back: every rotated file in order, then the active file, with torn lines
//! (a crash in the middle of a write) reported and skipped rather than failing the whole read.

use std::collections::{HashSet, VecDeque};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::names::{plain_name, rotated_files};
use super::open::{is_same, open_rotated, read_whole, Source};

/// A line that is not a whole JSON event: the tail of a write interrupted by a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TornLine {
    /// The file it is in.
    pub file: PathBuf,
    /// Its line number (1-based).
    pub line: usize,
    /// Its bytes, lossily decoded.
    pub text: String,
}

/// An audit trail read back, in the order it was written.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct AuditTrail {
    /// The files read, oldest first (the active file last).
    pub files: Vec<PathBuf>,
    /// Every complete event.
    pub events: Vec<serde_json::Value>,
    /// Lines that are not complete events.
    pub torn: Vec<TornLine>,
}

/// Reads the audit trail whose active file is `active`: its rotated files (`.gz` ones too, with
/// the `compression` feature) in the order they were written, then `active` itself, one file
/// open at a time ([`TrailReader`]; use it directly to stream a long trail without holding its
/// events in memory).
///
/// ```no_run
/// let trail = audit_core::trail::read_audit_trail("/var/log/myapp/audit.log")?;
/// for torn in &trail.torn {
///     eprintln!("skipped a torn line in {} at line {}", torn.file.display(), torn.line);
/// }
/// println!("{} events", trail.events.len());
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// The trail may be live: a writer may be appending, rotating and compressing while it is read;
/// every event is read once, in order (see [`TrailReader`]). A last line still being written is
/// reported as torn.
pub fn read_audit_trail(active: impl AsRef<Path>) -> io::Result<AuditTrail> {
    let mut trail = AuditTrail::default();
    for item in TrailReader::open(active) {
        match item? {
            TrailItem::File(path) => trail.files.push(path),
            TrailItem::Event { event, .. } => trail.events.push(event),
            TrailItem::Torn(torn) => trail.torn.push(torn),
        }
    }
    Ok(trail)
}

/// One line of a trail read back by [`TrailReader`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TrailItem {
    /// A file begins (the rotated ones oldest first, the active file last).
    File(PathBuf),
    /// A complete event.
    Event {
        /// The file it is in.
        file: PathBuf,
        /// Its line number (1-based).
        line: usize,
        /// The event.
        event: serde_json::Value,
    },
    /// A line that is not a complete event.
    Torn(TornLine),
}

/// Reads a trail line by line, in the order it was written, with one file open at a time: a
/// trail of thousands of rotated files is read within any limit of open files, in memory that
/// does not grow with its length (the names of the files read are kept, not their lines).
///
/// The trail may be live. Rotated files are read one after the other; then the listing is taken
/// again, and files rotated meanwhile are read too; then the active file. If it rotates while
/// it is being opened, the file opened is read as the rotated file it became, and the reader
/// goes on with what followed, so every event is read once, in order, up to the moment the
/// active file was read. A last line still being written is reported as torn.
///
/// ```no_run
/// use audit_core::trail::{TrailItem, TrailReader};
///
/// let mut failures = 0;
/// for item in TrailReader::open("/var/log/myapp/audit.log") {
///     match item? {
///         TrailItem::Event { event, .. } if event["event"]["outcome"] == "failure" => failures += 1,
///         TrailItem::Torn(torn) => eprintln!("torn line in {} at {}", torn.file.display(), torn.line),
///         _ => {}
///     }
/// }
/// println!("{failures} failures");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TrailReader {
    active: PathBuf,
    /// Rotated files listed and not yet read, oldest first.
    pending: VecDeque<PathBuf>,
    /// The rotated files read (their names without `.gz`).
    read: HashSet<PathBuf>,
    /// The file being read.
    current: Option<OpenFile>,
    /// Whether any file was read (a rotated file missing before the first one was removed by
    /// retention; after it, a file went missing mid-read).
    started: bool,
    /// The active file has been read: nothing follows.
    finished: bool,
}

/// A file being read, line by line.
struct OpenFile {
    path: PathBuf,
    lines: Source,
    line: usize,
    announced: bool,
}

impl std::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenFile").field("path", &self.path).field("line", &self.line).finish()
    }
}

impl TrailReader {
    /// A reader of the trail whose active file is `active`. Nothing is opened until the first
    /// line is asked for.
    pub fn open(active: impl AsRef<Path>) -> TrailReader {
        TrailReader {
            active: active.as_ref().to_path_buf(),
            pending: VecDeque::new(),
            read: HashSet::new(),
            current: None,
            started: false,
            finished: false,
        }
    }

    /// Rotated files not read yet, from a new listing, oldest first.
    fn unread(&self) -> io::Result<Vec<PathBuf>> {
        Ok(rotated_files(&self.active)?.into_iter().filter(|path| !self.read.contains(&plain_name(path))).collect())
    }

    /// The next file to read, opened; `None` once the active file has been read.
    fn next_file(&mut self) -> io::Result<Option<OpenFile>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            if let Some(path) = self.pending.pop_front() {
                if self.read.contains(&plain_name(&path)) {
                    continue;
                }
                match open_rotated(&path)? {
                    Some((found, file)) => {
                        self.read.insert(plain_name(&path));
                        self.started = true;
                        return Ok(Some(OpenFile::new(found, file)?));
                    }
                    // Removed by retention before it was read: the oldest files only.
                    None if !self.started => continue,
                    None => {
                        return Err(io::Error::new(
                            io::ErrorKind::NotFound,
                            format!(
                                "{} was removed while the trail was read after the files before it",
                                path.display()
                            ),
                        ))
                    }
                }
            }
            let unread = self.unread()?;
            if !unread.is_empty() {
                self.pending.extend(unread);
                continue;
            }
            let current = match fs::File::open(&self.active) {
                Ok(file) => Some(file),
                Err(error) if error.kind() == io::ErrorKind::NotFound => None,
                Err(error) => return Err(error),
            };
            // Rotated since the listing: the file opened must be the first of them (it rotated
            // after it was opened, holding everything up to then), else start on them again.
            let rotated = self.unread()?;
            match (rotated.first().cloned(), current) {
                (None, Some(file)) => {
                    self.finished = true;
                    return Ok(Some(OpenFile::new(self.active.clone(), file)?));
                }
                (None, None) => {
                    self.finished = true;
                    return Ok(None);
                }
                (Some(first), Some(file)) if is_same(&file, &first) => {
                    self.read.insert(plain_name(&first));
                    self.pending.extend(rotated.into_iter().skip(1));
                    return Ok(Some(OpenFile::new(first, file)?));
                }
                (Some(_), _) => self.pending.extend(rotated),
            }
        }
    }
}

impl Iterator for TrailReader {
    type Item = io::Result<TrailItem>;

    fn next(&mut self) -> Option<io::Result<TrailItem>> {
        loop {
            if self.current.is_none() {
                match self.next_file() {
                    Ok(Some(file)) => self.current = Some(file),
                    Ok(None) => return None,
                    Err(error) => {
                        self.finished = true;
                        self.pending.clear();
                        return Some(Err(error));
                    }
                }
            }
            let file = self.current.as_mut().expect("a file is open");
            if !file.announced {
                file.announced = true;
                return Some(Ok(TrailItem::File(file.path.clone())));
            }
            match file.next_line() {
                Ok(Some(item)) => return Some(Ok(item)),
                Ok(None) => self.current = None,
                Err(error) => {
                    self.current = None;
                    return Some(Err(error));
                }
            }
        }
    }
}

impl OpenFile {
    fn new(path: PathBuf, file: fs::File) -> io::Result<OpenFile> {
        let lines = Source::open(&path, file, 64 << 10)?;
        Ok(OpenFile { path, lines, line: 0, announced: false })
    }

    /// The next non-empty line as an event or a torn line; `None` at the end of the file.
    fn next_line(&mut self) -> io::Result<Option<TrailItem>> {
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            if self.lines.reader().read_until(b'\n', &mut bytes)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            // A line without its newline is the last one, and its write was interrupted.
            let complete = bytes.last() == Some(&b'\n');
            if complete {
                bytes.pop();
            }
            if bytes.is_empty() {
                continue;
            }
            return Ok(Some(match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(event) if complete && event.is_object() => {
                    TrailItem::Event { file: self.path.clone(), line: self.line, event }
                }
                _ => TrailItem::Torn(TornLine {
                    file: self.path.clone(),
                    line: self.line,
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                }),
            }));
        }
    }
}

/// The chain's position at the end of a trail: the link of its last whole chained line, from
/// the active file, else the newest rotated file that has one. `None` for a trail with no
/// chained line yet.
pub(crate) fn last_link(active: &Path) -> io::Result<Option<super::chain::Link>> {
    use std::io::{Seek, SeekFrom};
    let from_bytes = |bytes: &[u8], whole: bool| {
        let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        lines.pop(); // after the last newline: empty, or a torn line
        if !whole && !lines.is_empty() {
            lines.remove(0); // may start mid-line
        }
        lines.iter().rev().find_map(|line| super::chain::parse_link(line))
    };
    // The active file's tail is enough: its last whole line is chained if the trail is.
    if let Ok(mut file) = fs::File::open(active) {
        let len = file.metadata()?.len();
        let start = len.saturating_sub(TAIL_BYTES);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        if let Some(link) = from_bytes(&tail, start == 0) {
            return Ok(Some(super::chain::Link { sequence: link.sequence, hash: link.hash }));
        }
    }
    for rotated in rotated_files(active)?.iter().rev() {
        let Some((path, file)) = open_rotated(rotated)? else { continue };
        if let Some(link) = from_bytes(&read_whole(&path, file)?, true) {
            return Ok(Some(super::chain::Link { sequence: link.sequence, hash: link.hash }));
        }
    }
    Ok(None)
}

/// How much of the active file's end is read to find where its chain stands (a line is never
/// longer than a format's event limit, 256 KiB by default).
const TAIL_BYTES: u64 = 4 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever bytes a file holds (a disk error, an attacker, a truncated copy), reading it
        /// never fails or panics, and every non-empty line is either an event or reported torn.
        #[test]
        fn arbitrary_bytes_are_read_without_panicking(
            bytes in prop::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), Just(b'{'), Just(b'}')], 0..2048),
            events in prop::collection::vec("[a-z]{0,12}", 0..8),
        ) {
            let dir = std::env::temp_dir().join(format!("audit-read-prop-{}-{}", std::process::id(), fastrand::u64(..)));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("audit.log");
            let mut content = Vec::new();
            for id in &events {
                content.extend_from_slice(serde_json::json!({"id": id}).to_string().as_bytes());
                content.push(b'\n');
            }
            content.extend_from_slice(&bytes);
            std::fs::write(&path, &content).unwrap();
            let trail = read_audit_trail(&path).unwrap();
            let lines = content.split(|b| *b == b'\n').filter(|line| !line.is_empty()).count();
            prop_assert_eq!(trail.events.len() + trail.torn.len(), lines);
            prop_assert!(trail.events.len() >= events.len());
            for (event, id) in trail.events.iter().zip(&events) {
                prop_assert_eq!(event["id"].as_str(), Some(id.as_str()));
            }
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
