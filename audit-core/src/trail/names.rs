//! The trail's file names, and their order: the active file, its rotated files
//! (`audit-00000009-20251125T020700Z.log`, `.gz` once compressed), their seals (`.seal`), the
//! writer's lock (`.audit.log.lock`) and the shippers' cursors (`.audit.log.<destination>.cursor`)
//! beside it. Every part of the toolkit that names or lists a file of the trail asks here.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::storage::parent_dir;

/// The seal of the file stored at `stored`: `<stored>.seal`.
pub(crate) fn seal_path(stored: &Path) -> PathBuf {
    let mut name = stored.as_os_str().to_owned();
    name.push(".seal");
    PathBuf::from(name)
}

/// `path` with `.gz` appended.
pub(crate) fn gz_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// Whether `path` names a compressed file.
pub(crate) fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// `audit.log` → (`audit-`, `.log`).
fn name_parts(active: &Path) -> (String, String) {
    let stem = active.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = active.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (format!("{stem}-"), ext)
}

/// The name of the `index`th rotated file of `active`, rotated at `now`:
/// `audit-00000009-20251125T020700Z.log`.
pub(crate) fn rotated_name(active: &Path, index: u64, now: SystemTime) -> PathBuf {
    let (prefix, ext) = name_parts(active);
    // RFC 3339 to seconds, without separators: 20261125T020700Z.
    let stamp = crate::leaf::timestamp::compact_seconds(now);
    parent_dir(active).join(format!("{prefix}{index:08}-{stamp}{ext}"))
}

/// The rotation index of `candidate` if it is a rotated file of `active`.
pub(crate) fn index_of(active: &Path, candidate: &Path) -> Option<u64> {
    let (prefix, ext) = name_parts(active);
    index_in(&prefix, &ext, candidate)
}

/// [`index_of`] with the active file's name parts already made (a listing of thousands of files
/// makes them once).
fn index_in(prefix: &str, ext: &str, candidate: &Path) -> Option<u64> {
    let name = candidate.file_name()?.to_str()?;
    let name = name.strip_suffix(".gz").unwrap_or(name);
    let rest = name.strip_prefix(prefix)?.strip_suffix(ext)?;
    let (index, stamp) = rest.split_once('-')?;
    let is_stamp = stamp.len() == 16 && stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T';
    (index.len() == 8 && is_stamp).then(|| index.parse().ok()).flatten()
}

/// The rotated files of `active`, oldest first. A file being compressed exists twice for a while
/// (`.log` and an unfinished `.log.gz`): it is listed once, as the `.log`.
pub fn rotated_files(active: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = parent_dir(active);
    let (prefix, ext) = name_parts(active);
    let mut found: Vec<(u64, PathBuf)> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter_map(|path| index_in(&prefix, &ext, &path).map(|index| (index, path)))
            .collect(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error),
    };
    // By index, the `.log` before the `.log.gz` (shorter name first); then one per index.
    found.sort();
    found.dedup_by_key(|(index, _)| *index);
    Ok(found.into_iter().map(|(_, path)| path).collect())
}

/// A rotated file's name without `.gz`: the same file before and after it was compressed.
pub(crate) fn plain_name(path: &Path) -> PathBuf {
    match path.extension() {
        Some(ext) if ext == "gz" => path.with_extension(""),
        _ => path.to_path_buf(),
    }
}

/// Whether two names are of the same rotated file (its `.log` and, once compressed, `.log.gz`).
pub(crate) fn same_rotated(a: &Path, b: &Path) -> bool {
    plain_name(a) == plain_name(b)
}

/// The writer's lock of `active`: `.<name>.lock` beside it.
pub(crate) fn writer_lock_path(active: &Path) -> PathBuf {
    let name = active.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    parent_dir(active).join(format!(".{name}.lock"))
}

/// The lock of a shipper's cursor: `<cursor>.lock`.
pub(crate) fn cursor_lock_path(cursor: &Path) -> PathBuf {
    let mut name = cursor.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// `.<trail's file>.<name>.cursor` beside the trail.
pub(crate) fn cursor_beside(active: &Path, name: &str) -> PathBuf {
    let file = active.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "audit".into());
    parent_dir(active).join(format!(".{file}.{name}.cursor"))
}

/// A destination's name as a file name's part: its first `chars` characters, each letter, digit
/// or `-`, anything else written `_`.
pub(crate) fn slug(destination: &str, chars: usize) -> String {
    destination.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rotated_names_sort_by_index_and_are_recognized() {
        let active = Path::new("/var/log/app/audit.log");
        let t = UNIX_EPOCH + Duration::from_secs(1_764_036_420);
        let a = rotated_name(active, 9, t);
        let b = rotated_name(active, 10, t - Duration::from_secs(3600));
        assert_eq!(a, Path::new("/var/log/app/audit-00000009-20251125T020700Z.log"));
        assert!(a < b, "the index decides the order, not the clock");
        assert_eq!(index_of(active, &a), Some(9));
        assert_eq!(index_of(active, Path::new("/var/log/app/audit-00000009-20251125T020700Z.log.gz")), Some(9));
        assert_eq!(index_of(active, Path::new("/var/log/app/audit-notes.log")), None);
        assert_eq!(index_of(active, Path::new("/var/log/app/other-00000009-20251125T020700Z.log")), None);
    }

    #[test]
    fn a_compressed_file_is_the_same_rotated_file() {
        let log = Path::new("/t/audit-00000001-20251125T020700Z.log");
        assert!(same_rotated(log, &gz_path(log)));
        assert_eq!(seal_path(&gz_path(log)), Path::new("/t/audit-00000001-20251125T020700Z.log.gz.seal"));
        assert_eq!(writer_lock_path(Path::new("/t/audit.log")), Path::new("/t/.audit.log.lock"));
    }
}
