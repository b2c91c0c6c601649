//! The line chain: every line of a chained trail carries its sequence number and a hash that
//! commits to the previous line's hash and to its own bytes, in ECS's own fields
//! (`event.sequence`, and `event.hash`, "to demonstrate log integrity"):
//!
//! ```text
//! {"@timestamp":"…","message":"…","event":{"sequence":42,"hash":"9f86…0f00","action":"…",…},…}
//! ```
//!
//! `hash(n) = SHA-256(hash(n-1) ‖ line(n))`, where `hash(0)` is 32 zero bytes and `line(n)` is the
//! line's bytes (no newline) with its own hash written as 64 `0`s; with a key,
//! HMAC-SHA256 under it instead. Editing, inserting, deleting or reordering a line breaks the
//! chain at that line; only a checkpoint kept elsewhere shows that lines were cut from the end.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Where the chain's fields start in a line: right after this.
pub(crate) const EVENT_OPEN: &[u8] = b"\"event\":{";
const SEQUENCE_KEY: &[u8] = b"\"sequence\":";
const HASH_KEY: &[u8] = b",\"hash\":\"";
const HASH_HEX: usize = 64;

/// How lines are hashed: SHA-256, or HMAC-SHA256 when a key is configured (then only a holder
/// of the key can recompute, or forge, the chain).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum ChainHash {
    /// SHA-256.
    #[default]
    Sha256,
    /// HMAC-SHA256 under this key.
    HmacSha256(Vec<u8>),
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainHash::Sha256 => f.write_str("Sha256"),
            ChainHash::HmacSha256(_) => f.write_str("HmacSha256([redacted])"),
        }
    }
}

impl ChainHash {
    /// The hash of `line` (its own hash field zeroed) after `previous`.
    pub fn link(&self, previous: &[u8; 32], line: &[u8]) -> [u8; 32] {
        self.link_parts(previous, &[line])
    }

    /// [`link`](ChainHash::link) of a line given in consecutive parts.
    pub fn link_parts(&self, previous: &[u8; 32], line: &[&[u8]]) -> [u8; 32] {
        match self {
            ChainHash::Sha256 => {
                let mut hasher = Sha256::new();
                hasher.update(previous);
                for part in line {
                    hasher.update(part);
                }
                hasher.finalize().into()
            }
            ChainHash::HmacSha256(key) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
                mac.update(previous);
                for part in line {
                    mac.update(part);
                }
                mac.finalize().into_bytes().into()
            }
        }
    }
}

/// The chain's position: the last line's sequence number and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// `event.sequence` of the last line (0 before the first).
    pub sequence: u64,
    /// `event.hash` of the last line (zeros before the first).
    pub hash: [u8; 32],
}

impl Link {
    /// Before the first line of a trail.
    pub const GENESIS: Link = Link { sequence: 0, hash: [0; 32] };
}

/// Finds `"event":{` in a line: a vectorized substring search, its searcher built once.
static EVENT_FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(EVENT_OPEN));

/// Chains lines as the writer writes them.
#[derive(Clone, Debug)]
pub(crate) struct LineChain {
    hash: ChainHash,
    last: Link,
}

impl LineChain {
    pub(crate) fn new(hash: ChainHash, last: Link) -> LineChain {
        LineChain { hash, last }
    }

    /// Chains the line that starts at `start` in `buffer` and runs to its end (no newline):
    /// inserts its sequence number and hash.
    pub(crate) fn seal(&mut self, buffer: &mut Vec<u8>, start: usize) {
        let sequence = self.last.sequence + 1;
        // Inside `event`, before its first field; a line without `event` (never one of this
        // toolkit's) gets an `event` of its own, first.
        let (at, prefix, suffix): (usize, &[u8], &[u8]) = match EVENT_FINDER.find(&buffer[start..]) {
            Some(offset) => {
                let at = start + offset + EVENT_OPEN.len();
                (at, b"", if buffer.get(at) == Some(&b'}') { b"" } else { b"," })
            }
            None => (start + 1, EVENT_OPEN, if buffer.get(start + 1) == Some(&b'}') { b"}" } else { b"}," }),
        };
        let mut digits = [0u8; 20];
        let digits = decimal(sequence, &mut digits);
        let insert = prefix.len() + SEQUENCE_KEY.len() + digits.len() + HASH_KEY.len() + HASH_HEX + 1 + suffix.len();
        // Open a gap in place (one move of the line's tail) and write the fields into it.
        let end = buffer.len();
        buffer.resize(end + insert, 0);
        buffer.copy_within(at..end, at + insert);
        let mut cursor = at;
        for piece in [prefix, SEQUENCE_KEY, digits, HASH_KEY] {
            buffer[cursor..cursor + piece.len()].copy_from_slice(piece);
            cursor += piece.len();
        }
        let hash_at = cursor;
        buffer[cursor..cursor + HASH_HEX].fill(b'0');
        cursor += HASH_HEX;
        buffer[cursor] = b'"';
        buffer[cursor + 1..cursor + 1 + suffix.len()].copy_from_slice(suffix);
        let hash = self.hash.link(&self.last.hash, &buffer[start..]);
        write_hex(&mut buffer[hash_at..hash_at + HASH_HEX], &hash);
        self.last = Link { sequence, hash };
    }

