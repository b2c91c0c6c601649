//! Checking a chained trail: every line of every file, in the order written, against the chain
//! (see [`crate::chain`]). Streams the files (a line at a time, `.gz` ones decompressed as they
//! are read), so memory stays constant whatever the trail's size.
//!
//! ```no_run
//! use audit_core::verify::{verify_trail, Options};
//!
//! let report = verify_trail("/var/log/myapp/audit.log", &Options::default())?;
//! for finding in &report.findings {
//!     eprintln!("{}:{}: {}: {}", finding.file.display(), finding.line, finding.kind, finding.detail);
//! }
//! std::process::exit(if report.is_intact() { 0 } else { 1 });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! What it finds: a modified line (its bytes no longer give its hash), deleted lines or a
//! missing file in between (a gap in `event.sequence`), reordered or duplicated lines (the
//! sequence goes back), an inserted line (unchained, or out of sequence), a torn line (a crash
//! mid-write; expected when the writer recorded `audit_trail_resumed` after it). What it cannot
//! find alone: lines cut from the end, or a whole trail rewritten by someone holding the key.

use std::fmt;
#[cfg(feature = "signing")]
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::chain::{hex, parse_link, verifies, ChainHash, Link};
use super::names::rotated_files;
use super::open::{decoded, open_rotated};
use crate::model::catalog::AUDIT_TRAIL_RESUMED;

/// How to check.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Options {
    /// The chain's hash: SHA-256 (default), or HMAC-SHA256 under the writer's chain key.
    pub hash: ChainHash,
    /// A link the trail must hold: a checkpoint's size and head (see the `checkpoint` module,
    /// feature `signing`). Finds lines cut from the end, and a history rewritten since.
    pub expect: Option<Link>,
    /// The oldest files may have been removed by retention (`Rotation::keep`): a trail that
    /// starts after `event.sequence` 1 is then not a finding. Off by default, so that deleting
    /// the first lines is found.
    pub after_retention: bool,
    /// Checks every rotated file against its seal, signed by this key (feature `signing`).
    #[cfg(feature = "signing")]
    pub seals: Option<super::checkpoint::PublicKey>,
}

impl Options {
    /// Checks a chain made with HMAC-SHA256 under `key`.
    pub fn with_key(key: impl Into<Vec<u8>>) -> Options {
        Options { hash: ChainHash::HmacSha256(key.into()), ..Options::default() }
    }

    /// Accepts a trail whose oldest files retention removed (see [`Options::after_retention`]).
    pub fn after_retention(mut self) -> Options {
        self.after_retention = true;
        self
    }

    /// Checks rotated files against their seals, signed by `key`.
    #[cfg(feature = "signing")]
    pub fn with_seals(mut self, key: super::checkpoint::PublicKey) -> Options {
        self.seals = Some(key);
        self
    }

    /// Also checks that the trail holds `link` (a verified checkpoint's `link()`).
    pub fn expecting(mut self, link: Link) -> Options {
        self.expect = Some(link);
        self
    }
}

/// What is wrong with a line or a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FindingKind {
    /// The line's bytes do not give the hash it carries: it was edited (or forged without the key).
    Modified,
    /// Lines are missing before this one: `event.sequence` jumps (lines deleted, or a file of
    /// the trail missing).
    Gap,
    /// The sequence goes back: lines reordered, duplicated, or copied in from elsewhere.
    OutOfOrder,
    /// A whole line that is not chained in a chained trail: inserted.
    Unchained,
    /// A line that is not a whole event: torn by a crash mid-write. Expected (and not a breach)
    /// when the writer resumed the trail after it.
    Torn,
    /// A file that cannot be read (or decompressed) to its end.
    Unreadable,
    /// The trail ends before a checkpoint's size: lines were cut from the end.
    CutTail,
    /// The line at a checkpoint's size has another hash: the history was rewritten since.
    Rewritten,
    /// A rotated file without a seal (expected only for the newest, while it is being finished).
    Unsealed,
    /// A rotated file that is not what its seal says (replaced, truncated, appended to, renamed).
    SealMismatch,
    /// A seal whose signature does not check out.
    BadSeal,
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FindingKind::Modified => "modified",
            FindingKind::Gap => "gap",
            FindingKind::OutOfOrder => "out-of-order",
            FindingKind::Unchained => "unchained",
            FindingKind::Torn => "torn",
            FindingKind::Unreadable => "unreadable",
            FindingKind::CutTail => "cut-tail",
            FindingKind::Rewritten => "rewritten",
            FindingKind::Unsealed => "unsealed",
            FindingKind::SealMismatch => "seal-mismatch",
            FindingKind::BadSeal => "bad-seal",
        })
    }
}

