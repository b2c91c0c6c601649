//! The line chain on real files: a chained writer's trail verifies across rotation, gzip and
//! restarts; every way of tampering with it is found, with file and line; a crash's torn line is
//! reported as such, not as a breach.

mod common;

use std::path::{Path, PathBuf};

use audit_core::chain::ChainHash;
use audit_core::trail::{read_audit_trail, rotated_files};
use audit_core::verify::{verify_files, verify_trail, FindingKind, Options};
use audit_core::writer::Rotation;
use audit_core::{kibana, AuditEvent, AuditLogger, FileWriter, Outcome, Resource};
use common::{write_events, Faults, FaultyStorage, TempDir};
use proptest::prelude::*;

fn event(id: u32) -> AuditEvent {
    AuditEvent::new(&kibana::SAVED_OBJECT_GET)
        .with_outcome(Outcome::Success)
        .with_resource(Resource::new("dashboard", id.to_string()))
}

/// Writes `count` events through a chained writer (ids `from..from + count`).
fn write_chained(path: &Path, rotation: Option<Rotation>, hash: ChainHash, from: u32, count: u32) {
    let mut builder = FileWriter::builder(path).chain(hash);
    if let Some(rotation) = rotation {
        builder = builder.rotation(rotation);
    }
    write_events(builder, (from..from + count).map(event));
}

/// The verify options for a trail chained with `hash`.
fn verifying(hash: &ChainHash) -> Options {
    match hash {
        ChainHash::HmacSha256(key) => Options::with_key(key.clone()),
        ChainHash::Sha256 => Options::default(),
    }
}

fn kinds(path: &Path) -> Vec<FindingKind> {
    verify_trail(path, &Options::default()).unwrap().findings.iter().filter(|f| !f.expected).map(|f| f.kind).collect()
}

