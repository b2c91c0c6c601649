//! Signed checkpoints of a chained trail, in the C2SP `tlog-checkpoint` style of transparency
//! logs: a note of the trail's origin, its size (the last `event.sequence` on disk) and its head
//! (that line's `event.hash`), signed with Ed25519 (C2SP `signed-note`):
//!
//! ```text
//! myapp.example/audit
//! 18442
//! n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=
//!
//! — myapp.example/audit Az3grlc1oWe8Y2Z7a1PvWaBMI2W2mZNrK8u9mR9QZ5tTe0e4M7m5ZNl5Y2nCw8l4yX2F…
//! ```
//!
//! Kept somewhere the service cannot rewrite (another machine, a ticket, an object store with
//! retention), a checkpoint proves what the trail held at that moment: a later check finds lines
//! cut from the end (the trail ends before the checkpoint's size) and a rewritten history (the
//! line at that size has another hash). The public key is all a verifier needs.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer, Verifier};
use sha2::{Digest, Sha256};

use super::chain::Link;

/// The signature algorithm's byte in C2SP key encodings (Ed25519).
const ED25519: u8 = 0x01;

/// What a checkpoint says of a trail.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checkpoint {
    /// The trail's name: the signer's choice, the same for every checkpoint of one trail.
    pub origin: String,
    /// The number of chained lines on disk: the last line's `event.sequence`.
    pub size: u64,
    /// That line's `event.hash`.
    pub head: [u8; 32],
}

impl Checkpoint {
    /// The checkpoint of a trail whose last synced line is `link`.
    pub fn new(origin: impl Into<String>, link: Link) -> Checkpoint {
        Checkpoint { origin: origin.into(), size: link.sequence, head: link.hash }
    }

    /// The link it vouches for: the trail's line `size` has hash `head`.
    pub fn link(&self) -> Link {
        Link { sequence: self.size, hash: self.head }
    }

    /// The note's body: origin, size and head, each on a line.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.head))
    }

    /// The signed note.
    pub fn sign(&self, key: &SigningKey) -> String {
        sign_note(&self.body(), key)
    }

    /// Reads a signed note and checks its signature by `key`.
    pub fn verify(note: &str, key: &PublicKey) -> Result<Checkpoint, String> {
        let body = verify_note(note, key)?;
        let mut lines = body.lines();
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or("no origin line")?.to_owned();
        let size = lines.next().and_then(|s| s.parse().ok()).ok_or("the second line is not a size")?;
        let head: [u8; 32] = lines
            .next()
            .and_then(|h| BASE64.decode(h).ok())
            .and_then(|h| h.try_into().ok())
            .ok_or("the third line is not a base64 SHA-256 hash")?;
        Ok(Checkpoint { origin, size, head })
    }
}

/// `body` (lines, each ending with a newline) signed by `key`: C2SP's signed note.
pub(crate) fn sign_note(body: &str, key: &SigningKey) -> String {
    let signature = key.key.sign(body.as_bytes());
    let mut blob = key.id.to_vec();
    blob.extend_from_slice(&signature.to_bytes());
    format!("{body}\n\u{2014} {} {}\n", key.name, BASE64.encode(blob))
}

/// The body of a signed note whose signature by `key` checks out.
pub(crate) fn verify_note(note: &str, key: &PublicKey) -> Result<String, String> {
    let (body, signatures) = note.split_once("\n\n").ok_or("not a signed note: no blank line before the signatures")?;
    let body = format!("{body}\n");
    let prefix = format!("\u{2014} {} ", key.name);
    let mut found = false;
    for line in signatures.lines() {
        let Some(encoded) = line.strip_prefix(&prefix) else { continue };
        let blob = BASE64.decode(encoded).map_err(|_| "a signature is not base64")?;
        if blob.len() != 4 + 64 || blob[..4] != key.id {
            continue;
        }
        let signature = ed25519_dalek::Signature::from_slice(&blob[4..]).map_err(|e| e.to_string())?;
        key.key
            .verify(body.as_bytes(), &signature)
            .map_err(|_| "the signature does not match: the note was altered, or signed by another key")?;
        found = true;
    }
    if !found {
        return Err(format!("no signature by `{}` (key id {})", key.name, hex4(&key.id)));
    }
    Ok(body)
}

/// An Ed25519 signing key, with its name. Its file (`PRIVATE+KEY+<name>+<id>+<base64>`, the form
/// of Go's `note` package) must stay secret; [`SigningKey::public_key`] is what verifiers get.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("name", &self.name).field("id", &hex4(&self.id)).finish_non_exhaustive()
    }
}