/// One problem, where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based; 0 for the file as a whole).
    pub line: u64,
    /// What is wrong.
    pub kind: FindingKind,
    /// In words, with the sequence numbers involved.
    pub detail: String,
    /// A torn line the writer recorded resuming after (a crash, not a breach).
    pub expected: bool,
}

/// What a check found.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// The files checked, in the order written.
    pub files: Vec<PathBuf>,
    /// Lines read (whole or torn).
    pub lines: u64,
    /// Lines whose link checked out.
    pub verified: u64,
    /// The first and the last sequence number seen.
    pub first_sequence: Option<u64>,
    /// The chain's position after the last line: what a checkpoint of this trail would say.
    pub last: Option<Link>,
    /// Every problem, in the order found.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether the trail is intact: no finding but torn lines the writer resumed after.
    pub fn is_intact(&self) -> bool {
        self.findings.iter().all(|finding| finding.expected)
    }

    /// The report as one JSON object, for machines.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "intact": self.is_intact(),
            "files": self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "lines": self.lines,
            "verified": self.verified,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last.map(|l| l.sequence),
            "last_hash": self.last.map(|l| hex(&l.hash)),
            "findings": self.findings.iter().map(|f| serde_json::json!({
                "file": f.file.display().to_string(),
                "line": f.line,
                "kind": f.kind.to_string(),
                "detail": f.detail,
                "expected": f.expected,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Checks the trail whose active file is `active`: its rotated files in order, then `active`.
///
/// # Errors
/// `NotFound` when there is no trail there at all (neither `active` nor a rotated file of it):
/// a mistyped path is an error, never an intact trail of no lines.
pub fn verify_trail(active: impl AsRef<Path>, options: &Options) -> io::Result<Report> {
    let active = active.as_ref();
    let mut files = rotated_files(active)?;
    let rotated = files.len();
    if active.exists() {
        files.push(active.to_path_buf());
    }
    if files.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no audit trail there: neither {} nor a rotated file of it exists", active.display()),
        ));
    }
    check_trail(&files, Some(rotated), options)
}

/// Checks `files` as one trail, in the order given (seals are checked by [`verify_trail`], which
/// knows which files are rotated).
pub fn verify_files(files: &[PathBuf], options: &Options) -> io::Result<Report> {
    check_trail(files, None, options)
}

/// Reads through a file's stored bytes, hashing them (for its seal).
struct Hashing<R> {
    inner: R,
    digest: std::sync::Arc<std::sync::Mutex<(sha2::Sha256, u64)>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        let mut digest = self.digest.lock().unwrap_or_else(|p| p.into_inner());
        sha2::Digest::update(&mut digest.0, &buffer[..read]);
        digest.1 += read as u64;
        Ok(read)
    }
}

