//! Following a live trail line by line, across rotation and compression: the shipper's reading
//! side. Files are known by their first line (see [`Cursor`]), so a file renamed by rotation, or
//! compressed after it, is recognized as the one already being read.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::chain::hex;
use super::cursor::Cursor;
use super::names::{rotated_files, same_rotated};
use super::open::{open_listed, open_rotated, same_file, Source};
use super::record::ShipRecord;

/// The longest first line read to know a file (far above any format's event limit).
const MAX_KEY_LINE: u64 = 64 << 20;

/// The largest read buffer of a file being followed.
const READ_BUFFER: usize = 256 << 10;

/// How many times one call lists a trail that keeps rotating under it before it lets the
/// next call try again.
const STALE_LISTINGS: usize = 50;

/// Where the line just read ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) file: String,
    pub(crate) file_key: String,
    pub(crate) offset: u64,
}

/// The file being read.
struct Open {
    path: PathBuf,
    key: String,
    source: Source,
    /// Bytes consumed in whole lines.
    offset: u64,
    /// A line begun but not ended yet.
    pending: Vec<u8>,
    /// The file's metadata as opened, to tell whether the active path still names it.
    meta: std::fs::Metadata,
    /// It is no longer the active file: read it to its end, then go on to the next.
    draining: bool,
}

/// A file listed to be read: by its key, or (a rotated file not opened yet) by its path alone.
enum Listed {
    Key(String),
    Unknown,
}

/// A rotated file opened to learn its key.
enum Unknown {
    /// Not read yet: open, at its start.
    Open(Box<Open>),
    /// Read already (under another name: it was the active file).
    Done,
    /// No whole line (not a file of the trail yet).
    NoLine,
    /// Gone since it was listed.
    Gone,
}

/// What reading found that a person should hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Doubt {
    /// The cursor's file is no longer in the trail; delivery starts over at the oldest file.
    CursorFileGone { file: String },
    /// The cursor's offset is not at the end of a line of its file; that file is delivered again
    /// from its start.
    CursorInsideLine { file: String, offset: u64 },
    /// A line that is not a whole event (a torn write), skipped.
    Torn { file: String, offset: u64 },
}

pub(crate) struct Follower {
    active: PathBuf,
    current: Option<Open>,
    /// Files read to their end, by key (only those still in the trail are kept).
    done: HashSet<String>,
    /// Files listed and not read yet, oldest first: the listing is taken again only once they
    /// are read (rotation only adds files after them; retention only removes older ones).
    queue: VecDeque<(PathBuf, Listed)>,
    /// Keys of rotated files, which never change.
    keys: HashMap<PathBuf, Option<String>>,
    /// The read buffer of the last plain file read, for the next.
    spare: Vec<u8>,
    pub(crate) doubts: Vec<Doubt>,
}

impl Follower {
    /// A follower of the trail whose active file is `active`, from `cursor` (or from its oldest
    /// file).
    pub(crate) fn start(active: &Path, cursor: Option<&Cursor>) -> io::Result<Follower> {
        let mut follower = Follower {
            active: active.to_path_buf(),
            current: None,
            done: HashSet::new(),
            queue: VecDeque::new(),
            keys: HashMap::new(),
            spare: Vec::new(),
            doubts: Vec::new(),
        };
        let Some(cursor) = cursor else { return Ok(follower) };
        let files = follower.listing()?;
        let Some(at) = files.iter().position(|(_, key)| key.as_deref() == Some(cursor.file_key.as_str())) else {
            follower.doubts.push(Doubt::CursorFileGone { file: cursor.file.clone() });
            return Ok(follower);
        };
        follower.done = files[..at].iter().filter_map(|(_, key)| key.clone()).collect();
        let (path, key) = files[at].clone();
        if let Some(mut open) = follower.open(&path, key.unwrap_or_default())? {
            if open.source.skip(cursor.offset)? {
                open.offset = cursor.offset;
                follower.current = Some(open);
            } else {
                // The first read opens the file again (the oldest not read yet), from its start.
                follower.doubts.push(Doubt::CursorInsideLine { file: cursor.file.clone(), offset: cursor.offset });
            }
        }
        // The files after the cursor's (and the cursor's own, when it is not open), in order.
        let from = if follower.current.is_some() { at + 1 } else { at };
        follower.queue = files[from..]
            .iter()
            .filter_map(|(path, key)| key.clone().map(|key| (path.clone(), Listed::Key(key))))
            .collect();
        Ok(follower)
    }

