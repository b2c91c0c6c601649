//! Seals of rotated files (feature `signing`), CloudTrail's digest files done over: when a
//! rotated file is stored for good (compressed or not), a signed note beside it, `<file>.seal`,
//! says what it holds: its name, size and SHA-256 as stored, its line count, its first and last
//! `event.sequence`, the chain's head, and the SHA-256 of the previous seal. A verifier with the
//! public key then finds a file that was replaced, truncated, renamed or deleted, and bytes added
//! after its gzip members, even where the lines' own chain cannot tell.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::chain::hex;
use super::chain::FileStats;
use super::checkpoint::{sign_note, SigningKey};
use super::names::{gz_path, rotated_files, seal_path};

/// Signs seals, chaining each to the one before.
pub(crate) struct Sealer {
    key: SigningKey,
    /// SHA-256 of the last seal written (zeros before the first).
    previous: Mutex<[u8; 32]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("key", &self.key).finish_non_exhaustive()
    }
}

/// SHA-256 of a file's bytes, and their count.
pub(crate) fn file_digest(path: &Path) -> io::Result<([u8; 32], u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok((hasher.finalize().into(), bytes));
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
}

impl Sealer {
    /// A sealer for the trail of `active`, chained to its newest existing seal.
    pub(crate) fn open(active: &Path, key: SigningKey) -> io::Result<Sealer> {
        let mut previous = [0u8; 32];
        for rotated in rotated_files(active)?.iter().rev() {
            let candidates = [seal_path(rotated), seal_path(&gz_path(rotated))];
            if let Some(seal) = candidates.iter().find(|seal| seal.exists()) {
                previous = file_digest(seal)?.0;
                break;
            }
        }
        Ok(Sealer { key, previous: Mutex::new(previous) })
    }

    /// Writes the seal of the file stored at `stored`, whose lines are `stats`.
    pub(crate) fn seal(&self, stored: &Path, stats: FileStats) -> io::Result<()> {
        let (sha256, bytes) = file_digest(stored)?;
        let mut previous = self.previous.lock().unwrap_or_else(|p| p.into_inner());
        let body = serde_json::json!({
            "seal": 1,
            "file": stored.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "bytes": bytes,
            "sha256": hex(&sha256),
            "lines": stats.lines,
            "first_sequence": stats.first.map(|l| l.sequence),
            "last_sequence": stats.last.map(|l| l.sequence),
            "head": stats.last.map(|l| hex(&l.hash)),
            "previous": hex(&previous),
        });
        let note = sign_note(&format!("{body}\n"), &self.key);
        let path = seal_path(stored);
        // Atomically: a crash mid-write leaves no half seal to be taken for a forged one.
        super::storage::replace_file(&path, note.as_bytes())?;
        *previous = Sha256::digest(note.as_bytes()).into();
        Ok(())
    }
}