fn check_trail(files: &[PathBuf], rotated: Option<usize>, options: &Options) -> io::Result<Report> {
    let mut check = Check {
        options,
        report: Report::default(),
        previous: None,
        pending_torn: None,
        expected_seen: false,
        seen: FileSeen::default(),
        last_torn_unterminated: false,
        batch: Batch::default(),
        in_flight: Vec::new(),
        done: Vec::new(),
        spare: Vec::new(),
    };
    #[cfg(feature = "signing")]
    let mut previous_seal: Option<[u8; 32]> = None;
    for (index, file) in files.iter().enumerate() {
        check.report.files.push(file.clone());
        let sealed = rotated.is_some_and(|rotated| index < rotated) && check.seals_wanted();
        let (stored, handle) = match open_rotated(file)? {
            Some(found) => found,
            None => {
                check.finding(file, 0, FindingKind::Unreadable, "the file is gone".to_owned());
                continue;
            }
        };
        // The stored bytes' digest, for a sealed file only.
        let digest =
            sealed.then(|| std::sync::Arc::new(std::sync::Mutex::new((<sha2::Sha256 as sha2::Digest>::new(), 0u64))));
        let raw: Box<dyn Read + Send> = match &digest {
            Some(digest) => Box::new(Hashing { inner: handle, digest: std::sync::Arc::clone(digest) }),
            None => Box::new(handle),
        };
        let reader = decoded(&stored, raw)?;
        check.seen = FileSeen::default();
        check.file(file, reader);
        #[cfg(feature = "signing")]
        if let Some(digest) = &digest {
            let (sha, bytes) = {
                let digest = digest.lock().unwrap_or_else(|p| p.into_inner());
                (<sha2::Sha256 as sha2::Digest>::finalize(digest.0.clone()).into(), digest.1)
            };
            let newest = rotated.is_some_and(|rotated| index + 1 == rotated);
            previous_seal = check.seal(&stored, sha, bytes, newest, previous_seal);
        }
        #[cfg(not(feature = "signing"))]
        let _ = (sealed, &digest);
    }
    check.finish_files();
    #[cfg(feature = "signing")]
    if let (Some(rotated), Some(active)) = (rotated, files.last()) {
        check.sealed_but_missing(active, &files[..rotated]);
    }
    if let Some(torn) = check.pending_torn.take() {
        // The trail's very end: a crash with nothing written after it yet, if the line lacks its
        // newline (the writer writes both at once). A whole line that is not an event, last, was
        // put there.
        let cut_short = check.last_torn_unterminated;
        check.report.findings.push(Finding { expected: cut_short, ..torn });
    }
    // A trail with no chained line at all was written by an unchained writer: one finding says
    // so, rather than one per line.
    let unchained = check.report.findings.iter().filter(|f| f.kind == FindingKind::Unchained).count();
    if check.report.first_sequence.is_none() && unchained > 1 {
        check.report.findings.retain(|f| f.kind != FindingKind::Unchained);
        let file = files.first().cloned().unwrap_or_default();
        let detail = format!(
            "not a chained trail: none of its {unchained} events has event.sequence and event.hash (write it with \
             FileWriterBuilder::chain, or \"chain\": true)"
        );
        check
            .report
            .findings
            .insert(0, Finding { file, line: 1, kind: FindingKind::Unchained, detail, expected: false });
    }
    if let Some(expected) = options.expect.filter(|_| !check.expected_seen) {
        let last = check.report.last.map_or(0, |l| l.sequence);
        let file = files.last().cloned().unwrap_or_default();
        let (kind, detail) = if last < expected.sequence {
            let detail = format!(
                "the trail ends at event.sequence {last}, but a checkpoint says it reached {}: {} line(s) cut from the end",
                expected.sequence,
                expected.sequence - last
            );
            (FindingKind::CutTail, detail)
        } else {
            let detail = format!("the checkpoint's line, event.sequence {}, is not in the trail", expected.sequence);
            (FindingKind::Gap, detail)
        };
        check.report.findings.push(Finding { file, line: 0, kind, detail, expected: false });
    }
    Ok(check.report)
}

struct Check<'a> {
    options: &'a Options,
    report: Report,
    /// The link of the last whole chained line.
    previous: Option<Link>,
    /// A torn line, until it is known whether the writer resumed after it.
    pending_torn: Option<Finding>,
    /// The line `options.expect` names was found.
    expected_seen: bool,
    /// What the file being read holds so far (for its seal).
    seen: FileSeen,
    /// The pending torn line lacks its newline (a write cut short, not a line put there).
    last_torn_unterminated: bool,
    /// Lines whose hash is still to be checked (of one file or of several: a batch goes on
    /// from one file to the next, so that small files are hashed on another core too).
    batch: Batch,
    /// Batches being hashed on other threads, and batches hashed here (no thread to be had).
    in_flight: Vec<std::thread::JoinHandle<(Batch, Vec<bool>)>>,
    done: Vec<(Batch, Vec<bool>)>,
    /// Buffers of settled batches, for the next ones.
    spare: Vec<Vec<u8>>,
}

/// Lines waiting for their hash to be checked.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    jobs: Vec<Job>,
}