#[test]
fn a_chained_trail_verifies_across_rotation_gzip_and_restarts() {
    let dir = TempDir::new("chain-ok");
    let path = dir.path("audit.log");
    let rotation = || Some(Rotation::by_size(4096).compress(true));
    write_chained(&path, rotation(), ChainHash::Sha256, 0, 100);
    write_chained(&path, rotation(), ChainHash::Sha256, 100, 50); // a restart: the chain goes on
    assert!(rotated_files(&path).unwrap().iter().any(|f| f.extension().is_some_and(|e| e == "gz")));
    let report = verify_trail(&path, &Options::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!((report.verified, report.first_sequence, report.last.map(|l| l.sequence)), (150, Some(1), Some(150)));
    let events = read_audit_trail(&path).unwrap().events;
    let sequences: Vec<u64> = events.iter().map(|e| e["event"]["sequence"].as_u64().unwrap()).collect();
    assert_eq!(sequences, (1..=150).collect::<Vec<_>>());
    assert!(events.iter().all(|e| e["event"]["hash"].as_str().is_some_and(|h| h.len() == 64)));
    assert_eq!(events[0]["event"]["action"], "saved_object_get", "the event's own fields are there");
}

#[test]
fn lines_callers_format_themselves_are_chained_like_the_writers_own() {
    for hash in [ChainHash::Sha256, ChainHash::HmacSha256(b"chain key".to_vec())] {
        let dir = TempDir::new("chain-callers");
        let path = dir.path("audit.log");
        let faults = Faults::default();
        let (writer, guard) = FileWriter::builder(&path)
            .storage(FaultyStorage(faults.clone()))
            .queue_capacity(16)
            .chain(hash.clone())
            .build()
            .unwrap();
        let logger = AuditLogger::builder().sink(writer.clone()).build();
        // A disk that stalls: the queue fills, and callers format their own lines.
        faults.hold();
        let producer = std::thread::spawn({
            let logger = logger.clone();
            move || (0..200).for_each(|id| logger.log(event(id)).unwrap())
        });
        while writer.stats().formatted_by_callers == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        faults.release();
        producer.join().unwrap();
        guard.shutdown().unwrap();
        assert!(writer.stats().formatted_by_callers > 0);
        let options = verifying(&hash);
        let report = verify_trail(&path, &options).unwrap();
        assert!(report.is_intact(), "{:?}", report.findings);
        assert_eq!(report.verified, 200);
        // The callers' lines, hashed on their threads, are whole JSON with the chain's fields.
        let events = read_audit_trail(&path).unwrap().events;
        let sequences: Vec<u64> = events.iter().map(|e| e["event"]["sequence"].as_u64().unwrap()).collect();
        assert_eq!(sequences, (1..=200).collect::<Vec<_>>());
        assert!(events.iter().all(|e| e["event"]["action"] == "saved_object_get"));
    }
}

#[test]
fn a_backlog_of_many_chunks_is_chained_in_order_through_a_full_disk() {
    // 8,000 events queued behind a stalled disk: the writer takes them as one backlog of many
    // chunks, chained on the chainer's thread while the writer formats and writes the others;
    // the disk then fills mid-chunk and frees again.
    for hash in [ChainHash::Sha256, ChainHash::HmacSha256(b"chain key".to_vec())] {
        let dir = TempDir::new("chain-backlog");
        let path = dir.path("audit.log");
        let faults = Faults::default();
        let (writer, guard) = FileWriter::builder(&path)
            .storage(FaultyStorage(faults.clone()))
            // The backlog is then over half a queue: the chainer's case.
            .queue_capacity(10_000)
            .rotation(Rotation::by_size(1 << 20))
            .chain(hash.clone())
            .build()
            .unwrap();
        let logger = AuditLogger::builder().sink(writer.clone()).build();
        faults.hold();
        (0..8_000).for_each(|id| logger.log(event(id)).unwrap());
        faults.set_full(true);
        faults.release();
        while writer.stats().io_errors < 3 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        faults.set_full(false);
        guard.shutdown().unwrap();
        let options = verifying(&hash);
        let report = verify_trail(&path, &options).unwrap();
        assert!(report.is_intact(), "{:?}", report.findings);
        let events = read_audit_trail(&path).unwrap().events;
        let ids: Vec<String> = events
            .iter()
            .filter(|e| e["event"]["action"] == "saved_object_get")
            .map(|e| e["kibana"]["saved_object"]["id"].as_str().unwrap().to_owned())
            .collect();
        let logged: Vec<String> = (0..8_000).map(|id: u32| id.to_string()).collect();
        common::assert_same_ids(&ids, &logged);
        let sequences: Vec<u64> = events.iter().map(|e| e["event"]["sequence"].as_u64().unwrap()).collect();
        assert_eq!(sequences, (1..=events.len() as u64).collect::<Vec<_>>(), "one chain, in the order written");
        assert!(rotated_files(&path).unwrap().len() >= 3, "the backlog spans rotations");
    }
}

#[test]
fn an_unchained_trail_is_one_finding_not_one_per_line() {
    let dir = TempDir::new("chain-none");
    let path = dir.path("audit.log");
    let (writer, guard) = FileWriter::builder(&path).build().unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    (0..25).for_each(|id| logger.log(event(id)).unwrap());
    guard.shutdown().unwrap();
    let report = verify_trail(&path, &Options::default()).unwrap();
    assert!(!report.is_intact());
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert!(report.findings[0].detail.contains("not a chained trail: none of its 25 events"), "{:?}", report.findings);
}

#[test]
fn a_keyed_chain_verifies_only_with_its_key() {
    let dir = TempDir::new("chain-key");
    let path = dir.path("audit.log");
    write_chained(&path, None, ChainHash::HmacSha256(b"chain key".to_vec()), 0, 10);
    assert!(verify_trail(&path, &Options::with_key(b"chain key".to_vec())).unwrap().is_intact());
    let wrong = verify_trail(&path, &Options::default()).unwrap();
    assert!(!wrong.is_intact());
    assert!(wrong.findings.iter().all(|f| f.kind == FindingKind::Modified));
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

#[test]
fn every_kind_of_tampering_is_found_where_it_is() {
    let dir = TempDir::new("chain-tamper");
    let original = dir.path("original.log");
    write_chained(&original, None, ChainHash::Sha256, 0, 10);
    let lines = lines_of(&original);
    let tampered = dir.path("tampered.log");
    let check = |edit: &dyn Fn(&mut Vec<String>), expected: FindingKind, at_line: u64| {
        let mut edited = lines.clone();
        edit(&mut edited);
        write_lines(&tampered, &edited);
        let report = verify_files(std::slice::from_ref(&tampered), &Options::default()).unwrap();
        assert!(!report.is_intact(), "{expected} not found");
        let finding = &report.findings[0];
        assert_eq!((finding.kind, finding.line), (expected, at_line), "{:?}", report.findings);
    };
    // A field's value changed (the dashboard's id).
    check(&|l| l[3] = l[3].replace("\"id\":\"3\"", "\"id\":\"9\""), FindingKind::Modified, 4);
    // A line deleted.
    check(&|l| drop(l.remove(4)), FindingKind::Gap, 5);
    // A line duplicated.
    check(&|l| l.insert(6, l[5].clone()), FindingKind::OutOfOrder, 7);
    // Two lines swapped.
    check(&|l| l.swap(2, 3), FindingKind::Gap, 3);
    // A forged line inserted, unchained.
    check(
        &|l| l.insert(1, r#"{"message":"forged","event":{"action":"space_get"}}"#.to_owned()),
        FindingKind::Unchained,
        2,
    );
    // A forged line inserted with a made-up link.
    let forged = lines[1].replacen("\"sequence\":2,", "\"sequence\":3,", 1);
    check(&|l| l.insert(2, forged.clone()), FindingKind::Modified, 3);
    // A line cut in the middle of the trail (not by a crash: nothing resumed after it).
    check(&|l| l[5].truncate(40), FindingKind::Torn, 6);
    // The last line made invalid, its newline kept: put there, not a crash's.
    check(&|l| l[9] = l[9].replacen("\"event\"", "xevent\"", 1), FindingKind::Torn, 10);
}

#[test]
fn a_trail_that_retention_trimmed_verifies_only_when_told() {
    let dir = TempDir::new("chain-retention");
    let path = dir.path("audit.log");
    write_chained(&path, Some(Rotation::by_size(2048).keep(2)), ChainHash::Sha256, 0, 80);
    let strict = verify_trail(&path, &Options::default()).unwrap();
    assert_eq!(strict.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), [FindingKind::Gap], "{:?}", strict.findings);
    let trimmed = verify_trail(&path, &Options::default().after_retention()).unwrap();
    assert!(trimmed.is_intact(), "{:?}", trimmed.findings);
    assert!(trimmed.first_sequence.unwrap() > 1);
}

#[test]
fn a_missing_rotated_file_is_a_gap() {
    let dir = TempDir::new("chain-missing-file");
    let path = dir.path("audit.log");
    write_chained(&path, Some(Rotation::by_size(2048)), ChainHash::Sha256, 0, 60);
    let rotated: Vec<PathBuf> = rotated_files(&path).unwrap();
    assert!(rotated.len() >= 3);
    std::fs::remove_file(&rotated[1]).unwrap();
    let report = verify_trail(&path, &Options::default()).unwrap();
    assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), [FindingKind::Gap], "{:?}", report.findings);
    assert_eq!(report.findings[0].file, rotated[2], "found at the first line after the hole");
}

