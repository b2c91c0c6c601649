//! A trail kept for years: thousands of rotated files, read back under a descriptor limit far
//! below their number. This binary lowers its own limit (`ulimit -n 64`), so it holds this test
//! alone.

mod common;

use audit_core::trail::{read_audit_trail, TrailReader};
use common::TempDir;

/// Lowers this process's soft limit of open files (`ulimit -n`).
fn limit_open_files(limit: u64) {
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the one struct given, owned here.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut current), 0);
        let lowered = libc::rlimit { rlim_cur: limit, rlim_max: current.rlim_max };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0);
    }
}

#[test]
fn thousands_of_rotated_files_are_read_verified_and_shipped_with_a_few_open_at_a_time() {
    let dir = TempDir::new("long-trail");
    let active = dir.path("audit.log");
    let files = 1500u64;
    for index in 1..=files {
        let name = dir.path(&format!("audit-{index:08}-20261206T000000Z.log"));
        std::fs::write(&name, format!("{{\"n\":{}}}\n{{\"n\":{}}}\n", index * 2, index * 2 + 1)).unwrap();
    }
    std::fs::write(&active, "{\"n\":99999}\n{\"torn\":").unwrap();
    limit_open_files(64);

    let trail = read_audit_trail(&active).expect("read under a limit of 64 open files");
    assert_eq!(trail.events.len() as u64, files * 2 + 1);
    assert_eq!(trail.files.len() as u64, files + 1);
    assert_eq!(trail.torn.len(), 1);
    let numbers: Vec<u64> = trail.events.iter().map(|e| e["n"].as_u64().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in the order written");

    // Streamed: one line at a time, the same lines in the same order.
    let mut streamed = 0u64;
    let mut last = 0u64;
    for item in TrailReader::open(&active) {
        if let audit_core::trail::TrailItem::Event { event, .. } = item.unwrap() {
            let n = event["n"].as_u64().unwrap();
            assert!(n > last || streamed == 0);
            last = n;
            streamed += 1;
        }
    }
    assert_eq!(streamed, files * 2 + 1);

    // Verified and shipped under the same limit: every reader of the trail goes file by file.
    let report = audit_core::verify::verify_trail(&active, &audit_core::verify::Options::default())
        .expect("verified under a limit of 64 open files");
    assert_eq!(report.files.len() as u64, files + 1);
    assert_eq!(report.lines, files * 2 + 2);
    let shipped = audit_core::ship::Shipper::builder(&active, common::sinks::Ids(Default::default()))
        .cursor(dir.path("ship.cursor"))
        .run_until_caught_up(std::time::Duration::from_secs(60))
        .expect("shipped under a limit of 64 open files");
    assert_eq!(shipped.delivered, files * 2 + 1, "every whole line, the torn one left");
}
