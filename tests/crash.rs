//! SIGKILL: a child process logs events in `durable` mode from many threads and prints each one
//! it got an acknowledgement for; the parent kills it at a random moment. Every acknowledged event
//! must be in the files, every complete line must parse, and at most one torn line may exist, at
//! the very end of the active file. The trail is chained: after the kill it verifies (the torn
//! line reported as a crash), and after a restart that goes on writing, it still does.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use audit_core::chain::ChainHash;
use audit_core::trail::read_audit_trail;
use audit_core::verify::{verify_trail, Options};
use audit_core::writer::Rotation;
use audit_core::{kibana, AuditEvent, AuditLogger, Durability, FileWriter, Outcome, Resource};
use common::TempDir;

const CHILD_FILE: &str = "AUDIT_CRASH_CHILD_FILE";

/// The child's workload; only meaningful when run by `sigkill_loses_no_acknowledged_event`.
#[test]
#[ignore = "run as a child process by sigkill_loses_no_acknowledged_event"]
fn crash_child() {
    let path = std::env::var(CHILD_FILE).expect("run by the parent test");
    let (writer, _guard) = FileWriter::builder(&path)
        .durability(Durability::Durable)
        .rotation(Rotation::by_size(32 * 1024))
        .chain(ChainHash::Sha256)
        .build()
        .unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (logger, out) = (logger.clone(), Arc::clone(&out));
            std::thread::spawn(move || {
                let started = Instant::now();
                for i in 0.. {
                    let event = AuditEvent::new(&kibana::SAVED_OBJECT_UPDATE)
                        .with_outcome(Outcome::Unknown)
                        .with_resource(Resource::new("dashboard", format!("{t}-{i}")));
                    logger.log(event).expect("durable write acknowledged");
                    let mut out = out.lock().unwrap();
                    writeln!(out, "ack {t}-{i}").unwrap();
                    out.flush().unwrap();
                    if started.elapsed() > Duration::from_secs(30) {
                        break; // never outlive a parent that failed to kill us
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn sigkill_loses_no_acknowledged_event() {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    for round in 0..3u64 {
        let dir = TempDir::new("crash");
        let path = dir.path("audit.log");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_FILE, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let acks = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let acks = Arc::clone(&acks);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(id) = line.strip_prefix("ack ") {
                        acks.lock().unwrap().push(id.to_owned());
                    }
                }
            })
        };
        // Let it get going, then kill it at a pseudo-random moment.
        let deadline = Instant::now() + Duration::from_secs(20);
        while acks.lock().unwrap().len() < 300 {
            assert!(Instant::now() < deadline, "the child made no progress");
            std::thread::sleep(Duration::from_millis(2));
        }
        let delay = (seed.wrapping_mul(6364136223846793005).wrapping_add(round * 1442695040888963407) >> 33) % 150;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();

        let acknowledged = acks.lock().unwrap().clone();
        let trail = read_audit_trail(&path).unwrap();
        let written: HashSet<String> =
            trail.events.iter().map(|e| e["kibana"]["saved_object"]["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(written.len(), trail.events.len(), "no duplicate events");
        let missing: Vec<&String> = acknowledged.iter().filter(|id| !written.contains(*id)).collect();
        assert!(missing.is_empty(), "round {round}: acknowledged but missing: {missing:?}");
        assert!(trail.torn.len() <= 1, "round {round}: torn lines {:?}", trail.torn);
        if let Some(torn) = trail.torn.first() {
            assert_eq!(&torn.file, trail.files.last().unwrap(), "a torn line can only be the active file's last");
            let lines = std::fs::read_to_string(&torn.file).unwrap().lines().count();
            assert_eq!(torn.line, lines);
        }
        // The chain holds across the kill: intact, a torn last line being a crash's.
        let report = verify_trail(&path, &Options::default()).unwrap();
        assert!(report.is_intact(), "round {round}: {:?}", report.findings);
        assert_eq!(report.findings.len(), trail.torn.len());
        // A restart goes on with the chain, after recording the torn line if there was one.
        let (writer, guard) =
            FileWriter::builder(&path).rotation(Rotation::by_size(32 * 1024)).chain(ChainHash::Sha256).build().unwrap();
        let logger = AuditLogger::builder().sink(writer).build();
        for i in 0..5 {
            logger
                .log(
                    AuditEvent::new(&kibana::SPACE_GET)
                        .with_outcome(Outcome::Success)
                        .with_label("after", i.to_string()),
                )
                .unwrap();
        }
        guard.shutdown().unwrap();
        let restarted = verify_trail(&path, &Options::default()).unwrap();
        assert!(restarted.is_intact(), "round {round} after restart: {:?}", restarted.findings);
        let extra = 5 + u64::from(!trail.torn.is_empty());
        assert_eq!(restarted.last.map(|l| l.sequence), report.last.map(|l| l.sequence + extra));
        eprintln!(
            "round {round}: killed after {delay} ms; {} acknowledged, {} written, {} files, {} torn",
            acknowledged.len(),
            trail.events.len(),
            trail.files.len(),
            trail.torn.len()
        );
    }
}