#[test]
fn a_crash_mid_write_leaves_a_trail_that_verifies_with_the_torn_line_reported() {
    let dir = TempDir::new("chain-torn");
    let path = dir.path("audit.log");
    write_chained(&path, None, ChainHash::Sha256, 0, 5);
    // A crash in the middle of writing the next line.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"@timestamp":"2026-12-01T00:00:00Z","message":"User has acc"#);
    std::fs::write(&path, &bytes).unwrap();
    let before_restart = verify_trail(&path, &Options::default()).unwrap();
    assert!(before_restart.is_intact(), "a torn last line is a crash: {:?}", before_restart.findings);
    assert_eq!(before_restart.findings.len(), 1);
    write_chained(&path, None, ChainHash::Sha256, 5, 3);
    let report = verify_trail(&path, &Options::default()).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    let torn = &report.findings[0];
    assert_eq!((torn.kind, torn.line, torn.expected), (FindingKind::Torn, 6, true));
    let actions: Vec<String> = read_audit_trail(&path)
        .unwrap()
        .events
        .iter()
        .map(|e| e["event"]["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions[5], "audit_trail_resumed", "the writer recorded the restart: {actions:?}");
    assert_eq!(report.last.map(|l| l.sequence), Some(9), "5 events, the resume, 3 events");
}

/// One random change to a chained trail.
#[derive(Clone, Debug)]
enum Edit {
    Flip { line: usize, at: usize },
    Delete { line: usize },
    Duplicate { line: usize },
    Swap { line: usize },
    Insert { line: usize },
}

fn edits() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..20usize, 0..400usize).prop_map(|(line, at)| Edit::Flip { line, at }),
        Just(Edit::Delete { line: 0 }),
        (0..19usize).prop_map(|line| Edit::Delete { line }), // deleting the last line is a cut tail
        (0..20usize).prop_map(|line| Edit::Duplicate { line }),
        (0..19usize).prop_map(|line| Edit::Swap { line }),
        (0..20usize).prop_map(|line| Edit::Insert { line }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any one edit, deletion (but of the last lines: only a checkpoint kept elsewhere finds a
    /// cut tail), duplication, swap or insertion is found; the untouched trail always verifies.
    #[test]
    fn any_change_is_found_and_an_untouched_trail_verifies(edit in edits()) {
        let dir = TempDir::new("chain-prop");
        let path = dir.path("audit.log");
        write_chained(&path, None, ChainHash::Sha256, 0, 20);
        prop_assert!(kinds(&path).is_empty());
        let mut lines = lines_of(&path);
        match edit {
            Edit::Flip { line, at } => {
                let mut bytes = lines[line].clone().into_bytes();
                let at = at % bytes.len();
                bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
                lines[line] = String::from_utf8_lossy(&bytes).into_owned();
            }
            Edit::Delete { line } => drop(lines.remove(line)),
            Edit::Duplicate { line } => lines.insert(line, lines[line].clone()),
            Edit::Swap { line } => lines.swap(line, line + 1),
            Edit::Insert { line } => lines.insert(line, r#"{"message":"forged","event":{"action":"x"}}"#.to_owned()),
        }
        write_lines(&path, &lines);
        prop_assert!(!kinds(&path).is_empty(), "not found: {:?}", edit);
    }
}

mod checkpoints {
    use super::*;
    use audit_core::checkpoint::{Checkpoint, SigningKey};
    use audit_core::writer::CheckpointPolicy;

    fn write_checkpointed(path: &Path, checkpoint: &Path, key: &SigningKey, from: u32, count: u32) {
        let policy = CheckpointPolicy::new("test.example/audit", key.clone(), checkpoint).every_lines(5);
        write_events(
            FileWriter::builder(path).chain(ChainHash::Sha256).checkpoints(policy),
            (from..from + count).map(event),
        );
    }

    fn expecting(checkpoint: &Path, key: &SigningKey) -> Options {
        let note = std::fs::read_to_string(checkpoint).unwrap();
        let verified = Checkpoint::verify(&note, &key.public_key()).unwrap();
        Options::default().expecting(verified.link())
    }

    #[test]
    fn a_checkpoint_finds_a_cut_tail_and_a_rewritten_history() {
        let dir = TempDir::new("checkpoint");
        let (path, checkpoint) = (dir.path("audit.log"), dir.path("audit.checkpoint"));
        let key = SigningKey::generate("test.example/audit").unwrap();
        write_checkpointed(&path, &checkpoint, &key, 0, 12);
        let options = expecting(&checkpoint, &key);
        assert_eq!(options.expect.unwrap().sequence, 12, "the last checkpoint is of everything synced");
        assert!(verify_trail(&path, &options).unwrap().is_intact());

        // Lines cut from the end: the chain alone cannot tell; the checkpoint can.
        let lines = lines_of(&path);
        write_lines(&path, &lines[..9]);
        assert!(verify_trail(&path, &Options::default()).unwrap().is_intact(), "a cut tail is invisible to the chain");
        let report = verify_trail(&path, &options).unwrap();
        assert_eq!(report.findings.iter().map(|f| f.kind).collect::<Vec<_>>(), [FindingKind::CutTail]);

        // A whole history rewritten and rechained from the first line: only the checkpoint tells.
        std::fs::remove_file(&path).unwrap();
        let rewritten = dir.path("rewritten.log");
        write_chained(&rewritten, None, ChainHash::Sha256, 100, 12);
        let report = verify_files(&[rewritten], &options).unwrap();
        assert!(report.findings.iter().any(|f| f.kind == FindingKind::Rewritten), "{:?}", report.findings);
    }

    #[test]
    fn checkpoints_kept_in_the_trail_travel_with_it_and_find_a_cut_tail() {
        let dir = TempDir::new("checkpoint-in-trail");
        let path = dir.path("audit.log");
        let key = SigningKey::generate("test.example/audit").unwrap();
        let policy = CheckpointPolicy::in_trail("test.example/audit", key.clone()).every_lines(4);
        let (writer, guard) = FileWriter::builder(&path).chain(ChainHash::Sha256).checkpoints(policy).build().unwrap();
        let logger = AuditLogger::builder().sink(writer.clone()).build();
        for id in 0..10 {
            logger.log(event(id)).unwrap();
            writer.flush().unwrap();
        }
        guard.shutdown().unwrap();
        assert!(verify_trail(&path, &Options::default()).unwrap().is_intact(), "checkpoint lines are chained lines");
        let trail = read_audit_trail(&path).unwrap();
        let checkpoints: Vec<&serde_json::Value> =
            trail.events.iter().filter(|e| e["event"]["action"] == "audit_checkpoint").collect();
        assert!(checkpoints.len() >= 3, "{checkpoints:?}");
        // The last line is the checkpoint of everything before it, written as the writer stopped.
        assert_eq!(trail.events.last().unwrap()["event"]["action"], "audit_checkpoint");
        let note = checkpoints.last().unwrap()["labels"]["checkpoint"].as_str().unwrap();
        let checkpoint = Checkpoint::verify(note, &key.public_key()).unwrap();
        assert_eq!(checkpoint.size, trail.events.len() as u64 - 1);
        // The trail cut back before the checkpoint's line (a copy of which went off the host):
        // the chain alone cannot tell, the checkpoint can.
        let lines = lines_of(&path);
        write_lines(&path, &lines[..lines.len() - 4]);
        let options = Options::default().expecting(checkpoint.link());
        let kinds: Vec<FindingKind> = verify_trail(&path, &options).unwrap().findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FindingKind::CutTail]);
    }

    #[test]
    fn checkpoints_go_off_the_host_through_any_sink() {
        let dir = TempDir::new("checkpoint-sink");
        let path = dir.path("audit.log");
        let key = SigningKey::generate("test.example/audit").unwrap();
        // Another trail (a central store, in production) receives the checkpoints.
        let central = audit_core::MemorySink::new();
        let policy = CheckpointPolicy::to_sink("test.example/audit", key.clone(), central.clone()).every_lines(4);
        let (writer, guard) = FileWriter::builder(&path).chain(ChainHash::Sha256).checkpoints(policy).build().unwrap();
        let logger = AuditLogger::builder().sink(writer.clone()).build();
        for id in 0..10 {
            logger.log(event(id)).unwrap();
            writer.flush().unwrap(); // a sync per event: checkpoints at 4, 8, and 10 (the stop)
        }
        guard.shutdown().unwrap();
        let received = central.json();
        assert!(received.len() >= 3, "{received:?}");
        assert!(received.iter().all(|e| e["event"]["action"] == "audit_checkpoint"));
        let last = received.last().unwrap()["labels"]["checkpoint"].as_str().unwrap().to_owned();
        let checkpoint = Checkpoint::verify(&last, &key.public_key()).unwrap();
        assert_eq!(checkpoint.size, 10);
        assert!(verify_trail(&path, &Options::default().expecting(checkpoint.link())).unwrap().is_intact());
    }

    fn write_sealed(path: &Path, key: &SigningKey, compress: bool, from: u32, count: u32) {
        let builder = FileWriter::builder(path)
            .rotation(Rotation::by_size(2048).compress(compress))
            .chain(ChainHash::Sha256)
            .seals(key.clone());
        write_events(builder, (from..from + count).map(event));
    }

    fn seal_findings(path: &Path, key: &SigningKey) -> Vec<(FindingKind, String)> {
        let report = verify_trail(path, &Options::default().with_seals(key.public_key())).unwrap();
        report
            .findings
            .iter()
            .filter(|f| !f.expected)
            .map(|f| (f.kind, f.file.file_name().unwrap().to_string_lossy().into_owned()))
            .collect()
    }

    #[test]
    fn every_rotated_file_is_sealed_and_a_changed_file_or_seal_is_found() {
        for compress in [false, true] {
            let dir = TempDir::new("seals");
            let path = dir.path("audit.log");
            let key = SigningKey::generate("test.example/audit").unwrap();
            write_sealed(&path, &key, compress, 0, 40);
            write_sealed(&path, &key, compress, 40, 20); // a restart: the seals' chain goes on
            let rotated = rotated_files(&path).unwrap();
            assert!(rotated.len() >= 4, "{rotated:?}");
            for file in &rotated {
                let seal = std::fs::read_to_string(format!("{}.seal", file.display())).unwrap();
                assert!(seal.contains("\"sha256\":") && seal.contains("\u{2014} test.example/audit "), "{seal}");
            }
            assert_eq!(seal_findings(&path, &key), [], "compress {compress}");

            // Bytes appended to a rotated file: the seal's size and hash no longer match.
            let victim = &rotated[1];
            let mut bytes = std::fs::read(victim).unwrap();
            let original = bytes.clone();
            if compress {
                // A whole gzip member of forged lines: decompresses fine.
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut encoder, b"{\"forged\":true}\n").unwrap();
                bytes.extend(encoder.finish().unwrap());
            } else {
                bytes.extend_from_slice(b"{\"forged\":true}\n");
            }
            std::fs::write(victim, &bytes).unwrap();
            let found = seal_findings(&path, &key);
            assert!(found.iter().any(|(k, _)| *k == FindingKind::SealMismatch), "compress {compress}: {found:?}");
            std::fs::write(victim, &original).unwrap();

            // A seal edited: its signature fails.
            let seal = format!("{}.seal", rotated[2].display());
            let text = std::fs::read_to_string(&seal).unwrap();
            std::fs::write(&seal, text.replacen("\"lines\":", "\"lines\":1", 1)).unwrap();
            assert!(seal_findings(&path, &key).iter().any(|(k, _)| *k == FindingKind::BadSeal));
            std::fs::write(&seal, text).unwrap();

            // A rotated file deleted, its seal left: named as missing; renamed: unsealed too.
            let gone = rotated[1].file_name().unwrap().to_string_lossy().into_owned();
            std::fs::remove_file(&rotated[1]).unwrap();
            let found = seal_findings(&path, &key);
            assert!(found.contains(&(FindingKind::Gap, gone.clone())), "compress {compress}: {found:?}");
            assert_eq!(seal_findings(&path, &key).len(), found.len());
            assert!(
                verify_trail(
                    &path,
                    &Options::default().with_seals(SigningKey::generate("test.example/audit").unwrap().public_key())
                )
                .unwrap()
                .findings
                .iter()
                .any(|f| f.kind == FindingKind::BadSeal),
                "another key's seals do not check out"
            );
        }
    }

    #[test]
    fn checkpoints_need_a_chain() {
        let dir = TempDir::new("checkpoint-no-chain");
        let key = SigningKey::generate("x").unwrap();
        let policy = CheckpointPolicy::new("x", key, dir.path("c"));
        let error = FileWriter::builder(dir.path("audit.log")).checkpoints(policy).build().unwrap_err();
        assert!(error.to_string().contains("chained"), "{error}");
    }
}