    /// Appends `line` (no newline) to `buffer`, chained: its sequence number and hash written
    /// as it is copied, rather than in a gap opened afterwards. The same bytes as
    /// [`seal`](LineChain::seal) of the line in place.
    pub(crate) fn seal_copy(&mut self, buffer: &mut Vec<u8>, line: &[u8]) {
        let start = buffer.len();
        let place = EVENT_FINDER.find(line).map(|offset| offset + EVENT_OPEN.len());
        // Only where `event` has fields (every line of this toolkit's): the fields, then `,`.
        let Some(place) = place.filter(|&at| line.get(at).is_some_and(|&b| b != b'}')) else {
            buffer.extend_from_slice(line);
            return self.seal(buffer, start);
        };
        let sequence = self.last.sequence + 1;
        let mut digits = [0u8; 20];
        let digits = decimal(sequence, &mut digits);
        buffer.extend_from_slice(&line[..place]);
        buffer.extend_from_slice(SEQUENCE_KEY);
        buffer.extend_from_slice(digits);
        buffer.extend_from_slice(HASH_KEY);
        let hash_at = buffer.len();
        buffer.extend_from_slice(&[b'0'; HASH_HEX]);
        buffer.extend_from_slice(b"\",");
        buffer.extend_from_slice(&line[place..]);
        let hash = self.hash.link(&self.last.hash, &buffer[start..]);
        write_hex(&mut buffer[hash_at..hash_at + HASH_HEX], &hash);
        self.last = Link { sequence, hash };
    }

    /// The last link made.
    pub(crate) fn last(&self) -> Link {
        self.last
    }
}

/// A chained line's link, read from it, with where its hash is (to zero it for checking).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedLink {
    /// `event.sequence`.
    pub sequence: u64,
    /// `event.hash`.
    pub hash: [u8; 32],
    /// Where the 64 hex digits of the hash start in the line.
    pub hash_at: usize,
}

/// Reads the chain's fields of `line` (no newline); `None` if it has none (an unchained line).
pub fn parse_link(line: &[u8]) -> Option<ParsedLink> {
    // A vectorized substring search, on the bytes (no UTF-8 pass over the whole line first).
    let open = EVENT_FINDER.find(line)? + EVENT_OPEN.len();
    let rest = line[open..].strip_prefix(SEQUENCE_KEY)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    let sequence: u64 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let rest = rest[digits..].strip_prefix(HASH_KEY)?;
    let hex = rest.get(..HASH_HEX)?;
    if rest.get(HASH_HEX) != Some(&b'"') {
        return None;
    }
    let mut hash = [0u8; 32];
    let mut invalid = 0u8;
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let (high, low) = (HEX_VALUE[usize::from(pair[0])], HEX_VALUE[usize::from(pair[1])]);
        invalid |= (high | low) & 0x80;
        hash[i] = (high << 4) | (low & 0x0f);
    }
    if invalid != 0 {
        return None;
    }
    let hash_at = open + SEQUENCE_KEY.len() + digits + HASH_KEY.len();
    Some(ParsedLink { sequence, hash, hash_at })
}

/// Whether `line` carries `link.hash` as its hash after `previous` (it does if and only if its
/// bytes are the ones the writer chained).
pub fn verifies(hash: &ChainHash, previous: &[u8; 32], line: &[u8], link: &ParsedLink) -> bool {
    let zeros = [b'0'; HASH_HEX];
    let parts = [&line[..link.hash_at], &zeros[..], &line[link.hash_at + HASH_HEX..]];
    hash.link_parts(previous, &parts) == link.hash
}

/// The hash as 64 lower-case hex digits.
pub fn hex(hash: &[u8; 32]) -> String {
    let mut out = vec![0u8; HASH_HEX];
    write_hex(&mut out, hash);
    String::from_utf8(out).expect("hex is ASCII")
}

fn write_hex(out: &mut [u8], bytes: &[u8; 32]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
}

