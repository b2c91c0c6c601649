//! Secrets in audit events, the way Vault's audit devices keep them: a value marked secret is
//! written as its salted HMAC-SHA256 (`hmac-sha256:<64 hex digits>`), never in clear.
//!
//! - [`Secret`] marks a value as secret by its type: its `Display` and `Debug` show
//!   `[redacted]`, and `#[audited(fields(token = token))]` writes a `Secret` as its HMAC
//!   (`fields(token = secret(expr))` marks any other value).
//! - [`Concealer`] holds the HMAC key. Each logger has one: a key you give it
//!   ([`AuditLoggerBuilder::hmac_key`](crate::logger::AuditLoggerBuilder::hmac_key), or the
//!   config's `hmac_key_file`), or a random one made at start (hashes then cannot be compared
//!   across restarts or machines).
//! - [`Concealer::hash`] is what an investigator runs: with the key, the hash of a candidate
//!   value (a leaked token, an e-mail address) to search the trail for.
//!
//! What it protects, and what not: the trail reveals nothing of a secret to someone without the
//! key, and equal values give equal hashes, so one can follow a token through the trail. But a
//! value with little entropy (a PIN, an e-mail of a known domain) can be found by hashing every
//! candidate *with the key*: keep the key out of the trail's reach (not in the log directory,
//! not in the same backups), and rotate it when it may have leaked (old hashes then need the old
//! key).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of every concealed value.
pub const HMAC_PREFIX: &str = "hmac-sha256:";

/// A value that must never be written in clear. `Display` and `Debug` show `[redacted]`; the
/// audit writes its HMAC where it is named as a field.
///
/// ```
/// use audit_core::secret::Secret;
///
/// let token = Secret::new("tok-4f9a".to_owned());
/// assert_eq!(token.to_string(), "[redacted]");
/// assert_eq!(format!("{token:?}"), "Secret([redacted])");
/// assert_eq!(token.expose(), "tok-4f9a");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Marks `value` as secret.
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The value itself, for the code that needs it (to check a token, say).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Secret<T> {
        Secret(value)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The HMAC key of a logger, and the hashing of secrets with it.
///
/// ```
/// use audit_core::secret::Concealer;
///
/// let concealer = Concealer::new(b"a key kept away from the trail".to_vec());
/// let hash = concealer.hash("alice@example.com");
/// assert!(hash.starts_with("hmac-sha256:"));
/// assert_eq!(hash.len(), "hmac-sha256:".len() + 64);
/// // The same value and key give the same hash: search the trail for it.
/// assert_eq!(concealer.hash("alice@example.com"), hash);
/// assert_ne!(concealer.hash("bob@example.com"), hash);
/// ```
#[derive(Clone)]
pub struct Concealer {
    key: Vec<u8>,
    /// Made at random when no key was given.
    random: bool,
}

impl fmt::Debug for Concealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Concealer").field("key", &"[redacted]").field("random", &self.random).finish()
    }
}

impl Concealer {
    /// A concealer with this key (any length; 32 random bytes is a good one).
    pub fn new(key: impl Into<Vec<u8>>) -> Concealer {
        Concealer { key: key.into(), random: false }
    }

    /// A concealer with a random 32-byte key from the operating system: secrets stay hidden, but
    /// their hashes can be compared only within this process's lifetime.
    pub fn random() -> Concealer {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random number generator works");
        Concealer { key, random: true }
    }

    /// Whether the key was made at random (none was given).
    pub fn is_random(&self) -> bool {
        self.random
    }

    /// `hmac-sha256:<hex>` of `value` under the key.
    pub fn hash(&self, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(HMAC_PREFIX.len() + 64);
        out.push_str(HMAC_PREFIX);
        for byte in digest {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        out
    }
}

/// Names of fields that are masked whatever marks them: a label called `password` (or
/// `api_key`, `x-api-token`, …) is written as `[redacted]`. Matched without regard to case,
/// `-` and `_`.
pub const MASKED_FIELDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "apikey",
    "authorization",
    "cookie",
    "setcookie",
    "sessiontoken",
    "clientsecret",
    "privatekey",
    "credential",
    "credentials",
];

/// The value written in place of a masked field.
pub const REDACTED: &str = "[redacted]";

/// Whether a field or parameter called `name` is always masked (see [`MASKED_FIELDS`]).
pub fn is_masked_name(name: &str) -> bool {
    let folded: String = name.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
    MASKED_FIELDS.iter().any(|masked| folded == *masked || folded.ends_with(masked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_test_vector() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let hash = Concealer::new(b"Jefe".to_vec()).hash("what do ya want for nothing?");
        assert_eq!(hash, "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn random_keys_differ_and_names_are_masked_loosely() {
        assert_ne!(Concealer::random().hash("x"), Concealer::random().hash("x"));
        for name in ["password", "Password", "api_key", "X-Api-Key", "access_token", "user_password", "Cookie"] {
            assert!(is_masked_name(name), "{name}");
        }
        for name in ["user", "dashboard_id", "reason", "count"] {
            assert!(!is_masked_name(name), "{name}");
        }
    }
}