/// One line's check: its bytes should give `link.hash` after `previous`.
struct Job {
    /// The file's index in the report's files.
    file: usize,
    line: u64,
    previous: [u8; 32],
    link: super::chain::ParsedLink,
    bytes: std::ops::Range<usize>,
}

/// How many bytes of lines are checked at once.
const BATCH_BYTES: usize = 4 << 20;

/// A batch smaller than this is hashed on the reading thread.
const SMALL_BATCH_BYTES: usize = 256 << 10;

/// How much is read at a time.
const READ_CHUNK: usize = 1 << 20;

/// Appends up to [`READ_CHUNK`] bytes of `reader` to `buffer` (into its spare capacity, not
/// zeroed first); how many (0 at the end).
fn read_chunk(reader: &mut impl Read, buffer: &mut Vec<u8>) -> io::Result<usize> {
    let start = buffer.len();
    buffer.reserve(READ_CHUNK);
    let read = reader.take(READ_CHUNK as u64).read_to_end(buffer);
    match read {
        Ok(read) => Ok(read),
        Err(error) => {
            buffer.truncate(start);
            Err(error)
        }
    }
}

/// How many batches may be hashed at once while reading goes on: as many as the machine has
/// cores (hashing is most of the work; the reading thread shares a core with them).
fn pipeline() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8))
}

/// The lines of one file, and its first and last link.
#[derive(Clone, Copy, Debug, Default)]
struct FileSeen {
    lines: u64,
    first: Option<u64>,
    last: Option<Link>,
}