    /// The next whole event line and where it ends; `None` when there is none yet.
    pub(crate) fn next(&mut self) -> io::Result<Option<(ShipRecord, Position)>> {
        loop {
            if self.current.is_none() && !self.pick_next()? {
                return Ok(None);
            }
            let Some(open) = self.current.as_mut() else { return Ok(None) };
            let before = open.pending.len();
            // A line already whole (a file's first, read for its key) is not read again.
            let read = match open.pending.last() {
                Some(b'\n') => before,
                _ => open.source.reader().read_until(b'\n', &mut open.pending)?,
            };
            if open.pending.last() == Some(&b'\n') {
                let line_start = open.offset;
                open.offset += open.pending.len() as u64;
                let line = &open.pending[..open.pending.len() - 1];
                let parsed = ShipRecord::parse(line);
                let empty = line.is_empty();
                let position =
                    Position { file: display_name(&open.path), file_key: open.key.clone(), offset: open.offset };
                open.pending.clear();
                match parsed {
                    Some(record) => return Ok(Some((record, position))),
                    None if empty => continue,
                    None => {
                        self.doubts.push(Doubt::Torn { file: position.file, offset: line_start });
                        continue;
                    }
                }
            }
            // At the end of what is there.
            debug_assert!(read == 0 || open.pending.len() > before);
            if read > 0 {
                continue;
            }
            if !open.draining {
                if self.still_active() {
                    return Ok(None);
                }
                // Rotated away: what was written before the rotation may still be unread.
                if let Some(open) = self.current.as_mut() {
                    open.draining = true;
                }
                continue;
            }
            // A rotated file read to its end.
            let finished = self.current.take().expect("a file is open");
            if !finished.pending.is_empty() {
                self.doubts.push(Doubt::Torn { file: display_name(&finished.path), offset: finished.offset });
            }
            self.done.insert(finished.key);
            self.spare = finished.source.into_buffer().unwrap_or_default();
        }
    }

    /// Whether nothing is left to read at this moment: caught up with the active file.
    pub(crate) fn at_end(&self) -> bool {
        self.current.as_ref().is_none_or(|open| !open.draining)
    }

    fn still_active(&self) -> bool {
        let Some(open) = self.current.as_ref() else { return false };
        std::fs::metadata(&self.active).is_ok_and(|now| same_file(&open.meta, &now))
    }

    /// Opens the oldest file not read yet; whether there is one.
    fn pick_next(&mut self) -> io::Result<bool> {
        // Listings taken in this call: a file rotated or compressed since it was listed makes
        // the queue stale, and the trail is listed again at once (not at the next call, which
        // would find nothing to read meanwhile and could be taken for the end of the trail).
        let mut listings = 0;
        loop {
            let (path, listed) = match self.queue.pop_front() {
                Some(next) => next,
                None => {
                    if listings == STALE_LISTINGS {
                        return Ok(false);
                    }
                    listings += 1;
                    self.queue = self.unread()?;
                    match self.queue.pop_front() {
                        Some(next) => next,
                        None => return Ok(false),
                    }
                }
            };
            let opened = match listed {
                Listed::Key(key) if self.done.contains(&key) => continue,
                Listed::Key(key) => self.open(&path, key)?,
                Listed::Unknown => match self.open_unknown(&path)? {
                    Unknown::Open(open) => Some(*open),
                    Unknown::Done | Unknown::NoLine => continue,
                    Unknown::Gone => None,
                },
            };
            match opened {
                Some(open) => {
                    self.current = Some(open);
                    return Ok(true);
                }
                // Rotated or compressed since it was listed: list again.
                None => self.queue.clear(),
            }
        }
    }

    /// The files not read yet, oldest first. A rotated file whose key is not known yet is
    /// listed as such, and its key read when it is opened to be read (once, not twice); the
    /// files read are forgotten only once they are many more than the trail's files (keys are
    /// then read for all).
    fn unread(&mut self) -> io::Result<VecDeque<(PathBuf, Listed)>> {
        let (rotated, active_key) = self.listed_paths()?;
        if self.done.len() > 2 * (rotated.len() + 8) {
            let files = self.listing()?;
            let keys: HashSet<&str> = files.iter().filter_map(|(_, key)| key.as_deref()).collect();
            self.done.retain(|key| keys.contains(key.as_str()));
        }
        let listed: HashSet<&PathBuf> = rotated.iter().collect();
        self.keys.retain(|path, _| listed.contains(path));
        let mut unread = VecDeque::with_capacity(rotated.len() + 1);
        for path in rotated {
            match self.keys.get(&path) {
                Some(Some(key)) if self.done.contains(key) => {}
                Some(Some(key)) => unread.push_back((path.clone(), Listed::Key(key.clone()))),
                // No whole line: only ever the newest.
                Some(None) => {}
                None => unread.push_back((path, Listed::Unknown)),
            }
        }
        if let Some(key) = active_key.filter(|key| !self.done.contains(key)) {
            unread.push_back((self.active.clone(), Listed::Key(key)));
        }
        Ok(unread)
    }

