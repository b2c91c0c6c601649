//! [`Cursor`]: how far a shipper has delivered, kept in a small JSON file replaced atomically
//! after every acknowledged batch, so a shipper killed at any instant resumes where its
//! destination's last acknowledgement left it (and delivers at most that batch again).

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::names::{cursor_beside, cursor_lock_path, slug};
use super::storage::{replace_file, try_lock_private};

/// A position in a trail: just after the last line delivered.
///
/// Files are known by their first line, not their name: the active file is renamed when it
/// rotates and may be compressed later, and its first line stays the same through both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Cursor {
    /// The file's name when the position was taken (for people: the file is found by `file_key`).
    pub file: String,
    /// The SHA-256 of the file's first line (with its newline), in hex: the file's identity.
    pub file_key: String,
    /// Bytes of the file (uncompressed) delivered: the offset just after the last delivered line.
    pub offset: u64,
    /// The `event.sequence` of the last delivered line, in a chained trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// The `event.id` of the last delivered line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<String>,
    /// Events delivered since the cursor was made.
    #[serde(default)]
    pub delivered: u64,
    /// The identity of the destination this cursor follows ([`Destination::identity`](crate::ship::Destination::identity));
    /// absent in cursors written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

impl Cursor {
    /// The cursor saved at `path`; `None` if there is none yet (a shipper that never delivered
    /// starts at the oldest file of the trail).
    pub fn load(path: &Path) -> io::Result<Option<Cursor>> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|error| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the shipping cursor {} is unreadable: {error}", path.display()),
                )
            }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Saves the cursor at `path`: a temporary file, synced, renamed over the old one. A crash
    /// leaves the old cursor or the new one, never a mix.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        bytes.push(b'\n');
        replace_file(path, &bytes)
    }
}

/// The cursor's default path: beside the trail, hidden, named for the file and the destination
/// (its name's first 40 characters, for people) and the hash of the destination's whole
/// identity (for the shipper: any change of it is another cursor).
///
/// A destination whose identity is its name, a plain word (letters, digits, `-`) of at most 80
/// characters, keeps that word alone: the path names it exactly.
pub(crate) fn default_cursor_path(active: &Path, destination: &str, identity: &str) -> PathBuf {
    use sha2::Digest;
    let plain = |name: &str| name.len() <= 80 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if identity == destination && plain(destination) && !destination.is_empty() {
        return legacy_cursor_path(active, destination);
    }
    let digest: [u8; 32] = sha2::Sha256::digest(identity.as_bytes()).into();
    let hash = &super::chain::hex(&digest)[..16];
    cursor_beside(active, &format!("{}-{hash}", slug(destination, 40)))
}

/// The cursor's path before the identity was hashed into it: the destination's name, cut at
/// 80 characters.
fn legacy_cursor_path(active: &Path, destination: &str) -> PathBuf {
    cursor_beside(active, &slug(destination, 80))
}

/// A cursor left at the former default path by an earlier version is moved to the new one
/// (once, when there is none there yet), so an upgrade does not deliver the trail again.
pub(crate) fn adopt_legacy_cursor(active: &Path, name: &str, path: &Path) -> io::Result<()> {
    let legacy = legacy_cursor_path(active, name);
    if path.exists() || !legacy.exists() {
        return Ok(());
    }
    std::fs::rename(&legacy, path)?;
    tracing::warn!(
        target: "audit_core",
        from = %legacy.display(),
        to = %path.display(),
        "shipping cursor moved to the path named for its destination's whole identity"
    );
    Ok(())
}

/// Locks `<cursor>.lock` for as long as the file is held: two shippers on one cursor would
/// each move it past batches the other has not delivered.
pub(crate) fn lock_cursor(cursor: &Path) -> io::Result<std::fs::File> {
    let path = cursor_lock_path(cursor);
    try_lock_private(&path)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("another shipper holds {} (one shipper per cursor)", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_broken_one_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("audit-cursor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ship.cursor");
        assert_eq!(Cursor::load(&path).unwrap(), None);
        let cursor = Cursor {
            file: "audit.log".into(),
            file_key: "ab".repeat(32),
            offset: 42,
            sequence: Some(3),
            last_id: Some("0".repeat(32)),
            delivered: 3,
            destination: Some("central".into()),
        };
        cursor.save(&path).unwrap();
        assert_eq!(Cursor::load(&path).unwrap(), Some(cursor));
        assert!(!dir.join("ship.cursor.tmp").exists());
        std::fs::write(&path, "{\"file\":").unwrap();
        let error = Cursor::load(&path).unwrap_err();
        assert!(error.to_string().contains("ship.cursor"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
