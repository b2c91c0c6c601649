//! Checkpoints of a chained writer's trail ([`CheckpointPolicy`]): every so often (by time and by
//! lines), after a sync, the writer signs a [`Checkpoint`] of what is on disk and writes it
//! where the policy says, replacing the previous one atomically; and once more when it stops.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::worker::AfterSync;
use crate::model::catalog;
use crate::model::AuditEvent;
use crate::output::format::EcsFormat;
use crate::output::sink::{report_sink_failure, AuditSink, Record};
use crate::trail::chain::hex;
use crate::trail::chain::Link;
use crate::trail::checkpoint::{Checkpoint, SigningKey};
use audit_schema::Durability;

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
    target: Target,
    every: Duration,
    every_lines: u64,
}

/// Where checkpoints go.
enum Target {
    /// A file, replaced atomically by each checkpoint.
    File(PathBuf),
    /// Standard error, one note after the other (for a supervisor that keeps it).
    Stderr,
    /// An audit sink, as an `audit_checkpoint` event whose `labels.checkpoint` is the signed note.
    Sink(Box<dyn AuditSink>),
    /// The trail itself, as such an event: shipped with the trail to every destination.
    Trail,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::File(path) => f.debug_tuple("File").field(path).finish(),
            Target::Stderr => f.write_str("Stderr"),
            Target::Sink(sink) => f.debug_tuple("Sink").field(&sink.describe()).finish(),
            Target::Trail => f.write_str("Trail"),
        }
    }
}

impl CheckpointPolicy {
    /// Checkpoints of the trail named `origin`, signed by `key`, written to `path` (keep it, or a
    /// copy, where the service cannot rewrite it). By default every minute and every 10,000
    /// lines, whichever comes first, and when the writer stops.
    pub fn new(origin: impl Into<String>, key: SigningKey, path: impl Into<PathBuf>) -> CheckpointPolicy {
        CheckpointPolicy::with_target(origin.into(), key, Target::File(path.into()))
    }

    /// Checkpoints written to standard error, one signed note after the other.
    pub fn to_stderr(origin: impl Into<String>, key: SigningKey) -> CheckpointPolicy {
        CheckpointPolicy::with_target(origin.into(), key, Target::Stderr)
    }

    /// Checkpoints sent to `sink` (a central store, say), each as an `audit_checkpoint` event
    /// ([`AUDIT_CHECKPOINT`](crate::own::AUDIT_CHECKPOINT)) whose `labels.checkpoint` is the signed note. Not the writer being
    /// checkpointed: it would write its own checkpoints into the trail they vouch for.
    pub fn to_sink(origin: impl Into<String>, key: SigningKey, sink: impl AuditSink) -> CheckpointPolicy {
        CheckpointPolicy::with_target(origin.into(), key, Target::Sink(Box::new(sink)))
    }

    /// Into the trail itself, as `audit_checkpoint` events (the signed note in
    /// `labels.checkpoint`), so that a [shipper](crate::ship) delivers them with the events to
    /// every destination: a checkpoint read back from the central store then shows whether the
    /// machine's own trail was cut or rewritten since (`audit verify --checkpoint`). A checkpoint
    /// vouches for the lines before it.
    pub fn in_trail(origin: impl Into<String>, key: SigningKey) -> CheckpointPolicy {
        CheckpointPolicy::with_target(origin.into(), key, Target::Trail)
    }

    fn with_target(origin: String, key: SigningKey, target: Target) -> CheckpointPolicy {
        CheckpointPolicy { origin, key, target, every: Duration::from_secs(60), every_lines: 10_000 }
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
    /// Writes the checkpoint of `link`; the event to add to the trail when that is its target.
    fn write(&mut self, link: Link) -> Option<AuditEvent> {
        let checkpoint = Checkpoint::new(self.policy.origin.clone(), link);
        let note = checkpoint.sign(&self.policy.key);
        let event = || catalog::checkpoint(&checkpoint.origin, checkpoint.size, hex(&checkpoint.head), note.clone());
        let (result, target) = match &self.policy.target {
            Target::Trail => {
                self.last_at = Instant::now();
                // The checkpoint's own line is the next: it needs no checkpoint of its own.
                self.last_size = link.sequence + 1;
                return Some(event());
            }
            Target::File(path) => {
                (crate::trail::storage::replace_file(path, note.as_bytes()), format!("checkpoint:{}", path.display()))
            }
            Target::Stderr => (io::stderr().lock().write_all(note.as_bytes()), "checkpoint:stderr".to_owned()),
            Target::Sink(sink) => {
                let event = Arc::new(event());
                let format = Arc::new(EcsFormat::default());
                let result = sink.write(&Record::new(&event, &format, Durability::Buffered));
                (result.map_err(|e| io::Error::other(e.to_string())), sink.describe())
            }
        };
        match result {
            Ok(()) => {
                self.last_at = Instant::now();
                self.last_size = link.sequence;
            }
            Err(error) => report_sink_failure(
                &target,
                &format_args!("cannot write the checkpoint of event.sequence {}: {error}", link.sequence),
            ),
        }
        None
    }
}

impl AfterSync for Checkpointer {
    fn synced(&mut self, link: Link) -> Option<AuditEvent> {
        if link.sequence <= self.last_size {
            return None; // nothing new since the last checkpoint
        }
        let due = self.last_at.elapsed() >= self.policy.every
            || link.sequence >= self.last_size.saturating_add(self.policy.every_lines);
        if due {
            self.write(link)
        } else {
            None
        }
    }

    fn stopped(&mut self, link: Link) -> Option<AuditEvent> {
        if link.sequence > self.last_size {
            self.write(link)
        } else {
            None
        }
    }
}