    /// Opens a rotated file whose key is not known yet, and reads its key from it.
    fn open_unknown(&mut self, listed: &Path) -> io::Result<Unknown> {
        let Some((path, file)) = open_rotated(listed)? else { return Ok(Unknown::Gone) };
        let meta = file.metadata()?;
        let spare = std::mem::take(&mut self.spare);
        let mut source = Source::sized(&path, file, meta.len(), READ_BUFFER, spare)?;
        let (first, key) = first_line(source.reader())?;
        let Some(key) = key else {
            self.keys.insert(listed.to_path_buf(), None);
            self.spare = source.into_buffer().unwrap_or_default();
            return Ok(Unknown::NoLine);
        };
        self.keys.insert(listed.to_path_buf(), Some(key.clone()));
        if self.done.contains(&key) {
            self.spare = source.into_buffer().unwrap_or_default();
            return Ok(Unknown::Done);
        }
        // Read from where the key was: the first line is the first pending, whole (neither
        // sought back nor read again).
        Ok(Unknown::Open(Box::new(Open { path, key, source, offset: 0, pending: first, meta, draining: true })))
    }

    /// The rotated files' paths, oldest first, and the active file's key (`None`: no whole line
    /// yet), read between two listings that agree: had it rotated in between, its key would be
    /// that of a file after one the first listing missed.
    fn listed_paths(&self) -> io::Result<(Vec<PathBuf>, Option<String>)> {
        let mut attempts = 0;
        loop {
            let before = rotated_files(&self.active)?;
            let active_key = key_of(&self.active)?;
            let after = rotated_files(&self.active)?;
            attempts += 1;
            if same_listing(&before, &after) || attempts >= 50 {
                return Ok((after, active_key));
            }
        }
    }

    /// The trail's files, oldest first, with their keys (`None`: no whole line yet).
    fn listing(&mut self) -> io::Result<Vec<(PathBuf, Option<String>)>> {
        let (rotated, active_key) = self.listed_paths()?;
        let listed: HashSet<&PathBuf> = rotated.iter().collect();
        self.keys.retain(|path, _| listed.contains(path));
        let mut files = Vec::with_capacity(rotated.len() + 1);
        for path in rotated {
            let key = match self.keys.get(&path) {
                Some(key) => key.clone(),
                None => {
                    let key = key_of(&path)?;
                    self.keys.insert(path.clone(), key.clone());
                    key
                }
            };
            files.push((path, key));
        }
        files.push((self.active.clone(), active_key));
        Ok(files)
    }

    /// Opens the file listed as `path` with `key`; `None` when it is gone, or when the active
    /// path names another file by now (it rotated: the next listing has it under its new name).
    fn open(&mut self, path: &Path, key: String) -> io::Result<Option<Open>> {
        let Some((path, mut file)) = open_listed(path, &self.active)? else { return Ok(None) };
        if path == self.active {
            let (_, found) = first_line(&mut BufReader::new(&file))?;
            file.seek(SeekFrom::Start(0))?;
            if found.as_deref() != Some(key.as_str()) {
                return Ok(None);
            }
        }
        let meta = file.metadata()?;
        let draining = path != self.active;
        let spare = std::mem::take(&mut self.spare);
        let source = Source::sized(&path, file, meta.len(), READ_BUFFER, spare)?;
        Ok(Some(Open { path, key, source, offset: 0, pending: Vec::new(), meta, draining }))
    }
}

/// A file's key: the SHA-256 of its first line, newline included; `None` when it has no whole
/// line yet (or is gone).
fn key_of(path: &Path) -> io::Result<Option<String>> {
    // The path, or its `.gz` if it was compressed since it was listed.
    let Some((path, file)) = open_rotated(path)? else { return Ok(None) };
    let mut source = Source::open(&path, file, READ_BUFFER)?;
    Ok(first_line(source.reader())?.1)
}

/// The first line `reader` gives (newline included, at most [`MAX_KEY_LINE`] bytes), and the
/// key it makes, the SHA-256 of it: `None` when the line is not whole yet.
fn first_line(reader: &mut dyn BufRead) -> io::Result<(Vec<u8>, Option<String>)> {
    let mut first = Vec::new();
    reader.take(MAX_KEY_LINE).read_until(b'\n', &mut first)?;
    let key = (first.last() == Some(&b'\n')).then(|| hex(&Sha256::digest(&first).into()));
    Ok((first, key))
}

/// Whether two listings name the same files (a `.log` compressed to `.log.gz` in between is
/// the same file).
fn same_listing(a: &[PathBuf], b: &[PathBuf]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_rotated(x, y))
}

fn display_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