#[test]
fn changes_in_several_small_files_are_each_found_in_their_file_in_trail_order() {
    // Small files are hashed in batches that run on from one file to the next: each failure
    // must still name its own file and line, and the findings come in the trail's order.
    let dir = TempDir::new("chain-many-small");
    let path = dir.path("audit.log");
    write_chained(&path, Some(Rotation::by_size(2048)), ChainHash::Sha256, 0, 120);
    let rotated: Vec<PathBuf> = rotated_files(&path).unwrap();
    assert!(rotated.len() >= 6, "{}", rotated.len());
    let change = |file: &Path, line: usize| {
        let text = std::fs::read_to_string(file).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[line] = lines[line].replacen("saved_object_get", "saved_object_xyz", 1);
        std::fs::write(file, lines.join("\n") + "\n").unwrap();
    };
    change(&rotated[4], 1);
    change(&rotated[1], 2);
    change(&rotated[1], 0);
    let report = verify_trail(&path, &Options::default()).unwrap();
    let found: Vec<(PathBuf, u64, FindingKind)> =
        report.findings.iter().map(|f| (f.file.clone(), f.line, f.kind)).collect();
    assert_eq!(
        found,
        [
            (rotated[1].clone(), 1, FindingKind::Modified),
            (rotated[1].clone(), 3, FindingKind::Modified),
            (rotated[4].clone(), 2, FindingKind::Modified),
        ],
        "{:?}",
        report.findings
    );
}
