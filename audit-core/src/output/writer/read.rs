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
pub fn read_audit_trail(active: impl AsRef<Path>) -> io::Result<AuditTrail> {
    let active = active.as_ref();
    let mut files = rotated_files(active)?;
    if active.exists() {
        files.push(active.to_path_buf());
    }
    let mut trail = AuditTrail::default();
    for file in &files {
        let bytes = read_file(file)?;
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
    trail.files = files;
    Ok(trail)
}

fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let file = fs::File::open(path)?;
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
