//! Checkpoints of a chained writer's trail ([`CheckpointPolicy`]): every so often (by time and by
//! lines), after a sync, the writer signs a [`Checkpoint`] of what is on disk and writes it
//! where the policy says, replacing the previous one atomically; and once more when it stops.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::worker::AfterSync;
use crate::leaf::chain::Link;
use crate::leaf::checkpoint::{Checkpoint, SigningKey};
use crate::output::sink::report_sink_failure;

/// When and where a chained writer writes signed checkpoints.
///
/// ```no_run
/// use std::time::Duration;
/// use audit_core::chain::ChainHash;
/// use audit_core::checkpoint::SigningKey;
/// use audit_core::writer::CheckpointPolicy;
/// use audit_core::FileWriter;
///
/// let key = SigningKey::from_file("/etc/myapp/audit-signing.key").unwrap();
/// let (writer, _guard) = FileWriter::builder("/var/log/myapp/audit.log")
///     .chain(ChainHash::Sha256)
///     .checkpoints(CheckpointPolicy::new("myapp.example/audit", key, "/mnt/elsewhere/audit.checkpoint")
///         .every(Duration::from_secs(60))
///         .every_lines(10_000))
///     .build()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct CheckpointPolicy {
    origin: String,
    key: SigningKey,
    path: PathBuf,
    every: Duration,
    every_lines: u64,
}

impl CheckpointPolicy {
    /// Checkpoints of the trail named `origin`, signed by `key`, written to `path` (keep it, or a
    /// copy, where the service cannot rewrite it). By default every minute and every 10,000
    /// lines, whichever comes first, and when the writer stops.
    pub fn new(origin: impl Into<String>, key: SigningKey, path: impl Into<PathBuf>) -> CheckpointPolicy {
        CheckpointPolicy {
            origin: origin.into(),
            key,
            path: path.into(),
            every: Duration::from_secs(60),
            every_lines: 10_000,
        }
    }

    /// At least this often (while lines are written).
    pub fn every(mut self, interval: Duration) -> CheckpointPolicy {
        self.every = interval;
        self
    }

    /// At least every this many lines.
    pub fn every_lines(mut self, lines: u64) -> CheckpointPolicy {
        self.every_lines = lines.max(1);
        self
    }

    pub(super) fn start(self) -> Box<dyn AfterSync> {
        Box::new(Checkpointer { policy: self, last_at: Instant::now(), last_size: 0 })
    }
}

struct Checkpointer {
    policy: CheckpointPolicy,
    last_at: Instant,
    last_size: u64,
}

impl Checkpointer {
    fn write(&mut self, link: Link) {
        let note = Checkpoint::new(self.policy.origin.clone(), link).sign(&self.policy.key);
        match replace_file(&self.policy.path, note.as_bytes()) {
            Ok(()) => {
                self.last_at = Instant::now();
                self.last_size = link.sequence;
            }
            Err(error) => report_sink_failure(
                &format!("checkpoint:{}", self.policy.path.display()),
                &format_args!("cannot write the checkpoint of event.sequence {}: {error}", link.sequence),
            ),
        }
    }
}

impl AfterSync for Checkpointer {
    fn synced(&mut self, link: Link) {
        let due = self.last_at.elapsed() >= self.policy.every
            || link.sequence >= self.last_size.saturating_add(self.policy.every_lines);
        if due {
            self.write(link);
        }
    }

    fn stopped(&mut self, link: Link) {
        if link.sequence != self.last_size {
            self.write(link);
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, renamed over it.
fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    crate::output::storage::sync_dir(crate::output::storage::parent_dir(path))
}
