//! Reading an audit trail back: every rotated file in order, then the active file, with torn lines
//! (a crash in the middle of a write) reported and skipped rather than failing the whole read.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::rolling::rotated_files;

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
/// the `compression` feature) in the order they were written, then `active` itself.
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
/// The trail may be live: a writer may be appending, rotating and compressing while it is read.
/// The files are opened first and the listing taken again; if a rotation came in between, the
/// read starts over, so the result is always one consistent moment of the trail (every event
/// once, in order). A last line still being written is reported as torn.
pub fn read_audit_trail(active: impl AsRef<Path>) -> io::Result<AuditTrail> {
    let active = active.as_ref();
    for _ in 0..ATTEMPTS {
        if let Some(snapshot) = open_snapshot(active)? {
            return read_snapshot(snapshot);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::Interrupted,
        format!("{} kept rotating while it was read ({ATTEMPTS} attempts)", active.display()),
    ))
}

/// How many times a read starts over because the trail rotated under it.
const ATTEMPTS: usize = 50;

/// The trail's files, opened: `(path, file)` in the order written.
type Snapshot = Vec<(PathBuf, fs::File)>;

/// Opens every file of the trail; `None` when the trail rotated meanwhile in a way that would
/// make the open files miss events (start over).
fn open_snapshot(active: &Path) -> io::Result<Option<Snapshot>> {
    let listed = rotated_files(active)?;
    let mut opened = Vec::with_capacity(listed.len() + 1);
    for path in &listed {
        match open_rotated(path)? {
            Some(found) => opened.push(found),
            // Removed by retention since it was listed: only ever the oldest files.
            None if opened.is_empty() => {}
            None => return Ok(None),
        }
    }
    let current = match fs::File::open(active) {
        Ok(file) => Some(file),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(error),
    };
    // Files rotated since the listing: the open active file must be the first of them (it was
    // rotated after it was opened, and holds everything up to then), or there must be none.
    let newer: Vec<PathBuf> =
        rotated_files(active)?.into_iter().filter(|p| !listed.iter().any(|l| same_rotated(l, p))).collect();
    if let Some(first) = newer.first() {
        let is_current = match (&current, fs::metadata(first)) {
            (Some(file), Ok(meta)) => same_file(&file.metadata()?, &meta),
            _ => false,
        };
        if !is_current {
            return Ok(None);
        }
    }
    if let Some(file) = current {
        opened.push((active.to_path_buf(), file));
    }
    Ok(Some(opened))
}

/// Opens a rotated file; if its `.log` was compressed since it was listed, its `.gz`. `None`
/// when neither is there any more.
pub(crate) fn open_rotated(path: &Path) -> io::Result<Option<(PathBuf, fs::File)>> {
    let mut candidates = vec![path.to_path_buf()];
    if path.extension().is_none_or(|e| e != "gz") {
        let mut gz = path.as_os_str().to_owned();
        gz.push(".gz");
        candidates.push(PathBuf::from(gz));
    }
    for candidate in candidates {
        match fs::File::open(&candidate) {
            Ok(file) => return Ok(Some((candidate, file))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(None)
}

/// Whether two names are of the same rotated file (its `.log` and, once compressed, `.log.gz`).
pub(crate) fn same_rotated(a: &Path, b: &Path) -> bool {
    let strip_gz = |path: &Path| match path.extension() {
        Some(ext) if ext == "gz" => path.with_extension(""),
        _ => path.to_path_buf(),
    };
    strip_gz(a) == strip_gz(b)
}

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

fn read_snapshot(snapshot: Snapshot) -> io::Result<AuditTrail> {
    let mut trail = AuditTrail::default();
    for (file, handle) in snapshot {
        let bytes = read_file(&file, handle)?;
        trail.files.push(file.clone());
        let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        // A file that ends with a newline splits into a last empty piece; one that does not ends
        // with a line whose write was interrupted.
        let ends_cleanly = lines.last().is_some_and(|l| l.is_empty());
        if ends_cleanly {
            lines.pop();
        }
        let count = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            let complete = ends_cleanly || i + 1 < count;
            match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(event) if complete && event.is_object() => trail.events.push(event),
                _ if line.is_empty() => {}
                _ => trail.torn.push(TornLine {
                    file: file.clone(),
                    line: i + 1,
                    text: String::from_utf8_lossy(line).into_owned(),
                }),
            }
        }
    }
    Ok(trail)
}

/// The chain's position at the end of a trail: the link of its last whole chained line, from
/// the active file, else the newest rotated file that has one. `None` for a trail with no
/// chained line yet.
pub(crate) fn last_link(active: &Path) -> io::Result<Option<crate::leaf::chain::Link>> {
    use std::io::{Seek, SeekFrom};
    let from_bytes = |bytes: &[u8], whole: bool| {
        let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        lines.pop(); // after the last newline: empty, or a torn line
        if !whole && !lines.is_empty() {
            lines.remove(0); // may start mid-line
        }
        lines.iter().rev().find_map(|line| crate::leaf::chain::parse_link(line))
    };
    // The active file's tail is enough: its last whole line is chained if the trail is.
    if let Ok(mut file) = fs::File::open(active) {
        let len = file.metadata()?.len();
        let start = len.saturating_sub(TAIL_BYTES);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        if let Some(link) = from_bytes(&tail, start == 0) {
            return Ok(Some(crate::leaf::chain::Link { sequence: link.sequence, hash: link.hash }));
        }
    }
    for rotated in rotated_files(active)?.iter().rev() {
        let Some((path, file)) = open_rotated(rotated)? else { continue };
        if let Some(link) = from_bytes(&read_file(&path, file)?, true) {
            return Ok(Some(crate::leaf::chain::Link { sequence: link.sequence, hash: link.hash }));
        }
    }
    Ok(None)
}

/// How much of the active file's end is read to find where its chain stands (a line is never
/// longer than a format's event limit, 256 KiB by default).
const TAIL_BYTES: u64 = 4 << 20;

fn read_file(path: &Path, file: fs::File) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.extension().is_some_and(|e| e == "gz") {
        #[cfg(feature = "compression")]
        flate2::read::GzDecoder::new(file).read_to_end(&mut bytes)?;
        #[cfg(not(feature = "compression"))]
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{} is compressed: reading it needs audit-core's `compression` feature", path.display()),
        ));
    } else {
        let mut file = file;
        file.read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

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
