//! [`Cursor`]: how far a shipper has delivered, kept in a small JSON file replaced atomically
//! after every acknowledged batch, so a shipper killed at any instant resumes where its
//! destination's last acknowledgement left it (and delivers at most that batch again).

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::output::storage::replace_file;

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
    /// The identity of the destination this cursor follows ([`Destination::identity`](super::Destination::identity));
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
