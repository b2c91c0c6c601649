//! A trail kept for years (BENCHMARKS.md, "A trail of 10,000 files"): the same 200,000 chained
//! events as 10 rotated files and as 10,000, read back streaming, shipped, and verified, in
//! interleaved rounds, with the ratio of the many files to the few.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audit_core::chain::ChainHash;
use audit_core::ship::{DeliveryError, Destination, ShipRecord, Shipper};
use audit_core::trail::{rotated_files, TrailItem, TrailReader};
use audit_core::writer::Rotation;
use audit_core::{kibana, AuditEvent, AuditLogger, FileWriter, Outcome, Resource};

use super::{context, median, section};

const EVENTS: u64 = 200_000;

/// Counts what it is given, and when the first batch came.
struct Counting {
    delivered: u64,
    first: Arc<Mutex<Option<Instant>>>,
}

impl Destination for Counting {
    fn name(&self) -> String {
        "counting".into()
    }
    fn deliver(&mut self, batch: &[ShipRecord]) -> Result<(), DeliveryError> {
        self.first.lock().unwrap().get_or_insert_with(Instant::now);
        self.delivered += batch.len() as u64;
        Ok(())
    }
}

fn write_trail(dir: &Path, name: &str, rotate_at: u64) -> (PathBuf, usize) {
    let sub = dir.join(name);
    let _ = std::fs::remove_dir_all(&sub);
    std::fs::create_dir_all(&sub).unwrap();
    let path = sub.join("audit.log");
    let (writer, guard) =
        FileWriter::builder(&path).rotation(Rotation::by_size(rotate_at)).chain(ChainHash::Sha256).build().unwrap();
    let logger = AuditLogger::builder().sink(writer).build();
    let ctx = context(Some(logger.clone()));
    let event = AuditEvent::new(&kibana::SAVED_OBJECT_GET).with_context(&ctx).with_outcome(Outcome::Success);
    for i in 0..EVENTS {
        logger.log(event.clone().with_resource(Resource::new("dashboard", i.to_string()))).unwrap();
    }
    guard.shutdown().unwrap();
    let files = rotated_files(&path).unwrap().len() + 1;
    (path, files)
}

/// Events per second reading the trail back, streaming.
fn read(path: &Path) -> f64 {
    let start = Instant::now();
    let mut events = 0u64;
    for item in TrailReader::open(path) {
        if let TrailItem::Event { .. } = item.unwrap() {
            events += 1;
        }
    }
    assert_eq!(events, EVENTS);
    events as f64 / start.elapsed().as_secs_f64()
}

/// Events per second shipping the whole trail from a fresh cursor, and the time to the first
/// delivered batch.
fn ship(path: &Path) -> (f64, Duration) {
    static ROUND: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let round = ROUND.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let cursor = path.with_file_name(format!("bench-{round}.cursor"));
    let first = Arc::new(Mutex::new(None));
    let destination = Counting { delivered: 0, first: Arc::clone(&first) };
    let start = Instant::now();
    let stats =
        Shipper::builder(path, destination).cursor(&cursor).run_until_caught_up(Duration::from_secs(600)).unwrap();
    let took = start.elapsed();
    assert_eq!(stats.delivered, EVENTS);
    let _ = std::fs::remove_file(&cursor);
    let _ = std::fs::remove_file(cursor.with_extension("cursor.lock"));
    let first = first.lock().unwrap().expect("a batch") - start;
    (EVENTS as f64 / took.as_secs_f64(), first)
}

/// Events per second verifying the chain.
fn verify(path: &Path) -> f64 {
    let start = Instant::now();
    let report = audit_core::verify::verify_trail(path, &audit_core::verify::Options::default()).unwrap();
    assert!(report.is_intact() && report.verified == EVENTS, "{:?}", report.findings);
    EVENTS as f64 / start.elapsed().as_secs_f64()
}

pub(crate) fn long_trail(dir: &Path) {
    section("A trail of 10,000 files: the same 200,000 chained events in 10 files and in 10,000");
    let started = Instant::now();
    let (few, few_files) = write_trail(dir, "few", 13 << 20);
    let (many, many_files) = write_trail(dir, "many", 13 << 10);
    println!("written: {few_files} and {many_files} files in {:.1} s\n", started.elapsed().as_secs_f64());
    let (mut reads, mut ships, mut verifies, mut firsts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    println!("| round | read few / many, k events/s | ship few / many, k events/s | first batch, many, ms | verify few / many, k events/s |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for round in 1..=3 {
        let (read_few, read_many) = (read(&few), read(&many));
        let ((ship_few, _), (ship_many, first_many)) = (ship(&few), ship(&many));
        let (verify_few, verify_many) = (verify(&few), verify(&many));
        println!(
            "| {round} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} | {:.0} / {:.0} |",
            read_few / 1e3,
            read_many / 1e3,
            ship_few / 1e3,
            ship_many / 1e3,
            first_many.as_secs_f64() * 1e3,
            verify_few / 1e3,
            verify_many / 1e3
        );
        reads.push(read_many / read_few);
        ships.push(ship_many / ship_few);
        verifies.push(verify_many / verify_few);
        firsts.push(first_many.as_secs_f64());
    }
    println!(
        "\nmany / few, medians: read **{:.2}**, ship **{:.2}** (goal ≥ 0.8), verify **{:.2}** (goal ≥ 0.8); first batch from {many_files} files: **{:.0} ms** (goal ≤ 1 s)",
        median(reads),
        median(ships),
        median(verifies),
        median(firsts) * 1e3
    );
    let _ = std::fs::remove_dir_all(dir.join("few"));
    let _ = std::fs::remove_dir_all(dir.join("many"));
}
