//! A chunk of lines on its way to the file: formatted ([`Lines`]), then chained and staged for
//! writing ([`Staged`]); and the thread that chains chunks ([`Chainer`]).
//!
//! Chaining is sequential by nature (each line's hash commits to the one before) and SHA-256 of
//! every byte is the largest share of it. On the writer's thread it adds to formatting and
//! writing, one after the other. So once the writer is more than half a queue behind, the
//! [`Chainer`] chains one chunk while the writer thread formats the next and writes the one
//! before. The chain goes with its chunk: at most one chunk is away. Under a lighter load the
//! writer chains its chunks itself, with no hand-off to wait for and no third busy thread on
//! the callers' cores.

use std::collections::VecDeque;
use std::io;
use std::sync::mpsc::{self, Receiver, Sender};

use crate::trail::chain::{LineChain, Link};
use audit_schema::Durability;

/// Lines formatted and not chained yet, each without its newline.
#[derive(Default)]
pub(super) struct Lines {
    pub(super) bytes: Vec<u8>,
    /// Each line's sequence number (0 for the writer's own events), end offset in `bytes`, and
    /// durability.
    pub(super) lines: Vec<(u64, usize, Durability)>,
}

impl Lines {
    pub(super) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The callers' events among the lines (not the writer's own).
    pub(super) fn events(&self) -> usize {
        self.lines.iter().filter(|(seq, ..)| *seq > 0).count()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
    }
}

/// Formatted lines not yet (completely) written.
#[derive(Default)]
pub(super) struct Staged {
    pub(super) bytes: Vec<u8>,
    /// Each line's sequence number (0 for the writer's own events) and end offset in `bytes`.
    /// With the line's chain link, when chained.
    pub(super) lines: VecDeque<(u64, usize, Durability, Option<Link>)>,
    /// Offset of the first byte not yet written.
    pub(super) written_to: usize,
    /// Offset where the first unfinished line begins.
    pub(super) line_begin: usize,
}

impl Staged {
    pub(super) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Chains `lines` onto the end of `staged`, in order, and empties `lines`.
pub(super) fn chain_into(chain: &mut LineChain, lines: &mut Lines, staged: &mut Staged) {
    let mut start = 0;
    for &(seq, end, durability) in &lines.lines {
        chain.seal_copy(&mut staged.bytes, &lines.bytes[start..end]);
        staged.bytes.push(b'\n');
        staged.lines.push_back((seq, staged.bytes.len(), durability, Some(chain.last())));
        start = end;
    }
    lines.clear();
}

/// One chunk away to be chained, with the chain and the buffers it goes into.
struct Job {
    chain: LineChain,
    lines: Lines,
    staged: Staged,
}

/// The thread that chains chunks for one writer; it ends when the writer drops it.
pub(super) struct Chainer {
    to: Sender<Job>,
    from: Receiver<Job>,
}

impl Chainer {
    pub(super) fn start() -> io::Result<Chainer> {
        let (to, jobs) = mpsc::channel::<Job>();
        let (done, from) = mpsc::channel();
        std::thread::Builder::new().name("audit-chainer".to_owned()).spawn(move || {
            for mut job in jobs {
                chain_into(&mut job.chain, &mut job.lines, &mut job.staged);
                if done.send(job).is_err() {
                    return;
                }
            }
        })?;
        Ok(Chainer { to, from })
    }

    /// Hands `lines` over to be chained by `chain` into `staged` (empty).
    pub(super) fn send(&self, chain: LineChain, lines: Lines, staged: Staged) {
        self.to.send(Job { chain, lines, staged }).expect("the chainer thread runs while its writer does");
    }

    /// Waits for the chunk sent last: the chain after it, the emptied lines, and the staged
    /// chunk.
    pub(super) fn receive(&self) -> (LineChain, Lines, Staged) {
        let job = self.from.recv().expect("the chainer thread runs while its writer does");
        (job.chain, job.lines, job.staged)
    }
}