/// `value` in decimal, in the end of `out`.
fn decimal(mut value: u64, out: &mut [u8; 20]) -> &[u8] {
    let mut at = out.len();
    loop {
        at -= 1;
        out[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &out[at..];
        }
    }
}

/// Each byte's value as a lower-case hex digit, or 0x80 when it is not one.
static HEX_VALUE: [u8; 256] = {
    let mut table = [0x80u8; 256];
    let mut digit = 0;
    while digit < 16 {
        table[b"0123456789abcdef"[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};

/// What the writer knows of a file's lines when it rotates it (for its seal).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FileStats {
    pub(crate) lines: u64,
    pub(crate) first: Option<Link>,
    pub(crate) last: Option<Link>,
}

impl FileStats {
    pub(crate) fn note(&mut self, link: Option<Link>) {
        self.lines += 1;
        if let Some(link) = link {
            self.first.get_or_insert(link);
            self.last = Some(link);
        }
    }
}

/// The lines of a file, and its first and last chained line (for the seal of a file the writer
/// goes on appending to after a restart).
#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) fn file_stats(path: &Path) -> io::Result<FileStats> {
    let mut stats = FileStats::default();
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(stats),
        Err(error) => return Err(error),
    };
    for line in bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
        let link = parse_link(line).map(|l| Link { sequence: l.sequence, hash: l.hash });
        stats.note(link);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_a_copy_writes_the_bytes_sealing_in_place_does() {
        let lines: [&[u8]; 4] = [
            br#"{"message":"m","event":{"action":"a"},"user":{"name":"u"}}"#,
            br#"{"event":{}}"#,
            br#"{"a":1}"#,
            b"{}",
        ];
        for hash in [ChainHash::Sha256, ChainHash::HmacSha256(b"key".to_vec())] {
            let start = Link { sequence: 41, hash: [7; 32] };
            let (mut in_place, mut copying) =
                (LineChain::new(hash.clone(), start), LineChain::new(hash.clone(), start));
            for line in lines {
                let mut sealed = b"before".to_vec();
                sealed.extend_from_slice(line);
                in_place.seal(&mut sealed, 6);
                let mut copied = b"before".to_vec();
                copying.seal_copy(&mut copied, line);
                assert_eq!(String::from_utf8_lossy(&sealed), String::from_utf8_lossy(&copied));
                assert_eq!(in_place.last(), copying.last());
            }
            assert_eq!(copying.last().sequence, 45);
        }
    }

    #[test]
    fn sealed_lines_parse_verify_and_break_when_touched() {
        let mut chain = LineChain::new(ChainHash::Sha256, Link::GENESIS);
        let mut buffer = b"{\"@timestamp\":\"t\",\"message\":\"m\",\"event\":{\"action\":\"a\"}}".to_vec();
        chain.seal(&mut buffer, 0);
        let line = buffer.clone();
        let json: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(json["event"]["sequence"], 1);
        assert_eq!(json["event"]["action"], "a");
        let link = parse_link(&line).unwrap();
        assert_eq!(link.sequence, 1);
        assert_eq!(json["event"]["hash"], hex(&link.hash));
        assert!(verifies(&ChainHash::Sha256, &[0; 32], &line, &link));
        let mut touched = line.clone();
        let m = touched.iter().position(|b| *b == b'm').unwrap();
        touched[m] = b'M';
        assert!(!verifies(&ChainHash::Sha256, &[0; 32], &touched, &parse_link(&touched).unwrap()));
        assert!(!verifies(&ChainHash::HmacSha256(b"k".to_vec()), &[0; 32], &line, &link), "another hash");

        let mut second = b"{\"message\":\"n\",\"event\":{\"action\":\"b\"}}".to_vec();
        chain.seal(&mut second, 0);
        let link2 = parse_link(&second).unwrap();
        assert_eq!(link2.sequence, 2);
        assert!(verifies(&ChainHash::Sha256, &link.hash, &second, &link2));
        assert!(!verifies(&ChainHash::Sha256, &[0; 32], &second, &link2), "commits to the previous line");
        assert_eq!(chain.last(), Link { sequence: 2, hash: link2.hash });
        assert!(parse_link(b"{\"event\":{\"action\":\"x\"}}").is_none());
        for odd in [&b"{}"[..], b"{\"a\":1}", b"{\"event\":{}}"] {
            let mut line = odd.to_vec();
            chain.seal(&mut line, 0);
            let json: serde_json::Value =
                serde_json::from_slice(&line).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&line)));
            assert!(json["event"]["sequence"].is_u64(), "{json}");
        }
    }
}