/// An Ed25519 public key, with its name: `<name>+<id>+<base64(0x01 ‖ key)>` on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

/// The C2SP key id: the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
fn key_id(name: &str, public: &ed25519_dalek::VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ED25519]);
    hasher.update(public.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn hex4(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains(['+', ' ', '\n', '\t']) {
        return Err(format!("`{name}` cannot name a key: no `+`, spaces or newlines"));
    }
    Ok(())
}

/// The fields of a key's text form, `<name>+<id>+<base64(0x01 ‖ 32 bytes)>` (the base64 may hold
/// `+`: only the first two separate fields): the name, the id as written, and the 32 bytes.
fn parse_key_fields(text: &str) -> Result<(&str, &str, [u8; 32]), String> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(blob)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("a key is <name>+<id>+<base64>".to_owned());
    };
    check_name(name)?;
    let blob = BASE64.decode(blob).map_err(|_| "the key is not base64")?;
    let bytes: [u8; 32] = match blob.split_first() {
        Some((&ED25519, bytes)) => bytes.try_into().map_err(|_| "an Ed25519 key has 32 bytes")?,
        _ => return Err("not an Ed25519 key".to_owned()),
    };
    Ok((name, id, bytes))
}

/// Reads a key file's text.
fn read_key_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

impl SigningKey {
    /// A new key from the operating system's CSPRNG.
    pub fn generate(name: impl Into<String>) -> Result<SigningKey, String> {
        let name = name.into();
        check_name(&name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
        Ok(SigningKey::from_seed(name, seed))
    }

    fn from_seed(name: String, seed: [u8; 32]) -> SigningKey {
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        SigningKey { id: key_id(&name, &key.verifying_key()), name, key }
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What verifiers need.
    pub fn public_key(&self) -> PublicKey {
        PublicKey { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    /// The key's text form (keep it secret).
    pub fn to_text(&self) -> String {
        let mut blob = vec![ED25519];
        blob.extend_from_slice(&self.key.to_bytes());
        format!("PRIVATE+KEY+{}+{}+{}\n", self.name, hex4(&self.id), BASE64.encode(blob))
    }

    /// Reads a key's text form.
    pub fn from_text(text: &str) -> Result<SigningKey, String> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or("not a signing key (PRIVATE+KEY+…)")?;
        let (name, _, seed) = parse_key_fields(rest)?;
        Ok(SigningKey::from_seed(name.to_owned(), seed))
    }

    /// Reads a key file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<SigningKey, String> {
        let path = path.as_ref();
        SigningKey::from_text(&read_key_file(path)?).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl PublicKey {
    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key's text form, one line.
    pub fn to_text(&self) -> String {
        let mut blob = vec![ED25519];
        blob.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}\n", self.name, hex4(&self.id), BASE64.encode(blob))
    }

    /// Reads a key's text form.
    pub fn from_text(text: &str) -> Result<PublicKey, String> {
        let (name, id, bytes) = parse_key_fields(text.trim())?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|e| e.to_string())?;
        let public = PublicKey { id: key_id(name, &key), name: name.to_owned(), key };
        if hex4(&public.id) != id {
            return Err(format!("the key id {id} does not match the key (it is {})", hex4(&public.id)));
        }
        Ok(public)
    }

    /// Reads a key file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<PublicKey, String> {
        let path = path.as_ref();
        PublicKey::from_text(&read_key_file(path)?).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_does_not() {
        let key = SigningKey::generate("example.com/audit").unwrap();
        let public = PublicKey::from_text(&key.public_key().to_text()).unwrap();
        let again = SigningKey::from_text(&key.to_text()).unwrap();
        assert_eq!(again.public_key(), public);
        let checkpoint = Checkpoint::new("example.com/audit", Link { sequence: 42, hash: [7; 32] });
        let note = checkpoint.sign(&key);
        assert!(note.starts_with("example.com/audit\n42\n"), "{note}");
        assert_eq!(Checkpoint::verify(&note, &public).unwrap(), checkpoint);
        let altered = note.replacen("\n42\n", "\n41\n", 1);
        assert!(Checkpoint::verify(&altered, &public).unwrap_err().contains("does not match"));
        let other = SigningKey::generate("example.com/audit").unwrap().public_key();
        assert!(Checkpoint::verify(&note, &other).is_err(), "another key of the same name");
        assert!(PublicKey::from_text("a+00000000+AAAA").is_err());
        assert!(SigningKey::generate("bad name").is_err());
    }
}
