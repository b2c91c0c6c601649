//! The fleet: trails shipped to real servers (PostgreSQL, a three-server NATS JetStream
//! cluster, rsyslog) that the tests start themselves on loopback, through the servers' faults
//! and the shipper's own SIGKILL. Needs the servers installed: built only with the
//! `fleet-tests` feature, which `.ci/run` turns on after installing them.

mod common;
pub use common::{assert_same_ids, trail_ids};
#[path = "fleet/servers.rs"]
mod servers;

#[path = "../examples/service/app.rs"]
mod app;
#[path = "fleet/nats.rs"]
mod nats_tests;
#[path = "fleet/otlp.rs"]
mod otlp_tests;
#[path = "fleet/postgres.rs"]
mod postgres_tests;
#[path = "fleet/processes.rs"]
mod processes;
#[path = "fleet/prometheus.rs"]
mod prometheus_tests;
#[path = "fleet/syslog.rs"]
mod syslog_tests;

use std::path::Path;

use audit_core::chain::ChainHash;
use audit_core::writer::Rotation;
use audit_core::{kibana, AuditContext, AuditEvent, FileWriter, Outcome, Resource, User};

/// An event of `user` on dashboard `id` in space `space`.
pub fn event(id: u32) -> AuditEvent {
    let action = if id % 10 == 9 { &kibana::SAVED_OBJECT_DELETE } else { &kibana::SAVED_OBJECT_GET };
    let outcome = if id % 10 == 9 { Outcome::Unknown } else { Outcome::Success };
    let context = AuditContext::builder()
        .user(User::named(format!("user{}", id % 3)))
        .space_id(if id.is_multiple_of(2) { "marketing" } else { "default" })
        .build();
    AuditEvent::new(action)
        .with_context(&context)
        .with_outcome(outcome)
        .with_resource(Resource::new("dashboard", id.to_string()))
}

/// Writes events `from..from + count` to a chained, rotating, compressing trail.
pub fn write_trail(path: &Path, from: u32, count: u32) {
    let builder =
        FileWriter::builder(path).chain(ChainHash::Sha256).rotation(Rotation::by_size(64 << 10).compress(true));
    common::write_events(builder, (from..from + count).map(event));
}

/// Three machines, `host-0` to `host-2`, each with a trail of `events` events, shipped at once
/// (a thread each, batches of `batch`) to the destination `destination` makes for the origin;
/// then what `stored` reads back for each origin must be its trail's ids, in order.
pub fn three_machines_ship_at_once<D: audit_core::ship::Destination>(
    name: &str,
    events: u32,
    batch: usize,
    destination: impl Fn(&str) -> D,
    stored: impl Fn(&str) -> Vec<String>,
) {
    let dirs: Vec<common::TempDir> = (0..3).map(|i| common::TempDir::new(&format!("{name}-{i}"))).collect();
    for (i, dir) in dirs.iter().enumerate() {
        write_trail(&dir.path("audit.log"), i as u32 * 10_000, events);
    }
    let shippers: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let path = dir.path("audit.log");
            let destination = destination(&format!("host-{i}"));
            std::thread::spawn(move || {
                audit_core::ship::Shipper::builder(&path, destination)
                    .max_batch(batch, 1 << 20)
                    .run_until_caught_up(std::time::Duration::from_secs(60))
            })
        })
        .collect();
    for shipper in shippers {
        shipper.join().unwrap().unwrap();
    }
    for (i, dir) in dirs.iter().enumerate() {
        assert_same_ids(&stored(&format!("host-{i}")), &trail_ids(&dir.path("audit.log")));
    }
}