impl Check<'_> {
    fn seals_wanted(&self) -> bool {
        #[cfg(feature = "signing")]
        return self.options.seals.is_some();
        #[cfg(not(feature = "signing"))]
        false
    }

    /// Checks the seal of the rotated file stored at `stored` (its bytes hash to `sha`), chained
    /// to `previous`; the seal's own hash, to chain the next one to.
    #[cfg(feature = "signing")]
    fn seal(
        &mut self,
        stored: &Path,
        sha: [u8; 32],
        bytes: u64,
        newest: bool,
        previous: Option<[u8; 32]>,
    ) -> Option<[u8; 32]> {
        let key = self.options.seals.as_ref().expect("seals are wanted");
        let path = super::names::seal_path(stored);
        let Ok(note) = fs::read_to_string(&path) else {
            let detail = if newest {
                "no seal yet: the newest rotated file may still be being compressed or sealed".to_owned()
            } else {
                format!("no seal ({} is missing)", path.display())
            };
            self.report.findings.push(Finding {
                file: stored.to_path_buf(),
                line: 0,
                kind: FindingKind::Unsealed,
                detail,
                expected: newest,
            });
            return None;
        };
        let own = <sha2::Sha256 as sha2::Digest>::digest(note.as_bytes()).into();
        let body = match super::checkpoint::verify_note(&note, key) {
            Ok(body) => body,
            Err(problem) => {
                self.finding(stored, 0, FindingKind::BadSeal, format!("{}: {problem}", path.display()));
                return Some(own);
            }
        };
        let Ok(seal) = serde_json::from_str::<serde_json::Value>(body.trim_end()) else {
            self.finding(stored, 0, FindingKind::BadSeal, format!("{}: not a seal", path.display()));
            return Some(own);
        };
        let name = stored.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let seen = self.seen;
        let mut differences = Vec::new();
        let mut differs = |what: &str, sealed: &serde_json::Value, found: serde_json::Value| {
            if *sealed != found {
                differences.push(format!("{what}: sealed {sealed}, found {found}"));
            }
        };
        differs("file", &seal["file"], name.clone().into());
        differs("bytes", &seal["bytes"], bytes.into());
        differs("sha256", &seal["sha256"], hex(&sha).into());
        differs("lines", &seal["lines"], seen.lines.into());
        differs("first_sequence", &seal["first_sequence"], seen.first.into());
        differs("last_sequence", &seal["last_sequence"], seen.last.map(|l| l.sequence).into());
        differs("head", &seal["head"], seen.last.map(|l| hex(&l.hash)).into());
        if let Some(previous) = previous {
            differs("previous seal", &seal["previous"], hex(&previous).into());
        }
        if !differences.is_empty() {
            self.finding(
                stored,
                0,
                FindingKind::SealMismatch,
                format!("not what its seal says: {}", differences.join("; ")),
            );
        }
        Some(own)
    }

    /// Seals beside the trail whose file is not in it: a rotated file deleted or renamed.
    #[cfg(feature = "signing")]
    fn sealed_but_missing(&mut self, active: &Path, rotated: &[PathBuf]) {
        let dir = super::storage::parent_dir(active);
        let Ok(entries) = fs::read_dir(dir) else { return };
        let strip_gz = |name: &str| name.strip_suffix(".gz").unwrap_or(name).to_owned();
        let present: Vec<String> =
            rotated.iter().filter_map(|p| p.file_name().map(|n| strip_gz(&n.to_string_lossy()))).collect();
        let (stem, ext) = {
            let stem = active.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let ext = active.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
            (format!("{stem}-"), ext)
        };
        let mut missing: Vec<(String, PathBuf)> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter_map(|path| {
                let name = path.file_name()?.to_string_lossy().into_owned();
                let stored = name.strip_suffix(".seal")?.to_owned();
                let target = strip_gz(&stored);
                (target.starts_with(&stem) && target.ends_with(&ext) && !present.contains(&target))
                    .then_some((stored, path))
            })
            .collect();
        missing.sort();
        for (target, seal) in missing {
            let sequences = fs::read_to_string(&seal)
                .ok()
                .and_then(|note| {
                    note.lines().next().and_then(|body| serde_json::from_str::<serde_json::Value>(body).ok())
                })
                .map(|body| format!(" (event.sequence {} to {})", body["first_sequence"], body["last_sequence"]))
                .unwrap_or_default();
            let detail =
                format!("{target} is sealed ({}) but not in the trail: deleted or renamed{sequences}", seal.display());
            self.finding(&dir.join(&target), 0, FindingKind::Gap, detail);
        }
    }

    fn finding(&mut self, file: &Path, line: u64, kind: FindingKind, detail: String) {
        self.report.findings.push(Finding { file: file.to_path_buf(), line, kind, detail, expected: false });
    }

    fn file(&mut self, file: &Path, reader: impl Read) {
        self.read_lines(file, reader);
    }

    /// Hashes what is left, then puts the findings made so far in trail order: by file, and in
    /// a file by line, its findings of the whole file (line 0: its seal, a file gone) last. A
    /// hash's failure is filed when its batch is settled, which may be files later.
    fn finish_files(&mut self) {
        self.hash_batch();
        self.settle();
        let index: std::collections::HashMap<&Path, usize> =
            self.report.files.iter().enumerate().map(|(index, file)| (file.as_path(), index)).collect();
        let mut group = 0;
        let mut keys = Vec::with_capacity(self.report.findings.len());
        for finding in &self.report.findings {
            // A finding about a file by another name (its stored `.gz`) stays in the group before.
            if let Some(&at) = index.get(finding.file.as_path()) {
                group = at;
            }
            keys.push((group, if finding.line == 0 { u64::MAX } else { finding.line }));
        }
        let mut keyed: Vec<_> = keys.into_iter().zip(std::mem::take(&mut self.report.findings)).collect();
        keyed.sort_by_key(|(key, _)| *key);
        self.report.findings = keyed.into_iter().map(|(_, finding)| finding).collect();
    }

    /// Hands the batched lines to a thread that checks their hashes while this one reads on
    /// (after settling the batch before it: one batch is hashed while the next is read).
    fn hash_batch(&mut self) {
        if self.batch.jobs.is_empty() {
            return;
        }
        let check = |hash: &ChainHash, batch: &Batch| -> Vec<bool> {
            batch
                .jobs
                .iter()
                .map(|job| verifies(hash, &job.previous, &batch.bytes[job.bytes.clone()], &job.link))
                .collect()
        };
        // A small batch (a small file's last lines) is hashed here: a thread would cost more
        // than the hashing.
        if self.batch.bytes.len() < SMALL_BATCH_BYTES {
            let batch = std::mem::take(&mut self.batch);
            let results = check(&self.options.hash, &batch);
            self.done.push((batch, results));
            return;
        }
        // Shared, so that the batch can be taken back should no thread be had.
        let shared = std::sync::Arc::new(std::sync::Mutex::new(Some(std::mem::take(&mut self.batch))));
        let (hash, given) = (self.options.hash.clone(), std::sync::Arc::clone(&shared));
        let spawned = std::thread::Builder::new().name("audit-verify".to_owned()).spawn(move || {
            let batch = given.lock().unwrap_or_else(|p| p.into_inner()).take().expect("given once");
            let results = check(&hash, &batch);
            (batch, results)
        });
        match spawned {
            Ok(handle) => self.in_flight.push(handle),
            Err(_) => {
                if let Some(batch) = shared.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    let results = check(&self.options.hash, &batch);
                    self.done.push((batch, results));
                }
            }
        }
    }

    /// Waits for the batches being hashed and files their failures.
    fn settle(&mut self) {
        self.settle_some(self.in_flight.len());
    }

    /// Waits for the `count` oldest batches being hashed (the others go on meanwhile), and files
    /// their failures and those of the batches hashed here.
    fn settle_some(&mut self, count: usize) {
        let mut finished = std::mem::take(&mut self.done);
        for handle in self.in_flight.drain(..count) {
            finished.push(handle.join().expect("hashing does not panic"));
        }
        for (mut batch, results) in finished {
            for (job, ok) in batch.jobs.iter().zip(&results) {
                let ok = *ok;
                if ok {
                    self.report.verified += 1;
                } else {
                    let detail = format!("event.sequence {}: its bytes do not give its event.hash", job.link.sequence);
                    self.report.findings.push(Finding {
                        file: self.report.files[job.file].clone(),
                        line: job.line,
                        kind: FindingKind::Modified,
                        detail,
                        expected: false,
                    });
                }
            }
            // Its buffer serves the next batch (no new pages to fault in for each).
            batch.bytes.clear();
            if self.spare.len() <= pipeline() {
                self.spare.push(batch.bytes);
            }
        }
    }

    /// Reads the file in large chunks straight into the batch's buffer and checks its lines
    /// where they lie (no copy per line): one batch is hashed on another thread while the next
    /// is read.
    fn read_lines(&mut self, file: &Path, mut reader: impl Read) {
        let mut number = 0u64;
        // Where the line being read starts in the batch's buffer.
        if self.batch.bytes.capacity() == 0 {
            // The first batch, or one just handed over: read into a buffer kept from an earlier
            // one (a new one for each costs more than reading a small file).
            if let Some(spare) = self.spare.pop() {
                self.batch.bytes = spare;
            }
        }
        let mut line_start = self.batch.bytes.len();
        let mut at_end = false;
        loop {
            if line_start >= BATCH_BYTES {
                // A full batch: hand it over, keeping the line begun at its end for the next.
                // At most one batch is hashed while the next is read: memory stays bounded.
                let tail = self.batch.bytes.split_off(line_start);
                if self.batch.jobs.is_empty() {
                    self.batch.bytes.clear(); // nothing of it to hash (an unchained stretch)
                } else {
                    if self.in_flight.len() >= pipeline() {
                        // The oldest only: the next goes on being hashed while this thread reads.
                        self.settle_some(1);
                    }
                    self.hash_batch();
                }
                if let Some(spare) = self.spare.pop() {
                    self.batch.bytes = spare;
                }
                self.batch.bytes.reserve(BATCH_BYTES + 2 * READ_CHUNK);
                self.batch.bytes.extend_from_slice(&tail);
                line_start = 0;
            }
            let scan_from = self.batch.bytes.len();
            let read = match at_end {
                true => 0,
                false => match read_chunk(&mut reader, &mut self.batch.bytes) {
                    Ok(read) => read,
                    Err(error) => {
                        self.finding(file, number, FindingKind::Unreadable, format!("cannot read on: {error}"));
                        return;
                    }
                },
            };
            // Short of a chunk: the read met the file's end (no need to ask it again).
            at_end = read < READ_CHUNK;
            if read == 0 {
                // The end: a last line without its newline was cut short.
                if line_start < self.batch.bytes.len() {
                    number += 1;
                    self.report.lines += 1;
                    self.seen.lines += 1;
                    let end = self.batch.bytes.len();
                    self.line(file, number, line_start..end, false);
                }
                return;
            }
            let mut from = scan_from;
            while let Some(offset) = memchr::memchr(b'\n', &self.batch.bytes[from..]) {
                let end = from + offset;
                number += 1;
                self.report.lines += 1;
                self.seen.lines += 1;
                if end > line_start {
                    self.line(file, number, line_start..end, true);
                }
                line_start = end + 1;
                from = line_start;
            }
        }
    }

    /// Checks the line at `range` of the batch's buffer (without its newline).
    fn line(&mut self, file: &Path, number: u64, range: std::ops::Range<usize>, whole: bool) {
        let line = &self.batch.bytes[range.clone()];
        // The common case, checked without parsing the JSON: a whole line with a link.
        let link = if whole { parse_link(line) } else { None };
        let resumed = self.pending_torn.is_some()
            && link.is_some()
            && memchr::memmem::find(line, format!("\"action\":\"{}\"", AUDIT_TRAIL_RESUMED.name()).as_bytes())
                .is_some();
        let line_len = line.len();
        if let Some(mut torn) = self.pending_torn.take() {
            // The writer records `audit_trail_resumed` first thing after a crash's torn line.
            torn.expected = resumed;
            self.report.findings.push(torn);
        }
        if let Some(link) = &link {
            self.seen.first.get_or_insert(link.sequence);
            self.seen.last = Some(Link { sequence: link.sequence, hash: link.hash });
        }
        let Some(link) = link else {
            // A line without its newline was cut short, whatever it holds: the writer writes
            // both at once. A whole event without a link was put there by someone else.
            let event = whole
                .then(|| serde_json::from_slice::<serde_json::Value>(&self.batch.bytes[range.clone()]).ok())
                .flatten();
            if event.as_ref().is_some_and(serde_json::Value::is_object) {
                let detail = "a whole event without event.sequence and event.hash in a chained trail".to_owned();
                self.finding(file, number, FindingKind::Unchained, detail);
            } else {
                self.last_torn_unterminated = !whole;
                self.pending_torn = Some(Finding {
                    file: file.to_path_buf(),
                    line: number,
                    kind: FindingKind::Torn,
                    detail: format!("not a whole event ({line_len} bytes): a write cut short"),
                    expected: false,
                });
            }
            return;
        };
        let previous = self.previous.unwrap_or(Link::GENESIS);
        self.report.first_sequence.get_or_insert(link.sequence);
        let expected = previous.sequence + 1;
        let first = self.previous.is_none();
        if first && link.sequence != 1 && !self.options.after_retention {
            let detail = format!(
                "the trail starts at event.sequence {}: the {} line(s) before it are missing (deleted, or removed by \
                 retention: then check with `after_retention`)",
                link.sequence,
                link.sequence - 1
            );
            self.finding(file, number, FindingKind::Gap, detail);
        } else if first || link.sequence == expected {
            // The first line of what retention left cannot be checked against its predecessor:
            // its own hash is taken as given.
            if first && link.sequence != 1 {
                self.report.verified += 1;
            } else {
                // Checked in batches, on another core (each line needs only its predecessor's
                // hash, as that line states it), where it lies in the batch's buffer.
                let file = self.report.files.len() - 1;
                self.batch.jobs.push(Job { file, line: number, previous: previous.hash, link, bytes: range });
            }
        } else if link.sequence > expected {
            let missing = link.sequence - expected;
            let detail = format!(
                "{missing} line(s) missing before this one: event.sequence {} follows {}",
                link.sequence, previous.sequence
            );
            self.finding(file, number, FindingKind::Gap, detail);
        } else {
            let detail =
                format!("event.sequence {} after {}: reordered or duplicated", link.sequence, previous.sequence);
            self.finding(file, number, FindingKind::OutOfOrder, detail);
            // The chain goes on from the highest point reached.
            return;
        }
        if let Some(expected) = self.options.expect.filter(|e| e.sequence == link.sequence) {
            self.expected_seen = true;
            if expected.hash != link.hash {
                let detail = format!(
                    "event.sequence {} has another hash than the checkpoint says: the history was rewritten",
                    link.sequence
                );
                self.finding(file, number, FindingKind::Rewritten, detail);
            }
        }
        self.previous = Some(Link { sequence: link.sequence, hash: link.hash });
        self.report.last = self.previous;
    }
}
